"""LLMBar and its processed human-vote sets (MT-Bench, FairEval, LLMEval²).

Reads every ``dataset.json`` under the folder (``label`` 1/2 = the better
output) and, next to it, ``evaluators/<judge>/<prompt>/result.json`` holding
each LLM judge's verdict in both presentation orders (already mapped back to the
stored order). The stored label is the judge ``human`` for the ``Processed``
sets (human votes) and ``gold`` for the curated LLMBar and CaseStudy sets. An
LLM judge's P(A) is the mean of its two verdicts (1, 0.5 or 0 each); each LLM
judge's position consistency and first-position rate over all sets go to
``judge_stats.csv`` at import.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError, UsageError
from ..exclusions import NO_LABEL, Exclusion
from ..judges import verdict_stats
from ..judgments import A, B, Judgment, combine_orders, label_from_probability
from ..pairs import Pair
from ..readers import read_json, require, require_text
from ..registry import register
from . import ImportResult

FIX = "LLMBar rows need input, output_1, output_2 and label (1 or 2)"
_WINNER = {"1": A, "2": B}


def _dataset_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    files = sorted(path.glob("**/dataset.json"))
    if not files:
        raise UsageError(f"{path}: no LLMBar dataset.json found below this folder; point to "
                         "LLMBar's Dataset/ folder (or the repository root)")
    return files


def _subset(file: Path) -> str:
    parts = file.parent.parts
    if "Dataset" in parts:
        return "/".join(parts[parts.index("Dataset") + 1:])
    return file.parent.name


def _verdict(run: dict | None) -> str | None:
    if not isinstance(run, dict):
        return None
    return _WINNER.get(str(run.get("winner")))


def _judge_results(set_dir: Path, rows: list[dict], result: ImportResult,
                   ids: list[str], orders: dict[str, list]) -> None:
    for file in sorted(set_dir.glob("evaluators/*/*/result.json")):
        judge, prompt = file.parent.parent.name, file.parent.name
        runs = read_json(file)
        if not isinstance(runs, list) or len(runs) != len(rows):
            raise InputError(file, f"has {len(runs) if isinstance(runs, list) else 'no'} rows "
                             f"but its dataset.json has {len(rows)}",
                             "use the result.json that belongs to this dataset")
        for number, (run, row, pair_id) in enumerate(zip(runs, rows, ids), start=1):
            if not isinstance(run, dict):
                raise InputError(file, "is not an object with a 'results' list of runs",
                                 "use LLMBar's evaluator result.json unchanged", line=number)
            results = run.get("results")
            if results is None:  # the evaluator left no run for this row: no verdict
                results = []
            if not isinstance(results, list) or not all(isinstance(r, dict) for r in results):
                raise InputError(file, "is not an object with a 'results' list of runs",
                                 "use LLMBar's evaluator result.json unchanged", line=number)
            if run.get("input") != row.get("input"):
                raise InputError(file, "does not match dataset.json (different input)",
                                 "use the result.json that belongs to this dataset",
                                 line=number, field="input")
            if pair_id is None:
                continue
            last = (results or [{}])[-1]
            first = _verdict(last.get("swap = False"))
            swapped = _verdict(last.get("swap = True"))
            p_a = combine_orders(*(None if v is None else (1.0 if v == A else 0.0)
                                   for v in (first, swapped)))
            mine = orders.setdefault(judge, [[], 0])
            if p_a is None:
                mine[1] += 1
                result.exclusions.append(Exclusion(
                    "import", NO_LABEL, pair_id=pair_id, judge=judge, source=str(file),
                    line=number, detail="no parseable verdict in either order"))
                continue
            mine[0].append((first, swapped))
            result.judgments.append(Judgment(
                pair_id, judge, label_from_probability(p_a), p_a,
                {"prompt": prompt, "first_order": first, "swapped_order": swapped}))


@register("importer", "llmbar", "LLMBar Dataset/ (gold labels; human votes for MT-Bench, "
          "FairEval, LLMEval2; six LLM judges in both orders)")
def load(path: Path, *, seed: int = 0) -> ImportResult:
    """Import LLMBar datasets and their LLM-judge results."""
    result = ImportResult(source=str(path), format="llmbar")
    orders: dict[str, list] = {}
    for file in _dataset_files(path):
        rows = read_json(file)
        if not isinstance(rows, list):
            raise InputError(file, "is not a JSON list", FIX)
        subset = _subset(file)
        judge = "human" if subset.startswith("Processed") else "gold"
        ids: list[str | None] = []
        for number, row in enumerate(rows, start=1):
            result.rows_read += 1
            if not isinstance(row, dict):
                raise InputError(file, "is not a JSON object", FIX, line=number)
            pair_id = f"llmbar:{subset}:{number}"
            label = _WINNER.get(str(require(row, "label", file, number, FIX)))
            if label is None:
                raise InputError(file, f"has unknown label {row['label']!r}",
                                 "LLMBar labels are 1 (output_1 better) or 2", line=number,
                                 field="label")
            result.pairs.append(Pair(
                id=pair_id, query=require_text(row, "input", file, number, FIX),
                response_a=require_text(row, "output_1", file, number, FIX),
                response_b=require_text(row, "output_2", file, number, FIX),
                metadata={"subset": subset, "index": number - 1},
            ))
            result.judgments.append(Judgment(pair_id, judge, label))
            ids.append(pair_id)
        _judge_results(file.parent, rows, result, ids, orders)
    result.judge_stats = [verdict_stats(judge, judged, failed)
                          for judge, (judged, failed) in orders.items()]
    return result
