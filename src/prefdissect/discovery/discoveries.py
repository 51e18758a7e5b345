"""Discoveries: candidate properties tested on the test half, and the ones kept.

Every figure here comes from the test half only. The *base model* is the usual
regression (:mod:`prefdissect.engines`): the schema's comparisons and the model
terms. Each candidate is then measured four ways:

- **effect**: fitted jointly with the base model by the usual engine on the whole
  test half: the posterior mean, 95% interval and P(preferred) of its weight (all
  candidates in one engine call: :func:`shared_design`);
- **coverage**: the share of test pairs where it differs between A and B;
- **held-out gain**: k-fold (folds by query, so that no query is on both sides of a
  fold) mean log-loss of the base model minus that of the base model plus the
  candidate, per held-out pair, with a 95% interval from the spread over queries
  (pairs of one query are not independent). In each fold the base model is fitted
  by the usual engine on the other folds; the candidate then joins it by one joint
  Newton step from that fit (:func:`one_step_gains`): the candidate's weight from
  its score and its information net of what the base columns explain, combined
  exactly with its Laplace prior, and the base weights moved accordingly. On
  AlpacaEval's test half, ten gains checked this way came out 2-7% below refitting
  every fold with the candidate (0.0340 against 0.0358 for the largest);
  tests/test_discovery.py checks it against such refits on simulated data. It costs
  a few matrix products, so every candidate can be tested under every permutation
  below;
- **redundancy**: its strongest Pearson correlation with a schema property.

**Selection.** The same gains are computed with the labels shuffled within the
test half (within pairs that share their model-term values, so that model quality
stays with the labels), ``permutations`` times. A candidate is kept when its gain
exceeds the ``level`` quantile of the permutations' *largest* gains (by default
99 permutations and level 0.01: larger than all of them), so that a judge whose
labels carry nothing beyond the base model yields any discovery with probability
at most ``level`` (exact, by exchangeability): by default in 1 run of 100, well
inside the 1 in 20 that discovery is asked to keep to (a level of 0.05 would sit on
that bound, and 2 or more of 20 random-label runs would then select something 26%
of the time). Candidates are taken greedily: the
largest gain first, then the base model is refitted with it and the others'
gains recomputed, until none clears the threshold or ``max_new`` are kept. The
kept set is finally fitted jointly with the base model by the usual engine, with
k-fold held-out log-loss for the set's gain.

Where many pairs share their comparisons, rows with identical values and label
are merged into one weighted row (:class:`CompressedDesign`); the engine's
expectation propagation gives the same posterior either way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.special import expit

from ..engines import PRIOR_SCALE, fit_problems
from ..errors import FitError, UsageError
from ..properties import Property
from .gains import (
    CompressedDesign,
    cluster_interval,
    extend_prior,
    fold_fits,
    one_step_gains,
    permuted_labels,
    query_folds,
    shared_design,
    softplus,
    threshold,
)

DISCOVERY_COLUMNS = ("candidate", "proposer", "description", "coverage", "mean", "lower",
                     "upper", "p_preferred", "gain", "gain_lower", "gain_upper",
                     "nearest_property", "nearest_correlation", "selected")
"""Columns of ``discoveries.csv``: one row per candidate, kept ones first."""
EFFECT_TOLERANCE = 1e-4
"""EP's tolerance for each candidate's effect (weights within about 2e-4 of a 1e-6 fit)."""


@dataclass
class Candidate:
    """A proposed property and its comparisons on the test half."""

    property: Property
    """Name, label, description, rule, and how it is measured (or asked)."""
    proposer: str
    """Which proposer made it: features, phrases or llm."""
    comparison: np.ndarray
    """Per test pair: +1 (A better on it), 0 or -1."""
    values_a: np.ndarray | None = None
    """The measured values of A (for the annotation table written beside the result)."""
    values_b: np.ndarray | None = None
    """The measured values of B."""


@dataclass
class BaseDesign:
    """The test half as the base model sees it."""

    X: np.ndarray
    """(pairs x columns): the schema's comparisons, then the model-term columns."""
    names: list[str]
    """Column names (properties, then terms)."""
    n_properties: int
    """How many of the columns are schema properties (the rest are model terms)."""
    gaussian_sd: np.ndarray | None
    """Per column: the Gaussian prior sd of a model term, NaN for a property."""
    y: np.ndarray
    """1 where the judge preferred A, 0 where it preferred B."""
    clusters: np.ndarray
    """Per pair: an integer id of its query (folds and intervals respect it)."""
    strata: np.ndarray
    """Per pair: an integer id of its two models (or its model-term values); labels are
    shuffled within."""


@dataclass
class SelectionConfig:
    """Settings of the test and the selection."""

    folds: int = 10
    """Folds (by query) for the held-out gains."""
    permutations: int = 99
    """Label shuffles that calibrate the threshold."""
    level: float = 0.01
    """Chance that labels carrying nothing beyond the base model yield a discovery."""
    max_new: int = 5
    """At most this many candidates are kept."""
    min_coverage: int = 20
    """Candidates that differ in fewer test pairs are reported but not tested."""
    prior_scale: float = PRIOR_SCALE
    """Scale of the Laplace prior on property and candidate weights."""
    interval: float = 0.95
    """Mass of every interval."""
    seed: int = 0
    """Seed of the folds and the permutations."""
    threads: int | None = 1
    """BLAS threads while fitting."""

    def validate(self) -> None:
        """Raise a :class:`UsageError` naming the first setting out of range."""
        if self.folds < 2:
            raise UsageError(f"--folds {self.folds}: give 2 or more")
        if not 0 < self.level < 1:
            raise UsageError(f"--level {self.level}: give a probability between 0 and 1")
        needed = int(np.ceil(1 / self.level)) - 1
        if self.permutations < needed:
            raise UsageError(f"--permutations {self.permutations}: a level of {self.level} "
                             f"needs at least {needed} permutations (1/level - 1)")
        if self.max_new < 1:
            raise UsageError(f"--max-new {self.max_new}: give 1 or more")
        if self.min_coverage < 1:
            raise UsageError(f"min coverage {self.min_coverage}: give 1 or more")


@dataclass
class DiscoveryResult:
    """What testing the candidates found."""

    table: pd.DataFrame
    """One row per candidate: :data:`DISCOVERY_COLUMNS`."""
    threshold: float
    """Gain a candidate had to exceed (from the permutations)."""
    null_gains: np.ndarray
    """The largest gain under each permutation."""
    selected: list[str]
    """Names of the kept candidates, in the order they were taken."""
    joint: pd.DataFrame
    """The joint fit of the kept set with the base model: one row per column."""
    set_gain: dict[str, float] = field(default_factory=dict)
    """Held-out log-loss of the base model and of base + kept set, and the gain with
    its interval (empty when nothing was kept)."""
    pairs: int = 0
    """Test pairs used."""
    queries: int = 0
    """Distinct queries among them."""


# -- effects, redundancy, the joint fit -------------------------------------------------------
def _effects(base: BaseDesign, C: np.ndarray, config: SelectionConfig) -> np.ndarray:
    """Each candidate fitted with the base model on the whole test half: (m x 3) mean, lo, hi.

    Comparisons take the values -1, 0 and +1, so every candidate's design is made of
    the base model's distinct rows, each with one of three values appended: one
    design (:func:`shared_design`) serves them all, and the engine solves every
    candidate's problem in one block.
    """
    if C.shape[1] == 0:
        return np.empty((0, 3))
    X, problem = shared_design(base.X)
    sd = extend_prior(base.gaussian_sd, 1)
    posteriors = fit_problems([problem(base.y, C[:, j], sd) for j in range(C.shape[1])],
                              prior_scale=config.prior_scale, interval=config.interval,
                              threads=config.threads, tol=EFFECT_TOLERANCE)
    return np.array([[p.mean[-1], p.lower[-1], p.upper[-1]] for p in posteriors])


def _nearest(base: BaseDesign, C: np.ndarray) -> tuple[list[str | None], np.ndarray]:
    """Per candidate: the schema property it correlates with most, and the correlation."""
    P = base.X[:, :base.n_properties]
    if P.shape[1] == 0 or C.shape[1] == 0:
        return [None] * C.shape[1], np.full(C.shape[1], np.nan)
    Pc, Cc = P - P.mean(axis=0), C - C.mean(axis=0)
    norms = np.outer(np.sqrt((Cc ** 2).sum(axis=0)), np.sqrt((Pc ** 2).sum(axis=0)))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.where(norms > 0, (Cc.T @ Pc) / np.where(norms > 0, norms, 1.0), np.nan)
    names, values = [], np.full(C.shape[1], np.nan)
    for j, row in enumerate(corr):
        if np.isnan(row).all():
            names.append(None)
            continue
        at = int(np.nanargmax(np.abs(row)))
        names.append(base.names[at])
        values[j] = row[at]
    return names, values


def _held_out_loss(X: np.ndarray, base: BaseDesign, folds: np.ndarray, k: int,
                   gaussian_sd, config: SelectionConfig) -> np.ndarray:
    """Per pair: its log-loss under the fit of the folds that leave it out."""
    means, _ = fold_fits(X, base.y[None], folds, k, gaussian_sd, config)
    eta = means[0] @ X.T  # (k, n)
    sign = 2.0 * base.y - 1.0
    return softplus(-sign * eta[folds, np.arange(len(base.y))])


def joint_fit(base: BaseDesign, C: np.ndarray, names: list[str], folds: np.ndarray,
              config: SelectionConfig) -> tuple[pd.DataFrame, dict[str, float]]:
    """Fit the kept candidates jointly with the base model; their held-out gain as a set.

    Returns the posterior of every column (properties, terms, kept candidates:
    ``column, kind, mean, sd, lower, upper, p_preferred``) and the held-out
    log-loss of the base model and of the base plus the set, with the gain and
    its interval.
    """
    X = np.hstack([base.X, C])
    sd = extend_prior(base.gaussian_sd, C.shape[1])
    (post,) = fit_problems([CompressedDesign(X).problem(base.y, np.ones(len(base.y)), sd)],
                           prior_scale=config.prior_scale, interval=config.interval,
                           threads=config.threads)
    kinds = (["property"] * base.n_properties + ["term"] * (len(base.names) - base.n_properties)
             + ["discovered"] * C.shape[1])
    table = pd.DataFrame({"column": base.names + names, "kind": kinds, "mean": post.mean,
                          "sd": post.sd, "lower": post.lower, "upper": post.upper,
                          "p_preferred": expit(post.mean)})
    k = config.folds
    before = _held_out_loss(base.X, base, folds, k, base.gaussian_sd, config)
    after = _held_out_loss(X, base, folds, k, sd, config)
    lower, upper = cluster_interval(before - after, base.clusters, config.interval)
    return table, {"base_log_loss": float(before.mean()), "log_loss": float(after.mean()),
                   "gain": float((before - after).mean()), "gain_lower": float(lower[0]),
                   "gain_upper": float(upper[0])}


# -- the whole test -----------------------------------------------------------------------------
def select_discoveries(base: BaseDesign, candidates: list[Candidate],
                    config: SelectionConfig | None = None) -> DiscoveryResult:
    """Test every candidate on the test half and keep the ones that clear the threshold."""
    config = config or SelectionConfig()
    config.validate()
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=config.threads):
        return _select(base, candidates, config)


def _select(base: BaseDesign, candidates: list[Candidate], config: SelectionConfig
            ) -> DiscoveryResult:
    n = len(base.y)
    C_all = np.column_stack([c.comparison for c in candidates]) if candidates else \
        np.zeros((n, 0))
    coverage = (C_all != 0).mean(axis=0) if n else np.zeros(len(candidates))
    tested = np.flatnonzero((C_all != 0).sum(axis=0) >= config.min_coverage)
    C = C_all[:, tested]
    k = min(config.folds, len(np.unique(base.clusters)))
    if k < 2:
        raise FitError(f"the test half holds {n} usable pairs of {k} query; the held-out gains "
                       "need pairs of at least two queries there (a larger group, or more data)")
    folds = query_folds(base.clusters, k, config.seed)
    Y = np.vstack([base.y[None], permuted_labels(base.y, base.strata, config.permutations,
                                                  config.seed + 1)])
    means, covs = fold_fits(base.X, Y, folds, k, base.gaussian_sd, config)
    gains, diffs = one_step_gains(base.X, means, covs, Y, folds, C, config.prior_scale)
    null_max = gains[1:].max(axis=1) if C.shape[1] else np.zeros(config.permutations)
    cut = threshold(null_max, config.level)
    lower, upper = cluster_interval(diffs, base.clusters, config.interval) if C.shape[1] \
        else (np.empty(0), np.empty(0))
    chosen = _greedy(base, C, gains[0], cut, folds, k, config)
    effects = _effects(base, C, config)
    nearest, correlation = _nearest(base, C)

    rows = []
    for j, cand in enumerate(candidates):
        row = {"candidate": cand.property.name, "proposer": cand.proposer,
               "description": cand.property.description, "coverage": float(coverage[j]),
               "mean": np.nan, "lower": np.nan, "upper": np.nan, "p_preferred": np.nan,
               "gain": np.nan, "gain_lower": np.nan, "gain_upper": np.nan,
               "nearest_property": None, "nearest_correlation": np.nan, "selected": False}
        at = np.flatnonzero(tested == j)
        if len(at):
            t = int(at[0])
            row.update(mean=effects[t, 0], lower=effects[t, 1], upper=effects[t, 2],
                       p_preferred=float(expit(effects[t, 0])), gain=float(gains[0, t]),
                       gain_lower=float(lower[t]), gain_upper=float(upper[t]),
                       nearest_property=nearest[t], nearest_correlation=correlation[t],
                       selected=t in chosen)
        rows.append(row)
    table = pd.DataFrame(rows, columns=list(DISCOVERY_COLUMNS))
    order = {int(tested[t]): i for i, t in enumerate(chosen)}
    table["_order"] = [order.get(j, len(order)) for j in range(len(table))]
    table = table.sort_values(["_order", "gain"], ascending=[True, False],
                              na_position="last", kind="stable").drop(columns="_order")
    names = [candidates[int(tested[t])].property.name for t in chosen]
    joint, set_gain = (joint_fit(base, C[:, chosen], names, folds, config) if chosen
                       else (pd.DataFrame(), {}))
    return DiscoveryResult(table.reset_index(drop=True), cut, null_max, names, joint, set_gain,
                           pairs=n, queries=len(np.unique(base.clusters)))


def _greedy(base: BaseDesign, C: np.ndarray, gains: np.ndarray, cut: float,
            folds: np.ndarray, k: int, config: SelectionConfig) -> list[int]:
    """Take the best candidate while its gain beside the ones taken clears ``cut``."""
    chosen: list[int] = []
    current = gains.copy()
    while len(chosen) < config.max_new and len(chosen) < C.shape[1]:
        current[chosen] = -np.inf
        best = int(np.argmax(current))
        if not current[best] > cut:
            break
        chosen.append(best)
        X = np.hstack([base.X, C[:, chosen]])
        prior = extend_prior(base.gaussian_sd, len(chosen))
        means, covs = fold_fits(X, base.y[None], folds, k, prior, config)
        current = one_step_gains(X, means, covs, base.y[None], folds, C,
                                 config.prior_scale)[0][0]
    return chosen
