"""The pipeline's stages run against a study folder: import, annotate, fit.

Each function reads the previous stage's files from the :class:`Study`, writes
its own, and returns what it made, so the CLI (and notebooks) stay thin.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from .annotations import Progress, make_annotator, query_traits
from .annotators.scenario import SOURCE as SCENARIO_SOURCE
from .annotators.scenario import classify_batches, offline_scenarios
from .comparisons import Comparisons, resolve_batches
from .errors import FitError, UsageError
from .families import family_names, family_spread
from .importers import ImportResult, run_import
from .judges import JudgeRun, judge_warnings, stats_frame
from .judgments import judgments_to_frame
from .pairs import PAIR_COLUMNS, metadata_column
from .profiles import ALL, FitConfig, FitResult, fit_profiles, probability_preferred
from .properties import TRAITS, PropertySchema
from .scores import ScoreConfig, StudyScores, model_scores, published_leaderboard
from .study import Study

SCENARIO_NOTE = "scenario groups"
ANNOTATE_ROWS = 5_000
"""Pairs per batch when an annotator streams: small batches keep the process small
while up to two batches per worker are in flight."""

def import_pairs(source: str | Path, format: str, study: Study, *, seed: int = 0,
                 **options: Any) -> ImportResult:
    """Import ``source`` into the study (replacing earlier pairs and later stages).

    ``options`` go to the importer (``columns``, ``pairs_per_prompt``: see
    :func:`~prefdissect.importers.run_import`).
    """
    result = run_import(source, format, seed=seed, **options)
    study.save_import(result)
    return result


def annotate(study: Study, annotator: str = "heuristic", schema: PropertySchema | None = None,
             progress: Progress | None = None, **options: Any) -> pd.DataFrame | None:
    """Annotate the study's pairs and merge the result into its annotations.

    Returns the merged annotation table, or None for an annotator that streams
    (one with ``annotate_batches``, such as the heuristic one): it reads the pairs
    and writes its annotations a batch at a time and never holds the table.
    """
    schema = schema or study.schema()
    worker = make_annotator(annotator, **options)
    if hasattr(worker, "annotate_batches"):  # streams: texts never all in memory
        columns = ["id", "response_a", "response_b"]
        study.save_annotation_batches(
            worker.annotate_batches(study.pair_batches(columns, ANNOTATE_ROWS), schema,
                                    progress=progress),
            [(worker.name, p) for p in worker.measures(schema)])
        assign_scenarios(study)
        return None
    frame = worker.annotate(study.pairs(), schema, progress=progress)
    if getattr(worker, "query_info_", None) is not None:
        study.save_query_info(worker.query_info_)
    notes = getattr(worker, "notes_", None)
    if notes:
        info = study.info()
        info["notes"] = list(dict.fromkeys([*info.get("notes", []), *notes]))
        study.write_json("study.json", info)
    consistency = getattr(worker, "consistency_", None)
    if consistency is not None and len(consistency):
        study.write_frame("annotation_consistency.csv", consistency)
    merged = study.save_annotations(frame)
    assign_scenarios(study)
    return merged


def assign_scenarios(study: Study) -> dict[str, int]:
    """Give every pair a scenario when the data has none: offline rules, unless known.

    Scenarios the LLM annotator assigned are kept. Returns how many pairs have a
    scenario from each source, which study.json keeps (``scenario_sources``) with
    a note that the summary shows.
    """
    if any(batch["scenario"].notna().any() for batch in study.pair_batches(["scenario"])):
        return {}
    known = study.query_info()
    done = set() if known is None else set(known.loc[known["scenario"].notna(), "pair_id"])
    batches = (b[~b["id"].isin(done)] for b in study.pair_batches(["id", "query"]))
    classified = classify_batches(batches)
    info = offline_scenarios(pd.DataFrame({"id": classified.index}), known, classified)
    study.write_frame("query_info.parquet", info)
    sources = info.dropna(subset=["scenario"])["scenario_source"].value_counts()
    sources = {str(k): int(v) for k, v in sources.items()}
    manifest = study.info()
    notes = [n for n in manifest.get("notes", []) if not n.startswith(SCENARIO_NOTE)]
    if sources.get(SCENARIO_SOURCE):
        notes.append(f"{SCENARIO_NOTE} of {sources[SCENARIO_SOURCE]} pairs come from the "
                     f"{SCENARIO_SOURCE}, about 58% accurate on held-out labelled queries; "
                     "the LLM annotator's query step gives better ones")
    manifest.update(notes=notes, scenario_sources=sources)
    study.write_json("study.json", manifest)
    return sources


def judge(study: Study, worker, progress: Progress | None = None) -> JudgeRun:
    """Run a judge on the study's pairs; merge its judgments, failures and statistics.

    A judge imported with the data is never replaced by one run under its name.
    """
    if worker.name in study.info().get("imported_judges", []):
        raise UsageError(f"'{worker.name}' is a judge imported with the data, and this run "
                         "would replace its labels; give this judge another name with --name")
    run = worker.judge(study.pairs(), progress=progress)
    study.save_judgments(judgments_to_frame(run.judgments), [worker.name])
    study.replace_exclusions(run.exclusions, "judge", judge=worker.name)
    stats = stats_frame({worker.name: run})
    path = study.path("judge_stats.csv")
    if path.exists():
        old = pd.read_csv(path)
        stats = pd.concat([old[old["judge"] != worker.name], stats], ignore_index=True)
    study.write_frame("judge_stats.csv", stats)
    # the judge's warnings (no verdict letters, consistency at chance) are study notes
    mine = f"judge {worker.name}: "
    info = study.info()
    notes = [n for n in info.get("notes", []) if not n.startswith(mine)]
    info["notes"] = notes + [mine + w for w in judge_warnings(run.stats(worker.name))]
    study.write_json("study.json", info)
    return run


def study_comparisons(study: Study, schema: PropertySchema,
                      texts: bool = True) -> tuple[pd.DataFrame, Comparisons]:
    """Return the study's pairs and their comparisons under ``schema``.

    Where the data has no scenarios, the ones an annotator assigned are used.
    The annotation table is read a batch at a time; with ``texts=False`` the
    pairs come without their texts (see :meth:`Study.pairs`).
    """
    pairs = study.pairs_with_scenarios(texts)
    return pairs, resolve_batches(study.annotation_batches, pairs["id"], schema)


def fit(study: Study, schema: PropertySchema | None = None,
        config: FitConfig | None = None) -> FitResult:
    """Resolve comparisons, fit profiles, and write profiles, diagnostics and summary."""
    schema = schema or study.schema()
    pairs, comparisons = study_comparisons(study, schema, texts=False)
    info = study.query_info(["pair_id", "status", *TRAITS])  # not the texts it may hold
    result = fit_profiles(pairs, study.judgments(), comparisons, config,
                          traits=query_traits(info))
    study.write_frame("comparisons.parquet", comparisons.values.reset_index())
    study.write_frame("profiles.csv", result.profiles)
    study.write_frame("terms.csv", result.terms)
    study.write_frame("fit_diagnostics.csv", result.diagnostics)
    study.write_frame("fit_quality.csv", result.quality)
    study.replace_exclusions(result.exclusions, "fit")
    study.write_json("summary.json", summarize(study, result, schema, config or FitConfig()))
    return result


def scores(study: Study, schema: PropertySchema | None = None, judges: list[str] | None = None,
           config: ScoreConfig | None = None, family_map: dict[str, str] | None = None,
           leaderboard: str | Path | None = None) -> StudyScores:
    """Raw and controlled scores of every model, per judge; writes scores.csv and friends.

    Writes ``scores.csv`` (:data:`~prefdissect.scores.SCORE_COLUMNS`, plus
    ``published_raw`` / ``published_lc`` with a ``leaderboard``),
    ``score_components.csv`` and, where models form families
    (:mod:`prefdissect.families`), ``families.csv``. A judge that cannot be
    scored is skipped with a note when no judge was named, and refused when it was.
    """
    published = published_leaderboard(leaderboard) if leaderboard else None  # before the fits
    schema = schema or study.schema()
    pairs, comparisons = study_comparisons(study, schema)
    judgments = study.judgments()
    present = list(dict.fromkeys(judgments["judge"]))
    unknown = [j for j in judges or [] if j not in present]
    if unknown:
        raise UsageError(f"--judge {', '.join(unknown)}: not in this study; judges: "
                         f"{', '.join(present)}")
    results, skipped = {}, {}
    for judge in judges or present:
        try:
            results[judge] = model_scores(pairs, judgments, comparisons, judge, config)
        except FitError as exc:
            if judges:  # asked for by name: say why it cannot be scored
                raise
            skipped[judge] = str(exc)
    if not results:
        raise FitError("no judge can be scored: " + "; ".join(skipped.values()))
    families = []
    for result in results.values():
        names = family_names(list(result.scores["model"]), family_map)
        result.scores["family"] = result.scores["model"].map(names)
        if published is not None:
            result.scores = result.scores.merge(published, on="model", how="left")
        families.append(family_spread(result.scores, family_map))
    found = pd.concat(families, ignore_index=True)
    study.write_frame("scores.csv", pd.concat([r.scores for r in results.values()],
                                              ignore_index=True))
    study.write_frame("score_components.csv",
                      pd.concat([r.components for r in results.values()], ignore_index=True))
    if found.empty:
        study.path("families.csv").unlink(missing_ok=True)
    else:
        study.write_frame("families.csv", found)
    return StudyScores(results, found, [f"{judge} not scored: {why}"
                                        for judge, why in skipped.items()])


def check_targets(pairs: pd.DataFrame, judgments: pd.DataFrame, config: FitConfig,
                  extra_judges: list[str] | tuple[str, ...] = ()) -> None:
    """Check the fit's judges and group columns against the data, before any work on it.

    ``extra_judges`` are judges that will be run on the pairs (they are not in
    ``judgments`` yet).
    """
    known = list(dict.fromkeys([*judgments["judge"], *extra_judges]))
    missing = [j for j in config.judges or [] if j not in known]
    if missing:
        raise UsageError(f"--judge {', '.join(missing)}: not in this data; judges found: "
                         f"{', '.join(known) or 'none'}")
    for name in config.group_by or []:
        values = pairs[name] if name in PAIR_COLUMNS else metadata_column(pairs, name)
        if values.isna().all():
            keys = sorted({k for text in pairs["metadata"].dropna() for k in json.loads(text)})
            raise UsageError(f"--group-by {name}: no pair has a column or metadata key "
                             f"'{name}'; metadata keys in this data: "
                             f"{', '.join(keys[:20]) or 'none'}")


StageProgress = Callable[[str, "int | None"], AbstractContextManager["Progress | None"]]
"""Makes one stage's progress display: called with a label and the number of items (None
when unknown), it returns a context manager that yields the callback the stage calls with
each batch of finished items (or None for no display)."""


@contextmanager
def no_progress(label: str, total: int | None) -> Iterator[None]:
    """Show no progress (the :data:`StageProgress` a stage uses when given none)."""
    yield None


@dataclass
class AnnotationRun:
    """What one annotator did to a study."""

    annotator: str
    """The annotator's registered name."""
    pairs: int
    """Pairs it was run on."""
    values: int
    """Annotation rows it holds in the study (one per pair and property)."""
    failed: int
    """Of those, values that failed (kept with their reasons)."""


@dataclass
class Dissection:
    """What :func:`dissect` did: each stage's record, in order."""

    imported: ImportResult
    """The import (pairs, judgments, exclusions, notes)."""
    annotated: list[AnnotationRun]
    """One record per annotator run."""
    judged: dict[str, JudgeRun]
    """Judge name -> its run, for each judge run on the pairs."""
    fit: FitResult
    """The profiles and their diagnostics."""
    summary: dict[str, Any]
    """The summary `dissect` prints (also ``summary.json``)."""


def dissect(source: str | Path, format: str, study: Study, *,
            annotators: list[str] | tuple[str, ...] = ("heuristic",),
            annotator_options: dict[str, dict[str, Any]] | None = None,
            judges: list | tuple = (), schema: PropertySchema | None = None,
            config: FitConfig | None = None, seed: int = 0,
            import_options: dict[str, Any] | None = None,
            progress: StageProgress | None = None) -> Dissection:
    """Import, annotate, judge and fit in one go: the whole pipeline on one source.

    Parameters
    ----------
    source, format
        What to import, and the registered importer that reads it.
    study
        The study to write (the caller holds its lock and has checked it may be
        written, :meth:`Study.check_import_target`).
    annotators
        Registered annotators to run, in order.
    annotator_options
        Annotator name -> keyword arguments for it (the LLM annotator's client,
        model, ...).
    judges
        Judges to run on every pair (objects with ``name`` and ``judge(pairs,
        progress)``, e.g. the registry's ``llm`` or ``reward`` judges).
    schema
        The property schema; None: the study's own (the default one plus any
        properties the import brought).
    config
        Fit settings; its ``judges`` and ``group_by`` are checked against the
        imported data before anything else is written.
    seed
        Seed of the import (sources whose order it randomises).
    import_options
        Options for the importer (``columns``, ``pairs_per_prompt``: see
        :func:`~prefdissect.importers.run_import`).
    progress
        Progress displays for the long stages (:data:`StageProgress`).

    Returns
    -------
    Dissection
        Each stage's record and the fit's summary.
    """
    config = config or FitConfig()
    progress = progress or no_progress
    result = run_import(source, format, seed=seed, **(import_options or {}))
    check_targets(result.pair_frame(texts=False), result.judgment_frame(), config,
                  [w.name for w in judges])
    study.save_import(result)
    schema = schema or study.schema()  # the import may have brought properties
    annotated = []
    for name in annotators:
        options = (annotator_options or {}).get(name, {})
        # work through an LLM client counts requests (total unknown); the rest, pairs
        total = None if options.get("client") is not None else len(result.pairs)
        with progress(f"annotating with {name}", total) as advance:
            annotate(study, name, schema, progress=advance, **options)
        annotated.append(AnnotationRun(name, len(result.pairs),
                                       *study.annotation_counts(name)))
    judged = {}
    for worker in judges:
        total = None if getattr(worker, "client", None) is not None else len(result.pairs)
        with progress(f"judging with {worker.name}", total) as advance:
            judged[worker.name] = judge(study, worker, progress=advance)
    fitted = fit(study, schema, config)
    return Dissection(result, annotated, judged, fitted, fit_summary(study))


def fit_summary(study: Study) -> dict[str, Any]:
    """Return the summary of the study's last fit (``summary.json``, see :func:`summarize`)."""
    path = study.path("summary.json")
    if not path.exists():
        raise UsageError(f"{study.root}: no summary.json yet; run `prefdissect fit` first")
    return json.loads(path.read_text(encoding="utf-8"))


@dataclass
class Effect:
    """One property's effect on a judge, on the probability scale."""

    property: str
    label: str
    weight: float
    probability: float
    lower: float
    upper: float

    @property
    def credible(self) -> bool:
        """Whether the interval excludes 50% (no effect)."""
        return self.lower > 0.5 or self.upper < 0.5


def _effect(row: pd.Series, labels: dict[str, str]) -> Effect:
    return Effect(row["property"], labels.get(row["property"], row["property"]),
                  float(row["mean"]), float(probability_preferred(row["mean"])),
                  float(probability_preferred(row["lower"])),
                  float(probability_preferred(row["upper"])))


def top_effects(profiles: pd.DataFrame, judge: str, group: str = ALL, k: int | None = 5,
                labels: dict[str, str] | None = None
                ) -> tuple[list[Effect], list[Effect], list[Effect]]:
    """Return a judge's effects in one group: credibly raising, credibly lowering, unclear.

    An effect is credible when its interval excludes 50%; up to ``k`` of each
    direction are returned, strongest first (``k`` None: all), and the properties
    whose interval includes 50% as unclear.
    """
    rows = profiles[(profiles["judge"] == judge) & (profiles["group"] == group)]
    effects = [_effect(r, labels or {}) for _, r in rows.sort_values(
        "mean", ascending=False).iterrows()]
    up = [e for e in effects if e.credible and e.weight > 0][:k]
    down = [e for e in reversed(effects) if e.credible and e.weight < 0][:k]
    unclear = [e for e in effects if not e.credible]
    return up, down, unclear


def _term_summary(terms: pd.DataFrame, judge: str, group: str = ALL) -> list[dict[str, Any]]:
    rows = terms[(terms["judge"] == judge) & (terms["group"] == group)]
    return [{"term": r.term, "kind": r.kind, "mean": float(r.mean), "lower": float(r.lower),
             "upper": float(r.upper), "n_pairs": int(r.n_pairs)}
            for r in rows.sort_values("mean", ascending=False).itertuples()]


def _groups_summary(result: FitResult, judge: str, labels: dict[str, str]) -> list[dict]:
    """One compact line per fitted group other than 'all'."""
    out = []
    diagnostics = result.diagnostics[result.diagnostics["judge"] == judge]
    quality = result.quality[result.quality["judge"] == judge].set_index("group")
    for row in diagnostics.itertuples():
        if row.group == ALL:
            continue
        up, down, _ = top_effects(result.profiles, judge, row.group, k=3, labels=labels)
        held = quality.loc[row.group] if row.group in quality.index else None
        out.append({
            "group": row.group, "n_pairs": int(row.n_pairs),
            "accuracy": None if held is None else _number(held["model_accuracy"]),
            "length_accuracy": None if held is None else _number(held["length_accuracy"]),
            "raises": [[e.label, e.probability] for e in up],
            "lowers": [[e.label, e.probability] for e in down]})
    return out


def _number(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def summarize(study: Study, result: FitResult, schema: PropertySchema,
              config: FitConfig) -> dict[str, Any]:
    """Build the summary that `dissect` and `fit` print (also saved as summary.json)."""
    info = study.info()
    recorded = study.exclusions()
    imports = recorded[recorded["stage"] == "import"]
    judge_failures = recorded[recorded["stage"] == "judge"]["judge"].value_counts()
    labels = schema.labels()
    judges = {}
    for judge, n_used in result.used.items():
        up, down, unclear = top_effects(result.profiles, judge, k=None, labels=labels)
        excluded = Counter(x.reason for x in result.exclusions if x.judge == judge)
        groups = result.diagnostics[result.diagnostics["judge"] == judge]
        quality = result.quality[(result.quality["judge"] == judge)
                                 & (result.quality["group"] == ALL)]
        judges[judge] = {
            "pairs_used": n_used,
            "excluded": dict(excluded.most_common()),
            "judge_failed": int(judge_failures.get(judge, 0)),
            "groups": int(len(groups)),
            "not_converged": int((~groups["converged"].astype(bool)).sum()),
            "raises": [asdict(e) for e in up],
            "lowers": [asdict(e) for e in down],
            "unclear": [asdict(e) for e in unclear],
            "terms": _term_summary(result.terms, judge),
            "held_out": {k: (_number(v) if k not in ("judge", "group") else v)
                         for k, v in quality.iloc[0].to_dict().items()}
            if len(quality) else None,
            "other_groups": _groups_summary(result, judge, labels),
        }
    design = result.term_design
    return {
        "source": info.get("source"),
        "format": info.get("format"),
        "rows_read": info.get("rows_read"),
        "pairs": info.get("pairs"),
        "import_excluded": dict(Counter(imports["reason"]).most_common()),
        "properties_fitted": result.properties,
        "properties_unmeasured": result.unmeasured,
        "model_terms": None if design is None else {
            "kind": design.kind, "reason": design.reason, "anchor": design.anchor,
            "terms": design.width},
        "notes": list(info.get("notes", [])) + result.notes,
        "judges": judges,
        "config": asdict(config),
    }
