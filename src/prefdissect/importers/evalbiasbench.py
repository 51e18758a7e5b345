"""EvalBiasBench (OffsetBias): judge-bias probes with a curated correct response.

``biasbench.json`` maps each bias category to rows whose ``label`` is the index
of the better response; the file stores the correct one first every time, so
each pair's order is randomised here with a seeded coin (judge: ``gold``).
"""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError, UsageError
from ..judgments import A, B, Judgment
from ..pairs import Pair
from ..readers import read_json, require, require_text
from ..registry import register
from . import ImportResult, seeded_swap

FIX = "EvalBiasBench rows need instruction, response1, response2 and label (1 or 2)"


def _file(path: Path) -> Path:
    if path.is_file():
        return path
    found = sorted(path.glob("**/biasbench.json"))
    if not found:
        raise UsageError(f"{path}: no biasbench.json found below this folder")
    return found[0]


@register("importer", "evalbiasbench", "EvalBiasBench biasbench.json (judge: gold; stored "
          "order randomised with --seed)")
def load(path: Path, *, seed: int = 0) -> ImportResult:
    """Import EvalBiasBench, randomising which side holds the correct response."""
    file = _file(path)
    data = read_json(file)
    if not isinstance(data, dict):
        raise InputError(file, "is not a JSON object of bias categories",
                         "use OffsetBias's data/evalbiasbench/biasbench.json")
    result = ImportResult(source=str(path), format="evalbiasbench")
    number = 0
    for category, rows in data.items():
        if not isinstance(rows, list):
            raise InputError(file, f"category {category!r} is not a list of rows", FIX)
        for row in rows:
            number += 1
            result.rows_read += 1
            if not isinstance(row, dict):
                raise InputError(file, "is not a JSON object", FIX, line=number)
            pair_id = f"evalbiasbench:{number}"
            label = str(require(row, "label", file, number, FIX))
            if label not in ("1", "2"):
                raise InputError(file, f"has unknown label {label!r}", "labels are 1 or 2",
                                 line=number, field="label")
            first = require_text(row, "response1", file, number, FIX)
            second = require_text(row, "response2", file, number, FIX)
            better, worse = (first, second) if label == "1" else (second, first)
            swap = seeded_swap(pair_id, seed)
            result.pairs.append(Pair(
                id=pair_id, query=require_text(row, "instruction", file, number, FIX),
                response_a=worse if swap else better, response_b=better if swap else worse,
                metadata={"bias": row.get("bias") or category},
            ))
            result.judgments.append(Judgment(pair_id, "gold", B if swap else A))
    result.notes.append(f"correct response placed at A or B by a seeded coin (seed {seed}); "
                        "record numbers count rows across categories in file order")
    return result
