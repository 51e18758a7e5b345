"""Profiles: what each judge rewards, per group, with uncertainty.

:func:`fit_profiles` joins judgments with comparisons, leaves out (and counts)
the pairs that cannot inform a fit, forms the groups, adds the model terms
(:mod:`terms`), and fits every (judge, group) problem in one engine call. The
result's ``profiles`` table has one row per (judge, group, property) with the
columns :data:`PROFILE_COLUMNS`; model terms go to their own ``terms`` table
(:data:`~prefdissect.terms.TERM_COLUMNS`), never mixed into the property rows.

Every (judge, group) is also fitted on k folds for held-out quality
(:mod:`quality`). All problems of a group — every judge, the full fit, each
fold, told apart by row weights — share one design matrix, so the engine solves
them together. With ``average_folds`` (the paper's protocol) every column of a
profile row describes the fold fits: the mean of their posterior means (the
paper's figure), the root mean square of their sds, and the mean of their
interval ends.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .comparisons import S_FAILED, S_NOT_APPLICABLE, Comparisons
from .engines import DEFAULT_ENGINE, PRIOR_SCALE, TERM_PRIOR_SD, Posterior, Problem, fit_problems
from .errors import FitError, UsageError
from .exclusions import TIE, Exclusion
from .judgments import A, B
from .pairs import PAIR_COLUMNS, TEXT_PROBLEM, metadata_column, text_problems
from .properties import TRAITS
from .quality import QUALITY_COLUMNS, Fold, FoldPredictions, fold_slices, sigmoid
from .terms import KINDS, TERM_COLUMNS, TermDesign, choose_terms, term_design

__all__ = ["ALL", "PROFILE_COLUMNS", "QUALITY_COLUMNS", "FitConfig", "FitResult",
           "fit_profiles", "fold_slices", "pair_groups", "probability_preferred"]

PROFILE_COLUMNS = ("judge", "group", "property", "mean", "sd", "lower", "upper", "n_pairs")
"""Columns of a profile table: posterior mean, sd and 95% interval of each weight."""
DIAGNOSTIC_COLUMNS = ("judge", "group", "n_pairs", "engine", "converged", "iterations",
                      "max_change", "warning")
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
    """Scale of the Laplace(0, b) prior on each property weight."""
    interval: float = 0.95
    """Mass of the credible intervals."""
    soft_labels: bool = False
    """Fit P(A) where the judge gives one instead of the hard label (the paper: hard)."""
    min_pairs: int = 20
    """Groups with fewer usable pairs are skipped (and reported)."""
    max_missing: float = 0.2
    """Properties whose value is missing (annotation failed or never made, or the
    property does not apply and its rule excludes such pairs) for more than this
    share of the pairs are left out of the model rather than taking the pairs out."""
    folds: int = 10
    """Folds for held-out quality (and for fold averaging); 0 turns them off."""
    average_folds: bool = False
    """Report the average of the fold fits, as the paper did."""
    seed: int = 0
    """Seed of the fold shuffle."""
    model_terms: str = "auto"
    """'auto', 'none', 'baseline' or 'models' (see :mod:`prefdissect.terms`)."""
    anchor_model: str | None = None
    """With 'models': the model whose strength is fixed at 0 (default: a fixed
    baseline, else the most frequent model)."""
    term_prior_sd: float = TERM_PRIOR_SD
    """Sd of the Gaussian prior on each model term (logit scale)."""
    threads: int | None = 1
    """BLAS/OpenMP threads during the fit (None: leave the pools as they are)."""

    def validate(self) -> None:
        """Raise a :class:`UsageError` naming the first option out of range."""
        if self.min_pairs < 1:
            raise UsageError(f"--min-pairs {self.min_pairs}: give at least 1")
        if self.folds < 0 or self.folds == 1:
            raise UsageError(f"--folds {self.folds}: give 0 (no folds) or 2 or more")
        if self.folds > self.min_pairs:
            raise UsageError(f"--folds {self.folds} is more than --min-pairs {self.min_pairs}: "
                             "a fold of the smallest group would hold out no pair; give at "
                             "most --min-pairs folds (or raise --min-pairs)")
        if self.average_folds and self.folds < 2:
            raise UsageError("--paper-protocol averages over folds; give --folds 2 or more")
        if not 0.0 <= self.max_missing <= 1.0:
            raise UsageError(f"--max-missing {self.max_missing}: give a share between 0 and 1")
        if not self.prior_scale > 0:
            raise UsageError(f"prior scale {self.prior_scale}: must be positive")
        if not 0.0 < self.interval < 1.0:
            raise UsageError(f"interval {self.interval}: give a mass between 0 and 1")
        if self.model_terms not in KINDS:
            raise UsageError(f"--model-terms {self.model_terms}: use one of {', '.join(KINDS)}")
        if self.anchor_model is not None and self.model_terms in ("none", "baseline"):
            raise UsageError(f"--anchor-model {self.anchor_model}: an anchor is only used with "
                             "--model-terms models (one strength per model)")
        if not self.term_prior_sd > 0:
            raise UsageError(f"term prior sd {self.term_prior_sd}: must be positive")
        if self.threads is not None and self.threads < 1:
            raise UsageError(f"--threads {self.threads}: give 1 or more")


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
    """The properties fitted (the property columns of the design matrix)."""
    notes: list[str] = field(default_factory=list)
    """Dropped properties, skipped groups, ..."""
    terms: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=TERM_COLUMNS))
    """One row per (judge, group, model term): :data:`TERM_COLUMNS`."""
    term_design: TermDesign | None = None
    """Which model terms were used, and why."""
    unmeasured: list[str] = field(default_factory=list)
    """Schema properties no annotator gave a value for (left out of the model)."""


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
    """Reasons that keep a pair out of every judge's fit (None where usable).

    A pair table read without its texts carries their verdict in ``text_problem``.
    """
    if TEXT_PROBLEM in pairs:
        texts = pairs[TEXT_PROBLEM].to_numpy(dtype=object)
    else:
        texts = np.array(text_problems(pairs["response_a"], pairs["response_b"]), dtype=object)
    reasons = pd.Series(None, index=pairs["id"].to_numpy(), dtype=object)
    missing = comparisons.reasons(pd.Index(pairs["id"]))
    reasons.loc[missing.index] = missing.to_numpy()
    bad = pd.notna(texts)
    reasons[bad] = texts[bad]
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


def _soft_label_notes(judgments: pd.DataFrame, judges: list[str]) -> list[str]:
    """With soft labels, say which judges give no P(A); refuse when none does."""
    have = judgments[judgments["judge"].isin(judges)].groupby("judge")["p_a"].apply(
        lambda p: p.notna().any())
    without = [j for j in judges if not have.get(j, False)]
    if len(without) == len(judges):
        raise UsageError(f"--soft-labels: no judge gives a probability (p_a) "
                         f"({', '.join(judges)}); drop --soft-labels or import a p_a column")
    return [f"--soft-labels: {', '.join(without)} give no P(A); their hard labels are used"] \
        if without else []


def _missing_notes(comparisons: Comparisons, dropped: dict[str, float],
                   config: FitConfig) -> list[str]:
    notes = []
    if dropped:
        notes.append(f"{len(dropped)} properties left out because their value is missing "
                     f"(failed, never annotated or not applicable) for more than "
                     f"{100 * config.max_missing:.0f}% of pairs: " + ", ".join(
                         f"{p} ({100 * x:.0f}%)" for p, x in dropped.items()))
    if comparisons.unmeasured:
        notes.append(f"{len(comparisons.unmeasured)} properties have no annotations and are "
                     "left out of the model (see summary.json for the list)")
    status = comparisons.status
    counts = []
    for prop in status.columns:
        na = int((status[prop] == S_NOT_APPLICABLE).sum())
        failed = int((status[prop] == S_FAILED).sum())
        counts += [f"{prop} not applicable {na}"] if na else []
        counts += [f"{prop} failed {failed}"] if failed else []
    if counts:
        notes.append("pairs left out of fits because a property in the model has no value "
                     "for them (see exclusions.csv): " + ", ".join(counts))
    return notes


@dataclass
class _Task:
    """One (judge, group): where its problems sit in the engine call."""

    judge: str
    group: str
    n: int
    full: int
    rows: np.ndarray
    weight: np.ndarray
    y: np.ndarray
    folds: list[Fold]


def _design(X_props: np.ndarray, terms: TermDesign, config: FitConfig):
    """Return the full design (properties then terms) and the prior of each column."""
    if terms.columns is None:
        return X_props, None
    X = np.hstack([X_props, terms.columns])
    sd = np.concatenate([np.full(X_props.shape[1], np.nan),
                         np.full(terms.width, config.term_prior_sd)])
    return X, sd


def fit_profiles(pairs: pd.DataFrame, judgments: pd.DataFrame, comparisons: Comparisons,
                 config: FitConfig | None = None,
                 traits: pd.DataFrame | None = None) -> FitResult:
    """Fit one profile per (judge, group); see the module docstring."""
    config = config or FitConfig()
    config.validate()
    if comparisons.values.shape[1] == 0:
        raise FitError("no property has any annotation; run `prefdissect annotate` first")
    comparisons, dropped = comparisons.without_sparse(config.max_missing)
    properties = list(comparisons.values.columns)
    if not properties:
        raise FitError("every property's value is missing for too many pairs; see the "
                       "reasons in annotations.parquet, or raise --max-missing")
    notes = _missing_notes(comparisons, dropped, config)
    present = list(dict.fromkeys(judgments["judge"]))
    judges = config.judges or present
    unknown = [j for j in judges if j not in present]
    if unknown:
        raise FitError(f"no judgments from {', '.join(unknown)}; judges in this study: "
                       f"{', '.join(present)}")
    if config.soft_labels:
        notes += _soft_label_notes(judgments, judges)
    kind, reason = choose_terms(pairs, config.model_terms)
    terms = term_design(pairs, kind, reason, config.anchor_model)
    groups = pair_groups(pairs, config, traits)
    X_all, gaussian_sd = _design(
        comparisons.values.reindex(pairs["id"]).to_numpy(dtype=float), terms, config)
    Y, usable, exclusions = _labels(pairs, judgments, judges, _pair_problems(pairs, comparisons),
                                    config.soft_labels)
    d = len(properties)
    term_cols = list(range(d, d + terms.width))
    length_cols = ([properties.index(LENGTH)] if LENGTH in properties else []) + term_cols
    k = config.folds if config.folds >= 2 else 0

    problems: list[Problem] = []
    tasks: list[_Task] = []
    used: dict[str, int] = {}
    skipped = 0
    for group, mask in groups.items():
        rows = np.flatnonzero(mask & usable.any(axis=0))
        X = X_all[rows]
        X_length = X[:, length_cols] if LENGTH in properties else None
        X_terms = X[:, term_cols] if term_cols else None
        sd_length = None if gaussian_sd is None else gaussian_sd[length_cols]
        sd_terms = None if gaussian_sd is None else gaussian_sd[term_cols]
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
            problems.append(Problem(X, y, weight, gaussian_sd))
            task = _Task(judge, group, n, len(problems) - 1, rows, weight, y, [])
            mine = np.flatnonzero(weight > 0)  # this judge's pairs only: its folds
            for held in (fold_slices(len(mine), k, config.seed) if k else []):
                test = mine[held]
                train_weight = weight.copy()
                train_weight[test] = 0.0
                problems.append(Problem(X, y, train_weight, gaussian_sd))
                fold = Fold(len(problems) - 1, None, None, test, np.flatnonzero(train_weight))
                if X_length is not None:
                    problems.append(Problem(X_length, y, train_weight, sd_length))
                    fold.length = len(problems) - 1
                if X_terms is not None:
                    problems.append(Problem(X_terms, y, train_weight, sd_terms))
                    fold.terms = len(problems) - 1
                task.folds.append(fold)
            tasks.append(task)
    if skipped:
        notes.append(f"{skipped} (judge, group) fits skipped for fewer than {config.min_pairs} "
                     "usable pairs")
    if not tasks:
        raise FitError(_too_few(used, exclusions, config.min_pairs))
    posteriors = fit_problems(problems, config.engine, config.prior_scale, config.interval,
                              threads=config.threads)
    result = _assemble(tasks, posteriors, problems, properties, terms, config, k)
    result.exclusions, result.used, result.notes = exclusions, used, notes
    result.unmeasured = list(comparisons.unmeasured)
    return result


def _too_few(used: dict[str, int], exclusions: list, min_pairs: int) -> str:
    """Say why nothing could be fitted: each judge's usable pairs, and what was left out."""
    counts = ", ".join(f"{judge} {n}" for judge, n in used.items()) or "no judge"
    reasons = Counter(x.reason for x in exclusions)
    left = "; left out of the fit: " + ", ".join(
        f"{n} {reason}" for reason, n in reasons.most_common()) if reasons else ""
    return (f"no (judge, group) has the --min-pairs {min_pairs} usable pairs a fit needs; "
            f"usable pairs in group 'all': {counts}{left}; give more judged pairs, or lower "
            "--min-pairs (fits of very few pairs are mostly the prior)")


def _summary(task: _Task, posteriors: list[Posterior], config: FitConfig):
    """Return the (mean, sd, lower, upper) arrays reported for one task."""
    full = posteriors[task.full]
    if not (config.average_folds and task.folds):
        return full.mean, full.sd, full.lower, full.upper
    fits = [posteriors[f.model] for f in task.folds]
    return (np.mean([p.mean for p in fits], axis=0),
            np.sqrt(np.mean([p.sd ** 2 for p in fits], axis=0)),
            np.mean([p.lower for p in fits], axis=0),
            np.mean([p.upper for p in fits], axis=0))


def _assemble(tasks: list[_Task], posteriors: list[Posterior], problems: list[Problem],
              properties: list[str], terms: TermDesign, config: FitConfig,
              k: int) -> FitResult:
    profile_rows, term_rows, diag_rows, quality_rows = [], [], [], []
    d = len(properties)
    for task in tasks:
        mean, sd, lower, upper = _summary(task, posteriors, config)
        for j, prop in enumerate(properties):
            profile_rows.append((task.judge, task.group, prop, mean[j], sd[j], lower[j],
                                 upper[j], task.n))
        counts = terms.counts(task.rows[task.weight > 0])
        for t, name in enumerate(terms.names):
            if counts[t]:  # a model absent from this group has no estimate here
                term_rows.append((task.judge, task.group, name, terms.kind, terms.anchor,
                                  mean[d + t], sd[d + t], lower[d + t], upper[d + t],
                                  int(counts[t])))
        everything = [posteriors[task.full]] + [posteriors[i] for f in task.folds
                                                for i in (f.model, f.length, f.terms)
                                                if i is not None]
        warnings = sorted({p.diagnostics.get("warning") for p in everything} - {None})
        diag_rows.append((task.judge, task.group, task.n,
                          posteriors[task.full].diagnostics.get("engine"),
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
        exclusions=[], used={}, properties=properties,
        terms=pd.DataFrame(term_rows, columns=list(TERM_COLUMNS)), term_design=terms,
    )


def _quality(task: _Task, posteriors: list[Posterior], problems: list[Problem],
             k: int) -> tuple:
    """Held-out accuracy and log-loss of the model and of the baselines for one task."""
    gathered = FoldPredictions()
    for fold in task.folds:
        if len(fold.test) == 0:
            continue

        def predict(index: int | None, test: np.ndarray = fold.test) -> np.ndarray | None:
            if index is None:
                return None
            return sigmoid(problems[index].X[test] @ posteriors[index].mean)

        gathered.add(task.y[fold.test], task.y[fold.train], predict(fold.model),
                     predict(fold.length), predict(fold.terms))
    return gathered.row(task.judge, task.group, task.n, k)


def probability_preferred(weight: np.ndarray | float) -> np.ndarray | float:
    """Return the paper's 'probability of preferred', sigmoid(weight).

    The chance that a response wins when it is better than the other on this
    property alone (all other comparisons equal).
    """
    return 1.0 / (1.0 + np.exp(-np.asarray(weight, dtype=float)))
