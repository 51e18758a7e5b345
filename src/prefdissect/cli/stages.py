"""Pipeline commands: import, annotate, fit, and dissect (all three at once)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from . import console, literal
from .options import (
    AnchorOpt,
    AttemptsOpt,
    BaseUrlOpt,
    ConcurrencyOpt,
    DryOpt,
    EngineOpt,
    ExportOpt,
    FoldsOpt,
    FormatOpt,
    GroupOpt,
    JudgeOpt,
    KeyOpt,
    MaxTokensOpt,
    MinPairsOpt,
    MissingOpt,
    ModelOpt,
    OutOpt,
    PaperOpt,
    PricesOpt,
    SchemaOpt,
    SeedOpt,
    SoftOpt,
    TermsOpt,
    ThreadsOpt,
    TimeoutOpt,
)

AnnotatorOpt = Annotated[str, typer.Option("--annotator", "-a", help="Annotator; see "
                                           "`prefdissect annotators`.")]


def _annotate_with_progress(study, annotator: str, schema_path: str | None) -> None:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from .. import pipeline
    from ..properties import load_schema

    schema = load_schema(schema_path)
    total = len(study.pairs())
    with Progress(TextColumn("annotating ({task.fields[name]})"), BarColumn(),
                  MofNCompleteColumn(), TimeElapsedColumn(), console=console,
                  transient=True) as bar:
        task = bar.add_task("annotate", total=total, name=annotator)
        pipeline.annotate(study, annotator, schema,
                          progress=lambda n: bar.advance(task, n))
    console.print(f"annotated {total} pairs with '{literal(annotator)}'", highlight=False)


def _config(judge, group_by, engine, soft_labels, min_pairs, folds, paper, seed, max_missing,
            model_terms, anchor_model, threads):
    """Build and check the fit settings (before any work starts)."""
    from .. import registry
    from ..profiles import FitConfig

    registry.get("engine", engine)
    config = FitConfig(group_by=list(group_by or []), judges=list(judge) if judge else None,
                       engine=engine, soft_labels=soft_labels, min_pairs=min_pairs,
                       folds=folds, average_folds=paper, seed=seed, max_missing=max_missing,
                       model_terms=model_terms, anchor_model=anchor_model, threads=threads)
    config.validate()
    return config


def import_command(source: Annotated[Path, typer.Argument(help="File or folder to import.")],
                   out: OutOpt, format: FormatOpt = "pairs", seed: SeedOpt = 0) -> None:
    """Import pairs and any judge labels into a study folder."""
    from .. import pipeline
    from ..study import Study

    with Study(out).lock("import") as target:
        result = pipeline.import_pairs(source, format, target, seed=seed)
    console.print(f"imported {len(result.pairs)} pairs and {len(result.judgments)} judgments "
                  f"from {result.rows_read} source rows into {out}", highlight=False)
    if result.exclusions:
        console.print(f"{len(result.exclusions)} items left out (see {out}/exclusions.csv)",
                      highlight=False)
    for note in result.notes:
        console.print(f"[dim]note: {literal(note)}[/]", highlight=False)


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
    from ..study import Study

    with Study(study).lock("annotate") as target:
        _annotate(target, annotator, schema, from_file, model, base_url, api_key,
                  reference_model, steps, structured, swap_check, prompts, max_tokens,
                  concurrency, timeout, max_attempts, prices, dry_run, batch_export)


def _annotate(target, annotator, schema, from_file, model, base_url, api_key, reference_model,
              steps, structured, swap_check, prompts, max_tokens, concurrency, timeout,
              max_attempts, prices, dry_run, batch_export) -> None:
    import pandas as pd

    from .. import registry
    from ..annotations import check_annotations
    from ..errors import UsageError
    from ..llm.batch import export_batch
    from ..properties import load_schema
    from ..readers import iter_records
    from .llm import llm_annotator_options, make_client, print_plan, run_llm_annotation

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
    client = make_client(target.root, base_url, api_key, concurrency, timeout, max_attempts,
                         prices)
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


def fit_command(study: Annotated[Path, typer.Argument(help="Study folder.")],
                judge: JudgeOpt = None, group_by: GroupOpt = None, schema: SchemaOpt = None,
                engine: EngineOpt = "ep", soft_labels: SoftOpt = False,
                min_pairs: MinPairsOpt = 20, folds: FoldsOpt = 10,
                paper_protocol: PaperOpt = False, max_missing: MissingOpt = 0.2,
                model_terms: TermsOpt = "auto", anchor_model: AnchorOpt = None,
                threads: ThreadsOpt = 1, seed: SeedOpt = 0) -> None:
    """Fit each judge's profile per group and print what it rewards."""
    from .. import pipeline
    from ..properties import load_schema
    from ..study import Study
    from .render import print_summary

    config = _config(judge, group_by, engine, soft_labels, min_pairs, folds, paper_protocol,
                     seed, max_missing, model_terms, anchor_model, threads)
    schema_obj = load_schema(schema)
    with Study(study).lock("fit") as target:
        pipeline.fit(target, schema_obj, config)
    print_summary(console, json.loads(target.path("summary.json").read_text()), str(study))


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
            model_terms: TermsOpt = "auto", anchor_model: AnchorOpt = None,
            threads: ThreadsOpt = 1, seed: SeedOpt = 0) -> None:
    """Import, annotate (and judge) and fit in one go; writes OUT/profiles.csv and a summary."""
    from .. import registry
    from ..properties import load_schema
    from ..study import Study

    schema_obj = load_schema(schema)  # fail early on bad options
    config = _config(judge, group_by, engine, soft_labels, min_pairs, folds, paper_protocol,
                     seed, max_missing, model_terms, anchor_model, threads)
    annotators = list(annotator or ["heuristic"])
    for name in annotators:
        registry.get("annotator", name)
    with Study(out).lock("dissect") as target:
        _dissect(target, source, format, judge, annotators, llm_judge, model, base_url,
                 api_key, reference_model, max_tokens, concurrency, timeout, max_attempts,
                 schema, schema_obj, config, seed)


def _dissect(target, source, format, judge, annotators, llm_judge, model, base_url, api_key,
             reference_model, max_tokens, concurrency, timeout, max_attempts, schema,
             schema_obj, config, seed) -> None:
    from .. import pipeline, registry
    from ..errors import UsageError
    from .llm import llm_annotator_options, make_client, run_llm_annotation, run_llm_judge
    from .render import print_summary

    needs_llm = "llm" in annotators or bool(llm_judge)
    result = pipeline.import_pairs(source, format, target, seed=seed)
    console.print(f"imported {len(result.pairs)} pairs, {len(result.judgments)} judgments",
                  highlight=False)
    client = make_client(target.root, base_url, api_key, concurrency, timeout, max_attempts,
                         None) if needs_llm else None
    for name in annotators:
        if name == "llm":
            run_llm_annotation(target, llm_annotator_options(
                client, model, reference_model=reference_model,
                steps="query,free,aware,specific,errors", structured=True, swap_check=False,
                prompts=None, max_tokens=max_tokens), schema_obj)
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
    print_summary(console, json.loads(target.path("summary.json").read_text()),
                  str(target.root))


def formats() -> None:
    """List the source formats `import` and `dissect` read."""
    from rich.table import Table

    from .. import registry

    table = Table("format", "reads", box=None)
    for entry in registry.entries("importer"):
        table.add_row(entry.name, entry.summary)
    console.print(table)


def annotators() -> None:
    """List the registered annotators."""
    from rich.table import Table

    from .. import registry

    table = Table("annotator", "what it does", box=None)
    for entry in registry.entries("annotator"):
        table.add_row(entry.name, entry.summary)
    console.print(table)


def properties(schema: SchemaOpt = None,
               show_yaml: Annotated[bool, typer.Option("--show-yaml", help="Print the schema "
                                                       "file itself.")] = False) -> None:
    """Show the property schema (default: the paper's 29)."""
    from rich.table import Table

    from ..properties import load_schema

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
        table.add_row(str(i), literal(prop.name), prop.rule, prop.applies_when or "always",
                      literal(prop.description))
    console.print(table)
