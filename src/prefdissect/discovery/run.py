"""Discovery run end to end: split, propose, measure, test, and write the outputs.

:func:`discover_pairs` works on tables (pairs, judgments, the schema's
comparisons), so that a notebook can run it on anything; :func:`discover`
reads them from a study folder and writes

- ``discoveries.csv`` (:data:`~prefdissect.discovery.discoveries.DISCOVERY_COLUMNS`);
- ``discovered.yaml``: the study's schema plus the kept candidates, which
  ``annotate --schema`` accepts (features and phrases carry their ``measure``, for
  the ``features`` annotator; LLM proposals their ``question``, for
  ``annotate --annotator llm --plan one-call``);
- ``discovered_annotations.parquet``: every candidate's values on the test half, as
  an annotation table;
- ``discovery.json``: the split, the threshold, the joint fit of the kept set and
  its held-out gain, notes.

The study keeps a copy of ``discoveries.csv`` and ``discovery.json`` for its report.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from ..annotations import ANNOTATION_COLUMNS, values_to_frame
from ..comparisons import Comparisons, compare
from ..engines import TERM_PRIOR_SD, fit_problems
from ..errors import FitError, UsageError
from ..exclusions import MISSING_ANNOTATION
from ..judgments import A, B
from ..llm.client import Request
from ..pairs import text_problems
from ..profiles import ALL, FitConfig, pair_groups
from ..properties import DEFAULT_SCHEMA, Property, PropertySchema
from ..terms import TermDesign, choose_terms, term_design
from .discoveries import (
    BaseDesign,
    Candidate,
    DiscoveryResult,
    SelectionConfig,
    select_discoveries,
)
from .features import load_library, measure_properties
from .gains import CompressedDesign
from .phrases import propose_phrases
from .proposals import ProposerSettings

PROPOSERS = ("features", "phrases", "llm")
OFFLINE = "features"
"""The annotator that measures features and phrases (and the name their values carry)."""
STUDY_FILES = ("discoveries.csv", "discovery.json")
"""What the study keeps of the last discovery, for its report."""


@dataclass
class DiscoverConfig:
    """Settings of a discovery run."""

    judge: str | None = None
    """The judge whose choices are explained (None: the study's only judge)."""
    group: str = ALL
    """The group of pairs to work on (a scenario, a query trait, or 'all')."""
    proposers: tuple[str, ...] = ("features", "phrases")
    """Which proposers run: :data:`PROPOSERS`."""
    selection: SelectionConfig = field(default_factory=SelectionConfig)
    """Folds, permutations, level, how many to keep."""
    phrases: int = 20
    """At most this many phrase candidates."""
    worst_share: float = 0.3
    """The share of proposal pairs, worst predicted first, that phrases and the LLM see."""
    model_terms: str = "auto"
    """Model terms of the base model (auto, none, baseline, models). ``auto`` holds model
    quality fixed: one strength per model where the pairs name their models (``models``),
    else none."""
    term_prior_sd: float = TERM_PRIOR_SD
    """Sd of the Gaussian prior on each model term."""
    max_missing: float = 0.2
    """Schema properties missing for more than this share of pairs leave the base model."""

    def validate(self) -> None:
        """Raise a :class:`UsageError` naming the first setting out of range."""
        unknown = [p for p in self.proposers if p not in PROPOSERS]
        if unknown or not self.proposers:
            raise UsageError(f"--proposer {', '.join(unknown) or '(none)'}: use one or more of "
                             f"{', '.join(PROPOSERS)}")
        if not 0 < self.worst_share <= 1:
            raise UsageError(f"worst share {self.worst_share}: give a share in (0, 1]")
        if self.phrases < 1:
            raise UsageError(f"--phrases {self.phrases}: give 1 or more")
        self.selection.validate()


@dataclass
class Discovery:
    """Everything a discovery run produced."""

    result: DiscoveryResult
    """The tested candidates, the threshold, the kept set and its joint fit."""
    candidates: list[Candidate]
    """Every candidate, with its comparisons on the test half."""
    judge: str
    """The judge explained."""
    group: str
    """The group of pairs used."""
    test_ids: list[str]
    """The test half's pair ids (in the order of the candidates' values)."""
    proposal_pairs: int
    """Usable pairs in the proposal half."""
    base_columns: list[str]
    """The base model's columns: schema properties, then model terms."""
    terms: TermDesign
    """The model terms of the base model, and why."""
    left_out: dict[str, int] = field(default_factory=dict)
    """Pairs of the group left out, counted by reason."""
    notes: list[str] = field(default_factory=list)
    """Anything a reader should know (dropped properties, failed LLM requests, ...)."""

    def selected(self) -> list[Candidate]:
        """Return the kept candidates, in the order they were taken."""
        by_name = {c.property.name: c for c in self.candidates}
        return [by_name[name] for name in self.result.selected]

    def annotations(self) -> pd.DataFrame:
        """Every candidate's values on the test half, as an annotation table."""
        frames = []
        for cand in self.candidates:
            if cand.values_a is None:
                continue
            who = "llm-onecall" if cand.proposer == "llm" else OFFLINE
            frames.append(values_to_frame(np.asarray(self.test_ids, dtype=object),
                                          [cand.property.name], cand.values_a[:, None],
                                          cand.values_b[:, None], annotator=who,
                                          prompt_version="discover"))
        return pd.concat(frames, ignore_index=True) if frames else \
            pd.DataFrame(columns=list(ANNOTATION_COLUMNS))

    def summary(self) -> dict[str, Any]:
        """Return the run's figures as JSON-ready data (``discovery.json``)."""
        r = self.result
        return {"judge": self.judge, "group": self.group,
                "proposal_pairs": self.proposal_pairs, "test_pairs": r.pairs,
                "test_queries": r.queries, "candidates": len(self.candidates),
                "by_proposer": pd.Series([c.proposer for c in self.candidates])
                .value_counts().to_dict() if self.candidates else {},
                "threshold": r.threshold, "null_max_gains": [float(x) for x in r.null_gains],
                "selected": r.selected, "set_gain": r.set_gain,
                "joint_fit": r.joint.to_dict(orient="records") if len(r.joint) else [],
                "base_columns": self.base_columns,
                "model_terms": {"kind": self.terms.kind, "reason": self.terms.reason},
                "left_out": self.left_out, "notes": self.notes}


def property_entry(prop: Property) -> dict[str, Any]:
    """Return a property as a schema YAML entry."""
    entry: dict[str, Any] = {"name": prop.name, "label": prop.label,
                             "description": prop.description, "rule": prop.rule}
    if prop.scale:
        entry["scale"] = prop.scale
    if prop.measure is not None:
        entry["measure"] = prop.measure
    if prop.question is not None:
        entry["question"] = prop.question
    return entry


def discovered_yaml(schema_text: str, discovery: Discovery) -> str:
    """Return the schema ``schema_text`` plus the kept candidates, as YAML text."""
    data = yaml.safe_load(schema_text)
    data["name"] = f"{data.get('name', 'schema')}+discovered"
    data["properties"] = list(data["properties"]) + [property_entry(c.property)
                                                     for c in discovery.selected()]
    header = ("# The study's schema plus what `prefdissect discover` kept for judge "
              f"{discovery.judge!r}\n# (group {discovery.group!r}). Measure the new "
              "properties with `annotate --schema THIS --annotator features`\n# (and "
              "`--annotator llm --plan one-call` for those with a question).\n")
    return header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


# -- the run --------------------------------------------------------------------------------
def _query_keys(pairs: pd.DataFrame) -> np.ndarray:
    history = pairs["history"].fillna("").astype(str) if "history" in pairs else ""
    return (history + "\x00" + pairs["query"].fillna("").astype(str)).to_numpy()


def split_by_query(keys: np.ndarray, seed: int) -> np.ndarray:
    """Return True for pairs in the proposal half: half of the distinct queries (seeded)."""
    codes, distinct = pd.factorize(pd.Series(keys))
    order = np.random.default_rng(seed).permutation(len(distinct))
    proposal = np.zeros(len(distinct), dtype=bool)
    proposal[order[: (len(distinct) + 1) // 2]] = True
    return proposal[codes]


def _usable(pairs: pd.DataFrame, labels: pd.Series, values: np.ndarray
            ) -> tuple[np.ndarray, dict[str, int]]:
    """Which pairs a fit can use, and how many others were left out for what."""
    reasons = np.full(len(pairs), None, dtype=object)
    reasons[np.isnan(values).any(axis=1)] = MISSING_ANNOTATION
    reasons[~labels.isin([A, B]).to_numpy()] = "no A or B label (tie or not judged)"
    texts = np.array(text_problems(pairs["response_a"], pairs["response_b"]), dtype=object)
    reasons = np.where(pd.isna(texts), reasons, texts)
    keep = pd.isna(reasons)
    return keep, pd.Series(reasons[~keep]).value_counts().to_dict()


def _fit_eta(X: np.ndarray, y: np.ndarray, sd, config: DiscoverConfig) -> np.ndarray:
    """Fit the base model on (X, y); return each row's linear predictor."""
    (post,) = fit_problems([CompressedDesign(X).problem(y, np.ones(len(y)), sd)],
                           prior_scale=config.selection.prior_scale,
                           threads=config.selection.threads)
    return X @ post.mean


def _measured(props: list[Property], proposer: str, pairs: pd.DataFrame,
              threads: int | None) -> list[Candidate]:
    if not props:
        return []
    a, b = measure_properties(props, pairs, threads)
    return [Candidate(p, proposer, compare(p.rule, a[:, j], b[:, j], {}), a[:, j], b[:, j])
            for j, p in enumerate(props)]


@dataclass
class _Setup:
    """The usable pairs of a run, the base model's design, and the split."""

    judge: str
    used: pd.DataFrame
    rows: np.ndarray
    y: np.ndarray
    X: np.ndarray
    sd: np.ndarray | None
    properties: list[str]
    terms: TermDesign
    proposal: np.ndarray
    left_out: dict[str, int]
    notes: list[str]

    @property
    def test_pairs(self) -> pd.DataFrame:
        return self.used[~self.proposal].reset_index(drop=True)


def _targets(pairs: pd.DataFrame, judgments: pd.DataFrame, config: DiscoverConfig,
             traits: pd.DataFrame | None) -> tuple[str, dict[str, np.ndarray]]:
    """Return the judge to explain and the groups; refuse an unknown judge or group."""
    judges = list(dict.fromkeys(judgments["judge"]))
    judge = config.judge or (judges[0] if len(judges) == 1 else None)
    if judge is None or judge not in judges:
        raise UsageError(f"--judge {config.judge or '(none)'}: give one of this study's "
                         f"judges: {', '.join(judges) or 'none'}")
    groups = pair_groups(pairs, FitConfig(), traits)
    if config.group not in groups:
        raise UsageError(f"--group {config.group}: no such group; groups: "
                         f"{', '.join(groups)}")
    return judge, groups


def check_options(config: DiscoverConfig, llm: ProposerSettings | None = None, *,
                  dry_run: bool = False) -> None:
    """Refuse settings that cannot work, before anything is read, created or sent.

    ``llm`` holds the LLM proposer's settings (needed when ``config`` asks for it);
    ``dry_run`` is true for a dry run or a batch export, which only the LLM proposer has.
    """
    config.validate()
    uses_llm = "llm" in config.proposers
    if dry_run and not uses_llm:
        raise UsageError("--dry-run and --batch-export apply to the llm proposer; add "
                         "--proposer llm")
    if uses_llm:
        if llm is None:
            raise UsageError("the llm proposer needs --model (and --base-url)")
        llm.check()


def check_targets(study, config: DiscoverConfig, *,
                  schema_path: str | Path | None = None) -> None:
    """Refuse a bad schema, an unknown judge or group of a study before any work starts.

    Called before an LLM client exists, so that a mistake costs no request.
    """
    from ..annotations import query_traits

    study.schema(schema_path)
    _targets(study.pairs_with_scenarios(texts=False), study.judgments(), config,
             query_traits(study.query_info()))


def _prepare(pairs: pd.DataFrame, judgments: pd.DataFrame, comparisons: Comparisons,
             config: DiscoverConfig, traits: pd.DataFrame | None) -> _Setup:
    """Pick the judge and group, form the base model's design, split by query."""
    notes: list[str] = []
    judge, groups = _targets(pairs, judgments, config, traits)
    base_cmp, dropped = comparisons.without_sparse(config.max_missing)
    if dropped:
        notes.append("left out of the base model, missing for too many pairs: "
                     + ", ".join(f"{p} ({100 * x:.0f}%)" for p, x in dropped.items()))
    properties = list(base_cmp.values.columns)
    if not properties:
        raise FitError("no schema property has values to form the base model; run "
                       "`prefdissect annotate` first")
    mine = judgments[judgments["judge"] == judge].drop_duplicates("pair_id", keep="last")
    labels = pairs["id"].map(mine.set_index("pair_id")["label"])
    values = base_cmp.values.reindex(pairs["id"]).to_numpy(dtype=float)
    keep, left_out = _usable(pairs, labels, values)
    if config.group != ALL:
        left_out["not in the group"] = int((keep & ~groups[config.group]).sum())
    keep &= groups[config.group]
    rows = np.flatnonzero(keep)
    used = pairs.iloc[rows].reset_index(drop=True)
    kind, reason = _terms(used, config.model_terms)
    terms = term_design(used, kind, reason)
    X, sd = values[rows], None
    if terms.columns is not None:
        X = np.hstack([X, terms.columns])
        sd = np.r_[np.full(len(properties), np.nan), np.full(terms.width, config.term_prior_sd)]
    proposal = split_by_query(_query_keys(used), config.selection.seed)
    if proposal.all() or not proposal.any():
        why = "; ".join(f"{n} pairs left out: {reason}" for reason, n in left_out.items()
                        if n)
        raise FitError(f"the group '{config.group}' has usable pairs from fewer than two "
                       "queries; discovery splits by query and needs at least two"
                       + (f" ({why})" if why else ""))
    return _Setup(judge, used, rows, (labels.iloc[rows] == A).to_numpy(dtype=float), X, sd,
                  properties, terms, proposal, {k: int(v) for k, v in left_out.items() if v},
                  notes)


def _named(pairs: pd.DataFrame) -> bool:
    """Whether every pair names both its models."""
    return len(pairs) > 0 and {"model_a", "model_b"} <= set(pairs.columns) and \
        bool(pairs[["model_a", "model_b"]].notna().all(axis=None))


def _terms(pairs: pd.DataFrame, requested: str) -> tuple[str, str]:
    """Resolve the base model's terms: ``auto`` is one strength per model where named."""
    if requested != "auto" or not _named(pairs) or \
            pd.concat([pairs["model_a"], pairs["model_b"]]).nunique() < 2:
        return choose_terms(pairs, requested)
    return "models", ("the pairs name their models: one strength per model holds model "
                      "quality fixed, so a candidate is not credited with it")


def _strata(pairs: pd.DataFrame, terms: TermDesign, rows: np.ndarray) -> np.ndarray:
    """Return the label-shuffle strata of the test pairs.

    Pairs of the same two models (in their places) where the pairs name them, else the
    pairs sharing the model terms' columns, else one stratum.
    """
    if _named(pairs):
        return pd.factorize(pairs["model_a"].astype(str) + "\x1f" +
                            pairs["model_b"].astype(str))[0]
    if terms.columns is None:
        return np.zeros(len(rows), dtype=int)
    return np.unique(terms.columns[rows], axis=0, return_inverse=True)[1].reshape(-1)


def _worst(setup: _Setup, config: DiscoverConfig) -> tuple[pd.DataFrame, np.ndarray]:
    """Return the proposal pairs predicted worst (worst first), and who won each."""
    proposal = setup.proposal
    eta = _fit_eta(setup.X[proposal], setup.y[proposal], setup.sd, config)
    y = setup.y[proposal]
    loss = np.logaddexp(0.0, -(2 * y - 1) * eta)
    worst = np.argsort(-loss, kind="stable")[: max(1, int(config.worst_share * len(loss)))]
    return setup.used[proposal].reset_index(drop=True).iloc[worst], y[worst] == 1


def _taken(schema: PropertySchema, config: DiscoverConfig) -> set[str]:
    names = set(schema.names)
    return names | set(load_library().names) if "features" in config.proposers else names


def discover_pairs(pairs: pd.DataFrame, judgments: pd.DataFrame, comparisons: Comparisons,
                   schema: PropertySchema, config: DiscoverConfig | None = None, *,
                   traits: pd.DataFrame | None = None, llm=None,
                   features: tuple[np.ndarray, np.ndarray] | None = None) -> Discovery:
    """Run a discovery on tables; see the module docstring.

    Parameters
    ----------
    pairs, judgments
        The study's pair and judgment tables.
    comparisons
        The schema's comparisons for ``pairs`` (:func:`~prefdissect.comparisons.resolve`).
    schema
        The study's property schema (candidates never reuse its names).
    config
        The run's settings.
    traits
        Query traits (index: pair id), for groups named after a trait.
    llm
        An :class:`~prefdissect.discovery.proposals.LLMProposer`, needed for the
        ``llm`` proposer.
    features
        The feature library's values for A and for B of every pair, measured
        before (for repeated runs on the same pairs); measured here when None.
    """
    config = config or DiscoverConfig()
    config.validate()
    if "llm" in config.proposers and llm is None:
        raise UsageError("the llm proposer needs --model and --base-url")
    setup = _prepare(pairs, judgments, comparisons, config, traits)
    test, test_pairs = ~setup.proposal, setup.test_pairs
    taken = _taken(schema, config)
    candidates: list[Candidate] = []
    if "features" in config.proposers:
        library = [p for p in load_library().properties if p.name not in schema.names]
        if features is None:
            candidates += _measured(library, "features", test_pairs, None)
        else:
            a, b = (np.asarray(v)[setup.rows][test] for v in features)
            at = {name: j for j, name in enumerate(load_library().names)}
            candidates += [Candidate(p, "features", compare(p.rule, a[:, at[p.name]],
                                                            b[:, at[p.name]], {}),
                                     a[:, at[p.name]], b[:, at[p.name]]) for p in library]
    if {"phrases", "llm"} & set(config.proposers):
        shown, won = _worst(setup, config)
        if "phrases" in config.proposers:
            winners = np.where(won, shown["response_a"], shown["response_b"]).astype(str)
            losers = np.where(won, shown["response_b"], shown["response_a"]).astype(str)
            props = propose_phrases(winners.tolist(), losers.tolist(), count=config.phrases,
                                    min_pairs=max(10, int(0.02 * len(shown))), taken=taken)
            candidates += _measured(props, "phrases", test_pairs, None)
        if "llm" in config.proposers:
            props = llm.propose(shown, won, taken)
            candidates += llm.measure(props, test_pairs)
            setup.notes += llm.notes
    finite = np.ones(len(test_pairs), dtype=bool)
    for cand in candidates:
        finite &= ~np.isnan(cand.comparison)
    if not finite.all():
        setup.left_out["candidate annotation failed"] = int((~finite).sum())
        for cand in candidates:
            cand.comparison = cand.comparison[finite]
            cand.values_a = None if cand.values_a is None else cand.values_a[finite]
            cand.values_b = None if cand.values_b is None else cand.values_b[finite]
    test_rows = np.flatnonzero(test)[finite]
    terms = setup.terms
    strata = _strata(setup.used.iloc[test_rows], terms, test_rows)
    base = BaseDesign(setup.X[test_rows], setup.properties + terms.names,
                      len(setup.properties), setup.sd, setup.y[test_rows],
                      pd.factorize(_query_keys(setup.used)[test_rows])[0], strata)
    result = select_discoveries(base, candidates, config.selection)
    return Discovery(result, candidates, setup.judge, config.group,
                     setup.used["id"].iloc[test_rows].astype(str).tolist(),
                     int(setup.proposal.sum()), base.names, terms, setup.left_out, setup.notes)


def plan_llm(study, config: DiscoverConfig, llm, *, schema_path: str | Path | None = None
             ) -> tuple[list[Request], int]:
    """Return the LLM requests a run would make now, and how many more wait on answers.

    The proposal requests are always known. Once their answers are in the study's
    log, the rating requests (one per test pair) are known too; until then they are
    counted as waiting. Nothing is sent.
    """
    from ..annotations import query_traits
    from ..pipeline import study_comparisons

    schema = study.schema(schema_path)
    pairs, comparisons = study_comparisons(study, schema)
    setup = _prepare(pairs, study.judgments(), comparisons, config,
                     query_traits(study.query_info()))
    shown, won = _worst(setup, config)
    taken = _taken(schema, config)
    requests = llm.requests(shown, won, taken)
    if llm.client.log.cached_keys([r.key for r in requests]) != {r.key for r in requests}:
        return requests, len(setup.test_pairs)
    props = llm.propose(shown, won, taken, dry=True)  # every answer comes from the log
    return requests + llm.annotation_requests(props, setup.test_pairs), 0


def _schema_text(study, schema_path: str | Path | None) -> str:
    """Return the YAML text of the schema a study uses (its own, a given one, the default)."""
    from importlib import resources

    from ..study import SCHEMA_NAME

    if schema_path is not None and str(schema_path) != DEFAULT_SCHEMA:
        return Path(schema_path).read_text(encoding="utf-8")
    if schema_path is None and study.path(SCHEMA_NAME).exists():
        return study.path(SCHEMA_NAME).read_text(encoding="utf-8")
    return resources.files("prefdissect.schemas").joinpath(f"{DEFAULT_SCHEMA}.yaml") \
        .read_text(encoding="utf-8")


def discover(study, out: str | Path, config: DiscoverConfig | None = None, *,
             schema_path: str | Path | None = None, llm=None) -> Discovery:
    """Run a discovery on a study and write its outputs to ``out`` (see the module docstring)."""
    from ..annotations import query_traits
    from ..pipeline import study_comparisons
    from ..study import Study, prepare_folder

    config = config or DiscoverConfig()
    config.validate()
    out = prepare_folder(out)
    schema = study.schema(schema_path)
    pairs, comparisons = study_comparisons(study, schema)
    discovery = discover_pairs(pairs, study.judgments(), comparisons, schema, config,
                               traits=query_traits(study.query_info()), llm=llm)
    summary = discovery.summary()
    summary["config"] = {**asdict(config), "proposers": list(config.proposers)}
    table = discovery.result.table
    yaml_text = discovered_yaml(_schema_text(study, schema_path), discovery)
    for folder in (Study(out), study):  # every file replaced whole (written, then renamed)
        folder.write_frame("discoveries.csv", table)
        folder.write_json("discovery.json", summary)
    Study(out).write_frame("discovered_annotations.parquet", discovery.annotations())
    tmp = out / f".discovered.yaml.{os.getpid()}.tmp"
    tmp.write_text(yaml_text, encoding="utf-8")
    os.replace(tmp, out / "discovered.yaml")
    return discovery
