"""Comparison rules, resolution of annotations, and the property schema."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from prefdissect.annotations import ANNOTATION_COLUMNS
from prefdissect.comparisons import compare, length_comparison, resolve
from prefdissect.errors import InputError
from prefdissect.properties import load_schema

SCHEMA = load_schema()
RULE = SCHEMA.rules["length_thresholds"]


def lengths(a, b):
    return length_comparison(np.array(a), np.array(b), RULE["short_table"],
                             RULE["ratio_steps"]).tolist()


def test_default_schema_is_the_papers_29():
    assert len(SCHEMA.properties) == 29
    assert SCHEMA.names[0] == "harmless" and SCHEMA.names[28] == "lengthy"
    assert SCHEMA.get("non_repetitive").rule == "lower_better"
    assert SCHEMA.get("relevant").rule == "nonzero_better"
    assert SCHEMA.get("no_severe_errors").when_not_applicable == "exclude"
    assert SCHEMA.get("empathetic").applies_when == "expresses_feelings"


def test_length_thresholds_small_table():
    # a 3-word answer loses against 7 words or more, not against 6
    assert lengths([3, 7, 3], [6, 3, 7]) == [0.0, 1.0, -1.0]
    # 0 words lose against anything non-empty; two empty answers tie
    assert lengths([0, 0], [1, 0]) == [-1.0, 0.0]
    # 11 words need 19 against them
    assert lengths([11, 11], [18, 19]) == [0.0, -1.0]


def test_length_thresholds_ratio_steps():
    # 100 vs 130: ratio 0.77 <= 0.8 and gap 30 >= 20 -> the shorter loses
    assert lengths([100], [130]) == [-1.0]
    # 100 vs 115: ratio 0.87 and gap 15: no step applies
    assert lengths([100], [115]) == [0.0]
    # 400 vs 440: ratio 0.909 > 0.9 -> no
    assert lengths([440], [400]) == [0.0]
    # 360 vs 400: ratio 0.9 and gap 40 -> yes
    assert lengths([400], [360]) == [1.0]
    # 12 vs 20: ratio 0.6 <= 0.7 but gap 8 < 10 -> no
    assert lengths([12], [20]) == [0.0]


def test_rules_keep_missing_values_missing():
    a, b = np.array([3.0, 1.0, np.nan, 0.0]), np.array([1.0, 1.0, 2.0, 2.0])
    assert np.array_equal(compare("higher_better", a, b, {}), [1, 0, np.nan, -1],
                          equal_nan=True)
    assert np.array_equal(compare("lower_better", a, b, {}), [-1, 0, np.nan, 1],
                          equal_nan=True)
    assert np.array_equal(compare("nonzero_better", np.array([3.0, 1.0, 0.0]),
                                  np.array([1.0, 0.0, 2.0]), {}), [0, 1, -1])


def annotations(rows):
    frame = pd.DataFrame(rows)
    for column in ANNOTATION_COLUMNS:
        if column not in frame:
            frame[column] = None
    return frame[list(ANNOTATION_COLUMNS)]


def test_resolve_statuses_and_sources():
    ann = annotations([
        {"pair_id": "p1", "property": "clear", "value_a": 3, "value_b": 1, "status": "ok",
         "annotator": "llm"},
        {"pair_id": "p2", "property": "clear", "value_a": None, "value_b": None,
         "status": "failed", "reason": "bad JSON", "annotator": "llm"},
        {"pair_id": "p1", "property": "no_minor_errors", "value_a": None, "value_b": None,
         "status": "not_applicable", "annotator": "llm"},
        {"pair_id": "p2", "property": "no_minor_errors", "value_a": 0, "value_b": 2,
         "status": "ok", "annotator": "llm"},
        {"pair_id": "p1", "property": "empathetic", "value_a": None, "value_b": None,
         "status": "not_applicable", "annotator": "llm"},
        # the heuristic also rated clarity, but a non-heuristic annotator wins
        {"pair_id": "p1", "property": "clear", "value_a": 0, "value_b": 3, "status": "ok",
         "annotator": "heuristic"},
        {"pair_id": "p1", "property": "unknown_prop", "value_a": 1, "value_b": 0,
         "status": "ok", "annotator": "llm"},
    ])
    result = resolve(ann, ["p1", "p2", "p3"], SCHEMA)
    values = result.values
    assert list(values.columns) == ["clear", "no_minor_errors", "empathetic"]
    assert values.loc["p1", "clear"] == 1.0                 # from 'llm', not 'heuristic'
    assert np.isnan(values.loc["p2", "clear"])              # failed stays missing
    assert np.isnan(values.loc["p1", "no_minor_errors"])    # not applicable -> excluded
    assert values.loc["p2", "no_minor_errors"] == 1.0       # fewer errors in A
    assert values.loc["p1", "empathetic"] == 0.0            # not applicable -> zero
    assert result.sources["clear"] == "llm"
    reasons = result.reasons()
    assert reasons["p1"] == "property not applicable: no_minor_errors"
    assert reasons["p2"] == "annotation failed: clear"
    assert reasons["p3"] == "missing annotation: clear"
    assert "harmless" in result.unmeasured
    prefer_heuristic = resolve(ann, ["p1"], SCHEMA, prefer=["heuristic"])
    assert prefer_heuristic.values.loc["p1", "clear"] == -1.0


def test_schema_errors_name_the_problem(tmp_path):
    bad = tmp_path / "s.yaml"
    bad.write_text("properties:\n  - name: a\n    label: a\n    description: d\n"
                   "    rule: higher_better\n    applies_when: sometimes\n")
    with pytest.raises(InputError, match="unknown applies_when 'sometimes'"):
        load_schema(bad)
    bad.write_text("properties: [\n")
    with pytest.raises(InputError, match="not valid YAML"):
        load_schema(bad)
    bad.write_text("properties:\n  - name: a\n    label: a\n    description: d\n"
                   "    rule: length_thresholds\n")
    with pytest.raises(InputError, match="length_thresholds lacks"):
        load_schema(bad)


def test_custom_schema_subset(tmp_path):
    path = tmp_path / "two.yaml"
    path.write_text("name: two\nproperties:\n"
                    "  - {name: polite, label: polite, description: d, rule: higher_better}\n"
                    "  - {name: shouty, label: shouty, description: d, rule: lower_better}\n")
    schema = load_schema(path)
    assert schema.name == "two" and schema.names == ["polite", "shouty"]
