"""The AnnotatedPairs JSON format of Inverse Constitutional AI / Feedback Forensics.

One JSON document: ``metadata`` (with ``version`` and ``default_annotator``),
``annotators`` (id -> name, description, type) and ``comparisons``, each with
``id``, ``prompt``, the two responses and ``annotations`` (annotator id ->
``{"pref": "a" | "b" | None}``). Version 2 stores responses as
``response_a``/``response_b`` objects with ``text`` and ``model``; version 1 as
``text_a``/``text_b`` with preferences ``text_a``/``text_b``.

Every annotator that is not a principle (type ``principle``) becomes a judge,
named by its ``name`` (else its description, else its id). Principle votes are
not judges: they are counted in the notes and left for a later release.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from ..exclusions import NO_LABEL, Exclusion
from ..judgments import Judgment, normalize_label
from ..pairs import Pair, content_id
from ..readers import read_json
from ..registry import register
from . import ImportResult

FIX = "each comparison needs response_a and response_b (or text_a and text_b)"


def _response(comparison: dict, side: str, file: Path, number: int) -> tuple[str, str | None]:
    value = comparison.get(f"response_{side}")
    if isinstance(value, dict) and isinstance(value.get("text"), str):
        return value["text"], value.get("model")
    legacy = comparison.get(f"text_{side}")
    if isinstance(legacy, str):
        return legacy, comparison.get(f"model_{side}")
    raise InputError(file, "is missing", FIX, line=number, field=f"response_{side}")


@register("importer", "annotated-pairs", "AnnotatedPairs JSON (ICAI / Feedback Forensics), "
          "versions 1 and 2; every non-principle annotator is a judge")
def load(path: Path, *, seed: int = 0) -> ImportResult:
    """Import an AnnotatedPairs JSON file."""
    data = read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("comparisons"), list):
        raise InputError(path, "has no 'comparisons' list",
                         "give an AnnotatedPairs JSON file (metadata, annotators, comparisons)")
    annotators = data.get("annotators") or {}
    judges = {}
    principles = 0
    for key, info in annotators.items():
        info = info or {}
        if info.get("type") == "principle":
            principles += 1
            continue
        judges[key] = str(info.get("name") or info.get("description") or key)
    result = ImportResult(source=str(path), format="annotated-pairs")
    for number, comparison in enumerate(data["comparisons"], start=1):
        result.rows_read += 1
        if not isinstance(comparison, dict):
            raise InputError(path, "is not a JSON object", FIX, line=number)
        text_a, model_a = _response(comparison, "a", path, number)
        text_b, model_b = _response(comparison, "b", path, number)
        prompt = comparison.get("prompt") or ""
        pair_id = str(comparison.get("id") or content_id(prompt, text_a, text_b, prefix="ap"))
        result.pairs.append(Pair(
            id=pair_id, query=prompt, response_a=text_a, response_b=text_b,
            model_a=model_a, model_b=model_b, metadata=dict(comparison.get("metadata") or {}),
        ))
        for key, annotation in (comparison.get("annotations") or {}).items():
            if key not in judges and key in annotators:
                continue  # a principle's vote
            judge = judges.get(key, key)
            pref = (annotation or {}).get("pref")
            label = normalize_label(pref)
            if label is None:
                reason = (annotation or {}).get("no_pref_reason") or f"pref {pref!r}"
                result.exclusions.append(Exclusion("import", NO_LABEL, pair_id=pair_id,
                                                   judge=judge, source=str(path), line=number,
                                                   detail=str(reason)))
                continue
            result.judgments.append(Judgment(pair_id, judge, label))
    if principles:
        result.notes.append(f"{principles} principle annotators skipped (not judges)")
    return result
