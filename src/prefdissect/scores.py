"""Scores: how much of each model's benchmark score is owed to what the judge likes.

A pairwise benchmark score is a model's win rate (against a fixed baseline, as in
AlpacaEval, or averaged over its opponents, as in an arena). :func:`model_scores`
fits the judge's choices with one strength per model (Bradley-Terry, one
``anchor`` model fixed at 0) and the property comparisons as covariates — Chatbot
Arena's style control with any property set — and reports per model:

- ``raw``: the judge's observed win rate (P(win) where the judge gives one, a tie
  counting half), with a normal interval from the per-opponent standard errors;
- ``fitted``: the same rate as the fitted model predicts it;
- ``controlled``: the predicted win rate with the differences on the controlled
  properties set to zero (AlpacaEval's length control is the case "length only"),
  with an interval from joint posterior draws (EP's Gaussian approximation);
- the decomposition ``raw - controlled = sum of per-property points + unexplained``:
  each pair's change from controlled to fitted is split among the controlled
  properties by the Aumann-Shapley rule (for a logistic model of a sum, each
  property's share of the logit change times the average slope along the way),
  which adds up exactly and keeps each property's sign; ``unexplained`` is
  ``raw - fitted``, what the model does not account for.

Rates are in percentage points. :func:`prefdissect.families.family_spread` then
measures how far one model prompted differently (a *family*, e.g. ``_concise`` /
``_verbose`` variants) moves a score: the spread is the population sd of the
variants' scores over their mean.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.special import expit
from scipy.stats import norm

from .comparisons import Comparisons
from .engines import PRIOR_SCALE, TERM_PRIOR_SD, Posterior, Problem, fit_problems
from .errors import FitError, UsageError
from .judgments import TIE, A, B
from .terms import default_anchor, fixed_baseline, term_design

SCORE_COLUMNS = ("judge", "model", "family", "pairs", "opponents", "raw", "raw_lower",
                 "raw_upper", "fitted", "controlled", "controlled_lower", "controlled_upper",
                 "unexplained", "strength", "strength_lower", "strength_upper")
"""Columns of ``scores.csv`` (rates in percentage points; strengths on the logit scale)."""
COMPONENT_COLUMNS = ("judge", "model", "component", "points")
"""Columns of ``score_components.csv``: raw - controlled split into parts."""
UNEXPLAINED = "unexplained"


@dataclass
class ScoreConfig:
    """Settings of :func:`model_scores`."""

    control: list[str] | None = None
    """Properties whose differences are set to zero (None: every property in the model)."""
    keep: list[str] = field(default_factory=list)
    """Properties left uncontrolled (taken out of the default ``control``)."""
    anchor_model: str | None = None
    """Model fixed at strength 0 (default: a fixed baseline, else the most frequent)."""
    prior_scale: float = PRIOR_SCALE
    """Laplace prior scale of the property weights (the paper's 0.1)."""
    term_prior_sd: float = TERM_PRIOR_SD
    """Gaussian prior sd of the model strengths."""
    max_missing: float = 0.2
    """Properties missing for more than this share of pairs are left out of the model."""
    interval: float = 0.95
    """Mass of the intervals."""
    draws: int = 1000
    """Posterior draws for the controlled score's interval."""
    seed: int = 0
    """Seed of the draws."""
    threads: int | None = 1
    """BLAS threads during the fit."""


@dataclass
class ScoreResult:
    """A judge's leaderboard, its decomposition, and what was controlled."""

    scores: pd.DataFrame
    """One row per model: :data:`SCORE_COLUMNS`."""
    components: pd.DataFrame
    """One row per (model, component): :data:`COMPONENT_COLUMNS`."""
    controlled: list[str]
    """The controlled properties."""
    kept: list[str]
    """Properties in the model but left uncontrolled."""
    anchor: str
    """The model whose strength is fixed at 0."""
    baseline: str | None
    """The fixed baseline (side A of every pair), if the data has one."""
    notes: list[str] = field(default_factory=list)
    """Pairs left out and why, properties dropped, ..."""
    posterior: Posterior | None = None
    """The joint posterior of property weights and strengths."""


@dataclass
class StudyScores:
    """What :func:`prefdissect.pipeline.scores` made of a study: leaderboards and families."""

    results: dict[str, ScoreResult]
    """Judge -> its leaderboard (``scores`` carries ``family`` and any published columns)."""
    families: pd.DataFrame
    """:data:`~prefdissect.families.FAMILY_COLUMNS` (plus ``published_lc_spread`` with a
    published leaderboard), every judge's families; empty when no model has a family."""
    notes: list[str] = field(default_factory=list)
    """Study-wide notes: judges that could not be scored, and why."""


def _observed(judgments: pd.DataFrame) -> pd.Series:
    """P(A wins) as the judge gave it: its probability, else its label (a tie is half)."""
    label = judgments["label"].map({A: 1.0, B: 0.0, TIE: 0.5})
    return judgments["p_a"].astype(float).where(judgments["p_a"].notna(), label)


def _incidence(model_a: np.ndarray, model_b: np.ndarray, models: list[str]):
    """Each pair twice, once per model: (model index, pair index, side sign, opponent)."""
    index = {m: k for k, m in enumerate(models)}
    n = len(model_a)
    who = np.r_[[index[m] for m in model_a], [index[m] for m in model_b]]
    pair = np.r_[np.arange(n), np.arange(n)]
    sign = np.r_[np.ones(n), -np.ones(n)]
    opponent = np.r_[[index[m] for m in model_b], [index[m] for m in model_a]]
    return who, pair, sign, opponent


def _averaging(who: np.ndarray, opponent: np.ndarray, keep: np.ndarray,
               n_models: int) -> sparse.csr_matrix:
    """Weights that average a model's pairs within each opponent, then over opponents."""
    who, opponent = who[keep], opponent[keep]
    cells = pd.DataFrame({"who": who, "opp": opponent})
    per_cell = cells.groupby(["who", "opp"])["who"].transform("size").to_numpy()
    per_model = cells.groupby("who")["opp"].transform("nunique").to_numpy()
    rows = np.flatnonzero(keep)
    return sparse.csr_matrix((1.0 / (per_cell * per_model), (who, rows)),
                             shape=(n_models, len(keep)))


def _raw_interval(values: np.ndarray, who: np.ndarray, opponent: np.ndarray,
                  n_models: int, z: float) -> np.ndarray:
    """Half-width of each model's raw-rate interval from per-opponent standard errors."""
    cells = pd.DataFrame({"who": who, "opp": opponent, "v": values})
    stats = cells.groupby(["who", "opp"])["v"].agg(["var", "size"]).reset_index()
    stats["se2"] = stats["var"].fillna(0.0) / stats["size"]
    per = stats.groupby("who").agg(se2=("se2", "sum"), k=("opp", "nunique"))
    half = np.full(n_models, np.nan)
    half[per.index.to_numpy()] = z * np.sqrt(per["se2"].to_numpy()) / per["k"].to_numpy()
    return half


def _controls(properties: list[str], config: ScoreConfig) -> tuple[list[str], list[str]]:
    asked = list(config.control) if config.control else list(properties)
    unknown = [p for p in [*asked, *config.keep] if p not in properties]
    if unknown:
        raise UsageError(f"--control/--keep {', '.join(unknown)}: not in the model; the "
                         f"properties in the model are {', '.join(properties)}")
    controlled = [p for p in asked if p not in set(config.keep)]
    return controlled, [p for p in properties if p not in set(controlled)]


def model_scores(pairs: pd.DataFrame, judgments: pd.DataFrame, comparisons: Comparisons,
                 judge: str, config: ScoreConfig | None = None) -> ScoreResult:
    """Raw and controlled win rates of every model one judge compared; see the module doc."""
    config = config or ScoreConfig()
    notes: list[str] = []
    mine = judgments[judgments["judge"] == judge].drop_duplicates("pair_id", keep="last")
    if mine.empty:
        raise UsageError(f"no judgments from {judge}; judges in this study: "
                         f"{', '.join(dict.fromkeys(judgments['judge']))}")
    table = pairs.merge(mine.assign(y=_observed(mine))[["pair_id", "y"]], left_on="id",
                        right_on="pair_id")
    named = table["model_a"].notna() & table["model_b"].notna() & table["y"].notna()
    named &= table["model_a"] != table["model_b"]
    if not named.all():
        notes.append(f"{int((~named).sum())} judged pairs left out: no model names, no "
                     "usable label, or the same model on both sides")
    table = table[named].reset_index(drop=True)
    if table.empty:
        raise FitError(f"{judge}: no judged pair names both models; scores need model_a and "
                       "model_b")
    comparisons, dropped = comparisons.without_sparse(config.max_missing)
    if dropped:
        notes.append("properties left out of the model (missing for more than "
                     f"{100 * config.max_missing:.0f}% of pairs): {', '.join(dropped)}")
    properties = list(comparisons.values.columns)
    controlled, kept = _controls(properties, config)
    X_props = comparisons.values.reindex(table["id"]).to_numpy(dtype=float)
    fit_rows = ~np.isnan(X_props).any(axis=1)
    if not fit_rows.all():
        notes.append(f"{int((~fit_rows).sum())} pairs count in the raw rate but not in the "
                     "model (a property in the model has no value for them)")
    anchor = config.anchor_model or default_anchor(table)
    design = term_design(table, "models", "style control", anchor)
    X = np.hstack([np.nan_to_num(X_props), design.columns])
    d = len(properties)
    sd = np.r_[np.full(d, np.nan), np.full(design.width, config.term_prior_sd)]
    (post,) = fit_problems([Problem(X, table["y"].to_numpy(float), fit_rows.astype(float), sd)],
                           prior_scale=config.prior_scale, interval=config.interval,
                           threads=config.threads)
    if not post.diagnostics.get("converged", True):
        notes.append(f"the score model did not converge: {post.diagnostics.get('warning')}")
    models = [anchor, *design.names]
    who, pair, sign, opponent = _incidence(table["model_a"].astype(str).to_numpy(),
                                           table["model_b"].astype(str).to_numpy(), models)
    everything = np.ones(len(who), dtype=bool)
    in_fit = fit_rows[pair]
    raw_avg = _averaging(who, opponent, everything, len(models))
    fit_avg = _averaging(who, opponent, in_fit, len(models))
    y = table["y"].to_numpy(float)[pair]
    wins = np.where(sign > 0, y, 1 - y)
    raw = 100 * raw_avg @ wins
    z = float(norm.ppf(0.5 + config.interval / 2))
    raw_half = 100 * _raw_interval(wins, who, opponent, len(models), z)

    ctrl_cols = [properties.index(p) for p in controlled]
    X_ctrl = X.copy()
    X_ctrl[:, ctrl_cols] = 0.0
    logit_full, logit_ctrl = X @ post.mean, X_ctrl @ post.mean
    fitted = 100 * fit_avg @ expit(sign * logit_full[pair])
    controlled_rate = 100 * fit_avg @ expit(sign * logit_ctrl[pair])
    draws = post.draws(config.draws, config.seed)
    sampled = np.hstack([100 * fit_avg @ expit(sign[:, None] * (X_ctrl @ chunk.T)[pair])
                         for chunk in np.array_split(draws, max(1, len(draws) // 200))])
    alpha = (1 - config.interval) / 2
    lower, upper = np.quantile(sampled, [alpha, 1 - alpha], axis=1)

    # Aumann-Shapley split of each pair's change from controlled to fitted.
    delta = sign * (logit_full - logit_ctrl)[pair]
    base = sign * logit_ctrl[pair]
    change = expit(base + delta) - expit(base)
    slope = np.where(np.abs(delta) > 1e-9, change / np.where(np.abs(delta) > 1e-9, delta, 1.0),
                     expit(base) * (1 - expit(base)))
    shares = (sign[:, None] * X[pair][:, ctrl_cols] * post.mean[ctrl_cols]) * slope[:, None]
    points = 100 * (fit_avg @ shares)

    strength = np.r_[0.0, post.mean[d:]]
    s_lower = np.r_[0.0, post.lower[d:]]
    s_upper = np.r_[0.0, post.upper[d:]]
    # A model none of whose pairs entered the fit has no fitted or controlled score.
    unfitted = np.bincount(who[in_fit], minlength=len(models)) == 0
    for values in (fitted, controlled_rate, lower, upper, points):
        values[unfitted] = np.nan
    for values in (strength, s_lower, s_upper):
        values[1:][unfitted[1:]] = np.nan  # the anchor's strength is 0 by definition
    lost = [m for m, gone in zip(models, unfitted) if gone]
    if lost:
        notes.append(f"no pair of {', '.join(lost)} entered the model (a property in it has "
                     "no value for them): raw rate only, no fitted or controlled score")
    n_pairs = np.bincount(who, minlength=len(models))
    n_opp = pd.DataFrame({"w": who, "o": opponent}).groupby("w")["o"].nunique()
    baseline = fixed_baseline(table)
    rows, parts = [], []
    for k, model in enumerate(models):
        if model == baseline:
            continue  # a fixed baseline only ever plays itself out of the leaderboard
        rows.append((judge, model, None, int(n_pairs[k]), int(n_opp.get(k, 0)), raw[k],
                     raw[k] - raw_half[k], raw[k] + raw_half[k], fitted[k], controlled_rate[k],
                     lower[k], upper[k], raw[k] - fitted[k], strength[k], s_lower[k],
                     s_upper[k]))
        parts += [(judge, model, p, points[k, j]) for j, p in enumerate(controlled)]
        parts.append((judge, model, UNEXPLAINED, raw[k] - fitted[k]))
    scores = pd.DataFrame(rows, columns=list(SCORE_COLUMNS)).sort_values(
        "controlled", ascending=False, ignore_index=True)
    return ScoreResult(scores, pd.DataFrame(parts, columns=list(COMPONENT_COLUMNS)),
                       controlled, kept, anchor, baseline, notes, post)


def published_leaderboard(path) -> pd.DataFrame:
    """Read a published leaderboard CSV: model names first, AlpacaEval's column names.

    Returns columns ``model``, ``published_raw`` (``win_rate``) and ``published_lc``
    (``length_controlled_winrate``), whichever the file has.
    """
    from .errors import InputError

    try:
        table = pd.read_csv(path)
    except FileNotFoundError:
        raise InputError(path, "does not exist", "check the --leaderboard path") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(path, f"is not a readable CSV ({exc})", "give a CSV file") from None
    first = table.columns[0]
    names = {"win_rate": "published_raw", "length_controlled_winrate": "published_lc"}
    found = [c for c in names if c in table.columns]
    if not found:
        raise InputError(path, "has neither win_rate nor length_controlled_winrate",
                         "give AlpacaEval's leaderboard CSV (model names in the first column)")
    out = table[[first, *found]].rename(columns={first: "model", **names})
    out["model"] = out["model"].astype(str)
    return out.drop_duplicates("model")
