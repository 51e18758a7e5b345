"""The AnnotatedPairs JSON format of Inverse Constitutional AI / Feedback Forensics.

One JSON document: ``metadata`` (with ``version`` and ``default_annotator``),
``annotators`` (id -> name, description, type) and ``comparisons``, each with
``id``, ``prompt``, the two responses and ``annotations`` (annotator id ->
``{"pref": "a" | "b" | None, "no_pref_reason": ...}``). Version 2 stores
responses as ``response_a``/``response_b`` objects with ``text`` and ``model``;
version 1 as ``text_a``/``text_b`` with preferences ``text_a``/``text_b``.

Every annotator that is not a principle becomes a judge, named by its ``name``
(else its description, else its id); a missing preference whose reason is
``tie``, ``both`` or ``neither`` is a tie, any other is left out with its reason.

Every principle (type ``principle``) becomes a **property** of the study, named
after the principle (its ``name`` where it has one, else its text without the
customary "Select the response that"; ``_vote`` is appended to a name the
default schema already uses), with the rule ``higher_better`` over
votes: the response the principle prefers gets 1, the other 0. The votes map to
comparisons as follows:

=====================================  ==================  ==========
vote                                   annotation          comparison
=====================================  ==================  ==========
``a``                                  ok, A 1 / B 0       +1
``b``                                  ok, A 0 / B 1       -1
none, reason ``both``                  ok, A 1 / B 1       0
none, reason ``neither`` or ``tie``    ok, A 0 / B 0       0
none, reason ``not_applicable``        not applicable      0
none, other reason (``invalid``, ...)  failed, the reason  missing
no vote on that comparison             failed              missing
=====================================  ==================  ==========

A principle "not applicable" to a pair does not separate its two responses, so
it compares as no difference; failed votes leave the pair out (or, past
``--max-missing``, the principle). Non-preference principles are skipped.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from ..annotations import ANNOTATION_COLUMNS, FAILED, NOT_APPLICABLE, OK
from ..errors import InputError
from ..exclusions import NO_LABEL, Exclusion
from ..judgments import TIE, Judgment, normalize_label
from ..pairs import Pair, content_id
from ..properties import load_schema
from ..readers import read_json
from ..registry import register
from . import ImportResult

FIX = "each comparison needs response_a and response_b (or text_a and text_b)"
ANNOTATOR = "annotated-pairs"
"""The annotator name of the principle votes in the study."""
PRINCIPLE_PREFIX = "select the response that"
TIE_REASONS = ("tie", "both", "neither")
_VOTE_VALUES = {"both": (1.0, 1.0), "neither": (0.0, 0.0), "tie": (0.0, 0.0)}


def _response(comparison: dict, side: str, file: Path, number: int) -> tuple[str, str | None]:
    value = comparison.get(f"response_{side}")
    if isinstance(value, dict) and isinstance(value.get("text"), str):
        return value["text"], value.get("model")
    legacy = comparison.get(f"text_{side}")
    if isinstance(legacy, str):
        return legacy, comparison.get(f"model_{side}")
    raise InputError(file, "is missing", FIX, line=number, field=f"response_{side}")


def _principle_text(key: str, info: dict) -> str:
    return str(info.get("description") or info.get("name") or key).strip()


def _slug(text: str) -> str:
    if text.lower().startswith(PRINCIPLE_PREFIX):
        text = text[len(PRINCIPLE_PREFIX):]
    words = re.findall(r"[a-z0-9]+", text.lower())
    slug = "_".join(words)[:40].rstrip("_")
    return slug or "principle"


def principle_properties(principles: dict[str, dict]) -> tuple[dict[str, str], list[dict]]:
    """Name each principle as a property; return id -> name and the schema entries."""
    taken = set(load_schema().names)
    names, entries = {}, []
    for key, info in principles.items():
        text = _principle_text(key, info)
        name = _slug(str(info.get("name") or text))
        if name in taken:  # a default property's name: the votes are not its values
            name = f"{name}_vote" if f"{name}_vote" not in taken else f"{name}_{_slug(key)}"
        taken.add(name)
        names[key] = name
        short = text[len(PRINCIPLE_PREFIX):].strip(" .") \
            if text.lower().startswith(PRINCIPLE_PREFIX) else text
        entries.append({"name": name, "label": short[:60] or name, "description": text,
                        "step": "imported", "scale": "principle vote: 1 preferred, 0 not",
                        "rule": "higher_better", "when_not_applicable": "zero"})
    return names, entries


def _vote_row(pair_id: str, prop: str, annotation) -> dict:
    row = {"pair_id": pair_id, "property": prop, "value_a": None, "value_b": None,
           "status": OK, "reason": None, "annotator": ANNOTATOR, "model": None,
           "prompt_version": None}
    if not isinstance(annotation, dict):
        return {**row, "status": FAILED, "reason": "no vote"}
    label = normalize_label(annotation.get("pref"))
    reason = str(annotation.get("no_pref_reason") or "").lower()
    if label == TIE and not reason:
        reason = "tie"
    if label in ("A", "B"):
        return {**row, "value_a": float(label == "A"), "value_b": float(label == "B")}
    if reason in _VOTE_VALUES:
        a, b = _VOTE_VALUES[reason]
        return {**row, "value_a": a, "value_b": b}
    if reason == "not_applicable":
        return {**row, "status": NOT_APPLICABLE, "reason": "principle not applicable"}
    return {**row, "status": FAILED, "reason": reason or f"pref {annotation.get('pref')!r}"}


@register("importer", "annotated-pairs", "AnnotatedPairs JSON (ICAI / Feedback Forensics), "
          "versions 1 and 2; annotators become judges, principles become properties")
def load(path: Path, *, seed: int = 0) -> ImportResult:
    """Import an AnnotatedPairs JSON file."""
    data = read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("comparisons"), list):
        raise InputError(path, "has no 'comparisons' list",
                         "give an AnnotatedPairs JSON file (metadata, annotators, comparisons)")
    annotators = data.get("annotators") or {}
    judges, principles, skipped = {}, {}, 0
    for key, info in annotators.items():
        info = info or {}
        kind = info.get("type")
        if kind == "principle":
            principles[key] = info
        elif kind == "non_preference_principle":
            skipped += 1
        else:
            judges[key] = str(info.get("name") or info.get("description") or key)
    names, entries = principle_properties(principles)
    result = ImportResult(source=str(path), format="annotated-pairs", properties=entries)
    votes = []
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
        given = comparison.get("annotations") or {}
        votes += [_vote_row(pair_id, names[key], given.get(key)) for key in principles]
        for key, annotation in given.items():
            if key in principles or (key not in judges and key in annotators):
                continue  # a principle's vote, or a skipped annotator
            _judgment(result, judges.get(key, key), pair_id, annotation, path, number)
    if votes:
        result.annotations = pd.DataFrame(votes, columns=list(ANNOTATION_COLUMNS))
        result.notes.append(f"{len(principles)} principles imported as properties "
                            f"(annotator '{ANNOTATOR}'); see the study's schema.yaml")
    if skipped:
        result.notes.append(f"{skipped} non-preference principle annotators skipped")
    return result


def _judgment(result: ImportResult, judge: str, pair_id: str, annotation, path: Path,
              number: int) -> None:
    pref = (annotation or {}).get("pref")
    label = normalize_label(pref)
    reason = (annotation or {}).get("no_pref_reason")
    if label is None and str(reason).lower() in TIE_REASONS:
        label = TIE
    if label is None:
        result.exclusions.append(Exclusion("import", NO_LABEL, pair_id=pair_id, judge=judge,
                                           source=str(path), line=number,
                                           detail=str(reason or f"pref {pref!r}")))
        return
    result.judgments.append(Judgment(pair_id, judge, label))
