"""LLM proposals: an LLM reads mispredicted pairs and proposes properties as comparisons.

The proposer shows the model the proposal half's pairs that the current model
predicts worst (preferred and other response side by side, a few pairs per
request) and asks for properties that could explain the judge's choices, each as
a comparison ("Response A is more ... than Response B") with a 0-3 rating
question. Names are cleaned to snake_case; proposals that repeat a property
already measured, or one another (similar names, or mostly the same words), are
merged. The kept proposals are then rated on the test half by the one-call plan
(:class:`~prefdissect.annotators.llm_onecall.OneCallAnnotator`): one request per
pair for all of them, structured, cached in the study's exchange log, and
exportable as a batch file like any other request.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .. import prompts
from ..annotations import OK
from ..comparisons import compare
from ..errors import UsageError
from ..llm.answers import answer_text, finish_reason
from ..llm.client import LLMClient, Request
from ..llm.parsing import ParseError, parse_json, strict_format
from ..properties import Property, PropertySchema
from .discoveries import Candidate
from .features import STOPWORDS

TEXT_CHARS = 1200
"""Characters of each text shown to the proposer (longer texts are cut, marked [...])."""
MAX_NAME = 40


def _snake(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:MAX_NAME].strip("_")


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z]+", text.lower()) if len(w) > 2 and w not in STOPWORDS
            and w not in ("response", "more", "than")}


def _cut(text: str) -> str:
    text = text or ""
    return text if len(text) <= TEXT_CHARS else text[:TEXT_CHARS] + " [...]"


def merge_proposals(proposals: list[dict[str, str]], taken: set[str], limit: int
                    ) -> tuple[list[Property], int]:
    """Turn proposals into properties, merging near-duplicates; also count those dropped.

    A proposal is dropped when its name is already a property (``taken``), or when
    its name is close to a kept one's (difflib ratio 0.8 or more) or its words mostly
    the same (Jaccard 0.5 or more over the content words of name and comparison).
    """
    kept: list[tuple[Property, set[str]]] = []
    dropped = 0
    for item in proposals:
        base = _snake(item["name"])
        words = _words(f"{item['name']} {item['comparison']}")
        name = f"llm_{base}"
        if not base or base in taken or name in taken or any(
                difflib.SequenceMatcher(None, name, k.name).ratio() >= 0.8
                or len(words & w) >= 0.5 * max(1, len(words | w)) for k, w in kept):
            dropped += 1
            continue
        if len(kept) == limit:
            dropped += 1
            continue
        question = item["question"].strip()[:300]
        kept.append((Property(name=name, label=base.replace("_", " "),
                              description=item["comparison"].strip()[:300],
                              rule="higher_better", scale="0-3 rating (LLM)",
                              question=question), words))
    return [k for k, _ in kept], dropped


@dataclass(frozen=True)
class ProposerSettings:
    """Settings of the LLM proposer, checked before an LLM client is made."""

    model: str | None
    """The model's name on the server (proposals and ratings)."""
    pairs_shown: int = 12
    """Mispredicted pairs shown in all."""
    max_candidates: int = 8
    """At most this many proposals are kept (after merging near-duplicates)."""
    max_tokens: int = 700
    """Cap on each proposal answer (the ratings' cap is sized to the candidates)."""
    structured: bool = True
    """Ask for schema-constrained JSON."""

    def check(self) -> None:
        """Raise a :class:`UsageError` naming the first setting that cannot work."""
        if not self.model:
            raise UsageError("the llm proposer needs --model (and --base-url)")
        if min(self.pairs_shown, self.max_candidates, self.max_tokens) < 1:
            raise UsageError("--llm-pairs, --llm-candidates and --llm-max-tokens: give 1 or "
                             "more")

    def proposer(self, client: LLMClient) -> LLMProposer:
        """Return the proposer, asking through ``client`` (whose log is the cache)."""
        self.check()
        return LLMProposer(client, self.model, pairs_shown=self.pairs_shown,
                           max_candidates=self.max_candidates, structured=self.structured,
                           max_tokens=self.max_tokens)


class LLMProposer:
    """Propose properties with an LLM, and rate them on the test half in one call per pair.

    Parameters
    ----------
    client
        The :class:`LLMClient` (its log is the cache).
    model
        Model name for both the proposals and the ratings.
    pairs_shown
        Mispredicted pairs shown in all.
    per_request
        Pairs shown per proposal request.
    max_candidates
        At most this many proposals are kept (after merging).
    structured
        Ask for schema-constrained JSON.
    prompt_file
        A YAML file replacing the built-in ``discover.yaml``.
    max_tokens
        Cap on each proposal answer.
    """

    def __init__(self, client: LLMClient, model: str, *, pairs_shown: int = 12,
                 per_request: int = 4, max_candidates: int = 8, structured: bool = True,
                 prompt_file: str | None = None, max_tokens: int = 700):
        self.client, self.model = client, model
        self.pairs_shown, self.per_request = pairs_shown, per_request
        self.max_candidates, self.structured, self.max_tokens = (max_candidates, structured,
                                                                 max_tokens)
        self.prompts, self.version = prompts.load("discover", prompt_file)
        prompts.check(self.prompts, ("system", "propose", "pair"),
                      ("pairs", "count", "known", "query", "preferred", "other"),
                      prompt_file or "discover.yaml", "--prompts")
        self.notes: list[str] = []

    def _schema(self) -> dict[str, Any]:
        item = {"type": "object", "additionalProperties": False,
                "properties": {"name": {"type": "string"}, "comparison": {"type": "string"},
                               "question": {"type": "string"}},
                "required": ["name", "comparison", "question"]}
        return {"type": "object", "additionalProperties": False, "required": ["properties"],
                "properties": {"properties": {"type": "array", "items": item,
                                              "maxItems": self.max_candidates}}}

    def requests(self, shown: pd.DataFrame, won: np.ndarray, taken: set[str]) -> list[Request]:
        """Return the proposal requests for the worst-predicted pairs ``shown`` (worst first)."""
        shown, won = shown.iloc[: self.pairs_shown], np.asarray(won)[: self.pairs_shown]
        known = ", ".join(sorted(n for n in taken if not n.startswith(("phrase_", "llm_"))))
        out = []
        for start in range(0, len(shown), self.per_request):
            blocks = []
            for (_, row), a_won in zip(shown.iloc[start:start + self.per_request].iterrows(),
                                       won[start:start + self.per_request]):
                preferred, other = (row["response_a"], row["response_b"]) if a_won else \
                    (row["response_b"], row["response_a"])
                blocks.append(prompts.render(self.prompts["pair"], query=_cut(row["query"]),
                                             preferred=_cut(preferred), other=_cut(other)))
            user = prompts.render(self.prompts["propose"], pairs="\n\n".join(blocks),
                                  count=str(self.max_candidates), known=known)
            body: dict[str, Any] = {
                "model": self.model, "temperature": 0, "max_tokens": self.max_tokens,
                "messages": [{"role": "system", "content": self.prompts["system"]},
                             {"role": "user", "content": user}]}
            if self.structured:
                body["response_format"] = strict_format("prefdissect_proposals", self._schema())
            out.append(Request("chat", body))
        return out

    def propose(self, shown: pd.DataFrame, won: np.ndarray, taken: set[str], *,
                dry: bool = False) -> list[Property]:
        """Ask for proposals; return the kept ones (failed requests become notes).

        An unusable answer is handed back to the log (asked again by the next run),
        except in a ``dry`` run, which only reads.
        """
        requests = self.requests(shown, won, taken)
        outcomes = self.client.run(requests)
        found, failed = [], []
        for request in requests:
            exchange = outcomes.get(request.key)
            if exchange is None or exchange.status != "ok":
                failed.append(f"request failed: {exchange.error if exchange else 'no answer'}")
                continue
            try:
                answer = parse_json(answer_text(exchange.response), self._schema())
            except ParseError as exc:
                failed.append(f"unusable answer: {exc}")
                if not dry:
                    self.client.reject(request.key, f"unusable answer: {exc}",
                                       final=finish_reason(exchange.response) == "length")
                continue
            found += [p for p in answer["properties"]
                      if _snake(p["name"]) and p["comparison"].strip() and p["question"].strip()]
        props, dropped = merge_proposals(found, taken, self.max_candidates)
        self.notes.append(f"LLM proposer ({self.model}): {len(requests)} requests, "
                          f"{len(found)} proposals, {len(props)} kept ({dropped} near-duplicates "
                          "of each other or of measured properties, or over the limit)"
                          + (f"; {len(failed)} requests gave nothing: {failed[0]}"
                             if failed else ""))
        return props

    def annotator(self):
        """Return the one-call annotator that rates the proposals."""
        from ..annotators.llm_onecall import OneCallAnnotator

        return OneCallAnnotator(self.client, self.model, structured=self.structured)

    def annotation_requests(self, props: list[Property], pairs: pd.DataFrame) -> list[Request]:
        """Return the one-call rating requests for ``props`` on ``pairs``."""
        if not props:
            return []
        return self.annotator().requests(pairs, PropertySchema("llm proposals", tuple(props)))

    def measure(self, props: list[Property], pairs: pd.DataFrame) -> list[Candidate]:
        """Rate ``props`` on ``pairs`` (one request per pair); NaN where a request failed."""
        if not props:
            return []
        worker = self.annotator()
        frame = worker.annotate(pairs, PropertySchema("llm proposals", tuple(props)))
        self.notes += worker.notes_
        failed = frame[frame["status"] != OK]
        if len(failed):
            bad = failed["pair_id"].nunique()
            self.notes.append(f"the LLM could not rate {bad} of {len(pairs)} test pairs "
                              f"({failed['reason'].iloc[0]}); they are left out of the test")
        out = []
        for prop in props:
            mine = frame[(frame["property"] == prop.name) & (frame["status"] == OK)]
            mine = mine.set_index("pair_id").reindex(pairs["id"].astype(str))
            a, b = mine["value_a"].to_numpy(float), mine["value_b"].to_numpy(float)
            out.append(Candidate(prop, "llm", compare(prop.rule, a, b, {}), a, b))
        return out
