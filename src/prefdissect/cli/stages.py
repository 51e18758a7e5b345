"""Pipeline commands: import, annotate, fit, and dissect (all three at once)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from .. import pipeline, registry
from ..annotations import check_annotations
from ..errors import UsageError
from ..llm.batch import export_batch
from ..profiles import FitConfig
from ..properties import load_schema
from ..readers import iter_records
from ..study import Study
from . import app, console
from .llm import (
    AttemptsOpt,
    BaseUrlOpt,
    ConcurrencyOpt,
    DryOpt,
    ExportOpt,
    KeyOpt,
    MaxTokensOpt,
    ModelOpt,
    PricesOpt,
    TimeoutOpt,
    llm_annotator_options,
    make_client,
    print_plan,
    run_llm_annotation,
    run_llm_judge,
)
from .render import print_summary

FormatOpt = Annotated[str, typer.Option("--format", "-f", help="Source format; see "
                                        "`prefdissect formats`.")]
OutOpt = Annotated[Path, typer.Option("--out", "-o", help="Study folder to write.")]
SchemaOpt = Annotated[str | None, typer.Option(
    "--schema", help="Property schema YAML (default: the paper's 29).")]
JudgeOpt = Annotated[list[str] | None, typer.Option(
    "--judge", "-j", help="Judge to fit (repeat for several; default: all).")]
GroupOpt = Annotated[list[str] | None, typer.Option(
    "--group-by", "-g", help="Pair column or metadata key to fit one group per value of "
    "(repeatable); 'all' and any scenario column are always fitted.")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed for anything random (order "
                                      "randomisation of sources that store the winner first).")]
AnnotatorOpt = Annotated[str, typer.Option("--annotator", "-a", help="Annotator; see "
                                           "`prefdissect annotators`.")]
EngineOpt = Annotated[str, typer.Option("--engine", help="Fitting engine.")]
SoftOpt = Annotated[bool, typer.Option("--soft-labels", help="Fit the judge's P(A) where it "
                                       "gives one, instead of its hard choice.")]
MinPairsOpt = Annotated[int, typer.Option("--min-pairs", help="Skip groups with fewer "
                                          "usable pairs.")]
FoldsOpt = Annotated[int, typer.Option("--folds", help="Folds for held-out accuracy against "
                                       "null baselines (0: none).")]
PaperOpt = Annotated[bool, typer.Option("--paper-protocol", help="Report the mean of the "
                                        "10 folds' posterior means, as the paper did.")]
MissingOpt = Annotated[float, typer.Option(
    "--max-missing", help="Leave out properties whose annotation failed for more than this "
    "share of pairs (instead of leaving out those pairs).")]


def _annotate_with_progress(study: Study, annotator: str, schema_path: str | None) -> None:
    schema = load_schema(schema_path)
    total = len(study.pairs())
    with Progress(TextColumn("annotating ({task.fields[name]})"), BarColumn(),
                  MofNCompleteColumn(), TimeElapsedColumn(), console=console,
                  transient=True) as bar:
        task = bar.add_task("annotate", total=total, name=annotator)
        pipeline.annotate(study, annotator, schema,
                          progress=lambda n: bar.advance(task, n))
    console.print(f"annotated {total} pairs with '{annotator}'", highlight=False)


def _config(judge, group_by, engine, soft_labels, min_pairs, folds, paper,
            seed=0, max_missing=0.2) -> FitConfig:
    if paper and folds < 2:
        raise UsageError("--paper-protocol averages over folds; give --folds 2 or more")
    return FitConfig(group_by=list(group_by or []), judges=list(judge) if judge else None,
                     engine=engine, soft_labels=soft_labels, min_pairs=min_pairs,
                     folds=folds, average_folds=paper, seed=seed, max_missing=max_missing)


@app.command("import")
def import_command(source: Annotated[Path, typer.Argument(help="File or folder to import.")],
                   out: OutOpt, format: FormatOpt = "pairs", seed: SeedOpt = 0) -> None:
    """Import pairs and any judge labels into a study folder."""
    result = pipeline.import_pairs(source, format, Study(out), seed=seed)
    console.print(f"imported {len(result.pairs)} pairs and {len(result.judgments)} judgments "
                  f"from {result.rows_read} source rows into {out}", highlight=False)
    if result.exclusions:
        console.print(f"{len(result.exclusions)} items left out (see {out}/exclusions.csv)",
                      highlight=False)
    for note in result.notes:
        console.print(f"[dim]note: {note}[/]", highlight=False)


@app.command()
def annotate(study: Annotated[Path, typer.Argument(help="Study folder.")],
             annotator: AnnotatorOpt = "heuristic", schema: SchemaOpt = None,
             from_file: Annotated[Path | None, typer.Option(
                 "--from", help="Bring your own annotations: a CSV / Parquet / JSONL table with "
                 "pair_id, property, value_a, value_b[, status, reason, annotator].")] = None,
             model: ModelOpt = None, base_url: BaseUrlOpt = None, api_key: KeyOpt = None,
             reference_model: Annotated[str | None, typer.Option(
                 "--reference-model", help="LLM: model that writes reference answers for the "
                 "error check where pairs have none (default: --model).")] = None,
             steps: Annotated[str, typer.Option(
                 "--steps", help="LLM: comma-separated steps to run.")]
             = "query,free,aware,specific,errors",
             structured: Annotated[bool, typer.Option(
                 "--structured/--no-structured", help="LLM: ask the server for "
                 "schema-constrained JSON.")] = True,
             swap_check: Annotated[bool, typer.Option(
                 "--swap-check", help="LLM: also rate with A and B exchanged; report each "
                 "property's flip rate.")] = False,
             prompts: Annotated[Path | None, typer.Option(
                 "--prompts", help="LLM: YAML replacing the built-in annotation prompts.")]
             = None,
             max_tokens: MaxTokensOpt = None,
             concurrency: ConcurrencyOpt = 8, timeout: TimeoutOpt = 60.0,
             max_attempts: AttemptsOpt = 5, prices: PricesOpt = None, dry_run: DryOpt = False,
             batch_export: ExportOpt = None) -> None:
    """Annotate a study's pairs on the schema's properties (heuristic, LLM, or your own)."""
    target = Study(study)
    if from_file is not None:
        frame = pd.DataFrame([record for _, record in iter_records(from_file)])
        frame = check_annotations(frame, str(from_file))
        frame["annotator"] = frame["annotator"].fillna(from_file.stem)
        target.save_annotations(frame)
        console.print(f"added {len(frame)} annotations from {from_file}", highlight=False)
        return
    if annotator != "llm":
        if dry_run or batch_export:
            raise UsageError(f"--dry-run and --batch-export apply to the llm annotator, not "
                             f"'{annotator}'")
        _annotate_with_progress(target, annotator, schema)
        return
    client = make_client(study, base_url, api_key, concurrency, timeout, max_attempts, prices)
    options = llm_annotator_options(client, model, reference_model, steps, structured,
                                    swap_check, prompts, max_tokens)
    schema_obj = load_schema(schema)
    if dry_run or batch_export:
        worker = registry.get("annotator", "llm").factory(**options)
        pairs = target.pairs()
        if dry_run:
            print_plan(*worker.plan(pairs, schema_obj))
        else:
            count = export_batch(worker.requests(pairs, schema_obj), batch_export, client.log)
            _, waiting = worker.plan(pairs, schema_obj)
            console.print(f"wrote {count} requests to {batch_export}; {waiting} more depend "
                          "on their answers: import the results and export again",
                          highlight=False)
        return
    run_llm_annotation(target, options, schema_obj)


@app.command("fit")
def fit_command(study: Annotated[Path, typer.Argument(help="Study folder.")],
                judge: JudgeOpt = None, group_by: GroupOpt = None, schema: SchemaOpt = None,
                engine: EngineOpt = "ep", soft_labels: SoftOpt = False,
                min_pairs: MinPairsOpt = 20, folds: FoldsOpt = 10,
                paper_protocol: PaperOpt = False, max_missing: MissingOpt = 0.2,
                seed: SeedOpt = 0) -> None:
    """Fit each judge's profile per group and print what it rewards."""
    target = Study(study)
    pipeline.fit(target, load_schema(schema),
                 _config(judge, group_by, engine, soft_labels, min_pairs, folds,
                         paper_protocol, seed, max_missing))
    print_summary(console, json.loads(target.path("summary.json").read_text()), str(study))


@app.command()
def dissect(source: Annotated[Path, typer.Argument(help="File or folder of judged pairs.")],
            out: OutOpt, format: FormatOpt = "pairs", judge: JudgeOpt = None,
            group_by: GroupOpt = None,
            annotator: Annotated[list[str] | None, typer.Option(
                "--annotator", "-a", help="Annotator(s) to run (repeatable): heuristic, llm.")]
            = None,
            llm_judge: Annotated[list[str] | None, typer.Option(
                "--llm-judge", help="Also judge every pair with this model (repeatable), "
                "on the --base-url server, in both orders.")] = None,
            model: ModelOpt = None, base_url: BaseUrlOpt = None, api_key: KeyOpt = None,
            reference_model: Annotated[str | None, typer.Option(
                "--reference-model", help="LLM: model that writes reference answers.")] = None,
            max_tokens: MaxTokensOpt = None, concurrency: ConcurrencyOpt = 8,
            timeout: TimeoutOpt = 60.0, max_attempts: AttemptsOpt = 5,
            schema: SchemaOpt = None, engine: EngineOpt = "ep", soft_labels: SoftOpt = False,
            min_pairs: MinPairsOpt = 20, folds: FoldsOpt = 10,
            paper_protocol: PaperOpt = False, max_missing: MissingOpt = 0.2,
            seed: SeedOpt = 0) -> None:
    """Import, annotate (and judge) and fit in one go; writes OUT/profiles.csv and a summary."""
    target = Study(out)
    schema_obj = load_schema(schema)  # fail early on bad options
    config = _config(judge, group_by, engine, soft_labels, min_pairs, folds, paper_protocol,
                     seed, max_missing)
    annotators = list(annotator or ["heuristic"])
    needs_llm = "llm" in annotators or bool(llm_judge)
    for name in annotators:
        registry.get("annotator", name)
    result = pipeline.import_pairs(source, format, target, seed=seed)
    console.print(f"imported {len(result.pairs)} pairs, {len(result.judgments)} judgments",
                  highlight=False)
    client = make_client(out, base_url, api_key, concurrency, timeout, max_attempts, None) \
        if needs_llm else None
    for name in annotators:
        if name == "llm":
            run_llm_annotation(target, llm_annotator_options(
                client, model, reference_model, "query,free,aware,specific,errors", True,
                False, None, max_tokens), schema_obj)
        else:
            _annotate_with_progress(target, name, schema)
    for judge_model in llm_judge or []:
        run_llm_judge(target, registry.get("judge", "llm").factory(client, judge_model))
    if judge:
        known = set(target.judgments()["judge"])
        missing = [j for j in judge if j not in known]
        if missing:
            raise UsageError(f"--judge {', '.join(missing)}: not in this data; judges found: "
                             f"{', '.join(sorted(known))}")
    pipeline.fit(target, schema_obj, config)
    print_summary(console, json.loads(target.path("summary.json").read_text()), str(out))


@app.command()
def formats() -> None:
    """List the source formats `import` and `dissect` read."""
    table = Table("format", "reads", box=None)
    for entry in registry.entries("importer"):
        table.add_row(entry.name, entry.summary)
    console.print(table)


@app.command()
def annotators() -> None:
    """List the registered annotators."""
    table = Table("annotator", "what it does", box=None)
    for entry in registry.entries("annotator"):
        table.add_row(entry.name, entry.summary)
    console.print(table)


@app.command()
def properties(schema: SchemaOpt = None,
               show_yaml: Annotated[bool, typer.Option("--show-yaml", help="Print the schema "
                                                       "file itself.")] = False) -> None:
    """Show the property schema (default: the paper's 29)."""
    if show_yaml:
        from importlib import resources

        path = schema or None
        text = (Path(path).read_text() if path else resources.files("prefdissect.schemas")
                .joinpath("paper29.yaml").read_text())
        console.print(text, markup=False, highlight=False)
        return
    loaded = load_schema(schema)
    table = Table("#", "name", "rule", "applies when", "description", box=None)
    for i, prop in enumerate(loaded.properties):
        table.add_row(str(i), prop.name, prop.rule, prop.applies_when or "always",
                      prop.description)
    console.print(table)
