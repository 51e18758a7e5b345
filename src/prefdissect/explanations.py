"""Explanations: why a profile predicts what it does for one pair.

The prediction is P(A preferred) = sigmoid(sum_j w_j x_j). Each property's
Shapley value splits the gap between that prediction and the all-zero baseline
(0.5, the two responses equal on everything) among the properties, on the
probability scale, as the paper's demo showed. Properties with x_j = 0 get 0.
Where the fit has model terms (a fixed baseline's edge, model strengths), each
term the pair involves is one more player with its own bar.
The values are exact: all subsets of the properties on which the pair differs
are enumerated (up to :data:`EXACT_LIMIT` of them, far more than the paper's
29-property pairs usually have); beyond that a permutation estimate with its
standard error is returned and marked as such.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import factorial

import numpy as np
import pandas as pd

EXACT_LIMIT = 22
"""Largest number of differing properties explained by full enumeration."""


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _exact(contributions: np.ndarray) -> np.ndarray:
    """Shapley values of f(S) = sigmoid(sum of contributions in S) by enumeration."""
    m = len(contributions)
    sums = np.zeros(1)
    sizes = np.zeros(1, dtype=np.int64)
    for c in contributions:  # index bit j set <=> property j in the subset
        sums = np.concatenate([sums, sums + c])
        sizes = np.concatenate([sizes, sizes + 1])
    value = _sigmoid(sums)
    weight = np.array([factorial(s) * factorial(m - s - 1) / factorial(m) for s in range(m)])
    phi = np.empty(m)
    index = np.arange(len(sums))
    for j in range(m):
        without = index[(index >> j) & 1 == 0]
        phi[j] = np.sum(weight[sizes[without]] * (value[without | (1 << j)] - value[without]))
    return phi


def _sampled(contributions: np.ndarray, permutations: int, seed: int):
    """Permutation estimate of the Shapley values and its standard errors."""
    rng = np.random.default_rng(seed)
    m = len(contributions)
    order = np.argsort(rng.random((permutations, m)), axis=1)
    steps = contributions[order]
    value = _sigmoid(np.concatenate([np.zeros((permutations, 1)), np.cumsum(steps, axis=1)],
                                    axis=1))
    gains = np.diff(value, axis=1)
    per = np.zeros((permutations, m))
    np.put_along_axis(per, order, gains, axis=1)
    return per.mean(axis=0), per.std(axis=0, ddof=1) / np.sqrt(permutations)


def shapley_values(weights: np.ndarray, x: np.ndarray, *, permutations: int = 20000,
                   seed: int = 0) -> tuple[np.ndarray, np.ndarray | None]:
    """Shapley values of sigmoid(w . x) against the all-zero baseline.

    Returns ``(values, standard_errors)``; the errors are None when the values
    are exact (at most :data:`EXACT_LIMIT` non-zero comparisons).
    """
    weights = np.asarray(weights, dtype=float)
    x = np.asarray(x, dtype=float)
    active = np.flatnonzero(x != 0)
    phi = np.zeros(len(x))
    if len(active) == 0:
        return phi, None
    contributions = weights[active] * x[active]
    if len(active) <= EXACT_LIMIT:
        phi[active] = _exact(contributions)
        return phi, None
    errors = np.zeros(len(x))
    phi[active], errors[active] = _sampled(contributions, permutations, seed)
    return phi, errors


@dataclass
class Explanation:
    """One pair explained under one profile."""

    pair_id: str
    """The pair."""
    judge: str
    """Whose profile."""
    group: str
    """Which of the judge's groups."""
    p_a: float
    """Predicted probability that A is preferred."""
    table: pd.DataFrame
    """property, label, kind ('property' or 'model term'), comparison, weight, shapley
    (and shapley_se if estimated), sorted by absolute Shapley value."""
    exact: bool
    """Whether the Shapley values were computed exactly."""


def explain(pair_id: str, comparisons: pd.Series, profile: pd.DataFrame, judge: str,
            group: str, labels: dict[str, str] | None = None,
            terms: dict[str, tuple[float, float]] | None = None) -> Explanation:
    """Explain the prediction of ``profile`` (one judge and group) for one pair.

    ``comparisons`` holds the pair's comparison per property; properties the
    profile lacks or the pair has no value for are treated as equal (0).
    ``terms`` maps each model term of the fit to (its value for this pair, its
    posterior mean); terms the pair does not involve (value 0) add nothing.
    """
    weights = profile.set_index("property")["mean"]
    x = comparisons.reindex(weights.index).fillna(0.0).to_numpy(dtype=float)
    w = weights.to_numpy(dtype=float)
    names = list(weights.index)
    shown = [(labels or {}).get(p, p) for p in names]
    kinds = ["property"] * len(names)
    for term, (value, mean) in (terms or {}).items():
        names.append(term)
        shown.append(f"model term: {term}")
        kinds.append("model term")
        x = np.append(x, value)
        w = np.append(w, mean)
    phi, errors = shapley_values(w, x)
    table = pd.DataFrame({"property": names, "label": shown, "kind": kinds,
                          "comparison": x, "weight": w, "shapley": phi})
    if errors is not None:
        table["shapley_se"] = errors
    table = table.reindex(table["shapley"].abs().sort_values(ascending=False).index)
    return Explanation(pair_id, judge, group, float(_sigmoid(w @ x)),
                       table.reset_index(drop=True), errors is None)


def explain_in_study(study, pair_id: str, judge: str, group: str = "all",
                     labels: dict[str, str] | None = None) -> Explanation:
    """Explain one pair of a fitted study under one judge's profile (model terms included).

    Raises a :class:`~prefdissect.errors.UsageError` naming what is missing.
    """
    from .errors import UsageError
    from .terms import pair_term_values

    path = study.path("comparisons.parquet")
    if not path.exists():
        raise UsageError(f"{study.root}: no comparisons.parquet yet; run `prefdissect fit` "
                         "first")
    comparisons = pd.read_parquet(path).set_index("pair_id")
    if pair_id not in comparisons.index:
        raise UsageError(f"{study.root}: no pair with id '{pair_id}'")
    profiles = study.profiles()
    profile = profiles[(profiles["judge"] == judge) & (profiles["group"] == group)]
    if profile.empty:
        raise UsageError(f"no profile for judge '{judge}' in group '{group}'")
    terms: dict[str, tuple[float, float]] = {}
    if study.path("terms.csv").exists():
        table = pd.read_csv(study.path("terms.csv"))
        mine = table[(table["judge"] == judge) & (table["group"] == group)]
        if len(mine):
            pair = study.pairs().set_index("id").loc[pair_id]
            values = pair_term_values(pair, mine)
            means = mine.set_index("term")["mean"]
            terms = {t: (v, float(means[t])) for t, v in values.items() if v != 0}
    return explain(pair_id, comparisons.loc[pair_id], profile, judge, group, labels, terms)
