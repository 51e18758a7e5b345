"""Controlled scores: raw win rates, the judge's tastes held fixed, and the parts between."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit
from test_model_terms import simulate_models

from prefdissect.errors import UsageError
from prefdissect.families import family_names, family_spread
from prefdissect.scores import ScoreConfig, model_scores


def _soft(judgments: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Give a judge probabilities, some ties and some labels without p_a."""
    rng = np.random.default_rng(seed)
    p = np.where(judgments["label"] == "A", rng.uniform(0.55, 1, len(judgments)),
                 rng.uniform(0, 0.45, len(judgments)))
    out = judgments.assign(p_a=p)
    out.loc[out.index % 7 == 0, "p_a"] = np.nan
    out.loc[out.index % 11 == 0, ["label", "p_a"]] = ["tie", np.nan]
    return out


def test_raw_rates_are_averaged_within_then_over_opponents():
    pairs, judgments, comparisons, _ = simulate_models(3000, seed=2)
    judgments = _soft(judgments)
    result = model_scores(pairs, judgments, comparisons, "sim", ScoreConfig(draws=200))
    table = pairs.merge(judgments, left_on="id", right_on="pair_id")
    y = table["p_a"].where(table["p_a"].notna(),
                           table["label"].map({"A": 1.0, "B": 0.0, "tie": 0.5}))
    long = pd.concat([pd.DataFrame({"model": table["model_a"], "opp": table["model_b"], "w": y}),
                      pd.DataFrame({"model": table["model_b"], "opp": table["model_a"],
                                    "w": 1 - y})])
    by_hand = 100 * long.groupby(["model", "opp"])["w"].mean().groupby("model").mean()
    got = result.scores.set_index("model")["raw"]
    assert np.allclose(got[by_hand.index], by_hand, atol=1e-9)
    assert (result.scores["opponents"] == 9).all()


def test_decomposition_adds_up_and_controlling_nothing_changes_nothing():
    pairs, judgments, comparisons, _ = simulate_models(3000, seed=3)
    result = model_scores(pairs, judgments, comparisons, "sim", ScoreConfig(draws=200))
    scores = result.scores.set_index("model")
    total = result.components.groupby("model")["points"].sum()
    assert np.allclose(total[scores.index], scores["raw"] - scores["controlled"], atol=1e-9)
    unexplained = result.components.query("component == 'unexplained'").set_index("model")
    assert np.allclose(unexplained["points"][scores.index], scores["raw"] - scores["fitted"])
    assert (scores["controlled_lower"] <= scores["controlled"]).all()
    assert (scores["controlled"] <= scores["controlled_upper"]).all()
    # controlling only a property with no effect and no differences leaves the fitted rate
    none = model_scores(pairs, judgments, comparisons, "sim",
                        ScoreConfig(control=["polite"], draws=200)).scores.set_index("model")
    assert (none["controlled"] - none["fitted"]).abs().max() < 0.5


def test_controlled_rates_follow_the_true_strengths_with_a_fixed_baseline():
    strength = np.r_[np.linspace(-1.0, 1.0, 9), 0.5]
    pairs, judgments, comparisons, _ = simulate_models(
        20000, seed=4, fixed_baseline=True, strength=strength)
    result = model_scores(pairs, judgments, comparisons, "sim", ScoreConfig(draws=300))
    assert result.baseline == "m9" and result.anchor == "m9"
    scores = result.scores.set_index("model")
    assert "m9" not in scores.index  # the baseline itself is not on its own leaderboard
    # every property controlled: a model's rate is its strength against the baseline's
    truth = pd.Series(100 * expit(strength[:9] - 0.5), index=[f"m{k}" for k in range(9)])
    assert np.abs(scores.loc[truth.index, "controlled"] - truth).max() < 3.0
    covered = ((scores.loc[truth.index, "controlled_lower"] <= truth)
               & (truth <= scores.loc[truth.index, "controlled_upper"]))
    assert covered.mean() >= 0.75
    # the baseline is the longest model; the shorter a model, the more length costs it
    parts = result.components.pivot(index="model", columns="component", values="points")
    lengthy = parts.loc[truth.index, "lengthy"]
    assert (lengthy < 0).all() and lengthy["m8"] > lengthy["m0"] + 2


def test_unknown_controls_and_judges_are_refused():
    pairs, judgments, comparisons, _ = simulate_models(500, seed=5)
    with pytest.raises(UsageError, match="--control/--keep lenghty: not in the model"):
        model_scores(pairs, judgments, comparisons, "sim", ScoreConfig(control=["lenghty"]))
    with pytest.raises(UsageError, match="no judgments from nobody"):
        model_scores(pairs, judgments, comparisons, "nobody")


def test_a_model_with_no_pair_in_the_model_has_no_controlled_score():
    pairs, judgments, comparisons, _ = simulate_models(3000, seed=4)
    lost = pairs["id"][(pairs["model_a"] == "m3") | (pairs["model_b"] == "m3")]
    comparisons.values.loc[lost, "friendly"] = np.nan  # e.g. its annotation failed
    result = model_scores(pairs, judgments, comparisons, "sim",
                          ScoreConfig(draws=200, max_missing=0.5))
    scores = result.scores.set_index("model")
    assert scores.loc["m3", ["fitted", "controlled", "controlled_lower", "controlled_upper",
                             "strength"]].isna().all()
    assert scores.loc["m3", "raw"] > 0 and scores.index[-1] == "m3"  # ranked last
    assert scores.drop("m3")["controlled"].notna().all()
    assert result.components.query("model == 'm3'")["points"].isna().all()
    assert any("no pair of m3 entered the model" in n for n in result.notes)


def test_families_from_style_suffixes_and_their_spread():
    names = ["a", "a_concise", "a_verbose", "b", "c_concise", "d", "d_concise"]
    assert family_names(names) == {"a": "a", "a_concise": "a", "a_verbose": "a", "d": "d",
                                   "d_concise": "d"}
    assert family_names(["x", "y"], {"x": "f", "y": "f"}) == {"x": "f", "y": "f"}
    scores = pd.DataFrame({"judge": "j", "model": ["a", "a_concise", "d", "d_concise"],
                           "raw": [10.0, 6.0, 4.0, 4.0], "controlled": [8.0, 8.0, 5.0, 3.0]})
    spread = family_spread(scores).set_index("family")
    assert spread.loc["a", "raw_spread"] == pytest.approx(2.0 / 8.0)
    assert spread.loc["d", "raw_spread"] == 0.0 and spread.loc["a", "controlled_spread"] == 0.0


@pytest.mark.shared_data
def test_alpaca_eval_leaderboard_matches_and_the_controlled_score_resists_prompting(
        alpaca_study, shared_data, cli):
    board = shared_data / "alpaca_eval" / "leaderboards" / \
        "weighted_alpaca_eval_gpt4_turbo_leaderboard.csv"
    result = cli("scores", str(alpaca_study), "--leaderboard", str(board))
    assert result.code == 0, result.err
    assert "ranked by controlled win rate" in result.text
    scores = pd.read_csv(alpaca_study / "scores.csv").set_index("model")
    assert len(scores) == 14
    assert (scores["raw"] - scores["published_raw"]).abs().max() < 0.01
    families = pd.read_csv(alpaca_study / "families.csv").set_index("family")
    assert set(families.index) == {"alpaca-7b", "claude-2.1", "gpt-3.5-turbo-1106"}
    assert families["raw_spread"].mean() == pytest.approx(0.214, abs=0.001)
    assert families["published_lc_spread"].mean() == pytest.approx(0.155, abs=0.001)
    assert families["controlled_spread"].mean() < families["published_lc_spread"].mean()
    honest = scores.drop(index=["NullModel", "gpt4_gamed"])
    rho = honest["controlled"].rank().corr(honest["published_lc"].rank())
    assert rho >= 0.9
    parts = pd.read_csv(alpaca_study / "score_components.csv")
    total = parts.groupby("model")["points"].sum()
    assert np.allclose(total[scores.index], scores["raw"] - scores["controlled"], atol=1e-6)


def sim_study(root, n=1500, seed=6, **options):
    """A study folder holding simulate_models' pairs, labels (judge 'sim') and annotations."""
    from test_model_terms import simulate_models

    from prefdissect.importers import ImportResult
    from prefdissect.judgments import Judgment
    from prefdissect.pairs import Pair
    from prefdissect.study import Study

    pairs, judgments, comparisons, _ = simulate_models(n, seed=seed, **options)
    study = Study(root)
    study.save_import(ImportResult(
        source="simulated", format="pairs",
        pairs=[Pair(r.id, r.query, r.response_a, r.response_b, model_a=r.model_a,
                    model_b=r.model_b) for r in pairs.itertuples()],
        judgments=[Judgment(r.pair_id, r.judge, r.label) for r in judgments.itertuples()]))
    rows = comparisons.values.reset_index().melt(id_vars="pair_id", var_name="property",
                                                 value_name="value_a")
    from test_model_terms import WEIGHTS

    rows = rows[rows["property"].isin(list(WEIGHTS))]
    study.save_annotations(rows.assign(value_b=0.0, status="ok", annotator="sim"))
    return study


def test_a_judge_that_cannot_be_scored_is_a_study_note_not_another_judges(tmp_path):
    from prefdissect import pipeline
    from prefdissect.judgments import judgments_to_frame

    study = sim_study(tmp_path / "s")
    pairs = study.pairs()
    # a second judge who only ever judged pairs without model names on one side
    lone = pd.DataFrame({"pair_id": pairs["id"][:30], "judge": "lonely", "label": "A",
                         "p_a": np.nan, "details": None})
    study.save_judgments(lone.reindex(columns=judgments_to_frame([]).columns), ["lonely"])
    frame = study.pairs()
    frame.loc[:29, "model_b"] = None
    study.write_frame("pairs.parquet", frame)
    made = pipeline.scores(study, config=ScoreConfig(draws=100))
    assert list(made.results) == ["sim"]
    assert [n for n in made.notes if n.startswith("lonely not scored")]
    assert not [n for n in made.results["sim"].notes if "lonely" in n]
    assert (made.families.empty and not study.path("families.csv").exists())


def test_published_lc_spread_of_models_whose_names_hold_a_comma():
    scores = pd.DataFrame({"judge": "j", "model": ["x, y", "x, y_concise", "z"],
                           "raw": [10.0, 6.0, 3.0], "controlled": [8.0, 8.0, 3.0],
                           "published_lc": [12.0, 4.0, 3.0]})
    table = family_spread(scores).set_index("family")
    assert list(table.index) == ["x, y"]
    assert table.loc["x, y", "published_lc_spread"] == pytest.approx(4.0 / 8.0)


def test_the_controlled_interval_is_the_posteriors_own():
    """With a fixed baseline and every property controlled, a model's controlled rate is
    sigmoid(its strength): its 95% interval is sigmoid(mean -+ 1.96 sd) in closed form."""
    from scipy.stats import norm

    pairs, judgments, comparisons, _ = simulate_models(4000, seed=8, fixed_baseline=True)
    result = model_scores(pairs, judgments, comparisons, "sim", ScoreConfig(draws=4000))
    post, scores = result.posterior, result.scores.set_index("model")
    d = len(post.mean) - len(scores)  # property columns, then one strength per model
    z = norm.ppf(0.975)
    for model, row in scores.iterrows():
        j = d + int(np.flatnonzero(post.mean[d:] == row["strength"])[0])
        mu, sd = post.mean[j], np.sqrt(post.cov[j, j])
        logit = np.log(row[["controlled_lower", "controlled_upper"]].to_numpy(float)
                       / (100 - row[["controlled_lower", "controlled_upper"]].to_numpy(float)))
        assert logit == pytest.approx([mu - z * sd, mu + z * sd], abs=0.2 * sd), model
        assert row["controlled"] == pytest.approx(100 * expit(mu), abs=1e-9)


def test_raw_intervals_are_wilson_intervals_and_do_not_collapse():
    from scipy.stats import binomtest

    n = 30
    labels = ["A"] * n + ["A"] * 12 + ["B"] * 18  # m1 never wins; m2 wins 18 of 30
    pairs = pd.DataFrame({"id": [f"p{i}" for i in range(2 * n)], "query": "q",
                          "response_a": "a", "response_b": "b", "model_a": "base",
                          "model_b": ["m1"] * n + ["m2"] * n})
    judgments = pd.DataFrame({"pair_id": pairs["id"], "judge": "j", "label": labels,
                              "p_a": np.nan})
    from prefdissect.comparisons import Comparisons

    values = pd.DataFrame({"lengthy": 0.0}, index=pd.Index(pairs["id"], name="pair_id"))
    comparisons = Comparisons(values, values * 0, sources={"lengthy": "x"})
    result = model_scores(pairs, judgments, comparisons, "j", ScoreConfig(draws=100))
    scores = result.scores.set_index("model")
    for model, wins in (("m1", 0), ("m2", 18)):
        ci = binomtest(wins, n).proportion_ci(0.95, method="wilson")
        assert scores.loc[model, "raw"] == pytest.approx(100 * wins / n)
        assert scores.loc[model, ["raw_lower", "raw_upper"]].tolist() == pytest.approx(
            [100 * ci.low, 100 * ci.high], abs=1e-9)
    assert scores.loc["m1", "raw_upper"] > 10


def test_a_property_both_controlled_and_kept_is_refused():
    pairs, judgments, comparisons, _ = simulate_models(500, seed=5)
    with pytest.raises(UsageError, match="--control and --keep both name lengthy"):
        model_scores(pairs, judgments, comparisons, "sim",
                     ScoreConfig(control=["lengthy"], keep=["lengthy"]))
    with pytest.raises(UsageError, match="leaves no property to control"):
        model_scores(pairs, judgments, comparisons, "sim",
                     ScoreConfig(keep=list(comparisons.values.columns)))
