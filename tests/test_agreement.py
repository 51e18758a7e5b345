"""Agreement between annotators, judges and hand labels: kappa, coverage, confusion."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from prefdissect import demo as sim
from prefdissect.agreement import (
    AGREEMENT_COLUMNS,
    CONFUSION_COLUMNS,
    cohen_kappa,
    kappa_interval,
)

FIRST = [1, 1, 1, 1, 0, 0, 0, -1, -1, -1]
SECOND = [1, 1, 1, 0, 0, 0, 1, -1, -1, 0]
# by hand: 7 of 10 agree; marginals first (+1, 0, -1) = (4, 3, 3), second = (4, 4, 2);
# chance = (4*4 + 3*4 + 3*2) / 100 = 0.34; kappa = (0.70 - 0.34) / (1 - 0.34) = 0.36 / 0.66
HAND_KAPPA = 0.36 / 0.66
VALUES = {1: (2.0, 1.0), 0: (1.0, 1.0), -1: (1.0, 2.0)}


def annotation_rows(annotator, prop, comparisons, failed=()):
    rows = []
    for i, c in enumerate(comparisons):
        a, b = VALUES[c]
        status = "failed" if i in failed else "ok"
        rows.append({"pair_id": f"p{i}", "property": prop, "value_a": None if i in failed
                     else a, "value_b": None if i in failed else b, "status": status,
                     "annotator": annotator})
    return rows


@pytest.fixture
def small_study(cli, tmp_path):
    src = tmp_path / "pairs.jsonl"
    src.write_text("\n".join(json.dumps({
        "id": f"p{i}", "query": "q", "response_a": f"a{i}", "response_b": f"b{i}",
        "label:j1": {1: "A", 0: "tie", -1: "B"}[FIRST[i]],
        "label:j2": {1: "A", 0: "tie", -1: "B"}[SECOND[i]]}) for i in range(10)) + "\n",
        encoding="utf-8")
    study = tmp_path / "study"
    assert cli("import", str(src), "--out", str(study)).code == 0
    rows = (annotation_rows("x", "polite", FIRST) + annotation_rows("y", "polite", SECOND)
            + annotation_rows("x", "friendly", FIRST) + annotation_rows("y", "friendly", FIRST)
            + annotation_rows("x", "clear", FIRST) + annotation_rows("y", "clear", FIRST,
                                                                     failed={2}))
    brought = tmp_path / "mine.csv"
    pd.DataFrame(rows).to_csv(brought, index=False)
    assert cli("annotate", str(study), "--from", str(brought)).code == 0
    return study


def test_kappa_matches_a_hand_computation(small_study, cli):
    result = cli("agreement", str(small_study), "--annotators", "x", "y")
    assert result.code == 0, result.err
    table = pd.read_csv(small_study / "agreement.csv").set_index("property")
    assert tuple(pd.read_csv(small_study / "agreement.csv").columns) == AGREEMENT_COLUMNS
    polite = table.loc["polite"]
    assert (polite["kind"], polite["first"], polite["second"]) == ("annotators", "x", "y")
    assert (polite["pairs"], polite["both"]) == (10, 10)
    assert polite["agreement"] == pytest.approx(0.7)
    assert polite["kappa"] == pytest.approx(HAND_KAPPA)
    assert polite["kappa_lower"] < polite["kappa"] < polite["kappa_upper"]
    # identical annotations: kappa 1, a degenerate interval at 1
    assert table.loc["friendly", ["agreement", "kappa", "kappa_lower", "kappa_upper"]] \
        .tolist() == [1.0, 1.0, 1.0, 1.0]
    # a failed annotation leaves its pair out: coverage 9 of 10
    assert (table.loc["clear", "pairs"], table.loc["clear", "both"]) == (10, 9)
    assert table.loc["clear", "kappa"] == 1.0
    confusion = pd.read_csv(small_study / "agreement_confusion.csv")
    assert tuple(confusion.columns) == CONFUSION_COLUMNS
    cells = confusion[confusion["property"] == "polite"].set_index(
        ["first_value", "second_value"])["count"]
    assert len(cells) == 9 and cells.sum() == 10
    assert (cells[(1, 1)], cells[(1, 0)], cells[(0, 1)], cells[(-1, 0)]) == (3, 1, 1, 1)


def test_judges_and_hand_labels(small_study, cli, tmp_path):
    assert cli("agreement", str(small_study), "--judges", "j1", "j2").code == 0
    table = pd.read_csv(small_study / "agreement.csv")
    judges = table[table["kind"] == "judges"].iloc[0]
    assert pd.isna(judges["property"])  # empty for judges
    assert judges["kappa"] == pytest.approx(HAND_KAPPA) and judges["both"] == 10
    labels = tmp_path / "hand.csv"
    pd.DataFrame({"pair_id": [f"p{i}" for i in range(4)],
                  "label": ["A", "A", "B", "tie"]}).to_csv(labels, index=False)
    result = cli("agreement", str(small_study), "--labels", str(labels))
    assert result.code == 0, result.err
    table = pd.read_csv(small_study / "agreement.csv")
    mine = table[table["kind"] == "labels"].set_index("second")
    # hand labels vs j1 (A A A A on p0-p3): 2 of 4; vs j2 (A A A tie): 3 of 4
    assert mine.loc["j1", "agreement"] == 0.5 and mine.loc["j2", "agreement"] == 0.75
    assert mine.loc["j1", "first"] == "hand" and mine.loc["j1", "pairs"] == 4
    # the earlier rows survive a new comparison
    assert {"judges", "labels"} == set(table["kind"])
    # labels of pairs the study does not have are left out, counted, with examples
    stray = tmp_path / "stray.csv"
    pd.DataFrame({"pair_id": ["p0", "x1", "x2"], "label": ["A", "B", "B"]}).to_csv(
        stray, index=False)
    result = cli("agreement", str(small_study), "--labels", str(stray))
    assert result.code == 0 and "2 of 3 labelled pairs are not in the study" in result.text
    assert "(e.g. x1, x2)" in result.text
    table = pd.read_csv(small_study / "agreement.csv")
    assert (table.loc[table["first"] == "stray", "pairs"] == 1).all()
    (tmp_path / "none.csv").write_text("pair_id,label\nx1,A\n")
    result = cli("agreement", str(small_study), "--labels", str(tmp_path / "none.csv"))
    assert result.code == 2 and "none of the 1 labelled pair ids is in the study" in result.err
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"pair_id": ["p0"], "label": ["maybe"]}).to_csv(bad, index=False)
    result = cli("agreement", str(small_study), "--labels", str(bad))
    assert result.code == 2 and "bad.csv line 2: field 'label'" in result.err


def test_a_pair_id_of_zero_is_an_id_and_an_empty_one_is_refused(tmp_path):
    from prefdissect.agreement import read_labels
    from prefdissect.errors import InputError
    from prefdissect.properties import load_schema

    numbered = tmp_path / "numbered.jsonl"
    numbered.write_text('{"pair_id": 0, "label": "A"}\n{"pair_id": 1, "label": "B"}\n')
    assert read_labels(numbered, load_schema())["pair_id"].tolist() == ["0", "1"]
    empty = tmp_path / "empty.csv"
    empty.write_text("pair_id,label\n0,A\n,B\n")
    with pytest.raises(InputError, match="line 3: field 'pair_id' is missing"):
        read_labels(empty, load_schema())


def test_kappa_interval_agrees_with_the_normal_approximation():
    rng = np.random.default_rng(3)
    first = rng.choice([-1, 0, 1], size=400, p=[0.3, 0.3, 0.4])
    second = np.where(rng.random(400) < 0.6, first, rng.choice([-1, 0, 1], size=400))
    table = pd.crosstab(first, second).to_numpy()
    kappa = cohen_kappa(table)
    observed = np.trace(table) / 400
    chance = (table.sum(1) @ table.sum(0)) / 400**2
    se = np.sqrt(observed * (1 - observed) / 400) / (1 - chance)  # large-sample SE
    lower, upper = kappa_interval(table)
    assert lower < kappa < upper
    assert (upper - lower) == pytest.approx(2 * 1.96 * se, rel=0.15)
    assert kappa_interval(table) == (lower, upper)  # seeded
    assert np.isnan(cohen_kappa(np.diag([5, 0, 0])))  # one shared value: undefined


def test_heuristic_against_itself_on_swapped_pairs(cli, tmp_path):
    from prefdissect.annotators.heuristic import HeuristicAnnotator
    from prefdissect.properties import load_schema

    data = sim.simulate(300, seed=4)
    src = sim.write_pairs(data, tmp_path / "pairs.jsonl")
    study = tmp_path / "study"
    assert cli("import", str(src), "--out", str(study)).code == 0
    assert cli("annotate", str(study)).code == 0
    swapped = pd.read_parquet(study / "pairs.parquet")
    swapped[["response_a", "response_b"]] = swapped[["response_b", "response_a"]].to_numpy()
    values = HeuristicAnnotator().annotate(swapped, load_schema())
    raw = values.assign(annotator="swapped-raw")
    flipped = values.assign(annotator="swapped", value_a=values["value_b"],
                            value_b=values["value_a"])  # the sign flip
    brought = tmp_path / "swapped.parquet"
    pd.concat([raw, flipped]).to_parquet(brought)
    assert cli("annotate", str(study), "--from", str(brought)).code == 0
    assert cli("agreement", str(study), "--annotators", "heuristic", "swapped").code == 0
    assert cli("agreement", str(study), "--annotators", "heuristic", "swapped-raw").code == 0
    table = pd.read_csv(study / "agreement.csv")
    same = table[table["second"] == "swapped"]
    assert len(same) == 11 and (same["both"] == 300).all()
    assert (same["agreement"] == 1.0).all()
    defined = same.dropna(subset=["kappa"])
    assert len(defined) >= 9 and (defined["kappa"] == 1.0).all()
    raw = table[table["second"] == "swapped-raw"].set_index("property")
    assert raw.loc["lengthy", "kappa"] < 0  # without the flip the comparisons oppose
