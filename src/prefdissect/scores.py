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
from .judges import single_order_count
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
    draws: pd.DataFrame | None = None
    """Controlled win rates (percent) under joint posterior draws: one row per model on
    the leaderboard, one column per draw (the draws behind the controlled interval, for
    intervals of differences between models)."""


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


def wilson_interval(rate: np.ndarray, n_effective: np.ndarray,
                    z: float) -> tuple[np.ndarray, np.ndarray]:
    """Return the Wilson score interval (lower, upper) of proportions ``rate``.

    Unlike the normal interval it does not collapse at 0 or 1: a model that
    never won 30 pairs gets [0, 11.4%], not [0, 0].
    """
    rate, n = np.asarray(rate, dtype=float), np.asarray(n_effective, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        shrink = 1.0 + z * z / n
        centre = (rate + z * z / (2 * n)) / shrink
        half = z / shrink * np.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n))
    return np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)


def _controls(properties: list[str], config: ScoreConfig) -> tuple[list[str], list[str]]:
    asked = list(config.control) if config.control else list(properties)
    unknown = [p for p in [*asked, *config.keep] if p not in properties]
    if unknown:
        raise UsageError(f"--control/--keep {', '.join(unknown)}: not in the model; the "
                         f"properties in the model are {', '.join(properties)}")
    both = [p for p in config.control or [] if p in set(config.keep)]
    if both:
        raise UsageError(f"--control and --keep both name {', '.join(both)}: a property is "
                         "either set to zero or left as it is; give it once")
    controlled = [p for p in asked if p not in set(config.keep)]
    if not controlled:
        raise UsageError("--keep leaves no property to control; keep fewer properties")
    return controlled, [p for p in properties if p not in set(controlled)]


@dataclass
class _Design:
    """One judge's pairs as the score model sees them."""

    table: pd.DataFrame
    """The judged pairs with both model names and ``y`` = P(A wins)."""
    X: np.ndarray
    """Property comparisons (missing as 0), then the model-strength columns."""
    properties: list[str]
    """Property columns of ``X``, in order."""
    controlled: list[str]
    """Properties set to zero for the controlled score."""
    kept: list[str]
    """Properties in the model left as they are."""
    fit_rows: np.ndarray
    """Pairs with every property measured: the ones the model is fitted on."""
    anchor: str
    """Model whose strength is fixed at 0."""
    models: list[str]
    """The anchor, then the model of each strength column."""
    term_width: int
    """Number of strength columns."""


def _judged_table(pairs: pd.DataFrame, judgments: pd.DataFrame, judge: str,
                  notes: list[str]) -> pd.DataFrame:
    """Return the judge's pairs that name two different models and carry a usable label."""
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
    single = single_order_count(mine[mine["pair_id"].isin(table["pair_id"])])
    if single:
        notes.append(f"{single} of the {len(table)} verdicts rest on one presentation order "
                     "only (the other order's answer was unusable; position bias stays in them)")
    if table.empty:
        raise FitError(f"{judge}: no judged pair names both models; scores need model_a and "
                       "model_b")
    return table


def _design(table: pd.DataFrame, comparisons: Comparisons, config: ScoreConfig,
            notes: list[str]) -> _Design:
    """Properties (sparse ones dropped), what is controlled, and one strength per model."""
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
    terms = term_design(table, "models", "style control", anchor)
    return _Design(table, np.hstack([np.nan_to_num(X_props), terms.columns]), properties,
                   controlled, kept, fit_rows, anchor, [anchor, *terms.names], terms.width)


def _fit(design: _Design, config: ScoreConfig, notes: list[str]) -> Posterior:
    """Fit the joint posterior of the property weights and the model strengths."""
    d = len(design.properties)
    sd = np.r_[np.full(d, np.nan), np.full(design.term_width, config.term_prior_sd)]
    (post,) = fit_problems([Problem(design.X, design.table["y"].to_numpy(float),
                                    design.fit_rows.astype(float), sd)],
                           prior_scale=config.prior_scale, interval=config.interval,
                           threads=config.threads)
    if not post.diagnostics.get("converged", True):
        notes.append(f"the score model did not converge: {post.diagnostics.get('warning')}")
    return post


@dataclass
class _Incidence:
    """Each pair twice, once per model, and how a model's rate averages its pairs."""

    who: np.ndarray
    """Model index of each entry."""
    pair: np.ndarray
    """Pair index of each entry."""
    sign: np.ndarray
    """+1 where the model is side A, -1 where it is side B."""
    opponent: np.ndarray
    """The other model's index."""
    raw_average: sparse.csr_matrix
    """Models x entries: the weights of the raw rate (every pair)."""
    fit_average: sparse.csr_matrix
    """Models x entries: the weights of the fitted rates (pairs in the model only)."""
    unfitted: np.ndarray
    """Models none of whose pairs entered the model."""


def _incidence(design: _Design) -> _Incidence:
    models, table = design.models, design.table
    index = {m: k for k, m in enumerate(models)}
    a = [index[m] for m in table["model_a"].astype(str)]
    b = [index[m] for m in table["model_b"].astype(str)]
    n = len(table)
    who, opponent = np.r_[a, b], np.r_[b, a]
    pair = np.r_[np.arange(n), np.arange(n)]
    sign = np.r_[np.ones(n), -np.ones(n)]
    in_fit = design.fit_rows[pair]
    return _Incidence(who, pair, sign, opponent,
                      _averaging(who, opponent, np.ones(len(who), dtype=bool), len(models)),
                      _averaging(who, opponent, in_fit, len(models)),
                      np.bincount(who[in_fit], minlength=len(models)) == 0)


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


def _raw_rates(design: _Design, inc: _Incidence,
               z: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Raw rate (percent) per model and its Wilson interval on the effective pair count.

    A rate averaged with weights ``w`` (within opponents, then over them) has
    Kish's effective size ``1 / sum(w^2)``: the pair count when there is one
    opponent. The binomial variance is an upper bound for P(win) labels.
    """
    y = design.table["y"].to_numpy(float)[inc.pair]
    wins = np.where(inc.sign > 0, y, 1 - y)
    rate = inc.raw_average @ wins
    n_effective = 1.0 / np.asarray(inc.raw_average.multiply(inc.raw_average).sum(axis=1)).ravel()
    lower, upper = wilson_interval(rate, n_effective, z)
    return 100 * rate, 100 * lower, 100 * upper


def _controlled_design(design: _Design) -> np.ndarray:
    X_ctrl = design.X.copy()
    X_ctrl[:, [design.properties.index(p) for p in design.controlled]] = 0.0
    return X_ctrl


def _predicted(inc: _Incidence, logits: np.ndarray) -> np.ndarray:
    """Each model's predicted win rate (percent) from per-pair logits (pairs x k)."""
    logits = logits.reshape(len(logits), -1)
    return 100 * (inc.fit_average @ expit(inc.sign[:, None] * logits[inc.pair]))


def _controlled_draws(design: _Design, inc: _Incidence, post: Posterior,
                      config: ScoreConfig) -> np.ndarray:
    """Return controlled win rates (percent) under joint posterior draws: models x draws."""
    X_ctrl = _controlled_design(design)
    draws = post.draws(config.draws, config.seed)
    return np.hstack([_predicted(inc, X_ctrl @ chunk.T)
                      for chunk in np.array_split(draws, max(1, len(draws) // 200))])


def _shapley_points(design: _Design, inc: _Incidence, post: Posterior) -> np.ndarray:
    """Aumann-Shapley split of each model's fitted - controlled (points): models x controlled.

    For a logistic model of a sum, a property's share of a pair's change is its
    share of the logit change times the average slope along the way.
    """
    columns = [design.properties.index(p) for p in design.controlled]
    logit_full = design.X @ post.mean
    logit_ctrl = _controlled_design(design) @ post.mean
    delta = inc.sign * (logit_full - logit_ctrl)[inc.pair]
    base = inc.sign * logit_ctrl[inc.pair]
    moved = np.abs(delta) > 1e-9
    slope = np.where(moved, (expit(base + delta) - expit(base)) / np.where(moved, delta, 1.0),
                     expit(base) * (1 - expit(base)))
    shares = inc.sign[:, None] * design.X[inc.pair][:, columns] * post.mean[columns]
    return 100 * (inc.fit_average @ (shares * slope[:, None]))


def _leaderboard(judge: str, design: _Design, inc: _Incidence, post: Posterior,
                 config: ScoreConfig, notes: list[str]) -> ScoreResult:
    """Assemble the table, the parts and the draws; a model outside the fit keeps raw only."""
    z = float(norm.ppf(0.5 + config.interval / 2))
    raw, raw_lower, raw_upper = _raw_rates(design, inc, z)
    fitted = _predicted(inc, design.X @ post.mean)[:, 0]
    controlled = _predicted(inc, _controlled_design(design) @ post.mean)[:, 0]
    sampled = _controlled_draws(design, inc, post, config)
    alpha = (1 - config.interval) / 2
    lower, upper = np.quantile(sampled, [alpha, 1 - alpha], axis=1)
    points = _shapley_points(design, inc, post)
    d, models, unfitted = len(design.properties), design.models, inc.unfitted
    strength = np.r_[0.0, post.mean[d:]]
    s_lower, s_upper = np.r_[0.0, post.lower[d:]], np.r_[0.0, post.upper[d:]]
    for values in (fitted, controlled, lower, upper, points, sampled):
        values[unfitted] = np.nan
    for values in (strength, s_lower, s_upper):
        values[1:][unfitted[1:]] = np.nan  # the anchor's strength is 0 by definition
    lost = [m for m, gone in zip(models, unfitted) if gone]
    if lost:
        notes.append(f"no pair of {', '.join(lost)} entered the model (a property in it has "
                     "no value for them): raw rate only, no fitted or controlled score")
    n_pairs = np.bincount(inc.who, minlength=len(models))
    n_opp = pd.DataFrame({"w": inc.who, "o": inc.opponent}).groupby("w")["o"].nunique()
    baseline = fixed_baseline(design.table)
    rows, parts, shown = [], [], []
    for k, model in enumerate(models):
        if model == baseline:
            continue  # a fixed baseline only ever plays itself out of the leaderboard
        shown.append(k)
        rows.append((judge, model, None, int(n_pairs[k]), int(n_opp.get(k, 0)), raw[k],
                     raw_lower[k], raw_upper[k], fitted[k], controlled[k], lower[k], upper[k],
                     raw[k] - fitted[k], strength[k], s_lower[k], s_upper[k]))
        parts += [(judge, model, p, points[k, j]) for j, p in enumerate(design.controlled)]
        parts.append((judge, model, UNEXPLAINED, raw[k] - fitted[k]))
    scores = pd.DataFrame(rows, columns=list(SCORE_COLUMNS)).sort_values(
        "controlled", ascending=False, ignore_index=True)
    draws = pd.DataFrame(sampled[shown], index=pd.Index([models[k] for k in shown],
                                                        name="model"))
    return ScoreResult(scores, pd.DataFrame(parts, columns=list(COMPONENT_COLUMNS)),
                       design.controlled, design.kept, design.anchor, baseline, notes, post,
                       draws)


def model_scores(pairs: pd.DataFrame, judgments: pd.DataFrame, comparisons: Comparisons,
                 judge: str, config: ScoreConfig | None = None) -> ScoreResult:
    """Raw and controlled win rates of every model one judge compared; see the module doc."""
    config = config or ScoreConfig()
    notes: list[str] = []
    table = _judged_table(pairs, judgments, judge, notes)
    design = _design(table, comparisons, config, notes)
    post = _fit(design, config, notes)
    return _leaderboard(judge, design, _incidence(design), post, config, notes)


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
