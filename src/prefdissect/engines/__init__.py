"""Fitting engines for the paper's Bayesian logistic regression.

An engine is a function registered under kind ``engine`` with the signature
``fit(problems, prior_scale=0.1, interval=0.95, **options) -> list[Posterior]``:
it fits many independent problems (judges x groups x folds) in one call, so that
it can batch them. :class:`BayesianLogisticRegression` wraps one problem in the
scikit-learn estimator contract.

Property weights have the paper's Laplace(0, b) prior. A problem may also carry
*model terms* (a fixed baseline's advantage, one strength per model): columns
whose prior is a wide Gaussian instead (:attr:`Problem.gaussian_sd`), fitted
jointly with the weights.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import registry
from ..errors import FitError

DEFAULT_ENGINE = "ep"
PRIOR_SCALE = 0.1
"""The paper's Laplace prior scale."""
TERM_PRIOR_SD = 5.0
"""Standard deviation of the Gaussian prior on model terms (logit scale): wide enough
that a term for a model winning 1% or 99% of its pairs is set by the data."""


@dataclass
class Problem:
    """One regression: comparisons ``X`` (n x d) and labels ``y`` (n, in [0, 1])."""

    X: np.ndarray
    """Comparison matrix, one row per pair, one column per property."""
    y: np.ndarray
    """1 where A was preferred, 0 where B was (a probability for soft labels)."""
    weight: np.ndarray | None = None
    """Optional count per row (0 leaves a row out); problems that pass the same ``X``
    array object with different weights share the work of one design."""
    gaussian_sd: np.ndarray | None = None
    """Per column: the sd of a Gaussian N(0, sd^2) prior, or NaN for the Laplace prior
    (None: every column has the Laplace prior). Problems sharing a design must agree."""


@dataclass
class Posterior:
    """Posterior summary of one problem's weights."""

    mean: np.ndarray
    """Posterior mean per weight."""
    sd: np.ndarray
    """Posterior standard deviation per weight."""
    lower: np.ndarray
    """Lower end of the equal-tailed credible interval."""
    upper: np.ndarray
    """Upper end of the equal-tailed credible interval."""
    diagnostics: dict[str, Any] = field(default_factory=dict)
    """Engine, convergence, iterations, warnings (and ess / r_hat for samplers)."""
    cov: np.ndarray | None = None
    """Posterior covariance of all weights (d x d), where the engine provides one
    (EP: its Gaussian approximation; NUTS: the draws' covariance)."""

    def draws(self, n: int, seed: int = 0) -> np.ndarray:
        """Return ``n`` joint draws (n x d) from the Gaussian N(mean, cov)."""
        if self.cov is None:
            raise FitError("this posterior has no covariance to draw from")
        rng = np.random.default_rng(seed)
        return rng.multivariate_normal(self.mean, self.cov, size=n, method="cholesky")


def fit_problems(problems: list[Problem], engine: str = DEFAULT_ENGINE,
                 prior_scale: float = PRIOR_SCALE, interval: float = 0.95,
                 threads: int | None = 1, **options: Any) -> list[Posterior]:
    """Fit every problem with the engine registered as ``engine``.

    ``threads`` caps the BLAS/OpenMP thread pools during the fit (None leaves them
    as they are). One thread is the default: the engine's matrix products are
    small and many, and on a shared machine extra BLAS threads that wait for a busy
    core cost far more than they bring (measured in benchmarks/protocol.py).
    """
    fit = registry.get("engine", engine).factory
    if threads is None:
        return fit(problems, prior_scale=prior_scale, interval=interval, **options)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads):
        return fit(problems, prior_scale=prior_scale, interval=interval, **options)


class BayesianLogisticRegression:
    """Laplace-prior logistic regression without intercept, scikit-learn style.

    Parameters
    ----------
    prior_scale
        Scale ``b`` of the independent Laplace(0, b) priors (the paper: 0.1).
    interval
        Mass of the reported equal-tailed credible intervals.
    engine
        Registered engine name (``ep`` by default).

    Attributes
    ----------
    coef_, coef_sd_, coef_lower_, coef_upper_ : ndarray
        Posterior mean, sd and interval ends of each weight, after :meth:`fit`.
    diagnostics_ : dict
        What the engine reports about the fit.
    """

    def __init__(self, prior_scale: float = PRIOR_SCALE, interval: float = 0.95,
                 engine: str = DEFAULT_ENGINE):
        self.prior_scale = prior_scale
        self.interval = interval
        self.engine = engine

    def fit(self, X: np.ndarray, y: np.ndarray) -> BayesianLogisticRegression:
        """Fit the posterior of the weights; ``y`` holds 1 (A preferred) or 0, or P(A)."""
        X = np.asarray(X, dtype=float)
        y = np.asarray(y, dtype=float)
        if X.ndim != 2 or y.shape != (X.shape[0],):
            raise FitError(f"X must be (n, d) and y (n,); got {X.shape} and {y.shape}")
        if not (np.isfinite(X).all() and np.isfinite(y).all()):
            raise FitError("X and y must not contain NaN or infinity")
        if ((y < 0) | (y > 1)).any():
            raise FitError("y must lie in [0, 1]")
        (post,) = fit_problems([Problem(X, y)], self.engine, self.prior_scale, self.interval)
        self.coef_, self.coef_sd_ = post.mean, post.sd
        self.coef_lower_, self.coef_upper_ = post.lower, post.upper
        self.diagnostics_ = post.diagnostics
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "coef_"):
            raise FitError("this BayesianLogisticRegression is not fitted yet; call fit(X, y)")

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Return P(A preferred) at the posterior mean, for each row of ``X``."""
        self._check_fitted()
        return 1.0 / (1.0 + np.exp(-np.asarray(X, dtype=float) @ self.coef_))

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Return 1 where A is predicted to win, else 0."""
        return (self.predict_proba(X) > 0.5).astype(int)
