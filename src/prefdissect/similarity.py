"""Judge similarity: how alike two judges' profiles are.

The paper's measure is the Pearson correlation of two judges' weight vectors
within a group, averaged over the scenario groups; Spearman is offered too.
Intervals come from posterior draws where a profile has standard deviations
(independent normal draws per weight), else from a bootstrap over properties.
Judges can be put in hierarchical-clustering order for display.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.cluster.hierarchy import leaves_list, linkage, optimal_leaf_ordering
from scipy.spatial.distance import squareform
from scipy.stats import rankdata

from .errors import UsageError
from .profiles import ALL
from .properties import TRAITS
from .reference import SCENARIOS

METHODS = ("pearson", "spearman")


def comparison_groups(profiles: pd.DataFrame, judges: list[str]) -> list[str]:
    """Return the groups to average over.

    The paper's scenarios where the judges have them; else every group the judges
    share except 'all' and the query traits; else ['all'].
    """
    have = [set(profiles.loc[profiles["judge"] == j, "group"]) for j in judges]
    common = set.intersection(*have) if have else set()
    scenarios = [g for g in SCENARIOS if g in common]
    if scenarios:
        return scenarios
    others = sorted(g for g in common if g != ALL and g not in TRAITS)
    return others or ([ALL] if ALL in common else [])


def _tensor(profiles: pd.DataFrame, judges: list[str], groups: list[str], column: str):
    """Array (judges, groups, properties) of one profile column; NaN where absent."""
    props = sorted(set(profiles["property"]))
    wide = profiles.set_index(["judge", "group", "property"])[column]
    index = pd.MultiIndex.from_product([judges, groups, props])
    return wide.reindex(index).to_numpy(dtype=float).reshape(len(judges), len(groups),
                                                            len(props))


def _corr(a: np.ndarray, b: np.ndarray, method: str) -> np.ndarray:
    """Correlation along the last axis (NaN-free inputs), broadcasting the rest."""
    if method == "spearman":
        a = rankdata(a, axis=-1)
        b = rankdata(b, axis=-1)
    a = a - a.mean(axis=-1, keepdims=True)
    b = b - b.mean(axis=-1, keepdims=True)
    denom = np.sqrt((a * a).sum(axis=-1) * (b * b).sum(axis=-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return (a * b).sum(axis=-1) / denom


@dataclass
class Similarity:
    """A judge-by-judge similarity matrix with intervals."""

    matrix: pd.DataFrame
    """Average correlation over ``groups``; rows and columns are judge names."""
    lower: pd.DataFrame
    """Lower ends of the intervals."""
    upper: pd.DataFrame
    """Upper ends of the intervals."""
    groups: list[str]
    """The groups averaged over."""
    method: str
    """'pearson' or 'spearman'."""
    interval: str
    """How the intervals were made."""
    properties: list[str] = field(default_factory=list)
    """The properties compared on: those every judge has in every group."""

    def ordered(self) -> Similarity:
        """Return the same matrices with judges in hierarchical-clustering order."""
        order = cluster_order(self.matrix)
        pick = lambda f: f.loc[order, order]  # noqa: E731
        return Similarity(pick(self.matrix), pick(self.lower), pick(self.upper), self.groups,
                          self.method, self.interval, self.properties)

    def long(self) -> pd.DataFrame:
        """One row per judge pair: judge_a, judge_b, similarity, lower, upper."""
        rows = []
        names = list(self.matrix.index)
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                rows.append((a, b, self.matrix.loc[a, b], self.lower.loc[a, b],
                             self.upper.loc[a, b]))
        return pd.DataFrame(rows, columns=["judge_a", "judge_b", "similarity", "lower",
                                           "upper"])


def similarity(profiles: pd.DataFrame, judges: list[str] | None = None,
               groups: list[str] | None = None, method: str = "pearson", draws: int = 1000,
               interval: float = 0.95, seed: int = 0) -> Similarity:
    """Average within-group correlation of every pair of judges' weights.

    Parameters
    ----------
    profiles
        Profile table(s) holding every judge (fitted and reference ones may be mixed).
    judges
        Judges to compare (default: all in ``profiles``).
    groups
        Groups to average over (default: :func:`comparison_groups`).
    method
        'pearson' (the paper's) or 'spearman'.
    draws
        Posterior draws, or bootstrap resamples, for the intervals.
    interval
        Mass of the intervals.
    seed
        Seed of the draws.
    """
    if method not in METHODS:
        raise UsageError(f"unknown similarity method '{method}'; use pearson or spearman")
    known = list(dict.fromkeys(profiles["judge"]))
    judges = judges or known
    missing = [j for j in judges if j not in known]
    if missing:
        raise UsageError(f"no profile for {', '.join(missing)}; judges available: "
                         f"{', '.join(known)}")
    groups = groups or comparison_groups(profiles, judges)
    if not groups:
        raise UsageError("the judges share no group to compare them on")
    mean = _tensor(profiles, judges, groups, "mean")
    sd = _tensor(profiles, judges, groups, "sd")
    usable = ~np.isnan(mean).any(axis=(0, 1))  # properties every judge has in every group
    if not usable.any():
        raise UsageError("the judges share no property with a weight in every group compared")
    shared = [p for p, keep in zip(sorted(set(profiles["property"])), usable) if keep]
    mean, sd = mean[..., usable], sd[..., usable]
    point = np.nanmean(_corr(mean[:, None], mean[None, :], method), axis=-1)
    rng = np.random.default_rng(seed)
    has_sd = ~np.isnan(sd).any(axis=(1, 2))
    if has_sd.any():
        how = "posterior draws (independent normals per weight)"
        noise = rng.standard_normal((draws, *mean.shape)) * np.nan_to_num(sd)
        sampled = mean + noise
    else:
        how = "bootstrap over properties"
        pick = rng.integers(0, mean.shape[-1], size=(draws, mean.shape[-1]))
        sampled = np.stack([mean[..., p] for p in pick])
    sims = np.stack([np.nanmean(_corr(s[:, None], s[None, :], method), axis=-1)
                     for s in sampled])
    alpha = (1 - interval) / 2
    frame = lambda a: pd.DataFrame(a, index=judges, columns=judges)  # noqa: E731
    lower = np.nanquantile(sims, alpha, axis=0)
    upper = np.nanquantile(sims, 1 - alpha, axis=0)
    np.fill_diagonal(point, 1.0)
    np.fill_diagonal(lower, 1.0)
    np.fill_diagonal(upper, 1.0)
    return Similarity(frame(point), frame(lower), frame(upper), list(groups), method, how,
                      shared)


def cluster_order(matrix: pd.DataFrame) -> list[str]:
    """Return the judges in average-linkage clustering order (distance 1 - similarity)."""
    names = list(matrix.index)
    if len(names) < 3:
        return names
    distance = np.clip(1.0 - matrix.to_numpy(dtype=float), 0.0, 2.0)
    distance = (distance + distance.T) / 2
    np.fill_diagonal(distance, 0.0)
    condensed = squareform(distance, checks=False)
    tree = optimal_leaf_ordering(linkage(condensed, method="average"), condensed)
    return [names[i] for i in leaves_list(tree)]


def nearest(sim: Similarity, judge: str, among: list[str], k: int = 5) -> pd.DataFrame:
    """Return the ``k`` judges of ``among`` most similar to ``judge``, with intervals."""
    others = [j for j in among if j != judge]
    rows = pd.DataFrame({"judge": others,
                         "similarity": sim.matrix.loc[judge, others].to_numpy(),
                         "lower": sim.lower.loc[judge, others].to_numpy(),
                         "upper": sim.upper.loc[judge, others].to_numpy()})
    return rows.sort_values("similarity", ascending=False).head(k).reset_index(drop=True)
