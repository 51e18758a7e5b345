"""Gains: the statistics behind a discovery, on arrays.

Folds by query, label shuffles within strata, merged designs for the engine, the
fold fits of the base model, each candidate's held-out gain by one joint Newton
step, intervals over queries, and the permutation threshold. See
:mod:`prefdissect.discovery.discoveries` for what they are used for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy.special import expit, ndtri

from ..engines import Problem, fit_problems
from ..engines.ep import laplace_tilted_moments

if TYPE_CHECKING:
    from .discoveries import SelectionConfig

FOLD_TOLERANCE = 1e-3
"""EP's convergence tolerance for the fold fits behind the gains. A gain is a difference
of two losses on the same fit, so it moves far less than the weights: on AlpacaEval's
test half the gains at 1e-3 are within 4e-5 of those at 1e-4. The permutation threshold
stays exact whatever the tolerance, since shuffled and real labels go through the same
fits."""


def query_folds(clusters: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Assign each pair a fold so that all pairs of one query share it (seeded)."""
    ids = np.unique(clusters)
    order = np.random.default_rng(seed).permutation(len(ids))
    fold_of = np.empty(len(ids), dtype=int)
    fold_of[order] = np.arange(len(ids)) % folds
    return fold_of[np.searchsorted(ids, clusters)]


def permuted_labels(y: np.ndarray, strata: np.ndarray, count: int, seed: int) -> np.ndarray:
    """Return ``count`` label vectors, each shuffled within strata (count x n)."""
    rng = np.random.default_rng(seed)
    groups = [np.flatnonzero(strata == s) for s in np.unique(strata)]
    out = np.empty((count, len(y)))
    for p in range(count):
        shuffled = y.copy()
        for rows in groups:
            shuffled[rows] = y[rng.permutation(rows)]
        out[p] = shuffled
    return out


class CompressedDesign:
    """A design whose identical rows are merged: one weighted row per distinct x and label.

    Expectation propagation updates identical rows with identical labels
    identically, so one row counted ``w`` times (the engine's row weight) gives the
    same posterior as ``w`` copies, at a fraction of the work.
    """

    def __init__(self, X: np.ndarray):
        distinct, inverse = np.unique(X, axis=0, return_inverse=True)
        self.k = len(distinct)
        self.inverse = inverse.reshape(-1)
        self.X = np.vstack([distinct, distinct])
        self.y = np.r_[np.ones(self.k), np.zeros(self.k)]

    def problem(self, y: np.ndarray, weight: np.ndarray, gaussian_sd) -> Problem:
        """Return the engine problem of labels ``y`` with pair weights ``weight``."""
        ones = np.bincount(self.inverse, weights=weight * y, minlength=self.k)
        zeros = np.bincount(self.inverse, weights=weight * (1 - y), minlength=self.k)
        return Problem(self.X, self.y, np.r_[ones, zeros], gaussian_sd)


def extend_prior(gaussian_sd: np.ndarray | None, extra: int) -> np.ndarray | None:
    """Return the prior sds of a design with ``extra`` Laplace-prior columns appended."""
    return None if gaussian_sd is None else np.r_[gaussian_sd, np.full(extra, np.nan)]


def fold_fits(X: np.ndarray, Y: np.ndarray, folds: np.ndarray, k: int, gaussian_sd,
              config: SelectionConfig) -> tuple[np.ndarray, np.ndarray]:
    """Posterior means (L x k x d) and covariances (L x k x d x d) of the fold fits.

    Fold ``f``'s fit of label set ``l`` leaves out the pairs of fold ``f``; all
    L x k problems share one merged design, so the engine solves them in one block.
    """
    design = CompressedDesign(X)
    problems = [design.problem(y, (folds != f).astype(float), gaussian_sd)
                for y in Y for f in range(k)]
    posteriors = fit_problems(problems, prior_scale=config.prior_scale,
                              interval=config.interval, threads=config.threads,
                              tol=FOLD_TOLERANCE)
    d = X.shape[1]
    means = np.stack([p.mean for p in posteriors]).reshape(len(Y), k, d)
    covs = np.stack([p.cov for p in posteriors]).reshape(len(Y), k, d, d)
    return means, covs


# -- the one-step gains -----------------------------------------------------------------------
def softplus(x: np.ndarray) -> np.ndarray:
    """Return log(1 + exp(x)), without overflow."""
    return np.logaddexp(0.0, x)


def one_step_gains(X: np.ndarray, means: np.ndarray, covs: np.ndarray, Y: np.ndarray,
                   folds: np.ndarray, C: np.ndarray, prior_scale: float
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Held-out log-loss gains of each candidate beside the base model, per label set.

    For each fold fit of the base model (posterior mean ``b`` and covariance ``S``),
    one joint Newton step from ``(b, 0)`` adds the candidate: its score ``g`` and
    information ``I`` on the training pairs, less what the base columns already
    explain (``I - h' S h``, with ``h`` the cross-information), give a Gaussian
    likelihood of its weight, combined exactly with its Laplace prior; the base
    weights then move by ``-S h w``. The held-out pairs are scored with both.

    Parameters
    ----------
    X
        (n x d) the base design.
    means, covs
        The base model's fold fits (:func:`fold_fits`).
    Y
        (L x n) label sets.
    folds
        (n,) fold of each pair.
    C
        (n x m) candidate comparisons.
    prior_scale
        Scale of the Laplace prior on a candidate's weight.

    Returns
    -------
    gains
        (L x m) mean held-out gain (base log-loss minus base + candidate) per pair.
    diffs
        (n x m) the per-pair gains of the first label set (for its interval).
    """
    L, k, d = means.shape
    n, m = C.shape
    gains = np.empty((L, m))
    diffs = np.empty((n, m))
    C2 = C * C
    train = (folds[:, None] != np.arange(k)[None, :]).astype(float)  # (n, k)
    tests = [np.flatnonzero(folds == f) for f in range(k)]
    for label_set in range(L):
        y = Y[label_set]
        sign = 2.0 * y - 1.0
        eta = X @ means[label_set].T                                 # (n, k)
        p = expit(eta)
        v = train * p * (1 - p)
        score = (train * (y[:, None] - p)).T @ C                     # (k, m)
        cross = ((v[:, :, None] * X[:, None, :]).reshape(n, k * d).T @ C).reshape(k, d, m)
        moved = covs[label_set] @ cross                              # (k, d, m)
        info = v.T @ C2 - np.einsum("kdm,kdm->km", cross, moved)
        ok = info > 1e-9
        safe = np.where(ok, info, 1.0)
        weight, _ = laplace_tilted_moments(np.where(ok, score / safe, 0.0), 1.0 / safe,
                                           prior_scale)
        weight = np.where(ok, weight, 0.0)                           # (k, m)
        held = np.empty((n, m))
        for f, rows in enumerate(tests):
            base = sign[rows] * eta[rows, f]
            change = C[rows] * weight[f] - X[rows] @ (moved[f] * weight[f])
            held[rows] = softplus(-base)[:, None] - softplus(-(base[:, None]
                                                                 + sign[rows, None] * change))
        gains[label_set] = held.mean(axis=0)
        if label_set == 0:
            diffs = held
    return gains, diffs


def cluster_interval(values: np.ndarray, clusters: np.ndarray, mass: float
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Interval of the mean of per-pair ``values`` (n x m), clustered by query.

    The variance of the mean sums each query's deviations before squaring (a
    cluster-robust sandwich, with the usual G / (G - 1) correction).
    """
    values = values.reshape(len(values), -1)
    mean = values.mean(axis=0)
    _, ids = np.unique(clusters, return_inverse=True)
    sums = np.zeros((ids.max() + 1, values.shape[1]))
    np.add.at(sums, ids, values - mean)
    g, n = len(sums), len(values)
    se = np.sqrt(g / max(g - 1, 1) * (sums ** 2).sum(axis=0)) / n
    z = ndtri(0.5 + mass / 2)
    return mean - z * se, mean + z * se


def threshold(null_max: np.ndarray, level: float) -> float:
    """Return the gain to beat: the ``floor(level * (P + 1))``-th largest of P maxima.

    Under labels exchangeable with the permutations, the observed largest gain
    exceeds it with probability at most ``level``.
    """
    rank = int(np.floor(level * (len(null_max) + 1)))
    ordered = np.sort(null_max)[::-1]
    return float(max(ordered[max(rank, 1) - 1], 0.0))


def shared_design(X: np.ndarray):
    """Return one merged design for ``X`` plus any one comparison column, and its problems.

    The design has a row for each distinct row of ``X`` with -1, 0 and +1 appended,
    once per label; ``problem(y, column, gaussian_sd)`` weights its rows by how many
    pairs have that row, that column value and that label.
    """
    distinct, inverse = np.unique(X, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    k = len(distinct)
    rows = np.vstack([np.hstack([distinct, np.full((k, 1), v)]) for v in (-1.0, 0.0, 1.0)])
    design = np.vstack([rows, rows])
    labels = np.r_[np.ones(3 * k), np.zeros(3 * k)]

    def problem(y: np.ndarray, column: np.ndarray, gaussian_sd) -> Problem:
        if not np.isin(column, (-1.0, 0.0, 1.0)).all():
            raise ValueError("a comparison column holds values other than -1, 0 and 1")
        at = inverse + k * (column.astype(int) + 1)
        weight = np.r_[np.bincount(at, weights=y, minlength=3 * k),
                       np.bincount(at, weights=1 - y, minlength=3 * k)]
        return Problem(design, labels, weight, gaussian_sd)

    return design, problem
