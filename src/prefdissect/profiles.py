"""Profiles: what each judge rewards, per group, with uncertainty.

:func:`fit_profiles` joins judgments with comparisons, leaves out (and counts)
the pairs that cannot inform a fit, forms the groups, and fits every
(judge, group) problem in one engine call. The result's ``profiles`` table has
one row per (judge, group, property) with the columns :data:`PROFILE_COLUMNS`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .comparisons import Comparisons
from .engines import DEFAULT_ENGINE, PRIOR_SCALE, Problem, fit_problems
from .errors import FitError
from .exclusions import EMPTY, IDENTICAL, TIE, Exclusion
from .judgments import A, B
from .pairs import PAIR_COLUMNS, metadata_column

PROFILE_COLUMNS = ("judge", "group", "property", "mean", "sd", "lower", "upper", "n_pairs")
"""Columns of a profile table: posterior mean, sd and 95% interval of each weight."""
DIAGNOSTIC_COLUMNS = ("judge", "group", "n_pairs", "engine", "converged", "iterations",
                      "max_change", "warning")
ALL = "all"


@dataclass
class FitConfig:
    """Settings of a dissection fit."""

    group_by: list[str] = field(default_factory=list)
    """Pair columns or metadata keys to form extra groups from (one per value)."""
    scenarios: bool = True
    """Fit one group per value of the pairs' ``scenario`` column, when it has any."""
    judges: list[str] | None = None
    """Judges to fit (None: every judge in the judgments)."""
    engine: str = DEFAULT_ENGINE
    """Registered fitting engine."""
    prior_scale: float = PRIOR_SCALE
    """Scale of the Laplace(0, b) prior on each weight."""
    interval: float = 0.95
    """Mass of the credible intervals."""
    soft_labels: bool = False
    """Fit P(A) where the judge gives one instead of the hard label (the paper: hard)."""
    min_pairs: int = 20
    """Groups with fewer usable pairs are skipped (and reported)."""


@dataclass
class FitResult:
    """Everything a fit produced."""

    profiles: pd.DataFrame
    """One row per (judge, group, property): :data:`PROFILE_COLUMNS`."""
    diagnostics: pd.DataFrame
    """One row per (judge, group): :data:`DIAGNOSTIC_COLUMNS`."""
    exclusions: list[Exclusion]
    """Per judge, the pairs left out and why."""
    used: dict[str, int]
    """Per judge, the number of pairs fitted in group 'all'."""
    properties: list[str]
    """The properties fitted (columns of the design matrix)."""
    notes: list[str] = field(default_factory=list)
    """Dropped properties, skipped groups, ..."""


def pair_groups(pairs: pd.DataFrame, config: FitConfig) -> dict[str, np.ndarray]:
    """Return each group's boolean row mask over ``pairs``, 'all' first."""
    groups = {ALL: np.ones(len(pairs), dtype=bool)}
    columns = []
    if config.scenarios and pairs["scenario"].notna().any():
        columns.append(("scenario", pairs["scenario"], ""))
    for name in config.group_by:
        if name in PAIR_COLUMNS:
            values = pairs[name]
        else:
            values = metadata_column(pairs, name)
            if values.isna().all():
                raise FitError(f"--group-by {name}: no pair has a column or metadata key "
                               f"'{name}'")
        columns.append((name, values, f"{name}="))
    for _, values, prefix in columns:
        for value in sorted(values.dropna().astype(str).unique()):
            groups[f"{prefix}{value}"] = (values.astype(str) == value).to_numpy()
    return groups


def _pair_problems(pairs: pd.DataFrame, comparisons: Comparisons) -> pd.Series:
    """Reasons that keep a pair out of every judge's fit (None where usable)."""
    a = pairs["response_a"].fillna("").str.strip()
    b = pairs["response_b"].fillna("").str.strip()
    reasons = pd.Series(None, index=pairs["id"].to_numpy(), dtype=object)
    missing = comparisons.reasons(pd.Index(pairs["id"]))
    reasons.loc[missing.index] = missing.to_numpy()
    reasons[(a == b).to_numpy()] = IDENTICAL
    reasons[((a == "") | (b == "")).to_numpy()] = EMPTY
    return reasons


def fit_profiles(pairs: pd.DataFrame, judgments: pd.DataFrame, comparisons: Comparisons,
                 config: FitConfig | None = None) -> FitResult:
    """Fit one profile per (judge, group); see the module docstring."""
    config = config or FitConfig()
    properties = list(comparisons.values.columns)
    if not properties:
        raise FitError("no property has any annotation; run `prefdissect annotate` first")
    notes = []
    if comparisons.unmeasured:
        notes.append(f"{len(comparisons.unmeasured)} properties have no annotations and are "
                     f"left out of the model: {', '.join(comparisons.unmeasured)}")
    judges = config.judges or list(dict.fromkeys(judgments["judge"]))
    unknown = sorted(set(judges) - set(judgments["judge"]))
    if unknown:
        raise FitError(f"no judgments from {', '.join(unknown)}; judges in this study: "
                       f"{', '.join(dict.fromkeys(judgments['judge']))}")
    groups = pair_groups(pairs, config)
    pair_reason = _pair_problems(pairs, comparisons)
    X_all = comparisons.values.reindex(pairs["id"]).to_numpy(dtype=float)
    row_of = pd.Series(np.arange(len(pairs)), index=pairs["id"].to_numpy())

    exclusions: list[Exclusion] = []
    problems, keys = [], []
    used: dict[str, int] = {}
    for judge in judges:
        mine = judgments[judgments["judge"] == judge].drop_duplicates("pair_id", keep="last")
        mine = mine[mine["pair_id"].isin(row_of.index)]
        rows = row_of[mine["pair_id"]].to_numpy()
        reason = pair_reason.iloc[rows].to_numpy(dtype=object).copy()
        label = mine["label"].to_numpy()
        reason[pd.isna(reason) & (label != A) & (label != B)] = TIE
        keep = pd.isna(reason)
        for pid, why in zip(mine["pair_id"].to_numpy()[~keep], reason[~keep]):
            exclusions.append(Exclusion("fit", str(why).split(":")[0], pair_id=pid,
                                        judge=judge, detail=str(why)))
        rows, label = rows[keep], label[keep]
        y = (label == A).astype(float)
        if config.soft_labels:
            p_a = mine["p_a"].to_numpy(dtype=float)[keep]
            y = np.where(np.isnan(p_a), y, p_a)
        used[judge] = len(rows)
        for group, mask in groups.items():
            inside = mask[rows]
            n = int(inside.sum())
            if n < config.min_pairs:
                if group == ALL or n > 0:
                    notes.append(f"{judge} / {group}: only {n} usable pairs (< {config.min_pairs})"
                                 "; not fitted")
                continue
            problems.append(Problem(X_all[rows[inside]], y[inside]))
            keys.append((judge, group, n))
    if not problems:
        raise FitError("no (judge, group) has enough usable pairs to fit; see the exclusions")
    posteriors = fit_problems(problems, config.engine, config.prior_scale, config.interval)
    profile_rows, diag_rows = [], []
    for (judge, group, n), post in zip(keys, posteriors):
        for j, prop in enumerate(properties):
            profile_rows.append((judge, group, prop, post.mean[j], post.sd[j], post.lower[j],
                                 post.upper[j], n))
        diag = post.diagnostics
        diag_rows.append((judge, group, n, diag.get("engine"), diag.get("converged"),
                          diag.get("iterations"), diag.get("max_change"), diag.get("warning")))
    return FitResult(
        profiles=pd.DataFrame(profile_rows, columns=list(PROFILE_COLUMNS)),
        diagnostics=pd.DataFrame(diag_rows, columns=list(DIAGNOSTIC_COLUMNS)),
        exclusions=exclusions, used=used, properties=properties, notes=notes,
    )


def probability_preferred(weight: np.ndarray | float) -> np.ndarray | float:
    """Return the paper's 'probability of preferred', sigmoid(weight).

    The chance that a response wins when it is better than the other on this
    property alone (all other comparisons equal).
    """
    return 1.0 / (1.0 + np.exp(-np.asarray(weight, dtype=float)))
