"""The EP engine against an independent computation: exact posteriors on a grid."""

from __future__ import annotations

import numpy as np
import pytest

from prefdissect.engines import BayesianLogisticRegression, Problem, fit_problems
from prefdissect.engines.ep import laplace_tilted_moments, laplace_tilted_quantile
from prefdissect.errors import FitError

B = 0.1


def simulate(rng, n, w, p_zero=0.4):
    d = len(w)
    X = rng.choice([-1.0, 0.0, 1.0], size=(n, d), p=[(1 - p_zero) / 2, p_zero,
                                                    (1 - p_zero) / 2])
    y = (rng.random(n) < 1 / (1 + np.exp(-X @ w))).astype(float)
    return X, y


def grid_posterior(X, y, half_width=1.2, points=801):
    """Exact 2-d posterior moments and marginal quantiles by brute-force summation."""
    g = np.linspace(-half_width, half_width, points)
    w1, w2 = np.meshgrid(g, g, indexing="ij")
    log_p = -(np.abs(w1) + np.abs(w2)) / B
    patterns, inverse = np.unique(X, axis=0, return_inverse=True)
    for k, x in enumerate(patterns):  # rows sharing x contribute (sum y) s - n softplus(s)
        s = x[0] * w1 + x[1] * w2
        log_p += y[inverse == k].sum() * s - (inverse == k).sum() * np.logaddexp(0, s)
    p = np.exp(log_p - log_p.max())
    p /= p.sum()
    out = {}
    for k, w in enumerate((w1, w2)):
        mean = (p * w).sum()
        marginal = p.sum(axis=1 - k)
        cdf = np.cumsum(marginal)
        out[k] = (mean, np.sqrt((p * (w - mean) ** 2).sum()),
                  np.interp(0.025, cdf, g), np.interp(0.975, cdf, g))
    return out


@pytest.mark.parametrize("seed, n, w", [(0, 150, [0.3, -0.1]), (1, 60, [0.0, 0.5]),
                                        (2, 400, [0.8, 0.2])])
def test_matches_exact_grid_posterior(seed, n, w):
    X, y = simulate(np.random.default_rng(seed), n, np.array(w))
    exact = grid_posterior(X, y)
    post = fit_problems([Problem(X, y)])[0]
    assert post.diagnostics["converged"]
    for k in (0, 1):
        mean, sd, lower, upper = exact[k]
        assert post.mean[k] == pytest.approx(mean, abs=2e-3)
        assert post.sd[k] == pytest.approx(sd, abs=3e-3)
        assert post.lower[k] == pytest.approx(lower, abs=8e-3)
        assert post.upper[k] == pytest.approx(upper, abs=8e-3)


def test_laplace_tilted_pieces_match_numerical_integration():
    grid = np.linspace(-3, 3, 600001)
    for m, v in [(0.2, 0.01), (-0.05, 0.04), (1.5, 0.3), (0.0, 1e-4)]:
        density = np.exp(-np.abs(grid) / B - (grid - m) ** 2 / (2 * v))
        density /= density.sum()
        mean = (density * grid).sum()
        var = (density * (grid - mean) ** 2).sum()
        got_mean, got_var = laplace_tilted_moments(np.array(m), np.array(v), B)
        assert got_mean == pytest.approx(mean, abs=1e-6)
        assert got_var == pytest.approx(var, rel=1e-4)
        cdf = np.cumsum(density)
        for q in (0.025, 0.5, 0.975):
            assert laplace_tilted_quantile(np.array(m), np.array(v), B, q) == pytest.approx(
                np.interp(q, cdf, grid), abs=2e-4)


def test_recovers_paper_sized_weights_on_20000_pairs():
    rng = np.random.default_rng(7)
    w = rng.uniform(-0.6, 0.6, size=29)
    X, y = simulate(rng, 20_000, w)
    model = BayesianLogisticRegression().fit(X, y)
    assert np.corrcoef(model.coef_, w)[0, 1] >= 0.95
    covered = (model.coef_lower_ <= w) & (w <= model.coef_upper_)
    assert covered.mean() >= 0.85


def test_batched_fit_equals_one_at_a_time():
    rng = np.random.default_rng(3)
    problems = [Problem(*simulate(rng, n, rng.uniform(-0.5, 0.5, 5))) for n in
                (30, 200, 210, 900)]
    together = fit_problems(problems)
    for problem, joint in zip(problems, together):
        (alone,) = fit_problems([problem])
        assert np.allclose(alone.mean, joint.mean, atol=1e-6)
        assert np.allclose(alone.sd, joint.sd, atol=1e-6)


def test_property_without_data_keeps_its_prior():
    rng = np.random.default_rng(4)
    X, y = simulate(rng, 300, np.array([0.5, 0.0, -0.3]))
    X[:, 1] = 0.0
    post = fit_problems([Problem(X, y)])[0]
    assert post.mean[1] == pytest.approx(0.0, abs=1e-9)
    assert post.sd[1] == pytest.approx(np.sqrt(2) * B, rel=1e-6)
    assert post.upper[1] == pytest.approx(-B * np.log(2 * 0.025), rel=1e-6)


def test_soft_labels_match_exact_grid_posterior():
    """A soft label y = P(A) weights log sigmoid(s) by y and log sigmoid(-s) by 1 - y."""
    rng = np.random.default_rng(5)
    X, _ = simulate(rng, 120, np.array([0.4, -0.2]))
    y = rng.uniform(0, 1, size=120)
    exact = grid_posterior(X, y)
    post = fit_problems([Problem(X, y)])[0]
    for k in (0, 1):
        assert post.mean[k] == pytest.approx(exact[k][0], abs=2e-3)
        assert post.sd[k] == pytest.approx(exact[k][1], abs=3e-3)


def test_estimator_contract():
    model = BayesianLogisticRegression(prior_scale=0.2)
    with pytest.raises(FitError, match="not fitted"):
        model.predict(np.zeros((1, 2)))
    X, y = simulate(np.random.default_rng(6), 100, np.array([1.0, -1.0]))
    assert model.fit(X, y) is model
    assert model.coef_.shape == (2,) and model.diagnostics_["engine"] == "ep"
    assert set(model.predict(X)) <= {0, 1}
    with pytest.raises(FitError, match=r"lie in \[0, 1\]"):
        model.fit(X, y * 2)
    with pytest.raises(FitError, match="NaN"):
        model.fit(np.full((3, 2), np.nan), np.ones(3))


def test_fits_cap_the_blas_pools_while_they_run():
    from threadpoolctl import threadpool_info, threadpool_limits

    from prefdissect import registry

    seen = []

    @registry.register("engine", "test-threads", "records the BLAS pools during a fit")
    def spy(problems, prior_scale=0.1, interval=0.95):
        seen.append([p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"])
        return []

    try:
        with threadpool_limits(limits=2):
            fit_problems([], engine="test-threads")
            fit_problems([], engine="test-threads", threads=None)
        assert seen[0] and set(seen[0]) == {1}  # capped at one thread by default
        assert set(seen[1]) == {2}  # threads=None leaves the pools as they were
    finally:
        registry._entries.pop(("engine", "test-threads"), None)


def test_a_design_with_no_nonzero_row_returns_the_prior():
    """Every comparison zero (e.g. length alone where no pair differs in length)."""
    X, y = np.zeros((30, 2)), (np.arange(30) % 2).astype(float)
    post = fit_problems([Problem(X, y)])[0]
    assert np.allclose(post.mean, 0.0)
    assert np.allclose(post.upper, -B * np.log(2 * 0.025))
    model = BayesianLogisticRegression().fit(X, y)
    assert np.allclose(model.coef_, 0.0)
    assert np.allclose(model.predict_proba(X), 0.5)
