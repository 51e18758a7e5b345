"""The paper's dataset: its pair rows, and its released folder with resolved annotations."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from prefdissect.annotations import query_traits
from prefdissect.comparisons import length_comparison, resolve
from prefdissect.errors import InputError
from prefdissect.importers import run_import
from prefdissect.importers.preference_dissection import (
    LABELS,
    PROPERTY_OF,
    REFERENCES,
    RESOLVED,
    ROWS,
)
from prefdissect.properties import load_schema
from prefdissect.study import Study


def test_pair_rows_import_with_pairs_labels_groups_references_and_counts(shared_data,
                                                                         tmp_path):
    source = shared_data / "preference-dissection" / "raw_data" / "sample_unannotated.jsonl"
    result = run_import(source, "preference-dissection")
    assert [p.id for p in result.pairs] == ["0", "1"]
    first, second = result.pairs
    assert (first.model_a, first.model_b) == ("oasst-pythia-12b", "gpt-3.5-turbo")
    assert first.query.startswith("Generate a list of steps needed to book a flight")
    assert first.response_b.startswith("1. Choose your destination")
    assert [p.scenario for p in result.pairs] == ["Functional Writing", "Others"]
    assert first.metadata["fine_scenario"] == "functional_writing"
    assert first.reference.startswith("1. Choose your destination and dates of travel.")
    assert second.reference.startswith("It seems you're describing")
    assert [(j.pair_id, j.judge, j.label) for j in result.judgments] == [
        ("0", "human", "B"), ("1", "human", "B")]
    lengthy = result.annotations.set_index("pair_id")
    assert lengthy[["value_a", "value_b"]].to_numpy().tolist() == [[144, 64], [431, 8]]
    assert "differ on 0 of 2 pairs" in result.notes[0]


# -- the released folder, in the layout the paper's resolve step writes -------------------

RATINGS = [k for k, p in PROPERTY_OF.items() if p not in (
    "clarifies_intent", "empathetic", "satisfies_constraints", "supports_stances",
    "corrects_mistakes", "lengthy")]
SPECIFIC = {"clarify user intent": "clear intent", "showing empathetic":
            "explicitly express feelings", "satisfying explicit constraints":
            "explicit constraints", "supporting explicit subjective stances":
            "explicit subjective stances", "correcting explicit mistakes or biases":
            "explicit mistakes or biases"}
RULES = load_schema().rules["length_thresholds"]


def _sign(x):
    return int(np.sign(x))


def _resolved_row(rng: random.Random) -> tuple[dict, dict]:
    """One resolved row and, independently, the paper's 29 features for it."""
    features = {}
    comparison = {}
    for key in RATINGS:
        s1, s2 = rng.randint(0, 3), rng.randint(0, 3)
        if key == "relevance without considering inaccuracy":
            c = (s1 > 0) - (s2 > 0)
        else:
            c = _sign(s1 - s2)
        comparison[key] = {"comparison": c, "diff": s1 - s2, "norm_diff": (s1 - s2) / 3,
                           "meta": {"Response 1": s1, "Response 2": s2}}
        features[PROPERTY_OF[key]] = -c if key == "repetitive" else c
    info = {"clear intent": rng.choice(["Yes", "No"]),
            "explicitly express feelings": rng.choice(["Yes", "No"]),
            "explicit constraints": rng.choice([[], ["in 3 lines"], ["formal", "short"]]),
            "explicit subjective stances": rng.choice([[], ["cats are best"]]),
            "explicit mistakes or biases": rng.choice([[], ["the sun orbits the earth"]])}
    for key, trait in SPECIFIC.items():
        present = info[trait] == ("No" if key == "clarify user intent" else "Yes") \
            if isinstance(info[trait], str) else bool(info[trait])
        if not present:
            comparison[key] = {"comparison": 0, "diff": 0, "norm_diff": 0, "meta": None}
            features[PROPERTY_OF[key]] = 0
            continue
        if isinstance(info[trait], str):
            s1, s2 = rng.randint(0, 3), rng.randint(0, 3)
            meta, c = {"Response 1": s1, "Response 2": s2}, _sign(s1 - s2)
        else:  # per item: labels or ratings, as the paper stored them
            meta = {item: {"Response 1": str(rng.randint(0, 3)),
                           "Response 2": str(rng.randint(0, 3))} for item in info[trait]}
            c = rng.choice([-1, 0, 1])
        comparison[key] = {"comparison": c, "diff": c, "norm_diff": c / 3, "meta": meta}
        features[PROPERTY_OF[key]] = c
    if rng.random() < 0.15:  # the annotator could not check a response
        comparison["accuracy"] = {"comparison": 999, "diff": {}, "norm_diff": {},
                                  "meta": {"Response 1": {"accuracy check": "not applicable",
                                                          "inaccuracies": []},
                                           "Response 2": {"accuracy check": "applicable",
                                                          "inaccuracies": []}}}
        features.update(no_minor_errors=None, no_moderate_errors=None,
                        no_severe_errors=None)
    else:
        errors = [[{"brief description": "x", "type": "Factual error",
                    "severity": rng.choice(["Minor", "moderate", "severe "])}
                   for _ in range(rng.randint(0, 3))] for _ in range(2)]
        counts = [{s: sum(e["severity"].lower().strip() == s.lower() for e in side)
                   for s in ("Severe", "Moderate", "Minor")} for side in errors]
        given = {s: _sign(counts[1][s] - counts[0][s]) for s in counts[0]}
        comparison["accuracy"] = {"comparison": given, "diff": {}, "norm_diff": {},
                                  "meta": {f"Response {i + 1}": {"accuracy check":
                                                                 "applicable",
                                                                 "inaccuracies": side}
                                           for i, side in enumerate(errors)}}
        features.update(no_minor_errors=given["Minor"], no_moderate_errors=given["Moderate"],
                        no_severe_errors=given["Severe"])
    w1, w2 = rng.randint(0, 60), rng.randint(0, 60)
    label = int(length_comparison([w1], [w2], RULES["short_table"], RULES["ratio_steps"])[0])
    comparison["length"] = {"comparison": label, "diff": w1 - w2, "norm_diff": 0,
                            "meta": {"Response 1": w1, "Response 2": w2}}
    features["lengthy"] = label
    return {"query_info": info, "comparison": comparison}, features


def _write_folder(folder, n=40, seed=3):
    rng = random.Random(seed)
    folder.mkdir()
    rows, resolved, expected = [], [], []
    for i in range(n):
        rows.append({"model_a": "m1", "model_b": "m2", "winner": "model_a",
                     "scenario": "default", "group": "Others", "prompt": f"question {i}",
                     "response_a": f"answer a {i}.", "response_b": f"answer b {i}",
                     "response_a word": 4, "response_b word": 3, "id": 100 + i})
        row, features = _resolved_row(rng)
        resolved.append(row)
        expected.append(features)
    (folder / ROWS).write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / RESOLVED).write_text("".join(json.dumps(r) + "\n" for r in resolved))
    (folder / REFERENCES).write_text("".join(json.dumps({"output": f"ref {i}"}) + "\n"
                                             for i in range(n)))
    labels = ["A" if i % 3 else "B" for i in range(n)]
    (folder / LABELS).write_text(json.dumps(labels))
    return resolved, expected, labels


def test_released_folder_gives_the_papers_comparisons_exactly(tmp_path):
    resolved, expected, labels = _write_folder(tmp_path / "data")
    study = Study(tmp_path / "study")
    result = run_import(tmp_path / "data", "preference-dissection")
    study.save_import(result)
    schema = load_schema()
    pairs = study.pairs()
    assert pairs["id"].tolist() == [str(100 + i) for i in range(len(expected))]
    assert pairs["reference"].tolist() == [f"ref {i}" for i in range(len(expected))]
    assert study.judgments()["label"].tolist() == labels  # the labels file wins
    comparisons = resolve(study.annotations(), pairs["id"], schema)
    assert set(comparisons.values.columns) == set(schema.names)
    for pair_id, features in zip(pairs["id"], expected):
        for prop, want in features.items():
            got = comparisons.values.loc[pair_id, prop]
            if want is None:  # an error check that could not be made leaves the pair out
                assert np.isnan(got) and comparisons.status.loc[pair_id, prop] == 1
            else:
                assert got == want, (pair_id, prop)
    # the five query-trait groups come from the query information
    traits = query_traits(study.query_info()).loc[pairs["id"]]
    want_unclear = [r["query_info"]["clear intent"] == "No" for r in resolved]
    assert traits["intent_unclear"].tolist() == want_unclear
    want_stances = [bool(r["query_info"]["explicit subjective stances"]) for r in resolved]
    assert traits["explicit_stances"].tolist() == want_stances
    ratings = study.annotations().query("property == 'clear'")
    assert ratings["value_a"].between(0, 3).all()  # the annotation's own ratings
    assert not any("no property reads" in n for n in result.notes)  # every key is read


def test_a_resolved_key_no_property_reads_is_named(tmp_path):
    _write_folder(tmp_path / "data", n=3)
    path = tmp_path / "data" / RESOLVED
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    rows[1]["comparison"]["sarcasm"] = {"comparison": 1}  # a layout this importer predates
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    notes = run_import(tmp_path / "data", "preference-dissection").notes
    assert any(n.endswith("comparisons no property reads were left out: sarcasm")
               for n in notes), notes


def test_released_folder_with_rows_out_of_step_is_refused(tmp_path):
    _write_folder(tmp_path / "data", n=5)
    lines = (tmp_path / "data" / RESOLVED).read_text().splitlines()
    (tmp_path / "data" / RESOLVED).write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(InputError, match="has 4 rows but"):
        run_import(tmp_path / "data", "preference-dissection")


def test_bad_group_names_its_line_and_field(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text(json.dumps({"prompt": "q", "response_a": "a", "response_b": "b",
                                "winner": "model_a", "group": "Poetry"}) + "\n")
    with pytest.raises(InputError) as error:
        run_import(path, "preference-dissection")
    assert "line 1" in str(error.value) and "group" in str(error.value)
