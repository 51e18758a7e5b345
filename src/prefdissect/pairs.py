"""Pairs: a query and two responses to it, the unit everything else describes.

A pair table is a :class:`pandas.DataFrame` with the columns :data:`PAIR_COLUMNS`;
``history`` and ``metadata`` hold JSON text so the table survives CSV as well as
Parquet. :func:`pairs_to_frame` and :func:`frame_to_pairs` convert between records
and tables.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

PAIR_COLUMNS = (
    "id",
    "query",
    "response_a",
    "response_b",
    "model_a",
    "model_b",
    "scenario",
    "reference",
    "history",
    "metadata",
)
"""Columns of a pair table, in order."""

TEXT_COLUMNS = ("query", "response_a", "response_b", "reference", "history")
"""The pair table's text columns: what a reader may leave out when it needs no text."""
TEXT_PROBLEM = "text_problem"
"""Column that a pair table read without its texts carries instead: why the two
responses cannot inform a fit (:func:`text_problems`), or None."""


@dataclass(slots=True)
class Pair:
    """One query answered by two responses, A and B."""

    id: str
    """Stable identifier, unique within a study."""
    query: str
    """The (last) user message the two responses answer."""
    response_a: str
    """The response shown first."""
    response_b: str
    """The response shown second."""
    model_a: str | None = None
    """Name of the model that wrote response A, if known."""
    model_b: str | None = None
    """Name of the model that wrote response B, if known."""
    scenario: str | None = None
    """Scenario of the query (e.g. the paper's 'Code', 'Advice'), if known."""
    reference: str | None = None
    """A reference answer used to check errors, if any."""
    history: list[dict[str, str]] = field(default_factory=list)
    """Earlier turns of the conversation, as ``{"role", "content"}`` messages."""
    metadata: dict[str, Any] = field(default_factory=dict)
    """Free details from the source (subset, original index, ...)."""

    def prompt_text(self) -> str:
        """Return the query with any earlier turns, as one readable text."""
        if not self.history:
            return self.query
        turns = [f"{m['role'].capitalize()}: {m['content']}" for m in self.history]
        return "\n\n".join([*turns, f"User: {self.query}"])


def content_id(*parts: str | None, prefix: str = "") -> str:
    """Return a short, stable identifier derived from text (for sources without ids)."""
    digest = hashlib.sha1("\x1f".join(p or "" for p in parts).encode("utf-8")).hexdigest()
    return f"{prefix}{digest[:12]}"


def pairs_to_frame(pairs: Iterable[Pair]) -> pd.DataFrame:
    """Turn pair records into a pair table."""
    rows = [(p.id, p.query, p.response_a, p.response_b, p.model_a, p.model_b, p.scenario,
             p.reference,
             json.dumps(p.history, ensure_ascii=False) if p.history else None,
             json.dumps(p.metadata, ensure_ascii=False, sort_keys=True, default=str)
             if p.metadata else None) for p in pairs]
    frame = pd.DataFrame(rows, columns=list(PAIR_COLUMNS))
    return frame.astype(object).where(frame.notna(), None)


def text_problems(response_a: Iterable[str | None],
                  response_b: Iterable[str | None]) -> list[str | None]:
    """Return, per pair, why its responses cannot inform a fit, or None.

    A pair with an empty (or blank) response is ``empty response``; one whose
    responses are the same text once surrounding whitespace is stripped is
    ``identical responses``.
    """
    from .exclusions import EMPTY, IDENTICAL

    out = []
    for a, b in zip(response_a, response_b):
        a, b = (a or "").strip(), (b or "").strip()
        out.append(EMPTY if not a or not b else IDENTICAL if a == b else None)
    return out


def text_free(frame: pd.DataFrame) -> pd.DataFrame:
    """Return a pair table without its text columns, with ``text_problem`` in their place."""
    problem = text_problems(frame["response_a"], frame["response_b"])
    keep = [c for c in frame.columns if c not in TEXT_COLUMNS]
    return frame[keep].assign(**{TEXT_PROBLEM: problem})


def frame_to_pairs(frame: pd.DataFrame) -> list[Pair]:
    """Turn a pair table back into records."""
    out = []
    for row in frame.itertuples(index=False):
        data = row._asdict()
        out.append(
            Pair(
                id=str(data["id"]),
                query=data["query"] or "",
                response_a=data["response_a"] or "",
                response_b=data["response_b"] or "",
                model_a=data.get("model_a"),
                model_b=data.get("model_b"),
                scenario=data.get("scenario"),
                reference=data.get("reference"),
                history=json.loads(data["history"]) if data.get("history") else [],
                metadata=json.loads(data["metadata"]) if data.get("metadata") else {},
            )
        )
    return out


def metadata_column(pairs: pd.DataFrame, key: str) -> pd.Series:
    """Return one metadata key as a column (None where a pair lacks it)."""
    def pick(text: str | None) -> Any:
        if not text:
            return None
        value = json.loads(text).get(key)
        return None if value is None else str(value)

    return pairs["metadata"].map(pick)

