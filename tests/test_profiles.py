"""Fitting profiles: folds, the paper's protocol, held-out quality, query-trait groups."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from prefdissect.annotations import ANNOTATION_COLUMNS, query_traits
from prefdissect.comparisons import resolve
from prefdissect.engines import Problem, fit_problems
from prefdissect.errors import FitError, UsageError
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


def test_quality_beats_null_baselines_each_computed_for_what_it_is():
    pairs, judgments, annotations, truth, info = synthetic_study()
    schema = load_schema()
    comparisons = resolve(annotations, pairs["id"], schema)
    assert comparisons.values["lengthy"].abs().sum() > 0
    plain = fit_profiles(pairs, judgments, comparisons, FitConfig(folds=10),
                         traits=query_traits(info))
    assert set(plain.profiles["group"]) == {"all", "expresses_feelings"}
    assert (plain.profiles.query("group == 'expresses_feelings'")["n_pairs"] == 200).all()
    quality = plain.quality.set_index("group").loc["all"]
    assert quality["folds"] == 10
    assert quality["model_accuracy"] > quality["length_accuracy"] > 0.5
    assert quality["model_log_loss"] < quality["length_log_loss"] < quality["base_rate_log_loss"]
    # the baselines, recomputed by hand from the judge's own folds
    y = (judgments["label"] == "A").to_numpy(float)
    folds = fold_slices(len(y), 10, 0)
    held = np.concatenate(folds)
    assert quality["always_a_accuracy"] == pytest.approx(y[held].mean())
    share = np.concatenate([np.full(len(f), np.clip(np.delete(y, f).mean(), 0.01, 0.99))
                            for f in folds])
    expected = -np.mean(y[held] * np.log(share) + (1 - y[held]) * np.log(1 - share))
    assert quality["base_rate_log_loss"] == pytest.approx(expected)
    assert quality["majority_accuracy"] == pytest.approx(np.mean((y[held] > 0.5) == (share >= .5)))
    assert np.isnan(quality["terms_accuracy"])  # no model names: no terms
    full = plain.profiles.query("group == 'all'").set_index("property")["mean"]
    assert full["lengthy"] > 0.6 and abs(full["polite"]) < 0.15 and full["clear"] > 0.3


def test_paper_protocol_rows_describe_the_fold_fits_in_every_column():
    pairs, judgments, annotations, _, _ = synthetic_study(300)
    comparisons = resolve(annotations, pairs["id"], load_schema())
    paper = fit_profiles(pairs, judgments, comparisons, FitConfig(folds=5, average_folds=True))
    plain = fit_profiles(pairs, judgments, comparisons, FitConfig(folds=5))
    # independent computation: fit each fold (the judge's own shuffle) directly
    X = comparisons.values.to_numpy(float)
    y = (judgments["label"] == "A").to_numpy(float)
    fits = fit_problems([Problem(np.delete(X, f, axis=0), np.delete(y, f))
                         for f in fold_slices(len(y), 5, 0)])
    got = paper.profiles.set_index("property").loc[list(comparisons.values.columns)]
    assert np.allclose(got["mean"], np.mean([p.mean for p in fits], axis=0), atol=1e-5)
    assert np.allclose(got["sd"], np.sqrt(np.mean([p.sd ** 2 for p in fits], axis=0)),
                       atol=1e-5)
    assert np.allclose(got["lower"], np.mean([p.lower for p in fits], axis=0), atol=1e-5)
    assert np.allclose(got["upper"], np.mean([p.upper for p in fits], axis=0), atol=1e-5)
    full = plain.profiles.set_index("property")
    assert not np.allclose(got["sd"], full.loc[got.index, "sd"])  # not the full fit's sd


def test_a_judges_folds_do_not_depend_on_the_other_judges():
    pairs, judgments, annotations, _, _ = synthetic_study(400)
    other = judgments.assign(judge="other")
    judgments.loc[judgments.index % 4 == 0, "label"] = "tie"  # pairs only 'other' can use
    both = pd.concat([judgments, other], ignore_index=True)
    comparisons = resolve(annotations, pairs["id"], load_schema())
    alone = fit_profiles(pairs, judgments, comparisons, FitConfig(folds=10)).quality
    together = fit_profiles(pairs, both, comparisons, FitConfig(folds=10)).quality
    mine = together[together["judge"] == "sim"].reset_index(drop=True)
    pd.testing.assert_frame_equal(alone.reset_index(drop=True), mine, atol=1e-9)


@pytest.mark.parametrize("options, message", [
    ({"folds": -1}, "--folds -1"), ({"folds": 1}, "--folds 1"),
    ({"folds": 1000}, "--folds 1000 is more than --min-pairs"),
    ({"min_pairs": -5}, "--min-pairs -5"), ({"max_missing": 2.0}, "--max-missing 2.0"),
    ({"model_terms": "intercept"}, "--model-terms intercept"),
])
def test_out_of_range_options_are_refused(options, message):
    with pytest.raises(UsageError, match=message):
        FitConfig(**options).validate()


def test_soft_labels_need_some_probability():
    pairs, judgments, annotations, _, _ = synthetic_study(100)
    comparisons = resolve(annotations, pairs["id"], load_schema())
    with pytest.raises(UsageError, match="no judge gives a probability"):
        fit_profiles(pairs, judgments, comparisons, FitConfig(folds=0, soft_labels=True))
    soft = judgments.assign(judge="soft", p_a=0.7)
    result = fit_profiles(pairs, pd.concat([judgments, soft]), comparisons,
                          FitConfig(folds=0, soft_labels=True))
    assert any("sim give no P(A)" in note for note in result.notes)


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


def test_a_mostly_not_applicable_property_is_dropped_and_counted():
    pairs, judgments, annotations, _, _ = synthetic_study(200)
    rows = annotations["property"] == "clear"
    rows &= annotations["pair_id"].str[1:].astype(int) % 5 != 0  # 80% not applicable
    annotations.loc[rows, ["value_a", "value_b"]] = None
    annotations.loc[rows, "status"] = "not_applicable"
    schema = load_schema()
    clear = schema.get("clear")
    assert clear.when_not_applicable == "zero"
    # with the 'exclude' rule the pairs would leave the fit: count it as missing instead
    excluding = schema.subset(schema.names)
    excluding = type(schema)(schema.name, tuple(
        type(p)(**{**p.__dict__, "when_not_applicable": "exclude"}) if p.name == "clear" else p
        for p in excluding.properties), schema.rules)
    comparisons = resolve(annotations, pairs["id"], excluding)
    result = fit_profiles(pairs, judgments, comparisons, FitConfig(folds=0))
    assert "clear" not in set(result.profiles["property"]) and result.used["sim"] == 200
    assert any("clear (80%)" in note for note in result.notes)
    strict = fit_profiles(pairs, judgments, comparisons, FitConfig(folds=0, max_missing=0.9))
    assert strict.used["sim"] == 40
    assert any("clear not applicable 160" in note for note in strict.notes)
    # with the 'zero' rule a property that does not apply is no difference: nothing dropped
    zero = fit_profiles(pairs, judgments, resolve(annotations, pairs["id"], schema),
                        FitConfig(folds=0))
    assert "clear" in set(zero.profiles["property"]) and zero.used["sim"] == 200


def test_nothing_to_fit_says_why_and_names_exclusions_only_when_there_are_some():
    pairs, judgments, annotations, _, _ = synthetic_study(n=12)
    comparisons = resolve(annotations, pairs["id"], load_schema())
    with pytest.raises(FitError) as error:
        fit_profiles(pairs, judgments, comparisons, FitConfig(min_pairs=20, folds=0))
    assert "--min-pairs 20 usable pairs a fit needs; usable pairs in group 'all': sim 12; " \
        "give more" in str(error.value)
    assert "exclusions" not in str(error.value)  # nothing was excluded: do not send them there
    judgments.loc[:5, "label"] = None
    with pytest.raises(FitError, match="sim 6; left out of the fit: 6 "):
        fit_profiles(pairs, judgments, comparisons, FitConfig(min_pairs=20, folds=0))
