"""Profiles: what each judge rewards, per group, with uncertainty.

:func:`fit_profiles` joins judgments with comparisons, leaves out (and counts)
the pairs that cannot inform a fit, forms the groups, and fits every
(judge, group) problem in one engine call. The result's ``profiles`` table has
one row per (judge, group, property) with the columns :data:`PROFILE_COLUMNS`.

Every (judge, group) is also fitted on k folds (the paper's 10 by default, each
on 90% of the group after a seeded shuffle). The held-out predictions measure how
much the dissection explains, beside null baselines (length alone, always A, the
majority label); with ``average_folds`` the reported means are the paper's
fold-averaged posterior means. All judges of a group share one design matrix per
fold, so the engine solves them together.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .comparisons import Comparisons
from .engines import DEFAULT_ENGINE, PRIOR_SCALE, Posterior, Problem, fit_problems
from .errors import FitError
from .exclusions import EMPTY, IDENTICAL, TIE, Exclusion
from .judgments import A, B
from .pairs import PAIR_COLUMNS, metadata_column
from .properties import TRAITS

PROFILE_COLUMNS = ("judge", "group", "property", "mean", "sd", "lower", "upper", "n_pairs")
"""Columns of a profile table: posterior mean, sd and 95% interval of each weight."""
DIAGNOSTIC_COLUMNS = ("judge", "group", "n_pairs", "engine", "converged", "iterations",
                      "max_change", "warning")
QUALITY_COLUMNS = ("judge", "group", "n_pairs", "folds", "model_accuracy", "model_log_loss",
                   "length_accuracy", "length_log_loss", "always_a_accuracy",
                   "always_a_log_loss", "majority_accuracy", "majority_log_loss")
"""Held-out accuracy and log-loss of the dissection and of the null baselines."""
ALL = "all"
LENGTH = "lengthy"


@dataclass
class FitConfig:
    """Settings of a dissection fit."""

    group_by: list[str] = field(default_factory=list)
    """Pair columns or metadata keys to form extra groups from (one per value)."""
    scenarios: bool = True
    """Fit one group per value of the pairs' ``scenario`` column, when it has any."""
    traits: bool = True
    """Fit one group per query trait (unclear intent, feelings, ...) where known."""
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
    max_missing: float = 0.2
    """Properties whose annotation failed (or is missing) for more than this share of
    the pairs are left out of the model rather than taking those pairs out."""
    folds: int = 10
    """Folds for held-out quality (and for fold averaging); 0 or 1 turns them off."""
    average_folds: bool = False
    """Report the mean of the folds' posterior means, as the paper did."""
    seed: int = 0
    """Seed of the fold shuffle."""


@dataclass
class FitResult:
    """Everything a fit produced."""

    profiles: pd.DataFrame
    """One row per (judge, group, property): :data:`PROFILE_COLUMNS`."""
    diagnostics: pd.DataFrame
    """One row per (judge, group): :data:`DIAGNOSTIC_COLUMNS`."""
    quality: pd.DataFrame
    """One row per (judge, group): :data:`QUALITY_COLUMNS` (empty without folds)."""
    exclusions: list[Exclusion]
    """Per judge, the pairs left out and why."""
    used: dict[str, int]
    """Per judge, the usable pairs in group 'all' (fitted when at least min_pairs)."""
    properties: list[str]
    """The properties fitted (columns of the design matrix)."""
    notes: list[str] = field(default_factory=list)
    """Dropped properties, skipped groups, ..."""


def pair_groups(pairs: pd.DataFrame, config: FitConfig,
                traits: pd.DataFrame | None = None) -> dict[str, np.ndarray]:
    """Return each group's boolean row mask over ``pairs``, 'all' first.

    ``traits`` (index: pair id; boolean columns named as :data:`TRAITS`) adds one
    group per query trait.
    """
    groups = {ALL: np.ones(len(pairs), dtype=bool)}
    columns = []
    if config.scenarios and pairs["scenario"].notna().any():
        columns.append((pairs["scenario"], ""))
    for name in config.group_by:
        if name in PAIR_COLUMNS:
            values = pairs[name]
        else:
            values = metadata_column(pairs, name)
            if values.isna().all():
                raise FitError(f"--group-by {name}: no pair has a column or metadata key "
                               f"'{name}'")
        columns.append((values, f"{name}="))
    for values, prefix in columns:
        for value in sorted(values.dropna().astype(str).unique()):
            groups[f"{prefix}{value}"] = (values.astype(str) == value).to_numpy()
    if config.traits and traits is not None:
        flags = traits.reindex(pairs["id"])
        for trait in TRAITS:
            if trait in flags and flags[trait].fillna(False).astype(bool).any():
                groups[trait] = flags[trait].fillna(False).astype(bool).to_numpy()
    return groups


def _pair_problems(pairs: pd.DataFrame, comparisons: Comparisons) -> np.ndarray:
    """Reasons that keep a pair out of every judge's fit (None where usable)."""
    a = pairs["response_a"].fillna("").str.strip()
    b = pairs["response_b"].fillna("").str.strip()
    reasons = pd.Series(None, index=pairs["id"].to_numpy(), dtype=object)
    missing = comparisons.reasons(pd.Index(pairs["id"]))
    reasons.loc[missing.index] = missing.to_numpy()
    reasons[(a == b).to_numpy()] = IDENTICAL
    reasons[((a == "") | (b == "")).to_numpy()] = EMPTY
    return reasons.to_numpy(dtype=object)


def _labels(pairs: pd.DataFrame, judgments: pd.DataFrame, judges: list[str],
            pair_reason: np.ndarray, soft: bool):
    """Per judge: labels over all pairs, which are usable, and the exclusions."""
    position = pd.Series(np.arange(len(pairs)), index=pairs["id"].to_numpy())
    Y = np.zeros((len(judges), len(pairs)))
    usable = np.zeros((len(judges), len(pairs)), dtype=bool)
    exclusions = []
    for j, judge in enumerate(judges):
        mine = judgments[(judgments["judge"] == judge)
                         & judgments["pair_id"].isin(position.index)]
        mine = mine.drop_duplicates("pair_id", keep="last")
        rows = position[mine["pair_id"]].to_numpy()
        label = mine["label"].to_numpy()
        reason = pair_reason[rows].copy()
        reason[pd.isna(reason) & (label != A) & (label != B)] = TIE
        keep = pd.isna(reason)
        for pid, why in zip(mine["pair_id"].to_numpy()[~keep], reason[~keep]):
            exclusions.append(Exclusion("fit", str(why).split(":")[0], pair_id=pid,
                                        judge=judge, detail=str(why)))
        y = (label == A).astype(float)
        if soft:
            p_a = mine["p_a"].to_numpy(dtype=float)
            y = np.where(np.isnan(p_a), y, p_a)
        Y[j, rows[keep]] = y[keep]
        usable[j, rows[keep]] = True
    return Y, usable, exclusions


def fold_slices(n: int, folds: int, seed: int) -> list[np.ndarray]:
    """Held-out positions of each fold: a seeded shuffle cut into ``folds`` equal slices.

    As in the paper's scripts, fold i holds out positions ``[i*n/k, i*n/k + n//k)``
    of the shuffled order (so a remainder of ``n % k`` rows is never held out).
    """
    order = np.random.default_rng(seed).permutation(n)
    size = n // folds
    return [order[int(i / folds * n):int(i / folds * n) + size] for i in range(folds)]


def _log_loss(y: np.ndarray, p: np.ndarray) -> float:
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def _accuracy(y: np.ndarray, p: np.ndarray) -> float:
    # a prediction of exactly 0.5 counts as half right
    return float(np.mean(np.where(p == 0.5, 0.5, (p > 0.5) == (y > 0.5))))


@dataclass
class _Task:
    """One (judge, group): where its problems sit in the engine call."""

    judge: str
    group: str
    n: int
    full: int
    length_col: int | None
    folds: list[tuple[int, int | None, np.ndarray, np.ndarray, np.ndarray]]


def fit_profiles(pairs: pd.DataFrame, judgments: pd.DataFrame, comparisons: Comparisons,
                 config: FitConfig | None = None,
                 traits: pd.DataFrame | None = None) -> FitResult:
    """Fit one profile per (judge, group); see the module docstring."""
    config = config or FitConfig()
    if comparisons.values.shape[1] == 0:
        raise FitError("no property has any annotation; run `prefdissect annotate` first")
    comparisons, dropped = comparisons.without_sparse(config.max_missing)
    properties = list(comparisons.values.columns)
    if not properties:
        raise FitError("every property's annotation failed for too many pairs; see the "
                       "reasons in annotations.parquet, or raise --max-missing")
    notes = []
    if dropped:
        notes.append(f"{len(dropped)} properties left out because their annotation failed for "
                     f"more than {100 * config.max_missing:.0f}% of pairs: " + ", ".join(
                         f"{p} ({100 * x:.0f}%)" for p, x in dropped.items()))
    if comparisons.unmeasured:
        notes.append(f"{len(comparisons.unmeasured)} properties have no annotations and are "
                     f"left out of the model: {', '.join(comparisons.unmeasured)}")
    present = list(dict.fromkeys(judgments["judge"]))
    judges = config.judges or present
    unknown = [j for j in judges if j not in present]
    if unknown:
        raise FitError(f"no judgments from {', '.join(unknown)}; judges in this study: "
                       f"{', '.join(present)}")
    groups = pair_groups(pairs, config, traits)
    X_all = comparisons.values.reindex(pairs["id"]).to_numpy(dtype=float)
    Y, usable, exclusions = _labels(pairs, judgments, judges, _pair_problems(pairs, comparisons),
                                    config.soft_labels)
    length_col = properties.index(LENGTH) if LENGTH in properties else None
    k = config.folds if config.folds >= 2 else 0

    problems: list[Problem] = []
    tasks: list[_Task] = []
    used: dict[str, int] = {}
    skipped = 0
    for group, mask in groups.items():
        rows = np.flatnonzero(mask & usable.any(axis=0))
        X = X_all[rows]
        splits = fold_slices(len(rows), k, config.seed) if k else []
        designs = []
        for held in splits:
            train = np.setdiff1d(np.arange(len(rows)), held)
            designs.append((train, held, X[train],
                            X[train][:, [length_col]] if length_col is not None else None))
        for j, judge in enumerate(judges):
            weight = usable[j, rows].astype(float)
            n = int(weight.sum())
            if group == ALL:
                used[judge] = n
            if n < config.min_pairs:
                skipped += group != ALL and n > 0
                if group == ALL:
                    notes.append(f"{judge}: only {n} usable pairs (< {config.min_pairs}); "
                                 "not fitted")
                continue
            y = Y[j, rows]
            problems.append(Problem(X, y, weight))
            task = _Task(judge, group, n, len(problems) - 1, length_col, [])
            for train, held, X_train, X_length in designs:
                problems.append(Problem(X_train, y[train], weight[train]))
                model = len(problems) - 1
                length = None
                if X_length is not None:
                    problems.append(Problem(X_length, y[train], weight[train]))
                    length = len(problems) - 1
                test = held[weight[held] > 0]
                task.folds.append((model, length, test, train[weight[train] > 0], y))
            tasks.append(task)
    if skipped:
        notes.append(f"{skipped} (judge, group) fits skipped for fewer than {config.min_pairs} "
                     "usable pairs")
    if not tasks:
        raise FitError("no (judge, group) has enough usable pairs to fit; see the exclusions")
    posteriors = fit_problems(problems, config.engine, config.prior_scale, config.interval)
    return _assemble(tasks, posteriors, problems, properties, config, exclusions, notes, used, k)


def _assemble(tasks: list[_Task], posteriors: list[Posterior], problems: list[Problem],
              properties: list[str], config: FitConfig, exclusions: list[Exclusion],
              notes: list[str], used: dict[str, int], k: int) -> FitResult:
    profile_rows, diag_rows, quality_rows = [], [], []
    for task in tasks:
        full = posteriors[task.full]
        fold_posts = [posteriors[f[0]] for f in task.folds]
        mean = (np.mean([p.mean for p in fold_posts], axis=0)
                if config.average_folds and fold_posts else full.mean)
        for j, prop in enumerate(properties):
            profile_rows.append((task.judge, task.group, prop, mean[j], full.sd[j],
                                 full.lower[j], full.upper[j], task.n))
        everything = [full, *fold_posts]
        warnings = sorted({p.diagnostics.get("warning") for p in everything} - {None})
        diag_rows.append((task.judge, task.group, task.n, full.diagnostics.get("engine"),
                          all(p.diagnostics.get("converged", True) for p in everything),
                          max(p.diagnostics.get("iterations", 0) for p in everything),
                          max(p.diagnostics.get("max_change", 0.0) for p in everything),
                          "; ".join(warnings) or None))
        if k:
            quality_rows.append(_quality(task, posteriors, problems, k))
    return FitResult(
        profiles=pd.DataFrame(profile_rows, columns=list(PROFILE_COLUMNS)),
        diagnostics=pd.DataFrame(diag_rows, columns=list(DIAGNOSTIC_COLUMNS)),
        quality=pd.DataFrame(quality_rows, columns=list(QUALITY_COLUMNS)),
        exclusions=exclusions, used=used, properties=properties, notes=notes,
    )


def _quality(task: _Task, posteriors: list[Posterior], problems: list[Problem],
             k: int) -> tuple:
    """Held-out accuracy and log-loss of the model and of the baselines for one task.

    Baselines: the length comparison alone (same prior and engine), always A (a
    constant P(A) equal to the training share of A), and the training majority
    label (same constant probability, predicting that label).
    """
    X_full = problems[task.full].X
    y_all, p_model, p_length, p_const, majority = [], [], [], [], []
    for model, length, test, train, y in task.folds:
        if len(test) == 0:
            continue
        x = X_full[test]
        y_all.append(y[test])
        p_model.append(1 / (1 + np.exp(-x @ posteriors[model].mean)))
        if length is not None:
            w = posteriors[length].mean[0]
            p_length.append(1 / (1 + np.exp(-x[:, task.length_col] * w)))
        share_a = float(np.clip(np.mean(y[train]), 0.01, 0.99)) if len(train) else 0.5
        p_const.append(np.full(len(test), share_a))
        majority.append(np.full(len(test), 1.0 if share_a >= 0.5 else 0.0))
    out = [task.judge, task.group, task.n, k]
    if not y_all:
        return tuple(out + [np.nan] * 8)
    y = np.concatenate(y_all)
    const = np.concatenate(p_const)
    for p in (np.concatenate(p_model), np.concatenate(p_length) if p_length else None):
        out += [np.nan, np.nan] if p is None else [_accuracy(y, p), _log_loss(y, p)]
    out += [float(np.mean(y > 0.5)), _log_loss(y, const)]  # always A
    out += [float(np.mean((y > 0.5) == (np.concatenate(majority) > 0.5))), _log_loss(y, const)]
    return tuple(out)


def probability_preferred(weight: np.ndarray | float) -> np.ndarray | float:
    """Return the paper's 'probability of preferred', sigmoid(weight).

    The chance that a response wins when it is better than the other on this
    property alone (all other comparisons equal).
    """
    return 1.0 / (1.0 + np.exp(-np.asarray(weight, dtype=float)))
