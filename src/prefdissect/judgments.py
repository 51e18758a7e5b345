"""Judgments: which response of a pair a judge preferred.

A judgment table has the columns :data:`JUDGMENT_COLUMNS`, one row per
(pair, judge). ``p_a`` is the judge's probability that A is better where the judge
gives one (an LLM's token probabilities, a vote share), else missing.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

A, B, TIE = "A", "B", "tie"
LABELS = (A, B, TIE)

JUDGMENT_COLUMNS = ("pair_id", "judge", "label", "p_a", "details")
"""Columns of a judgment table, in order."""

_ALIASES = {
    "a": A, "b": B, "tie": TIE,
    "model_a": A, "model_b": B,
    "response_a": A, "response_b": B,
    "text_a": A, "text_b": B,
    "tie (bothbad)": TIE, "draw": TIE, "equal": TIE, "same": TIE,
}


@dataclass(slots=True)
class Judgment:
    """One judge's verdict on one pair."""

    pair_id: str
    """The judged pair's id."""
    judge: str
    """Who judged: 'human', a model name, ..."""
    label: str
    """'A', 'B' or 'tie'."""
    p_a: float | None = None
    """Probability that A is better, where the judge gives one."""
    details: dict[str, Any] = field(default_factory=dict)
    """Per-order verdicts, raw outputs, annotator votes, ..."""


def normalize_label(value: Any) -> str | None:
    """Map a label spelling ('A', 'model_b', 'tie (bothbad)', ...) to 'A'/'B'/'tie'.

    Returns None when the value is not a known spelling, so callers can raise an
    error that names their own file and line.
    """
    if value is None:
        return None
    return _ALIASES.get(str(value).strip().lower())


def label_from_probability(p_a: float) -> str:
    """Return 'A' if ``p_a > 0.5``, 'B' if below, 'tie' at exactly 0.5."""
    if p_a > 0.5:
        return A
    if p_a < 0.5:
        return B
    return TIE


def combine_orders(p_first: float | None, p_swapped: float | None) -> float | None:
    """Average P(A) from the original order and from the swapped order.

    ``p_swapped`` must already be mapped back to the original A (i.e. it is
    P(original A better), asked with A shown second). Asking in both orders and
    averaging cancels a judge's position preference, as the paper did.
    """
    values = [p for p in (p_first, p_swapped) if p is not None and not math.isnan(p)]
    if not values:
        return None
    return sum(values) / len(values)


def verdict_probability(label: str | None) -> float | None:
    """Turn a hard verdict into a probability (A -> 1, B -> 0, tie -> 0.5)."""
    return {A: 1.0, B: 0.0, TIE: 0.5}.get(label) if label else None


def judgments_to_frame(judgments: Iterable[Judgment]) -> pd.DataFrame:
    """Turn judgment records into a judgment table."""
    rows = [
        {
            "pair_id": j.pair_id,
            "judge": j.judge,
            "label": j.label,
            "p_a": float("nan") if j.p_a is None else float(j.p_a),
            "details": json.dumps(j.details, ensure_ascii=False, sort_keys=True, default=str)
            if j.details else None,
        }
        for j in judgments
    ]
    frame = pd.DataFrame(rows, columns=list(JUDGMENT_COLUMNS))
    frame["p_a"] = frame["p_a"].astype(float)
    return frame


def frame_to_judgments(frame: pd.DataFrame) -> list[Judgment]:
    """Turn a judgment table back into records."""
    out = []
    for row in frame.itertuples(index=False):
        p_a = row.p_a
        out.append(Judgment(str(row.pair_id), str(row.judge), row.label,
                            None if p_a is None or math.isnan(p_a) else float(p_a),
                            json.loads(row.details) if isinstance(row.details, str) and
                            row.details else {}))
    return out


def judge_names(judgments: pd.DataFrame) -> list[str]:
    """Return the judges present in a judgment table, in first-seen order."""
    return list(dict.fromkeys(judgments["judge"]))
