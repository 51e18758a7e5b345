"""Ratings per response: pairs formed from responses to the same prompt, one judge per aspect.

Two layouts, as their datasets document them:

- UltraFeedback's (dataset card, "Dataset Format"): one row per instruction
  (``instruction``, ``source``, ...) with a ``completions`` list; each completion
  has ``model``, ``response`` and ``annotations``, a mapping from aspect
  (``instruction_following``, ``honesty``, ``truthfulness``, ``helpfulness``) to
  an object whose ``Rating`` is the score as text (``"N/A"`` when not rated).
  A completion's numeric ``overall_score`` / ``fine-grained_score``, where present,
  are aspects too.
- HelpSteer2's (dataset card): one row per response, ``prompt``, ``response`` and
  one number per aspect (``helpfulness``, ``correctness``, ``coherence``,
  ``complexity``, ``verbosity``, 0-4). Every numeric column (a number, or a
  number written as text, in the first row) but ``id`` is an aspect; responses
  are grouped by their exact prompt text, wherever they sit in the file (so this
  layout holds the file's responses in memory until it has read them all).

Per prompt, every two responses form a pair (``--pairs-per-prompt K``: K of
them, drawn with the seed), ordered A/B by a seeded coin. Each aspect is a judge
named after it: A when A's rating is higher, B when lower, a tie when equal; a
pair where either rating is missing gets no verdict from that judge, and an
exclusion says so. The import notes count each judge's A, B and ties.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from itertools import combinations
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..exclusions import NO_LABEL, Exclusion
from ..judgments import TIE, A, B, Judgment
from ..pairs import Pair, content_id
from ..registry import register
from ..sources import missing_column, parse_columns, records, tables
from . import ImportResult, seeded_swap, spooled_result

COLUMNS = ("prompt", "response", "model", "id", "completions")
"""Columns the format reads by name (map others with --columns); per-response rows
also bring their aspect columns."""
FIX = ("ratings rows need prompt (or instruction) with a completions list (UltraFeedback), "
       "or prompt, response and one number per aspect (HelpSteer2)")
EXTRA_SCORES = ("overall_score", "fine-grained_score")


def rating(value: Any) -> float | None:
    """Return a rating as a number; None when it is missing or not a number ("N/A")."""
    if isinstance(value, dict):
        value = value.get("Rating")
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


class _Prompt:
    """The responses to one prompt, gathered before pairs are formed."""

    __slots__ = ("key", "query", "file", "line", "metadata", "responses")

    def __init__(self, key: str, query: str, file: Path, line: int, metadata: dict):
        self.key, self.query, self.file, self.line = key, query, file, line
        self.metadata = metadata
        self.responses: list[tuple[str, str | None, dict[str, float | None]]] = []


def _text(record: dict, key: str, file: Path, line: int, fix: str = FIX) -> str:
    value = record.get(key)
    if not isinstance(value, str):
        if value is None:
            raise InputError(file, "is missing", fix, line=line, field=key)
        raise InputError(file, f"must be text, got {type(value).__name__}", fix, line=line,
                         field=key)
    return value


def _completion_ratings(completion: dict) -> dict[str, float | None]:
    found = {}
    notes = completion.get("annotations")
    if isinstance(notes, dict):
        for aspect, value in notes.items():
            found[str(aspect)] = rating(value)
    for name in EXTRA_SCORES:
        if name in completion and not isinstance(completion[name], (list, dict)):
            found[name] = rating(completion[name])
    return found


def _nested(row: dict, table, line: int) -> _Prompt:
    """Read an UltraFeedback row: one prompt and its completions."""
    prompt_key = "prompt" if row.get("prompt") is not None else "instruction"
    query = _text(row, prompt_key, table.path, line)
    completions = row["completions"]
    if not isinstance(completions, list):
        raise InputError(table.path, "must be a list of completions", FIX, line=line,
                         field="completions")
    metadata = {k: v for k, v in row.items() if isinstance(v, (str, int, float, bool))
                and k not in ("prompt", "instruction", "id")}
    raw_id = row.get("id")
    key = str(raw_id) if raw_id is not None else f"{table.name}:{line}"
    group = _Prompt(key, query, table.path, line, metadata)
    for i, completion in enumerate(completions):
        if not isinstance(completion, dict):
            raise InputError(table.path, f"completion {i + 1} is not an object", FIX,
                             line=line, field="completions")
        text = _text(completion, "response", table.path, line,
                     f"completion {i + 1} needs a response text")
        model = completion.get("model")
        group.responses.append((text, model if isinstance(model, str) else None,
                                _completion_ratings(completion)))
    return group


def _aspects(row: dict) -> list[str]:
    return [k for k, v in row.items() if k not in COLUMNS and rating(v) is not None
            and not isinstance(v, (list, dict))]


def _scalars(row: dict) -> dict:
    """Return the row's values that may be ratings (every column but the known ones)."""
    return {k: v for k, v in row.items() if k not in COLUMNS and not isinstance(v, (list, dict))}


@register("importer", "ratings", "per-response ratings: UltraFeedback (completions with "
          "per-aspect ratings) or HelpSteer2-style rows (prompt, response, one number per "
          "aspect); pairs from responses to the same prompt (judges: one per aspect)",
          options=("columns", "pairs_per_prompt"))
def load(path: Path, *, seed: int = 0, columns: str | dict | None = None,
         pairs_per_prompt: int | None = None) -> ImportResult:
    """Import per-response ratings (see the module docstring)."""
    from ..errors import UsageError

    if pairs_per_prompt is not None and pairs_per_prompt < 1:
        raise UsageError(f"--pairs-per-prompt {pairs_per_prompt}: give 1 or more")
    mapping = parse_columns(columns, COLUMNS, "ratings")
    result = spooled_result(path, "ratings")
    found = tables(path)
    several = len(found) > 1
    grouped: dict[str, _Prompt] = {}  # per-response rows, by prompt
    aspects: dict[str, None] = {}  # every column rated in some row, in order of appearance
    counts: dict[str, Counter] = {}
    alone = 0  # prompts with one response: no pair

    def emit(group: _Prompt) -> None:
        nonlocal alone
        alone += len(group.responses) < 2
        _pairs(group, result, seed, pairs_per_prompt, counts)

    for table, line, row in records(found, mapping, (), FIX, COLUMNS):
        result.rows_read += 1
        extra = {"file": table.name} if several and table.split is None else (
            {"split": table.split} if several else {})
        if row.get("completions") is not None:
            group = _nested(row, table, line)
            group.metadata.update(extra)
            emit(group)
            continue
        for key in ("prompt", "response"):
            if key not in row:
                raise missing_column(table, mapping.get(key, key), list(row), FIX, line,
                                     COLUMNS)
        query = _text(row, "prompt", table.path, line)
        text = _text(row, "response", table.path, line)
        values = _scalars(row)
        aspects.update(dict.fromkeys(_aspects(values)))
        model = row.get("model")
        key = content_id(query)
        if key not in grouped:
            grouped[key] = _Prompt(f"{table.name}:{line}", query, table.path, line, extra)
        grouped[key].responses.append((text, model if isinstance(model, str) else None,
                                       values))
    if grouped and not aspects:
        raise InputError(path, "has no numeric rating column", FIX)
    for group in grouped.values():  # each response rated on every aspect any row rates
        group.responses = [(text, model, {a: rating(values.get(a)) for a in aspects})
                           for text, model, values in group.responses]
        emit(group)
    if not result.rows_read:
        raise InputError(path, "holds no records", "add at least one rated response")
    result.notes.append(f"pairs formed from responses to the same prompt ("
                        f"{'all' if pairs_per_prompt is None else pairs_per_prompt} per "
                        f"prompt); A/B order by a seeded coin (seed {seed})")
    if alone:
        result.notes.append(f"{alone} prompts with a single response form no pair")
    for judge, count in counts.items():
        result.notes.append(f"judge {judge}: A {count[A]}, B {count[B]}, ties {count[TIE]}"
                            + (f", no rating {count[None]}" if count[None] else ""))
    return result


def _pairs(group: _Prompt, result: ImportResult, seed: int, per_prompt: int | None,
           counts: dict[str, Counter]) -> None:
    """Form the prompt's pairs and each aspect's verdict on them."""
    chosen = list(combinations(range(len(group.responses)), 2))
    if per_prompt is not None and len(chosen) > per_prompt:
        chosen = sorted(random.Random(f"{seed}:{group.key}").sample(chosen, per_prompt))
    for i, j in chosen:
        pair_id = f"{group.key}:{i}-{j}"
        if seeded_swap(pair_id, seed):
            i, j = j, i
        (text_a, model_a, rated_a), (text_b, model_b, rated_b) = (group.responses[i],
                                                                  group.responses[j])
        result.pairs.append(Pair(id=pair_id, query=group.query, response_a=text_a,
                                 response_b=text_b, model_a=model_a, model_b=model_b,
                                 metadata=dict(group.metadata)))
        for aspect in dict.fromkeys([*rated_a, *rated_b]):
            a, b = rated_a.get(aspect), rated_b.get(aspect)
            tally = counts.setdefault(aspect, Counter())
            if a is None or b is None:
                tally[None] += 1
                result.exclusions.append(Exclusion(
                    "import", NO_LABEL, pair_id=pair_id, judge=aspect, source=str(group.file),
                    line=group.line, detail=f"no {aspect} rating for response "
                    f"{i if a is None else j}"))
                continue
            label = A if a > b else B if a < b else TIE
            tally[label] += 1
            result.judgments.append(Judgment(pair_id, aspect, label, None,
                                             {"rating_a": a, "rating_b": b}))
