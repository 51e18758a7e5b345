"""Probes: what a judge rewards, measured by changing one thing at a time.

A probe run samples source responses from a study (stratified by group, seeded),
applies registered edits (:mod:`prefdissect.edits`), each checked to move its
target property and nothing else the heuristic measures, and asks a judge —
any registered judge, through its usual ``judge(pairs)`` — about three kinds of
probe pair, in both orders as the judge always asks:

``self``
    The original response (A) against its edited copy (B). The edited copy's win
    rate is the edit's effect; 50% means none. For ``swap`` the copy is the
    response itself, and the win rate is that of the first-shown position (from
    the original pair in both orders where a judge, such as a panel, has no
    verdict on a response against itself).
``pair``
    The study's real pair with the source's side edited. The shift is the change
    in P(that side preferred) from the original pair's. For ``swap``: P(that
    side preferred when shown first) minus its P averaged over both orders.
``original``
    The study's pair as it is: the baseline of the shifts.

Effects are averaged over source responses with 95% bootstrap intervals that
resample source responses (the self contrast and the shift of one source move
together: the intervals are paired). :func:`observational` sets them beside the
fitted profile's P(preferred) for the same property.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..edits import KEPT, POSITION, Checker, Edit, apply_edit, get_edit
from ..edits.rewrite import REWRITE_FAILED, WAITING
from ..errors import UsageError
from ..judges import JudgeRun, judge_warnings
from ..judgments import judgments_to_frame, label_from_probability
from ..pairs import PAIR_COLUMNS
from ..profiles import ALL, FitConfig, pair_groups, probability_preferred

PROBE_COLUMNS = ("judge", "edit", "property", "direction", "group", "n", "win_rate",
                 "win_rate_lower", "win_rate_upper", "pair_shift", "pair_shift_lower",
                 "pair_shift_upper", "flip_rate", "kept_share")
"""Columns of ``probes.csv``: rates and shifts in percentage points, shares in [0, 1]."""
OBSERVATIONAL_COLUMNS = ("judge", "group", "property", "edit", "direction", "profile_p",
                         "profile_lower", "profile_upper", "probe_effect", "probe_lower",
                         "probe_upper", "disagree", "why")
"""Columns of the observational-beside-interventional table (percentages)."""
SELF, PAIR, ORIGINAL = "self", "pair", "original"
SEP = "~"
"""Separator in probe ids: ``PAIR~SIDE~EDIT~KIND`` and ``PAIR~original``."""


@dataclass
class ProbeConfig:
    """Settings of a probe run."""

    edits: list[str]
    """Registered edit names (``swap`` included)."""
    n: int = 200
    """Source responses to sample (fewer where the study has fewer)."""
    seed: int = 0
    """Seed of the sample and of the bootstrap."""
    group_by: list[str] = field(default_factory=list)
    """Groups to stratify and report by: ``scenario``, pair columns or metadata keys."""
    draws: int = 2000
    """Bootstrap resamples per interval."""


@dataclass
class ProbeSet:
    """The sampled sources, every edit's outcome, and the probe pairs to judge."""

    sources: pd.DataFrame
    """One row per source: ``source, pair_id, side, groups`` ('|'-joined group names)."""
    outcomes: pd.DataFrame
    """One row per source and edit: ``source, edit, property, direction, status, reason,
    target_moved, also_moved, edited``."""
    pairs: pd.DataFrame
    """The probe pairs (a pair table) plus ``kind, source, edit, side``."""
    specs: list[Edit] = field(default_factory=list)
    """The edits, in the order asked for."""

    @property
    def waiting(self) -> int:
        """Edits whose LLM rewrite is not answered yet (a dry run or batch export)."""
        return int((self.outcomes["status"] == WAITING).sum())

    @property
    def failed_rewrites(self) -> pd.DataFrame:
        """The outcomes whose LLM rewrite failed, each with its reason."""
        return self.outcomes[self.outcomes["status"] == REWRITE_FAILED]


def _groups(pairs: pd.DataFrame, group_by: list[str]) -> dict[str, np.ndarray]:
    scenarios = "scenario" in group_by
    config = FitConfig(group_by=[g for g in group_by if g != "scenario"], scenarios=scenarios,
                       traits=False)
    if scenarios and not pairs["scenario"].notna().any():
        raise UsageError("--group-by scenario: no pair has a scenario in this study")
    return pair_groups(pairs, config)


def sample_sources(pairs: pd.DataFrame, n: int, seed: int = 0,
                   group_by: list[str] | None = None) -> pd.DataFrame:
    """Sample ``n`` source responses (pair, side), stratified by group, seeded.

    Each stratum (a combination of the pair's groups) gets an equal share where it
    has enough responses; what a small stratum cannot fill goes to the others.
    Empty responses are never sampled.
    """
    if n < 1:
        raise UsageError(f"--n {n}: sample at least one response")
    groups = _groups(pairs, list(group_by or []))
    names = [g for g in groups if g != ALL]
    member = np.column_stack([groups[g] for g in names]) if names else np.zeros((len(pairs), 0))
    labels = ["|".join([ALL, *(g for g, m in zip(names, row) if m)]) for row in member]
    units = [(k, side) for side in ("A", "B") for k in range(len(pairs))
             if str(pairs[f"response_{side.lower()}"].iloc[k] or "").strip()]
    rng = np.random.default_rng(seed)
    strata: dict[str, list[tuple[int, str]]] = {}
    for unit in (units[i] for i in rng.permutation(len(units))):
        strata.setdefault(labels[unit[0]], []).append(unit)
    chosen: list[tuple[int, str]] = []
    queues = [strata[key] for key in sorted(strata)]
    while len(chosen) < n and any(queues):
        for queue in queues:  # one from each stratum in turn: equal shares, then leftovers
            if queue and len(chosen) < n:
                chosen.append(queue.pop(0))
    ids = pairs["id"].astype(str).to_numpy()
    return pd.DataFrame({"source": [f"{ids[k]}{SEP}{side}" for k, side in chosen],
                         "pair_id": [ids[k] for k, _ in chosen],
                         "side": [side for _, side in chosen],
                         "groups": [labels[k] for k, _ in chosen]})


def edit_specs(names: list[str], checker: Checker,
               extra: dict[str, Edit] | None = None) -> list[Edit]:
    """Look up each edit (registered, or one of ``extra``) and check its target."""
    if not names:
        raise UsageError("give at least one --edit (see `prefdissect probe --list-edits`)")
    specs = [(extra or {}).get(name) or get_edit(name) for name in dict.fromkeys(names)]
    for spec in specs:
        checker.check_target(spec.target)
    return specs


def build(pairs: pd.DataFrame, sources: pd.DataFrame, specs: list[Edit], checker: Checker,
          edited: Callable[[Edit, str], object] | None = None) -> ProbeSet:
    """Apply each edit to each source and make the probe pairs of those kept.

    ``edited`` (spec, text) -> :class:`~prefdissect.edits.EditOutcome` replaces
    :func:`~prefdissect.edits.apply_edit` (the LLM rewriter passes its own).
    """
    apply = edited or (lambda spec, text: apply_edit(spec, text, checker))
    by_id = pairs.assign(id=pairs["id"].astype(str)).set_index("id", drop=False)
    rows, probes, seen = [], [], set()
    for source in sources.itertuples():
        pair = by_id.loc[source.pair_id]
        side = source.side.lower()
        text = pair[f"response_{side}"]
        if source.pair_id not in seen:
            seen.add(source.pair_id)
            probes.append({**pair[list(PAIR_COLUMNS)].to_dict(),
                           "id": f"{source.pair_id}{SEP}{ORIGINAL}", "kind": ORIGINAL,
                           "source": None, "edit": None, "side": None})
        for spec in specs:
            result = apply(spec, text)
            rows.append({"source": source.source, "edit": spec.name, "property": spec.target,
                         "direction": spec.direction, "status": result.status,
                         "reason": result.reason, "target_moved": result.target_moved,
                         "also_moved": ", ".join(result.also_moved), "edited": result.text})
            if result.status != KEPT:
                continue
            base = {"source": source.source, "edit": spec.name, "side": source.side}
            stem = f"{source.source}{SEP}{spec.name}{SEP}"
            model = pair[f"model_{side}"]
            probes.append({**pair[list(PAIR_COLUMNS)].to_dict(), "id": stem + SELF,
                           "response_a": text, "response_b": result.text, "model_a": model,
                           "model_b": model, "kind": SELF, **base})
            if spec.target != POSITION:
                probes.append({**pair[list(PAIR_COLUMNS)].to_dict(), "id": stem + PAIR,
                               f"response_{side}": result.text, "kind": PAIR, **base})
    columns = [*PAIR_COLUMNS, "kind", "source", "edit", "side"]
    return ProbeSet(sources, pd.DataFrame(rows), pd.DataFrame(probes, columns=columns), specs)


def verdicts(probe_set: ProbeSet, run: JudgeRun, judge: str) -> pd.DataFrame:
    """Every probe pair with its texts and the judge's verdict (or why it has none)."""
    table = judgments_to_frame(run.judgments).set_index("pair_id")
    details = {j.pair_id: j.details for j in run.judgments}
    failed = {x.pair_id: x.detail or x.reason for x in run.exclusions}
    out = probe_set.pairs.copy()
    out.insert(0, "judge", judge)
    out["label"] = out["id"].map(table["label"])
    out["p_a"] = out["id"].map(table["p_a"]).astype(float)
    for key in ("p_first_order", "p_swapped_order", "p_swapped_shown_first"):
        out[key] = [_number(details.get(i, {}).get(key)) for i in out["id"]]
    out["status"] = np.where(out["label"].notna(), "judged", "judge failed")
    out["reason"] = [None if pd.notna(lab) else failed.get(i, "no verdict")
                     for i, lab in zip(out["id"], out["label"])]
    return out


def _number(value) -> float:
    return math.nan if value is None else float(value)


def effects(probe_set: ProbeSet, judged: pd.DataFrame) -> pd.DataFrame:
    """Per source and edit: the self-contrast win, the in-pair shift and the flip (0-1)."""
    rows = judged.set_index("id")
    out = []
    for item in probe_set.outcomes.itertuples():
        pair_id, side = item.source.rsplit(SEP, 1)
        stem = f"{item.source}{SEP}{item.edit}{SEP}"
        win = shift = flip = math.nan
        original = rows.loc[f"{pair_id}{SEP}{ORIGINAL}"]
        if item.status == KEPT:
            own = rows.loc[stem + SELF]
            if item.property == POSITION:
                win = _mean(own["p_first_order"], own["p_swapped_shown_first"])
                if math.isnan(win):  # e.g. a panel, never shown a response against itself
                    win = _mean(original["p_first_order"], original["p_swapped_shown_first"])
                first = (original["p_first_order"] if side == "A"
                         else original["p_swapped_shown_first"])
                averaged = original["p_a"] if side == "A" else 1.0 - original["p_a"]
                shift = first - averaged
                orders = (original["p_first_order"], original["p_swapped_order"])
                if not any(math.isnan(p) for p in orders):
                    flip = float(label_from_probability(orders[0])
                                 != label_from_probability(orders[1]))
            else:
                win = 1.0 - own["p_a"]
                edited = rows.loc[stem + PAIR]
                sign = 1.0 if side == "A" else -1.0
                shift = sign * (edited["p_a"] - original["p_a"])
                if pd.notna(edited["label"]) and pd.notna(original["label"]):
                    flip = float(edited["label"] != original["label"])
        out.append({"source": item.source, "edit": item.edit, "kept": item.status == KEPT,
                    "win": win, "shift": shift, "flip": flip})
    frame = pd.DataFrame(out, columns=["source", "edit", "kept", "win", "shift", "flip"])
    return frame.merge(probe_set.sources[["source", "groups"]], on="source", how="left")


def _mean(*values: float) -> float:
    usable = [v for v in values if v is not None and not math.isnan(v)]
    return sum(usable) / len(usable) if usable else math.nan


def _bootstrap(win: np.ndarray, shift: np.ndarray, clusters: np.ndarray, draws: int,
               rng: np.random.Generator) -> tuple[tuple[float, float], tuple[float, float]]:
    """Percentile intervals of both means, resampling clusters of sources together.

    Sources of one query (``clusters``) are resampled as one: both sides of a pair share
    its original verdict, and a text that recurs in several pairs of the query (a
    benchmark's baseline answer) gives the same edited copy each time.
    """
    if len(win) == 0:
        return (math.nan, math.nan), (math.nan, math.nan)
    codes, names = pd.factorize(pd.Series(clusters))
    index = rng.integers(0, len(names), size=(draws, len(names)))

    def interval(values: np.ndarray) -> tuple[float, float]:
        ok = ~np.isnan(values)
        if not ok.any():
            return math.nan, math.nan
        sums = np.bincount(codes, weights=np.where(ok, values, 0.0), minlength=len(names))
        counts = np.bincount(codes, weights=ok.astype(float), minlength=len(names))
        total, count = sums[index].sum(axis=1), counts[index].sum(axis=1)
        means = total[count > 0] / count[count > 0]
        low, high = np.percentile(means, [2.5, 97.5])
        return float(low), float(high)

    return interval(win), interval(shift)


def summarize(probe_set: ProbeSet, judged: pd.DataFrame, judge: str, draws: int = 2000,
              seed: int = 0) -> pd.DataFrame:
    """Return the probes table (:data:`PROBE_COLUMNS`): per edit and group, with intervals."""
    table = effects(probe_set, judged)
    originals = probe_set.pairs[probe_set.pairs["kind"] == ORIGINAL]
    query_of = dict(zip(originals["id"].astype(str).str.rsplit(SEP, n=1).str[0],
                        originals["query"].astype(str)))  # the source's pair -> its query
    table["cluster"] = table["source"].str.rsplit(SEP, n=1).str[0].map(query_of)
    groups = list(dict.fromkeys(g for labels in probe_set.sources["groups"]
                                for g in labels.split("|")))
    rng = np.random.default_rng(seed)
    rows = []
    for spec in probe_set.specs:
        mine = table[table["edit"] == spec.name]
        for group in groups:
            members = mine[mine["groups"].str.split("|").map(lambda g, n=group: n in g)]
            usable = members[members["kept"] & members["win"].notna()]
            win = usable["win"].to_numpy(dtype=float)
            shift = usable["shift"].to_numpy(dtype=float)
            (win_low, win_high), (shift_low, shift_high) = _bootstrap(
                win, shift, usable["cluster"].to_numpy(), draws, rng)
            flips = usable["flip"].dropna()
            rows.append({
                "judge": judge, "edit": spec.name, "property": spec.target,
                "direction": spec.direction_word, "group": group, "n": len(usable),
                "win_rate": 100 * _nanmean(win), "win_rate_lower": 100 * win_low,
                "win_rate_upper": 100 * win_high,
                "pair_shift": 100 * _nanmean(shift), "pair_shift_lower": 100 * shift_low,
                "pair_shift_upper": 100 * shift_high,
                "flip_rate": float(flips.mean()) if len(flips) else math.nan,
                "kept_share": float(members["kept"].mean()) if len(members) else math.nan})
    return pd.DataFrame(rows, columns=list(PROBE_COLUMNS))


def _nanmean(values: np.ndarray) -> float:
    values = values[~np.isnan(values)]
    return float(values.mean()) if len(values) else math.nan


def observational(probes: pd.DataFrame, profiles: pd.DataFrame) -> pd.DataFrame:
    """Each probe effect beside the fitted profile's P(preferred) for its property.

    Both are put on the property's scale, in percent: the profile's sigmoid(weight)
    and its interval (the chance of winning by being better on the property alone,
    with the model terms the fit had), and the probe's win rate of a copy made
    better on it (100 - the win rate where the edit makes it worse). They
    disagree when they lie on opposite sides of 50% and one of the two intervals
    excludes 50% (the property, changed alone, does not move the judge the way
    the profile says), or when their intervals do not overlap (the same
    direction, another size: an edit's dose, e.g. how much longer, need not be
    the typical difference between real responses that the profile saw).
    """
    rows = []
    fitted = profiles.set_index(["judge", "group", "property"])
    for probe in probes[probes["property"] != POSITION].itertuples():
        key = (probe.judge, probe.group, probe.property)
        if key not in fitted.index or pd.isna(probe.win_rate):
            continue
        weight = fitted.loc[key]
        if isinstance(weight, pd.DataFrame):
            weight = weight.iloc[-1]
        p, low, high = (100 * float(probability_preferred(weight[c]))
                        for c in ("mean", "lower", "upper"))
        up = probe.direction == "up"
        effect = probe.win_rate if up else 100 - probe.win_rate
        e_low = probe.win_rate_lower if up else 100 - probe.win_rate_upper
        e_high = probe.win_rate_upper if up else 100 - probe.win_rate_lower
        why = ""
        if (p - 50) * (effect - 50) < 0 and (low > 50 or high < 50 or e_low > 50
                                             or e_high < 50):
            why = "opposite sides of 50%"
        elif e_low > high or low > e_high:
            why = "same side, sizes differ (intervals do not overlap)"
        rows.append({"judge": probe.judge, "group": probe.group, "property": probe.property,
                     "edit": probe.edit, "direction": probe.direction, "profile_p": p,
                     "profile_lower": low, "profile_upper": high, "probe_effect": effect,
                     "probe_lower": e_low, "probe_upper": e_high, "disagree": bool(why),
                     "why": why})
    return pd.DataFrame(rows, columns=list(OBSERVATIONAL_COLUMNS))


# -- a probe run against a study ---------------------------------------------------------------
@dataclass
class ProbeResult:
    """What one judge's probe run produced."""

    probes: pd.DataFrame
    """The probes table of this judge (:data:`PROBE_COLUMNS`)."""
    judged: pd.DataFrame
    """Every probe pair with texts and verdicts (``probe_pairs.parquet`` rows)."""
    observational: pd.DataFrame
    """Probe effects beside the study's profile (:func:`observational`); may be empty."""
    run: JudgeRun
    """The judge's verdicts and failures on the probe pairs."""
    notes: list[str] = field(default_factory=list)
    """What a reader of the effects should know (:func:`judge_notes`)."""


def prepare(study, config: ProbeConfig, schema=None, rewriter=None,
            progress=None) -> ProbeSet:
    """Sample a study's responses and build the probe pairs of ``config.edits``.

    Edits named ``rewrite:PROPERTY:up|down`` need ``rewriter`` (a
    :class:`~prefdissect.edits.rewrite.Rewriter`), which asks its model for every
    sampled response first (``progress`` counts its requests).
    """
    from ..edits.rewrite import is_rewrite, rewrite_edit

    checker = rewriter.checker if rewriter is not None else Checker(schema or study.schema())
    extra = {n: rewrite_edit(n, checker) for n in config.edits if is_rewrite(n)}
    if extra and rewriter is None:
        raise UsageError(f"--edit {next(iter(extra))}: rewrite edits need --rewriter MODEL "
                         "(and --base-url)")
    specs = edit_specs(config.edits, checker, extra)
    pairs = study.pairs_with_scenarios()
    sources = sample_sources(pairs, config.n, config.seed, config.group_by)
    if extra:
        by_id = pairs.set_index(pairs["id"].astype(str))
        texts = list(dict.fromkeys(by_id.loc[s.pair_id, f"response_{s.side.lower()}"]
                                   for s in sources.itertuples()))
        rewriter.fetch([(spec, text) for spec in extra.values() for text in texts], progress)

    def edited(spec: Edit, text: str):
        return rewriter.apply(spec, text) if spec.name in extra else apply_edit(spec, text,
                                                                                 checker)

    return build(pairs, sources, specs, checker, edited)


def probe(study, judge, probe_set: ProbeSet, config: ProbeConfig,
          progress=None) -> ProbeResult:
    """Judge the probe pairs and summarize them (no files written).

    Parameters
    ----------
    study
        The :class:`~prefdissect.study.Study` whose responses are probed (its
        profiles, where fitted, are set beside the probes).
    judge
        Any registered judge instance (it has ``name`` and ``judge(pairs, progress)``).
    probe_set
        The probe pairs from :func:`prepare`.
    config
        The settings :func:`prepare` was given (bootstrap draws and seed are read here).
    progress
        Called with the number of units the judge finished (its own unit).
    """
    run = judge.judge(probe_set.pairs[list(PAIR_COLUMNS)], progress=progress)
    judged = verdicts(probe_set, run, judge.name)
    table = summarize(probe_set, judged, judge.name, config.draws, config.seed)
    profile = study.profiles() if study.path("profiles.csv").exists() else None
    beside = (observational(table, profile) if profile is not None
              else pd.DataFrame(columns=list(OBSERVATIONAL_COLUMNS)))
    return ProbeResult(table, judged, beside, run, judge_notes(run, judge.name))


def judge_notes(run: JudgeRun, judge: str) -> list[str]:
    """Say how many probe verdicts rest on one order only, and if most answers had no verdict.

    The second is :func:`~prefdissect.judges.judge_warnings`' sign of a model that is not
    answering with a verdict.
    """
    stats = run.stats(judge)
    notes = []
    if stats["single_order"]:
        notes.append(f"{stats['single_order']} of the {stats['judged']} probe pairs judged "
                     "rest on one presentation order only (the other order's answer was "
                     "unusable; position bias stays in them): see p_first_order and "
                     "p_swapped_order in probe_pairs.parquet")
    # Only the no-verdict sign: position consistency means little over probe pairs, many of
    # which differ by little (or, for swap, not at all), so that any judge flips on them.
    share = {"no_verdict_share": stats.get("no_verdict_share")}
    return notes + [f"judge {judge}: {warning}" for warning in judge_warnings(share)]


