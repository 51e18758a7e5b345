"""Model terms: a fixed baseline's edge and per-model strengths, fitted beside the properties."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from prefdissect.annotations import ANNOTATION_COLUMNS
from prefdissect.comparisons import resolve
from prefdissect.engines import TERM_PRIOR_SD, Problem, fit_problems
from prefdissect.errors import UsageError
from prefdissect.profiles import FitConfig, fit_profiles
from prefdissect.properties import load_schema
from prefdissect.terms import choose_terms, pair_term_values, term_design

WEIGHTS = {"lengthy": 0.8, "well_formatted": 0.5, "polite": 0.0, "clear": -0.4,
           "friendly": 0.25}


def _pairs(model_a, model_b) -> pd.DataFrame:
    n = len(model_a)
    return pd.DataFrame({"id": [f"p{i}" for i in range(n)], "query": "q", "response_a": "a",
                         "response_b": "b", "model_a": list(model_a), "model_b": list(model_b),
                         "scenario": None, "reference": None, "history": None,
                         "metadata": None})


def simulate_models(n=20000, seed=0, fixed_baseline=False, strength=None):
    """Ten models with known strengths; stronger models are more often long and formatted."""
    rng = np.random.default_rng(seed)
    models = [f"m{k}" for k in range(10)]
    strength = np.linspace(-1.5, 1.5, 10) if strength is None else np.asarray(strength)
    p_long = np.linspace(0.15, 0.85, 10)
    p_format = np.linspace(0.2, 0.8, 10)
    if fixed_baseline:
        a = np.full(n, 9)
        b = rng.integers(0, 9, n)
    else:
        a = rng.integers(0, 10, n)
        b = (a + rng.integers(1, 10, n)) % 10
    props = list(WEIGHTS)
    chance = {"lengthy": p_long, "well_formatted": p_format}
    feats = {}
    for side, m in (("a", a), ("b", b)):
        feats[side] = np.stack([rng.random(n) < chance.get(p, np.full(10, 0.5))[m]
                                for p in props], axis=1).astype(float)
    x = feats["a"] - feats["b"]
    logit = strength[a] - strength[b] + x @ np.array([WEIGHTS[p] for p in props])
    label = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "A", "B")
    pairs = _pairs(np.array(models)[a], np.array(models)[b])
    ids = pairs["id"].to_numpy()
    frames = []
    for j, prop in enumerate(props):
        va, vb = feats["a"][:, j], feats["b"][:, j]
        if prop == "lengthy":  # word counts that the length rule tells apart
            va, vb = np.where(va > 0, 60.0, 20.0), np.where(vb > 0, 60.0, 20.0)
        frames.append(pd.DataFrame({"pair_id": ids, "property": prop, "value_a": va,
                                    "value_b": vb, "status": "ok", "annotator": "sim"}))
    annotations = pd.concat(frames).reindex(columns=list(ANNOTATION_COLUMNS))
    judgments = pd.DataFrame({"pair_id": ids, "judge": "sim", "label": label, "p_a": np.nan,
                              "details": None})
    comparisons = resolve(annotations, pairs["id"], load_schema())
    return pairs, judgments, comparisons, dict(zip(models, strength))


def test_auto_chooses_a_baseline_term_only_for_a_fixed_side_a():
    fixed = _pairs(["base"] * 3, ["x", "y", "z"])
    kind, reason = choose_terms(fixed, "auto")
    assert kind == "baseline" and "side A is always base" in reason
    assert term_design(fixed, kind).names == ["baseline (base)"]
    flipped = term_design(_pairs(["x", "y"], ["base"] * 2), "baseline")
    assert flipped.names == ["baseline (base)"] and flipped.columns.ravel().tolist() == [-1, -1]
    mixed = _pairs(["x", "y", "base"], ["base", "x", "y"])
    assert choose_terms(mixed, "auto")[0] == "none"
    assert choose_terms(_pairs([None] * 2, [None] * 2), "auto")[0] == "none"
    design = term_design(mixed, "models", anchor="base")
    assert design.names == ["x", "y"]
    assert design.columns.tolist() == [[1, 0], [-1, 1], [0, -1]]
    with pytest.raises(UsageError, match="only used with one strength per model"):
        term_design(fixed, kind, reason, anchor="x")  # an anchor the fit would ignore


def test_a_pair_explained_with_model_terms_gets_the_designs_values():
    pairs = _pairs(["x", "?", "y", "x"], ["y", "x", "y", "base"]).astype(object)
    pairs.loc[1, "model_a"] = None  # a missing name, as Study.pairs() gives it
    design = term_design(pairs, "models", anchor="base")
    table = pd.DataFrame({"term": design.names, "kind": "models", "anchor": "base"})
    for row, (_, pair) in enumerate(pairs.iterrows()):
        values = pair_term_values(pair, table)
        assert [values[t] for t in design.names] == design.columns[row].tolist(), row
    assert design.columns[1].tolist() == [0.0, 0.0]  # no term for a pair with a missing name


def test_strengths_and_weights_are_recovered_and_the_paper_model_is_biased():
    pairs, judgments, comparisons, strength = simulate_models()
    config = FitConfig(folds=0, model_terms="models", anchor_model="m0")
    with_terms = fit_profiles(pairs, judgments, comparisons, config)
    assert with_terms.term_design.kind == "models"
    weights = with_terms.profiles.set_index("property")["mean"]
    truth = pd.Series(WEIGHTS)
    assert np.corrcoef(weights[truth.index], truth)[0, 1] >= 0.95
    assert (weights[truth.index] - truth).abs().max() < 0.1
    terms = with_terms.terms.set_index("term")
    assert set(terms["anchor"]) == {"m0"} and len(terms) == 9
    true_strength = pd.Series({m: s - strength["m0"] for m, s in strength.items() if m != "m0"})
    assert np.corrcoef(terms["mean"][true_strength.index], true_strength)[0, 1] >= 0.95
    covered = (terms["lower"] <= true_strength) & (true_strength <= terms["upper"])
    assert covered.mean() >= 0.7
    # Without terms, model quality leaks into the properties stronger models have more often.
    paper = fit_profiles(pairs, judgments, comparisons,
                         FitConfig(folds=0, model_terms="none")).profiles.set_index("property")
    for prop in ("lengthy", "well_formatted"):
        assert paper.loc[prop, "lower"] > WEIGHTS[prop] + 0.2
        row = with_terms.profiles.set_index("property").loc[prop]
        assert row["lower"] <= WEIGHTS[prop] <= row["upper"]


def test_a_fixed_baseline_term_absorbs_the_baselines_edge():
    pairs, judgments, comparisons, strength = simulate_models(
        8000, seed=1, fixed_baseline=True, strength=[0.0] * 9 + [1.2])
    result = fit_profiles(pairs, judgments, comparisons, FitConfig(folds=5))
    assert result.term_design.kind == "baseline"
    term = result.terms.query("group == 'all'").iloc[0]
    assert term["term"] == "baseline (m9)" and term["n_pairs"] == 8000
    assert term["lower"] <= 1.2 <= term["upper"] and term["upper"] - term["lower"] < 0.4
    quality = result.quality.set_index("group").loc["all"]
    # one side-A term alone is the base rate itself; the properties add to it
    assert quality["terms_log_loss"] == pytest.approx(quality["base_rate_log_loss"], abs=1e-3)
    assert quality["model_log_loss"] < quality["terms_log_loss"] - 0.01


def _term_problems():
    """Three paper-sized problems with model terms: a baseline, and per-model strengths."""
    problems = []
    for seed, (kind, n) in enumerate((("baseline", 500), ("models", 600), ("models", 900))):
        pairs, judgments, comparisons, _ = simulate_models(n, seed=seed + 3,
                                                           fixed_baseline=kind == "baseline")
        design = term_design(pairs, kind, anchor="m9" if kind == "models" else None)
        X = np.hstack([comparisons.values.to_numpy(float), design.columns])
        sd = np.r_[np.full(comparisons.values.shape[1], np.nan),
                   np.full(design.width, TERM_PRIOR_SD)]
        problems.append(Problem(X, (judgments["label"] == "A").to_numpy(float),
                                gaussian_sd=sd))
    return problems


@pytest.mark.slow
def test_ep_matches_nuts_with_model_terms():
    pytest.importorskip("numpyro")
    problems = _term_problems()
    ep = fit_problems(problems)
    nuts = fit_problems(problems, engine="nuts")
    for a, b in zip(ep, nuts):
        assert a.diagnostics["converged"] and b.diagnostics["converged"]
        # within NUTS's own Monte-Carlo error (4 standard errors), never beyond 0.02
        mc_error = b.sd / np.sqrt(np.asarray(b.diagnostics["ess"]))
        assert (np.abs(a.mean - b.mean) <= np.minimum(0.02, np.maximum(0.01, 4 * mc_error))).all()
        assert np.abs(a.sd - b.sd).max() <= 0.01


def test_nuts_keys_come_from_the_seed_and_each_problems_own_data():
    pytest.importorskip("numpyro")
    from prefdissect.engines.nuts import fit_nuts, problem_key

    first, second = _term_problems()[:2]
    keys = {problem_key(first), problem_key(second), problem_key(first, seed=1)}
    assert len(keys) == 3  # other data or another seed: other random numbers
    refolded = Problem(first.X, first.y, np.r_[np.zeros(10), np.ones(len(first.y) - 10)],
                       first.gaussian_sd)
    assert problem_key(refolded) != problem_key(first)  # a fold is a problem of its own
    short = dict(chains=1, warmup=50, draws=50)
    _, beside = fit_nuts([first, second], **short)
    (alone,) = fit_nuts([second], **short)
    assert np.array_equal(alone.mean, beside.mean)  # no matter what is fitted beside it
    (reseeded,) = fit_nuts([second], seed=1, **short)
    assert not np.allclose(reseeded.mean, alone.mean)


@pytest.mark.shared_data
def test_alpaca_eval_gets_a_baseline_term_and_per_model_fits_beat_the_base_rate(
        alpaca_study, cli, tmp_path):
    text = (alpaca_study / "dissect_output.txt").read_text()
    assert "model terms: baseline (side A is always gpt4_1106_preview" in text
    summary = json.loads((alpaca_study / "summary.json").read_text())
    assert summary["model_terms"]["kind"] == "baseline"
    profiles = pd.read_csv(alpaca_study / "profiles.csv").query("group == 'all'")
    lengthy = profiles.set_index("property").loc["lengthy", "mean"]
    assert 0.95 < lengthy < 1.2  # +1.745 without the term
    out = tmp_path / "per-model"
    shutil.copytree(alpaca_study, out)
    result = cli("fit", str(out), "--group-by", "model_b")
    assert result.code == 0, result.err
    quality = pd.read_csv(out / "fit_quality.csv")
    per_model = quality[quality["group"].str.startswith("model_b=")]
    assert len(per_model) == 14
    assert (per_model["model_log_loss"] < per_model["base_rate_log_loss"]).all()


def test_a_study_where_no_pair_differs_in_length_still_fits():
    """The length-only baseline of the quality folds then has an all-zero design."""
    pairs, judgments, comparisons, _ = simulate_models(n=600, seed=3)
    comparisons.values["lengthy"] = 0.0
    fit = fit_profiles(pairs, judgments, comparisons, FitConfig(model_terms="none"))
    row = fit.profiles.set_index("property").loc["lengthy"]
    assert row["mean"] == pytest.approx(0.0, abs=1e-9)
    assert len(fit.quality) > 0
