"""Fitting profiles: folds, the paper's protocol, held-out quality, query-trait groups."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from prefdissect.annotations import ANNOTATION_COLUMNS, query_traits
from prefdissect.comparisons import resolve
from prefdissect.errors import FitError
from prefdissect.profiles import FitConfig, fit_profiles, fold_slices
from prefdissect.properties import load_schema


def test_fold_slices_follow_the_papers_arithmetic():
    folds = fold_slices(403, 10, seed=0)
    assert [len(f) for f in folds] == [40] * 10
    held = np.concatenate(folds)
    assert len(set(held)) == 400  # three rows are never held out, as in the paper
    order = np.random.default_rng(0).permutation(403)
    assert np.array_equal(folds[3], order[int(3 / 10 * 403):int(3 / 10 * 403) + 40])


def synthetic_study(n=600, seed=0):
    rng = np.random.default_rng(seed)
    props = ["lengthy", "polite", "clear"]
    truth = {"lengthy": 1.0, "polite": 0.0, "clear": 0.6}
    values = rng.choice([-1.0, 0.0, 1.0], size=(n, 3))
    logit = values @ np.array([truth[p] for p in props])
    label = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "A", "B")
    ids = [f"p{i}" for i in range(n)]
    pairs = pd.DataFrame({"id": ids, "query": "q", "response_a": "a", "response_b": "b",
                          "model_a": None, "model_b": None, "scenario": None,
                          "reference": None, "history": None, "metadata": None})
    rows = []
    for i, pid in enumerate(ids):
        for j, prop in enumerate(props):  # values chosen so that the comparison is values[i, j]
            rows.append({"pair_id": pid, "property": prop, "value_a": values[i, j] + 1,
                         "value_b": 1.0, "status": "ok", "annotator": "sim"})
    annotations = pd.DataFrame(rows)
    annotations = annotations.reindex(columns=list(ANNOTATION_COLUMNS))
    judgments = pd.DataFrame({"pair_id": ids, "judge": "sim", "label": label,
                              "p_a": np.nan, "details": None})
    # "lengthy" compares by the length rule, so feed word counts that reproduce values
    words = {-1.0: (10, 40), 0.0: (20, 20), 1.0: (40, 10)}
    length = annotations["property"] == "lengthy"
    comparisons = values[:, 0]
    annotations.loc[length, "value_a"] = [words[c][0] for c in comparisons]
    annotations.loc[length, "value_b"] = [words[c][1] for c in comparisons]
    info = pd.DataFrame({"pair_id": ids, "expresses_feelings": [i % 3 == 0 for i in range(n)],
                         "status": "ok"})
    return pairs, judgments, annotations, truth, info


def test_quality_beats_null_baselines_and_paper_protocol_averages_folds():
    pairs, judgments, annotations, truth, info = synthetic_study()
    schema = load_schema()
    comparisons = resolve(annotations, pairs["id"], schema)
    assert comparisons.values["lengthy"].abs().sum() > 0
    traits = query_traits(info)
    plain = fit_profiles(pairs, judgments, comparisons, FitConfig(folds=10), traits=traits)
    paper = fit_profiles(pairs, judgments, comparisons, FitConfig(folds=10, average_folds=True),
                         traits=traits)
    assert set(plain.profiles["group"]) == {"all", "expresses_feelings"}
    assert (plain.profiles.query("group == 'expresses_feelings'")["n_pairs"] == 200).all()
    quality = plain.quality.set_index("group").loc["all"]
    assert quality["folds"] == 10
    assert quality["model_accuracy"] > quality["length_accuracy"] > 0.5
    assert quality["model_log_loss"] < quality["length_log_loss"] < quality["always_a_log_loss"]
    full = plain.profiles.query("group == 'all'").set_index("property")["mean"]
    averaged = paper.profiles.query("group == 'all'").set_index("property")["mean"]
    assert not np.allclose(full, averaged)            # fold means differ from the full fit
    assert np.abs(full - averaged).max() < 0.05       # ... but only slightly
    assert full["lengthy"] > 0.6 and abs(full["polite"]) < 0.15 and full["clear"] > 0.3
    sd = plain.profiles.query("group == 'all'")["sd"].to_numpy()
    assert np.array_equal(sd, paper.profiles.query("group == 'all'")["sd"].to_numpy())


def test_without_folds_there_is_no_quality_table():
    pairs, judgments, annotations, _, _ = synthetic_study(200)
    comparisons = resolve(annotations, pairs["id"], load_schema())
    result = fit_profiles(pairs, judgments, comparisons, FitConfig(folds=0))
    assert result.quality.empty and len(result.profiles) == 3


def test_small_groups_are_skipped_with_a_note():
    pairs, judgments, annotations, _, info = synthetic_study(60)
    comparisons = resolve(annotations, pairs["id"], load_schema())
    result = fit_profiles(pairs, judgments, comparisons, FitConfig(folds=0, min_pairs=25),
                          traits=query_traits(info))
    assert set(result.profiles["group"]) == {"all"}
    assert any("skipped for fewer than 25" in note for note in result.notes)
    with pytest.raises(FitError, match="no judgments from nobody"):
        fit_profiles(pairs, judgments, comparisons, FitConfig(judges=["nobody"]))


def test_a_mostly_failed_property_is_dropped_instead_of_the_pairs():
    pairs, judgments, annotations, _, _ = synthetic_study(200)
    broken = annotations["property"] == "polite"
    annotations.loc[broken & (annotations.index % 2 == 0), ["value_a", "value_b"]] = None
    annotations.loc[broken & (annotations.index % 2 == 0), "status"] = "failed"
    comparisons = resolve(annotations, pairs["id"], load_schema())
    result = fit_profiles(pairs, judgments, comparisons, FitConfig(folds=0))
    assert set(result.profiles["property"]) == {"lengthy", "clear"}
    assert result.used["sim"] == 200
    assert any("polite (50%)" in note for note in result.notes)
    strict = fit_profiles(pairs, judgments, comparisons, FitConfig(folds=0, max_missing=0.9))
    assert "polite" in set(strict.profiles["property"]) and strict.used["sim"] < 200
