"""AlpacaEval: judge annotations joined with the evaluated models' outputs.

Reads ``results/<model>/<annotator>/annotations.json`` under the given folder (or
one such file). In AlpacaEval ``output_1`` is always the baseline and the stored
``preference`` is ``1 + P(output_2 is better)`` in the stored order, so here
A = ``output_1`` (baseline), B = ``output_2`` and ``p_a = 2 - preference``.
Each annotation row is joined on its instruction with the model's
``model_outputs.json`` (when present) so that the pair carries the model's own
output and dataset; a row whose instruction has no model output is excluded.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError, UsageError
from ..exclusions import NO_LABEL, Exclusion
from ..judgments import Judgment, label_from_probability
from ..pairs import Pair, content_id
from ..readers import read_json, require, require_text
from ..registry import register
from . import ImportResult

FIX = "AlpacaEval annotations need instruction, output_1, output_2, generator_2 and preference"


def _annotation_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    files = sorted(path.glob("**/annotations.json"))
    if not files:
        raise UsageError(f"{path}: no AlpacaEval annotations.json found below this folder; "
                         "point to AlpacaEval's results/ folder or one annotations.json")
    return files


def _outputs_by_instruction(file: Path) -> dict[str, tuple[int, dict]] | None:
    """Map each instruction of a model_outputs.json to (record number, record)."""
    if not file.exists():
        return None
    data = read_json(file)
    if not isinstance(data, list):
        raise InputError(file, "is not a JSON list", "model_outputs.json must list records")
    found = {}
    for number, row in enumerate(data, start=1):
        if not isinstance(row, dict):
            raise InputError(file, "is not a JSON object", "model_outputs.json must list "
                             "records with instruction and output", line=number)
        instruction = require_text(row, "instruction", file, number, "model_outputs.json "
                                   "records need instruction and output")
        found.setdefault(instruction, (number, row))
    return found


@register("importer", "alpaca-eval", "AlpacaEval results/<model>/<annotator>/annotations.json "
          "(judge: the annotator, e.g. GPT-4-Turbo; P(A) from its weighted preference)")
def load(path: Path, *, seed: int = 0) -> ImportResult:
    """Import AlpacaEval judge annotations."""
    result = ImportResult(source=str(path), format="alpaca-eval")
    baseline_index: dict[str, dict[str, int]] = {}
    for file in _annotation_files(path):
        rows = read_json(file)
        if not isinstance(rows, list):
            raise InputError(file, "is not a JSON list", "annotations.json must list records")
        model_dir = file.parent.parent
        outputs = _outputs_by_instruction(model_dir / "model_outputs.json")
        for number, row in enumerate(rows, start=1):
            result.rows_read += 1
            if not isinstance(row, dict):
                raise InputError(file, "is not a JSON object", FIX, line=number)
            instruction = require_text(row, "instruction", file, number, FIX)
            output_1 = require_text(row, "output_1", file, number, FIX)
            output_2 = require_text(row, "output_2", file, number, FIX)
            generator = str(require(row, "generator_2", file, number, FIX))
            # The results folder names the evaluated model; generator_2 can differ
            # (NullModel's rows say "example").
            model_b = model_dir.name if outputs is not None else generator
            model_a = str(row.get("generator_1") or "baseline")
            dataset = row.get("dataset")
            if outputs is not None:
                found = outputs.get(instruction)
                if found is None:
                    result.exclusions.append(Exclusion(
                        "import", "no model output for instruction", source=str(file),
                        line=number, detail=f"{model_b}: {instruction[:60]}"))
                    continue
                joined_line, joined = found
                if "output" in joined:
                    output_2 = require_text(joined, "output", model_dir / "model_outputs.json",
                                            joined_line, "model_outputs.json records need "
                                            "instruction and output")
                dataset = joined.get("dataset", dataset)
            if model_a not in baseline_index:
                base = _outputs_by_instruction(model_dir.parent / model_a / "model_outputs.json")
                baseline_index[model_a] = {k: i for i, k in enumerate(base or {})}
            index = baseline_index[model_a].get(instruction)
            query_key = str(index) if index is not None else content_id(instruction)
            pair_id = f"alpaca_eval:{model_b}:{query_key}"
            result.pairs.append(Pair(
                id=pair_id, query=instruction, response_a=output_1, response_b=output_2,
                model_a=model_a, model_b=model_b,
                metadata={"dataset": dataset, "instruction_index": index,
                          **({"generator_2": generator} if generator != model_b else {})},
            ))
            judge = str(row.get("annotator") or file.parent.name)
            preference = row.get("preference")
            try:
                p_b = float(preference) - 1.0
            except (TypeError, ValueError):
                p_b = float("nan")
            if not 0.0 <= p_b <= 1.0:
                result.exclusions.append(Exclusion(
                    "import", NO_LABEL, pair_id=pair_id, judge=judge, source=str(file),
                    line=number, detail=f"preference {preference!r} is not in [1, 2]"))
                continue
            p_a = 1.0 - p_b
            result.judgments.append(Judgment(pair_id, judge, label_from_probability(p_a), p_a,
                                             {"preference": preference}))
    result.notes.append("A = AlpacaEval's baseline (output_1), B = the evaluated model "
                        "(output_2); p_a = 2 - preference")
    return result
