"""Write a study as an AnnotatedPairs v2 file, the format Feedback Forensics loads.

One comparison per pair (id, prompt, ``response_a``/``response_b`` with text and
model, metadata with the pair's metadata and scenario). Annotators:

- the reference judge (``judge``; the study's only judge by default) under the id
  Feedback Forensics reads its reference preferences from (``ba751e7b``), so its
  metrics measure each principle against that judge;
- every other judge, by name (type ``human`` when the name says so, else
  ``unknown``);
- every property with comparisons, as a principle "Select the response that is
  better on <property>": A better -> ``a``, B better -> ``b``, no difference or not
  applicable -> no preference (``not_applicable``), failed or never annotated ->
  no preference (``invalid``).

Judge labels: A -> ``a``, B -> ``b``, tie -> no preference with reason ``tie``.
Importing the file back (``--format annotated-pairs``) gives the same pairs,
judges and comparisons (a property that was not applicable comes back as no
difference).
"""

from __future__ import annotations

import hashlib
import json
import math
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from ..comparisons import S_FAILED, S_MISSING, resolve
from ..judgments import A, B, judge_names
from ..pairs import frame_to_pairs
from ..registry import register
from . import ExportResult, choose_judge, write_atomic

REFERENCE_ID = "ba751e7b"
"""The annotator id Feedback Forensics takes reference preferences from (the short
MD5 id that Inverse Constitutional AI gives its default annotator)."""
VERSION = "2.0"


def annotator_id(kind: str, name: str) -> str:
    """Return a short stable id for an annotator (8 hex digits of an MD5 digest)."""
    return hashlib.md5(f"prefdissect {kind}: {name}".encode()).hexdigest()[:8]


def _vote(label: str | None) -> dict | None:
    if label == A:
        return {"pref": "a"}
    if label == B:
        return {"pref": "b"}
    return {"pref": None, "no_pref_reason": "tie"} if label else None


def _principle_vote(value: float, status: int) -> dict:
    if status in (S_FAILED, S_MISSING):
        return {"pref": None, "no_pref_reason": "invalid"}
    if value == value and value > 0:
        return {"pref": "a"}
    if value == value and value < 0:
        return {"pref": "b"}
    return {"pref": None, "no_pref_reason": "not_applicable"}


def _scenarios(study, pairs: pd.DataFrame) -> pd.Series:
    scenario = pairs.set_index("id")["scenario"]
    info = study.query_info()
    if info is not None and scenario.isna().all() and "scenario" in info:
        found = info.dropna(subset=["scenario"]).set_index("pair_id")["scenario"]
        scenario = scenario.index.to_series().map(found)
    return scenario


@register("exporter", "annotated-pairs", "AnnotatedPairs v2 JSON for Feedback Forensics: "
          "judges as annotators, properties as principles")
def export(study, out: Path, *, judge: str | None = None) -> ExportResult:
    """Write ``study`` to ``out`` as AnnotatedPairs v2; ``judge`` is the reference."""
    pairs = study.pairs()
    judgments = study.judgments()
    judges = judge_names(judgments)
    judge = choose_judge(judges, judge)
    schema = study.schema()
    labels = schema.labels()
    comparisons = None
    if study.path("annotations.parquet").exists():
        comparisons = resolve(study.annotations(), pairs["id"], schema)
    ids = {judge: REFERENCE_ID, **{j: annotator_id("judge", j) for j in judges if j != judge}}
    verdicts = {j: rows.drop_duplicates("pair_id", keep="last").set_index("pair_id")["label"]
                for j, rows in judgments.groupby("judge")}
    annotators = {ids[j]: {"name": j, "description": f"prefdissect judge '{j}'"
                           + (" (the reference)" if j == judge else ""),
                           "type": "human" if "human" in j.lower() else "unknown"}
                  for j in judges}
    properties = list(comparisons.values.columns) if comparisons is not None else []
    for prop in properties:
        annotators[annotator_id("property", prop)] = {
            "name": prop, "type": "principle",
            "description": f"Select the response that is better on '{labels.get(prop, prop)}'"
                           f" ({schema.get(prop).description.rstrip('.')})"
            if prop in schema.names else f"Select the response that is better on '{prop}'"}
    scenario = _scenarios(study, pairs)
    values = comparisons.values.to_numpy() if comparisons is not None else None
    status = comparisons.status.to_numpy() if comparisons is not None else None
    principle_ids = [annotator_id("property", prop) for prop in properties]
    keys: set[str] = set()
    records = []
    for i, pair in enumerate(frame_to_pairs(pairs)):
        notes = {k: str(v) for k, v in pair.metadata.items() if v is not None}
        if isinstance(scenario.get(pair.id), str):
            notes["scenario"] = scenario[pair.id]
        keys |= set(notes)
        votes = {}
        for name in judges:
            vote = _vote(verdicts[name].get(pair.id))
            if vote is not None:
                votes[ids[name]] = vote
        for j, key in enumerate(principle_ids):
            votes[key] = _principle_vote(values[i, j], status[i, j])
        records.append({
            "id": pair.id, "prompt": pair.prompt_text(),
            "response_a": _side(pair.response_a, pair.model_a),
            "response_b": _side(pair.response_b, pair.model_b),
            "annotations": votes, **({"metadata": notes} if notes else {})})
    used = {k for r in records for k in r["annotations"]}
    document = {
        "metadata": {
            "version": VERSION, "dataset_name": Path(study.root).name,
            "description": f"prefdissect study {Path(study.root).name}: judges as "
                           "annotators, property comparisons as principles",
            "created_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "default_annotator": REFERENCE_ID,
            "available_metadata_keys_per_comparison": sorted(keys)},
        # an annotator without a single vote would break loaders that index its column
        "annotators": {k: v for k, v in annotators.items() if k in used},
        "comparisons": records}
    write_atomic(out, json.dumps(_finite(document), ensure_ascii=False))
    return ExportResult(out, "annotated-pairs", len(records), [
        f"reference judge: {judge}; {len(judges) - 1} other judges and {len(properties)} "
        "properties (as principles) written"])


def _side(text: str | None, model: str | None) -> dict:
    return {"text": text or "", **({"model": model} if model else {})}


def _finite(value):
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value
