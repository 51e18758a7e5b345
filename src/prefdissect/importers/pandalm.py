"""PandaLM's human-annotated test set with two LLM judges on the same pairs.

Reads ``testset-v1.json`` (three annotators; 1 = response1 better, 2 =
response2, 0 = tie) and, when present beside it, ``gpt-3.5-turbo-testset-v1.json``
(``gpt_result`` "1" / "2" / "Tie" / "garbage") and ``pandalm-7b-testset-v1.json``
(``pandalm_result`` 1 / 2 / 0). Each annotator and each LLM is its own judge;
``human`` is the majority of the three annotators.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from ..errors import InputError, UsageError
from ..exclusions import NO_LABEL, Exclusion
from ..judgments import TIE, A, B, Judgment
from ..pairs import Pair
from ..readers import read_json, require, require_text
from ..registry import register
from . import ImportResult

FIX = "PandaLM rows need idx, instruction, response1, response2 and annotator1..3"
_CODES = {"1": A, "2": B, "0": TIE, "tie": TIE}
ANNOTATORS = ("annotator1", "annotator2", "annotator3")
LLM_FILES = {
    "gpt-3.5-turbo": ("gpt-3.5-turbo-testset-v1.json", "gpt_result"),
    "pandalm-7b": ("pandalm-7b-testset-v1.json", "pandalm_result"),
}


def _code(value: object) -> str | None:
    return _CODES.get(str(value).strip().lower())


def _index(row: dict, file: Path, number: int, fix: str) -> int:
    value = require(row, "idx", file, number, fix)
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InputError(file, f"must be a whole number, got {value!r:.40}", fix, line=number,
                         field="idx") from None


def _testset(path: Path) -> Path:
    if path.is_file():
        return path
    found = sorted(path.glob("**/testset-v1.json"))
    if not found:
        raise UsageError(f"{path}: no PandaLM testset-v1.json found below this folder")
    return found[0]


@register("importer", "pandalm", "PandaLM testset-v1.json (three human annotators, "
          "gpt-3.5-turbo and PandaLM-7B judges)")
def load(path: Path, *, seed: int = 0) -> ImportResult:
    """Import the PandaLM test set and its judges."""
    file = _testset(path)
    rows = read_json(file)
    if not isinstance(rows, list):
        raise InputError(file, "is not a JSON list", FIX)
    result = ImportResult(source=str(path), format="pandalm")
    ids: dict[int, str] = {}
    scalars = 0
    for number, row in enumerate(rows, start=1):
        result.rows_read += 1
        if not isinstance(row, dict):
            raise InputError(file, "is not a JSON object", FIX, line=number)
        idx = _index(row, file, number, FIX)
        pair_id = f"pandalm:{idx}"
        instruction = require_text(row, "instruction", file, number, FIX)
        extra = require_text(row, "input", file, number, FIX).strip() \
            if row.get("input") is not None else ""
        models = str(row.get("cmp_key") or "").split("_")
        result.pairs.append(Pair(
            id=pair_id, query=f"{instruction}\n\n{extra}" if extra else instruction,
            response_a=require_text(row, "response1", file, number, FIX, scalars=True),
            response_b=require_text(row, "response2", file, number, FIX, scalars=True),
            model_a=models[0] if len(models) == 2 else None,
            model_b=models[1] if len(models) == 2 else None,
            metadata={"idx": idx, "motivation_app": row.get("motivation_app")},
        ))
        ids[idx] = pair_id
        scalars += sum(not isinstance(row.get(k), str) for k in ("response1", "response2"))
        votes = []
        for annotator in ANNOTATORS:
            label = _code(require(row, annotator, file, number, FIX))
            if label is None:
                raise InputError(file, f"has unknown label {row[annotator]!r}",
                                 "PandaLM labels are 1, 2 or 0 (tie)", line=number,
                                 field=annotator)
            votes.append(label)
            result.judgments.append(Judgment(pair_id, annotator, label))
        top, count = Counter(votes).most_common(1)[0]
        majority = top if count >= 2 else TIE
        result.judgments.append(Judgment(pair_id, "human", majority, None,
                                         {"votes": "".join(v[0] for v in votes)}))
    for judge, (name, key) in LLM_FILES.items():
        llm_file = file.parent / name
        if not llm_file.exists():
            result.notes.append(f"{name} not found beside {file.name}: no {judge} judgments")
            continue
        rows = read_json(llm_file)
        if not isinstance(rows, list):
            raise InputError(llm_file, "is not a JSON list", f"rows need idx and {key}")
        for number, row in enumerate(rows, start=1):
            if not isinstance(row, dict):
                raise InputError(llm_file, "is not a JSON object", f"rows need idx and {key}",
                                 line=number)
            pair_id = ids.get(_index(row, llm_file, number, f"rows need idx and {key}"))
            if pair_id is None:
                raise InputError(llm_file, f"has idx {row['idx']} that the test set lacks",
                                 "use the judge file that belongs to this test set",
                                 line=number, field="idx")
            label = _code(row.get(key))
            if label is None:
                result.exclusions.append(Exclusion(
                    "import", NO_LABEL, pair_id=pair_id, judge=judge, source=str(llm_file),
                    line=number, detail=f"{key} = {row.get(key)!r}"))
                continue
            result.judgments.append(Judgment(pair_id, judge, label))
    if scalars:
        result.notes.append(f"{scalars} responses stored as JSON booleans or numbers were "
                            "read as their text (e.g. True -> 'True')")
    result.notes.append("'human' is the majority of annotator1..3 (tie when all differ)")
    return result
