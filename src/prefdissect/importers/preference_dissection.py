"""The paper's own dataset (Li et al., "Dissecting Human and LLM Preferences").

Two layouts are read:

- **pair rows** (JSON Lines or a JSON list; e.g. the repository's
  ``raw_data/sample_unannotated.jsonl``): ``model_a, model_b, winner, scenario, group,
  prompt, response_a, response_b``, word and Llama-token counts (``prompt word``,
  ``response_a word`` ...), ``gpt4_ref_output``, moderation tags and ``id``. Each row
  becomes a pair: ``group`` (one of the 11 scenario groups) is its scenario, the fine
  ``scenario`` is kept in the metadata, ``gpt4_ref_output`` is its reference answer,
  ``winner`` (``model_a`` / ``model_b``) the label of judge ``human``. The word counts
  are kept (metadata ``words_a``, ``words_b``) and become the pairs' ``lengthy``
  values (annotator ``preference-dissection``); a note says where our own count
  (:func:`~prefdissect.words.count_words`) disagrees with them.
- **the released visualisation folder** (the repository's ``visualization/data``): the
  pair rows in ``chatbot_arena_shuffled_no-tie_group_balanced.jsonl`` and, row by row
  in the same order where present, the resolved annotations
  (``chatbot_arena_no-tie_group_balanced_resolved.jsonl``), the reference answers
  (``chatbot_arena_shuffled_no-tie_gpt4_ref_group_balanced.jsonl``, field ``output``)
  and the human labels (``example_preference_labels.json``, ``"A"`` / ``"B"``, which
  then replace ``winner``). Each resolved row holds the query information and the
  paper's 29 comparisons; they are imported as given: every property's two values
  are the annotation's own (the 0-3 ratings, error counts by severity, word counts)
  where those reproduce the given comparison under the schema's rule, and otherwise
  (lists of constraints, stances, mistakes) a pair of values that encodes it, so that
  ``fit`` sees the paper's exact design matrix. A pair whose error check the paper's
  annotator could not make (comparison ``999``) has its error comparisons 'not
  applicable', which leaves the pair out of fits, as the paper's fit did. The query
  information gives the five query-trait groups.

``fit --paper-protocol`` on such a study fits as the paper did.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..annotations import ANNOTATION_COLUMNS, NOT_APPLICABLE, OK
from ..comparisons import compare
from ..errors import InputError
from ..judgments import Judgment, normalize_label
from ..pairs import Pair
from ..properties import load_schema
from ..readers import iter_records, read_json, require
from ..reference import SCENARIOS
from ..registry import register
from ..words import count_words
from . import ImportResult

NAME = "preference-dissection"
FIX = ("pair rows need prompt, response_a, response_b, winner and group (the paper's "
       "dataset layout)")
ROWS = "chatbot_arena_shuffled_no-tie_group_balanced.jsonl"
RESOLVED = "chatbot_arena_no-tie_group_balanced_resolved.jsonl"
REFERENCES = "chatbot_arena_shuffled_no-tie_gpt4_ref_group_balanced.jsonl"
LABELS = "example_preference_labels.json"
VERSION = "resolved-annotations"

# The resolved file's property names -> the schema's.
PROPERTY_OF = {
    "harmlessness": "harmless", "grammar, spelling, punctuation, and code-switching":
    "grammatical", "friendly": "friendly", "polite": "polite", "interactive": "interactive",
    "authoritative tone": "authoritative", "funny and humorous": "funny",
    "metaphors, personification, similes, hyperboles, irony, parallelism": "rhetorical",
    "complex word usage and sentence structure": "complex_wording",
    "use of direct and explicit supporting materials": "supporting_material",
    "well formatted": "well_formatted", "admit limitations or mistakes": "admits_limits",
    "persuade user": "persuasive", "step by step solution": "step_by_step",
    "use of informal expressions": "informal", "repetitive": "non_repetitive",
    "clear and understandable": "clear",
    "relevance without considering inaccuracy": "relevant", "innovative and novel": "novel",
    "information richness without considering inaccuracy": "information_rich",
    "clarify user intent": "clarifies_intent", "showing empathetic": "empathetic",
    "satisfying explicit constraints": "satisfies_constraints",
    "supporting explicit subjective stances": "supports_stances",
    "correcting explicit mistakes or biases": "corrects_mistakes", "length": "lengthy"}
SEVERITY_OF = {"Minor": "no_minor_errors", "Moderate": "no_moderate_errors",
               "Severe": "no_severe_errors"}
NOT_CHECKED = 999  # the resolved file's mark of an error check that could not be made
# non-repetitive is stored as "repetitive", whose comparison the paper's fit negates
NEGATED = {"non_repetitive"}


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _pair(row: dict[str, Any], index: int, path: Path, line: int) -> tuple[Pair, str, str]:
    for key in ("prompt", "response_a", "response_b"):
        if not isinstance(require(row, key, path, line, FIX), str):
            raise InputError(path, "must be a string", FIX, line=line, field=key)
    group = require(row, "group", path, line, FIX)
    if group not in SCENARIOS:
        raise InputError(path, f"has unknown group {group!r}",
                         f"use one of the paper's groups: {', '.join(SCENARIOS)}",
                         line=line, field="group")
    winner = require(row, "winner", path, line, FIX)
    label = normalize_label(winner)
    if label is None:
        raise InputError(path, f"has unknown winner {winner!r}", "use model_a, model_b or "
                         "tie", line=line, field="winner")
    metadata = {"row": index, "fine_scenario": row.get("scenario")}
    words = [_int(row.get(f"response_{side} word")) for side in "ab"]
    if all(n is not None for n in words):
        metadata["words_a"], metadata["words_b"] = words
    for key in ("prompt word", "prompt llama tokens", "response_a llama tokens",
                "response_b llama tokens", "oaimoderation_tag", "toxic_chat_tag",
                "r1_num_grammar_errors", "r2_num_grammar_errors"):
        if row.get(key) not in (None, ""):
            metadata[key.replace(" ", "_")] = row[key]
    reference = row.get("gpt4_ref_output")
    pair = Pair(id=str(row.get("id", index)), query=row["prompt"],
                response_a=row["response_a"], response_b=row["response_b"],
                model_a=str(row.get("model_a") or "") or None,
                model_b=str(row.get("model_b") or "") or None, scenario=group,
                reference=reference if isinstance(reference, str) and reference else None,
                metadata=metadata)
    return pair, label, str(winner)


def _encode(rule: str, comparison: float) -> tuple[float, float]:
    """Two values that give ``comparison`` under ``rule`` (+1: A better)."""
    better = (0.0, 1.0) if rule == "lower_better" else (1.0, 0.0)
    if comparison > 0:
        return better
    if comparison < 0:
        return better[::-1]
    return 0.0, 0.0


def _error_counts(meta: Any) -> dict[str, tuple[float, float]] | None:
    try:
        sides = [meta[f"Response {i}"]["inaccuracies"] for i in (1, 2)]
        counts = {sev: tuple(float(sum(str(e["severity"]).lower().strip() == sev.lower()
                                       for e in side)) for side in sides)
                  for sev in SEVERITY_OF}
    except (KeyError, TypeError):
        return None
    return counts


def _annotation_rows(pair_id: str, resolved: dict[str, Any], schema, path: Path,
                     line: int, unknown: set[str]) -> list[dict[str, Any]]:
    """Return a resolved row's annotations; add the keys no property reads to ``unknown``."""
    comparisons = resolved.get("comparison")
    if not isinstance(comparisons, dict):
        raise InputError(path, "has no 'comparison' object", "give the resolved rows as the "
                         "paper's resolve step wrote them", line=line, field="comparison")
    rows = []

    def add(prop, a, b, status=OK, reason=None):
        rows.append({"pair_id": pair_id, "property": prop, "value_a": a, "value_b": b,
                     "status": status, "reason": reason, "annotator": NAME, "model": None,
                     "prompt_version": VERSION})

    for key, item in comparisons.items():
        if key == "accuracy":
            given = item.get("comparison") if isinstance(item, dict) else None
            if given == NOT_CHECKED or given == str(NOT_CHECKED):
                for prop in SEVERITY_OF.values():
                    add(prop, None, None, NOT_APPLICABLE,
                        "the paper's annotator could not check a response")
                continue
            if not isinstance(given, dict):
                raise InputError(path, "has an accuracy comparison that is neither 999 nor "
                                 "{Severe, Moderate, Minor}", "give the resolved rows as "
                                 "written", line=line, field="comparison.accuracy")
            counts = _error_counts(item.get("meta")) or {}
            for severity, prop in SEVERITY_OF.items():
                target = float(given[severity])
                a, b = counts.get(severity, (np.nan, np.nan))
                if compare("lower_better", np.array([a]), np.array([b]), {})[0] != target:
                    a, b = _encode("lower_better", target)
                add(prop, a, b)
            continue
        prop = PROPERTY_OF.get(key)
        if prop is None:
            unknown.add(str(key))
        if prop is None or prop not in schema.names:
            continue
        if not isinstance(item, dict) or "comparison" not in item:
            raise InputError(path, "has no comparison value", "give the resolved rows as "
                             "written", line=line, field=f"comparison.{key}")
        target = float(item["comparison"]) * (-1 if prop in NEGATED else 1)
        spec = schema.get(prop)
        meta = item.get("meta")
        if spec.applies_when and meta is None:  # the query lacks the trait
            add(prop, None, None, NOT_APPLICABLE)
            continue
        values = (meta.get("Response 1"), meta.get("Response 2")) \
            if isinstance(meta, dict) else (None, None)
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            a, b = map(float, values)
            got = compare(spec.rule, np.array([a]), np.array([b]),
                          schema.rules.get(spec.rule, {}))[0]
            if got == target:
                add(prop, a, b)
                continue
        add(prop, *_encode(spec.rule, target))
    return rows


def _query_info(pair: Pair, resolved: dict[str, Any]) -> dict[str, Any] | None:
    info = resolved.get("query_info")
    if not isinstance(info, dict):
        return None
    return {"pair_id": pair.id, "intent_unclear": info.get("clear intent") == "No",
            "expresses_feelings": info.get("explicitly express feelings") == "Yes",
            "explicit_constraints": bool(info.get("explicit constraints")),
            "explicit_stances": bool(info.get("explicit subjective stances")),
            "contains_mistakes": bool(info.get("explicit mistakes or biases")),
            "scenario": pair.scenario, "details": json.dumps(info, ensure_ascii=False),
            "reference": pair.reference, "status": OK, "reason": None, "model": None,
            "prompt_version": VERSION}


def _aligned(path: Path, count: int) -> list[tuple[int, Any]] | None:
    """Read a file whose rows follow the pair rows one for one (None if it is absent)."""
    if not path.exists():
        return None
    rows = list(enumerate(read_json(path), start=1)) if path.name == LABELS else \
        list(iter_records(path))
    if len(rows) != count:
        raise InputError(path, f"has {len(rows)} rows but {ROWS} has {count}",
                         "give the files of one release: their rows go one for one")
    return rows


@register("importer", NAME, "the paper's dataset: pair rows (prompt, response_a/_b, winner, "
          "group, word counts, gpt4_ref_output) or its released folder with the resolved "
          "annotations (judge: human)")
def load(path: Path, *, seed: int = 0) -> ImportResult:
    """Import the paper's pair rows, or its released folder (see the module docstring)."""
    result = ImportResult(source=str(path), format=NAME)
    folder = path if path.is_dir() else None
    rows_path = folder / ROWS if folder else path
    if folder is not None and not rows_path.exists():
        raise InputError(folder, f"has no {ROWS}", "give the released visualisation folder, "
                         "or a file of pair rows")
    schema = load_schema()
    labelled = []
    for index, (line, row) in enumerate(iter_records(rows_path)):
        result.rows_read += 1
        if not isinstance(row, dict):
            raise InputError(rows_path, "is not a JSON object", FIX, line=line)
        labelled.append((line, *_pair(row, index, rows_path, line)))
    ids = [p.id for _, p, _, _ in labelled]
    if len(set(ids)) != len(ids):  # rows without distinct ids: number them
        labelled = [(line, Pair(**{**vars(p), "id": str(i)}), label, winner)
                    for i, (line, p, label, winner) in enumerate(labelled)]
    extra = {name: _aligned(folder / name, len(labelled)) if folder else None
             for name in (RESOLVED, REFERENCES, LABELS)}
    annotations, infos = [], []
    mismatched = relabelled = 0
    unknown: set[str] = set()
    for i, (_line, pair, label, winner) in enumerate(labelled):
        if extra[REFERENCES] and not pair.reference:
            output = extra[REFERENCES][i][1].get("output") \
                if isinstance(extra[REFERENCES][i][1], dict) else None
            pair.reference = output if isinstance(output, str) and output else None
        if extra[LABELS]:
            given = normalize_label(extra[LABELS][i][1])
            if given is None:
                raise InputError(folder / LABELS, f"has unknown label {extra[LABELS][i][1]!r}",
                                 "use A or B", line=i + 1)
            relabelled += given != label
            label = given
        result.pairs.append(pair)
        result.judgments.append(Judgment(pair.id, "human", label, None, {"winner": winner}))
        if "words_a" in pair.metadata:
            ours = (count_words(pair.response_a), count_words(pair.response_b))
            given_words = (pair.metadata["words_a"], pair.metadata["words_b"])
            mismatched += ours != given_words
        if extra[RESOLVED]:
            resolved_line, resolved = extra[RESOLVED][i]
            annotations += _annotation_rows(pair.id, resolved, schema, folder / RESOLVED,
                                            resolved_line, unknown)
            info = _query_info(pair, resolved)
            if info is not None:
                infos.append(info)
    words = [p for p in result.pairs if "words_a" in p.metadata]
    if not any(r["property"] == "lengthy" for r in annotations):
        annotations += [{"pair_id": p.id, "property": "lengthy",
                         "value_a": float(p.metadata["words_a"]),
                         "value_b": float(p.metadata["words_b"]), "status": OK,
                         "reason": None, "annotator": NAME, "model": None,
                         "prompt_version": "word counts as given"} for p in words]
    if annotations:
        result.annotations = pd.DataFrame(annotations, columns=list(ANNOTATION_COLUMNS))
    if infos:
        result.query_info = pd.DataFrame(infos)
    if words:
        result.notes.append(f"word counts of the source kept for lengthy; ours differ on "
                            f"{mismatched} of {len(words)} pairs (the source counted with "
                            "trained Punkt, which knows abbreviations such as 'Dr.')")
    if unknown:
        result.notes.append(f"{RESOLVED}: comparisons no property reads were left out: "
                            + ", ".join(sorted(unknown)))
    if relabelled:
        result.notes.append(f"{relabelled} pairs take their human label from {LABELS}, which "
                            "differs from the row's winner")
    return result
