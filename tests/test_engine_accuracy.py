"""The fast engine against the reference sampler, calibration, and recovery."""

from __future__ import annotations

import numpy as np
import pytest

from prefdissect.engines import Problem, fit_problems


def paper_sized(rng, n, weights):
    d = len(weights)
    p_nonzero = rng.uniform(0.25, 0.75, d)
    X = (rng.random((n, d)) < p_nonzero) * rng.choice([-1.0, 1.0], size=(n, d))
    y = (rng.random(n) < 1 / (1 + np.exp(-X @ weights))).astype(float)
    return Problem(X, y)


def test_ep_matches_nuts_on_paper_sized_problems():
    pytest.importorskip("numpyro", reason="the reference engine needs prefdissect[reference]")
    from prefdissect.engines.nuts import fit_nuts

    rng = np.random.default_rng(11)
    problems = [paper_sized(rng, n, rng.laplace(0, 0.15, 29)) for n in (360, 400, 738)]
    fast = fit_problems(problems)
    reference = fit_nuts(problems)
    for ep, nuts in zip(fast, reference):
        assert nuts.diagnostics["converged"], nuts.diagnostics["warning"]
        assert np.abs(ep.mean - nuts.mean).max() <= 0.01
        assert np.abs(ep.sd - nuts.sd).max() <= 0.01


def test_intervals_are_calibrated_when_truth_comes_from_the_prior():
    """Weights drawn from Laplace(0, 0.1) itself: a correct posterior covers 95%."""
    rng = np.random.default_rng(2024)
    draws, n, d = 240, 1000, 29
    truth = rng.laplace(0, 0.1, size=(draws, d))
    problems = [paper_sized(rng, n, w) for w in truth]
    posts = fit_problems(problems)
    lower = np.array([p.lower for p in posts])
    upper = np.array([p.upper for p in posts])
    coverage = ((lower <= truth) & (truth <= upper)).mean()
    assert 0.93 <= coverage <= 0.97, coverage


def test_recovers_the_papers_human_profile(shared_data):
    from prefdissect.reference import load_reference_profiles

    table = load_reference_profiles(shared_data / "preference-dissection")
    human = table[(table["judge"] == "human") & (table["group"] == "all")]
    weights = human["mean"].to_numpy()  # the average over the 11 scenarios
    problem = paper_sized(np.random.default_rng(5), 20_000, weights)
    (post,) = fit_problems([problem])
    assert np.corrcoef(post.mean, weights)[0, 1] >= 0.95
