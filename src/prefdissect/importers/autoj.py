"""Auto-J's pairwise test set: a human label and Auto-J's verdicts in both orders.

Reads ``testdata_pairwise.jsonl`` (``label`` 0 = response 1 better, 1 =
response 2, 2 = tie; ``scenario`` from Auto-J's 58) and, when present under
``data/outputs``, Auto-J-13B's verdicts in the original order and with the
responses exchanged. The exchanged verdicts refer to the order shown to the
judge, so 0 there means the original response 2. Auto-J's P(A) is the mean of
its two verdicts; its position consistency and first-position rate go to
``judge_stats.csv`` at import.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError, UsageError
from ..exclusions import NO_LABEL, Exclusion
from ..judges import verdict_stats
from ..judgments import TIE, A, B, Judgment, combine_orders, label_from_probability
from ..judgments import verdict_probability as prob
from ..pairs import Pair
from ..readers import iter_jsonl, require, require_text
from ..registry import register
from . import ImportResult

FIX = "Auto-J rows need prompt, 'response 1', 'response 2' and label (0, 1 or 2)"
_SHOWN = {0: A, 1: B, 2: TIE}
_EXCHANGED = {0: B, 1: A, 2: TIE}
OUTPUTS = ("pairwise_example_output.jsonl", "pairwise_exchange_example_output.jsonl")
JUDGE = "auto-j-13b"


def _testset(path: Path) -> Path:
    if path.is_file():
        return path
    found = sorted(path.glob("**/testdata_pairwise.jsonl"))
    if not found:
        raise UsageError(f"{path}: no Auto-J testdata_pairwise.jsonl found below this folder")
    return found[0]


def _verdicts(file: Path, mapping: dict[int, str]) -> list[str | None]:
    out = []
    for number, row in iter_jsonl(file):
        value = require(row, "output", file, number, "each line needs an 'output' of 0, 1 or 2")
        out.append(mapping.get(int(value)) if str(value).lstrip("-").isdigit() else None)
    return out


@register("importer", "auto-j", "Auto-J testdata_pairwise.jsonl (judge: human; Auto-J-13B "
          "in both orders when data/outputs is present)")
def load(path: Path, *, seed: int = 0) -> ImportResult:
    """Import the Auto-J pairwise test set."""
    file = _testset(path)
    result = ImportResult(source=str(path), format="auto-j")
    ids = []
    for number, row in iter_jsonl(file):
        result.rows_read += 1
        pair_id = f"auto-j:{number}"
        value = require(row, "label", file, number, FIX)
        label = _SHOWN.get(value) if isinstance(value, int) else None
        if label is None:
            raise InputError(file, f"has unknown label {row['label']!r}",
                             "Auto-J labels are 0 (response 1), 1 (response 2) or 2 (tie)",
                             line=number, field="label")
        result.pairs.append(Pair(
            id=pair_id, query=require_text(row, "prompt", file, number, FIX),
            response_a=require_text(row, "response 1", file, number, FIX),
            response_b=require_text(row, "response 2", file, number, FIX),
            scenario=None if row.get("scenario") is None else require_text(
                row, "scenario", file, number, FIX),
        ))
        result.judgments.append(Judgment(pair_id, "human", label))
        ids.append(pair_id)
    outputs = [next(iter(file.parent.parent.glob(f"**/{name}")), None) for name in OUTPUTS]
    if all(outputs):
        first, swapped = _verdicts(outputs[0], _SHOWN), _verdicts(outputs[1], _EXCHANGED)
        if not len(first) == len(swapped) == len(ids):
            raise InputError(outputs[0], f"has {len(first)} verdicts and the exchanged file "
                             f"{len(swapped)}, but the test set has {len(ids)} pairs",
                             "use the output files that belong to this test set")
        orders, failed = [], 0
        for pair_id, v1, v2 in zip(ids, first, swapped):
            p_a = combine_orders(prob(v1), prob(v2))
            if p_a is None:
                failed += 1
                result.exclusions.append(Exclusion(
                    "import", NO_LABEL, pair_id=pair_id, judge=JUDGE,
                    source=str(outputs[0]), detail="no parseable verdict in either order"))
                continue
            orders.append((v1, v2))
            result.judgments.append(Judgment(pair_id, JUDGE, label_from_probability(p_a),
                                             p_a, {"first_order": v1, "swapped_order": v2}))
        result.judge_stats.append(verdict_stats(JUDGE, orders, failed))
    else:
        result.notes.append("Auto-J output files not found: only the human labels imported")
    return result
