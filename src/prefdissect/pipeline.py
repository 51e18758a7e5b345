"""The pipeline's stages run against a study folder: import, annotate, fit.

Each function reads the previous stage's files from the :class:`Study`, writes
its own, and returns what it made, so the CLI (and notebooks) stay thin.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from .annotations import Progress, make_annotator, query_traits
from .annotators.scenario import SOURCE as SCENARIO_SOURCE
from .annotators.scenario import offline_scenarios
from .comparisons import resolve
from .importers import ImportResult, run_import
from .judges import JudgeRun, stats_frame
from .judgments import judgments_to_frame
from .profiles import ALL, FitConfig, FitResult, fit_profiles, probability_preferred
from .properties import PropertySchema
from .study import Study

SCENARIO_NOTE = "scenario groups"

def import_pairs(source: str | Path, format: str, study: Study, *, seed: int = 0) -> ImportResult:
    """Import ``source`` into the study (replacing earlier pairs and later stages)."""
    result = run_import(source, format, seed=seed)
    study.save_import(result)
    return result


def annotate(study: Study, annotator: str = "heuristic", schema: PropertySchema | None = None,
             progress: Progress | None = None, **options: Any) -> pd.DataFrame:
    """Annotate the study's pairs and merge the result into its annotations."""
    schema = schema or study.schema()
    worker = make_annotator(annotator, **options)
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
    pairs = study.pairs()
    if pairs["scenario"].notna().any():
        return {}
    info = offline_scenarios(pairs, study.query_info())
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
    """Run a judge on the study's pairs; merge its judgments, failures and statistics."""
    run = worker.judge(study.pairs(), progress=progress)
    study.save_judgments(judgments_to_frame(run.judgments), [worker.name])
    study.replace_exclusions(run.exclusions, "judge", judge=worker.name)
    stats = stats_frame({worker.name: run})
    path = study.path("judge_stats.csv")
    if path.exists():
        old = pd.read_csv(path)
        stats = pd.concat([old[old["judge"] != worker.name], stats], ignore_index=True)
    study.write_frame("judge_stats.csv", stats)
    return run


def fit(study: Study, schema: PropertySchema | None = None,
        config: FitConfig | None = None) -> FitResult:
    """Resolve comparisons, fit profiles, and write profiles, diagnostics and summary."""
    schema = schema or study.schema()
    pairs = study.pairs()
    info = study.query_info()
    if info is not None and pairs["scenario"].isna().all():
        # the data has no scenarios: use the ones the LLM annotator assigned
        found = info.dropna(subset=["scenario"]).set_index("pair_id")["scenario"]
        pairs = pairs.assign(scenario=pairs["id"].map(found))
    comparisons = resolve(study.annotations(), pairs["id"], schema)
    result = fit_profiles(pairs, study.judgments(), comparisons, config,
                          traits=query_traits(info))
    study.write_frame("comparisons.parquet", comparisons.values.reset_index())
    study.write_frame("profiles.csv", result.profiles)
    study.write_frame("fit_diagnostics.csv", result.diagnostics)
    study.write_frame("fit_quality.csv", result.quality)
    study.replace_exclusions(result.exclusions, "fit")
    study.write_json("summary.json", summarize(study, result, schema, config or FitConfig()))
    return result


@dataclass
class Effect:
    """One property's effect on a judge, on the probability scale."""

    property: str
    label: str
    weight: float
    probability: float
    lower: float
    upper: float


def top_effects(profiles: pd.DataFrame, judge: str, group: str = ALL, k: int = 5,
                labels: dict[str, str] | None = None) -> tuple[list[Effect], list[Effect]]:
    """Return the ``k`` properties that most raise and most lower a judge's preference."""
    rows = profiles[(profiles["judge"] == judge) & (profiles["group"] == group)]
    rows = rows.sort_values("mean", ascending=False)
    labels = labels or {}

    def effect(row: pd.Series) -> Effect:
        return Effect(row["property"], labels.get(row["property"], row["property"]),
                      float(row["mean"]), float(probability_preferred(row["mean"])),
                      float(probability_preferred(row["lower"])),
                      float(probability_preferred(row["upper"])))

    raise_ = [effect(r) for _, r in rows.head(k).iterrows() if r["mean"] > 0]
    lower = [effect(r) for _, r in rows.iloc[::-1].head(k).iterrows() if r["mean"] < 0]
    return raise_, lower


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
        up, down = top_effects(result.profiles, judge, labels=labels)
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
            "raises": [vars(e) for e in up],
            "lowers": [vars(e) for e in down],
            "held_out": quality.iloc[0].drop(["judge", "group"]).to_dict()
            if len(quality) else None,
        }
    return {
        "source": info.get("source"),
        "format": info.get("format"),
        "rows_read": info.get("rows_read"),
        "pairs": info.get("pairs"),
        "import_excluded": dict(Counter(imports["reason"]).most_common()),
        "properties_fitted": result.properties,
        "notes": list(info.get("notes", [])) + result.notes,
        "judges": judges,
        "config": asdict(config),
    }
