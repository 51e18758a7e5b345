"""Pipeline commands: import, annotate, fit, and dissect (all three at once)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from . import console, literal
from .options import (
    AnchorOpt,
    AttemptsOpt,
    BaseUrlOpt,
    ColumnsOpt,
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
    MaxWaitOpt,
    MinPairsOpt,
    MissingOpt,
    ModelOpt,
    OutOpt,
    OverwriteOpt,
    PairsPerPromptOpt,
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

    schema = study.schema(schema_path)
    total = study.pair_count()
    with Progress(TextColumn("annotating ({task.fields[name]})"), BarColumn(),
                  MofNCompleteColumn(), TimeElapsedColumn(), console=console,
                  transient=True) as bar:
        task = bar.add_task("annotate", total=total, name=annotator)
        pipeline.annotate(study, annotator, schema,
                          progress=lambda n: bar.advance(task, n))
    console.print(f"annotated {total} pairs with '{literal(annotator)}'", highlight=False)


def _check_source(source: Path) -> None:
    from ..errors import UsageError

    if not source.exists():
        raise UsageError(f"{source} does not exist; check the path")


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
    if paper:
        from ..protocol import paper_protocol

        config = paper_protocol(config)
    config.validate()
    return config


def import_command(source: Annotated[Path, typer.Argument(help="File or folder to import.")],
                   out: OutOpt, format: FormatOpt = "pairs", seed: SeedOpt = 0,
                   columns: ColumnsOpt = None, pairs_per_prompt: PairsPerPromptOpt = None,
                   overwrite: OverwriteOpt = False) -> None:
    """Import pairs and any judge labels into a study folder."""
    from .. import pipeline
    from ..importers import check_options
    from ..study import Study

    options = check_options(format, columns=columns, pairs_per_prompt=pairs_per_prompt)
    _check_source(source)
    with Study(out).lock("import") as target:
        target.check_import_target(source, format, seed, overwrite)
        result = pipeline.import_pairs(source, format, target, seed=seed, **options)
    console.print(f"imported {len(result.pairs)} pairs and {len(result.judgments)} judgments "
                  f"from {result.rows_read} source rows into {literal(out)}", highlight=False)
    if result.exclusions:
        console.print(f"{len(result.exclusions)} items left out (see "
                      f"{literal(out / 'exclusions.csv')})", highlight=False)
    for note in result.notes:
        console.print(f"[dim]note: {literal(note)}[/]", highlight=False)
    if result.judge_stats:
        console.print("position consistency of judges asked in both orders (see "
                      "judge_stats.csv): " + ", ".join(
                          f"{literal(row['judge'])} {100 * row['position_consistency']:.1f}%"
                          for row in result.judge_stats), highlight=False)


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
             max_attempts: AttemptsOpt = 5, max_wait: MaxWaitOpt = 60.0,
             prices: PricesOpt = None, dry_run: DryOpt = False,
             batch_export: ExportOpt = None,
             plan: Annotated[str, typer.Option(
                 "--plan", help="LLM: five-step (the paper's: up to five requests per pair) "
                 "or one-call (one request per pair for every property; stored as annotator "
                 "llm-onecall).")] = "five-step") -> None:
    """Annotate a study's pairs on the schema's properties (heuristic, LLM, or your own)."""
    from ..study import Study
    from .llm import one_call_annotator

    annotator = one_call_annotator(annotator, plan, steps, swap_check, reference_model)
    with Study(study).lock("annotate", create=False) as target:
        _annotate(target, annotator, schema, from_file, model, base_url, api_key,
                  reference_model, steps, structured, swap_check, prompts, max_tokens,
                  concurrency, timeout, max_attempts, max_wait, prices, dry_run, batch_export)


def _annotate(target, annotator, schema, from_file, model, base_url, api_key, reference_model,
              steps, structured, swap_check, prompts, max_tokens, concurrency, timeout,
              max_attempts, max_wait, prices, dry_run, batch_export) -> None:
    from .. import registry
    from ..annotations import check_measured, read_user_annotations
    from ..errors import UsageError
    from ..llm.batch import export_batch
    from ..llm.client import Prices
    from .llm import (
        check_base_url,
        finish,
        llm_annotator_options,
        make_client,
        print_plan,
        run_llm_annotation,
    )

    schema_obj = target.schema(schema)
    if from_file is not None:
        frame = read_user_annotations(from_file, target.pairs()["id"], schema_obj.names)
        frame["annotator"] = frame["annotator"].fillna(from_file.stem)
        target.save_annotations(frame)
        console.print(f"added {len(frame)} annotations from {literal(from_file)}",
                      highlight=False)
        return
    registry.get("annotator", annotator)
    llm_kind = annotator in ("llm", "llm-onecall")
    if not llm_kind and (dry_run or batch_export):
        raise UsageError(f"--dry-run and --batch-export apply to the llm annotator, not "
                         f"'{annotator}'")
    done = target.annotated_properties()
    check_measured(schema_obj, [annotator], done, schema)
    if not llm_kind:
        _annotate_with_progress(target, annotator, schema)
        return
    pairs = target.pairs()
    check_base_url(base_url)
    Prices.load(prices)
    options = llm_annotator_options(None, model, reference_model, steps, structured,
                                    swap_check, prompts, max_tokens, plan=annotator)
    registry.get("annotator", annotator).factory(**options)  # checks the prompt file
    options["client"] = client = make_client(target.root, base_url, api_key, concurrency,
                                             timeout, max_attempts, prices, max_wait)
    if dry_run or batch_export:
        worker = registry.get("annotator", annotator).factory(**options)
        if dry_run:
            print_plan(*worker.plan(pairs, schema_obj))
        else:
            count = export_batch(worker.requests(pairs, schema_obj), batch_export, client.log)
            _, waiting = worker.plan(pairs, schema_obj)
            console.print(f"wrote {count} requests to {literal(batch_export)}; {waiting} more "
                          "depend on their answers: import the results and export again",
                          highlight=False)
        return
    run_llm_annotation(target, options, schema_obj, annotator)
    console.print(finish(client), highlight=False)


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
    schema_obj = load_schema(schema) if schema else None  # None: the study's own schema
    with Study(study).lock("fit", create=False) as target:
        pipeline.check_targets(target.pairs(texts=False), target.judgments(), config)
        pipeline.fit(target, schema_obj, config)
    print_summary(console, pipeline.fit_summary(target), str(study))


def dissect(source: Annotated[Path, typer.Argument(help="File or folder of judged pairs.")],
            out: OutOpt, format: FormatOpt = "pairs", judge: JudgeOpt = None,
            group_by: GroupOpt = None,
            annotator: Annotated[list[str] | None, typer.Option(
                "--annotator", "-a", help="Annotator(s) to run (repeatable): heuristic, llm.")]
            = None,
            llm_judge: Annotated[list[str] | None, typer.Option(
                "--llm-judge", help="Also judge every pair with this model (repeatable), "
                "on the --base-url server, in both orders.")] = None,
            reward_model: Annotated[list[Path] | None, typer.Option(
                "--reward-model", help="Also judge every pair with this local reward model "
                "(a transformers folder; repeatable).")] = None,
            python: Annotated[list[str] | None, typer.Option(
                "--python", help="Also judge every pair with a Python function, "
                "FILE.py:FUNCTION (repeatable; see `judge --python`).")] = None,
            model: ModelOpt = None, base_url: BaseUrlOpt = None, api_key: KeyOpt = None,
            reference_model: Annotated[str | None, typer.Option(
                "--reference-model", help="LLM: model that writes reference answers.")] = None,
            max_tokens: MaxTokensOpt = None, concurrency: ConcurrencyOpt = 8,
            timeout: TimeoutOpt = 60.0, max_attempts: AttemptsOpt = 5,
            max_wait: MaxWaitOpt = 60.0,
            schema: SchemaOpt = None, engine: EngineOpt = "ep", soft_labels: SoftOpt = False,
            min_pairs: MinPairsOpt = 20, folds: FoldsOpt = 10,
            paper_protocol: PaperOpt = False, max_missing: MissingOpt = 0.2,
            model_terms: TermsOpt = "auto", anchor_model: AnchorOpt = None,
            threads: ThreadsOpt = 1, seed: SeedOpt = 0,
            columns: ColumnsOpt = None, pairs_per_prompt: PairsPerPromptOpt = None,
            overwrite: OverwriteOpt = False) -> None:
    """Import, annotate (and judge) and fit in one go; writes OUT/profiles.csv and a summary."""
    from .. import pipeline, registry
    from ..annotations import check_measured
    from ..errors import PartialFailure, UsageError
    from ..importers import check_options
    from ..properties import load_schema
    from ..study import Study
    from .llm import check_base_url, finish, llm_annotator_options, make_client
    from .render import print_summary

    # every option is checked before anything is read, asked or written
    import_options = check_options(format, columns=columns, pairs_per_prompt=pairs_per_prompt)
    _check_source(source)
    loaded = load_schema(schema)
    schema_obj = loaded if schema else None  # None: the study's own, after the import
    config = _config(judge, group_by, engine, soft_labels, min_pairs, folds, paper_protocol,
                     seed, max_missing, model_terms, anchor_model, threads)
    annotators = list(dict.fromkeys(annotator or ["heuristic"]))
    for name in annotators:
        registry.get("annotator", name)
    if "llm" not in annotators:
        unused = [flag for flag, given in (("--model", model), ("--reference-model",
                                                                  reference_model),
                                           ("--max-tokens", max_tokens)) if given]
        if unused:
            raise UsageError(f"{', '.join(unused)} set{'s' if len(unused) == 1 else ''} the "
                             "llm annotator, which this run does not use: add --annotator "
                             "llm, or leave them out (an LLM judge is named by --llm-judge)")
    check_measured(loaded, annotators, set(), schema)
    reward_judges = []
    for path in reward_model or []:
        if not path.exists():
            raise UsageError(f"--reward-model {path}: no such folder")
        reward_judges.append(registry.get("judge", "reward").factory(str(path)))
    python_judges = [registry.get("judge", "python").factory(spec) for spec in python or []]
    options = {}
    if "llm" in annotators or llm_judge:
        check_base_url(base_url)
    if "llm" in annotators:
        options["llm"] = llm_annotator_options(
            None, model, reference_model=reference_model,
            steps="query,free,aware,specific,errors", structured=True, swap_check=False,
            prompts=None, max_tokens=max_tokens)
    with Study(out).lock("dissect") as target:
        target.check_import_target(source, format, seed, overwrite)
        client = None
        if options or llm_judge:
            client = make_client(target.root, base_url, api_key, concurrency, timeout,
                                 max_attempts, None, max_wait)
            if "llm" in options:
                options["llm"]["client"] = client
        judges = [registry.get("judge", "llm").factory(client, name) for name in llm_judge or []]
        done = pipeline.dissect(source, format, target, annotators=annotators,
                                annotator_options=options,
                                judges=[*judges, *reward_judges, *python_judges],
                                schema=schema_obj, config=config, seed=seed,
                                import_options=import_options, progress=stage_progress)
    _print_dissection(done, options.get("llm", {}).get("model"),
                      {w.name for w in reward_judges})
    print_summary(console, done.summary, str(out))
    if client is not None:
        console.print(finish(client), highlight=False)  # exit 3 when requests failed
    failed = {w.name: len(done.judged[w.name].exclusions) for w in python_judges
              if done.judged[w.name].exclusions}
    if failed:
        raise PartialFailure("Python judges with pairs that got no usable answer in either "
                             "order (in exclusions.csv with their reasons): " + ", ".join(
                                 f"{name} {n}" for name, n in failed.items()))


def _print_dissection(done, llm_model: str | None, reward_judges: set[str]) -> None:
    """Say what each stage of a dissection did (the summary follows)."""
    from .llm import print_annotation_run, print_judge_run
    from .reward import print_reward_run

    console.print(f"imported {len(done.imported.pairs)} pairs, "
                  f"{len(done.imported.judgments)} judgments", highlight=False)
    for run in done.annotated:
        if run.annotator == "llm":
            print_annotation_run(run.pairs, llm_model, run.values, run.failed)
        else:
            console.print(f"annotated {run.pairs} pairs with '{literal(run.annotator)}'",
                          highlight=False)
    for name, run in done.judged.items():
        (print_reward_run if name in reward_judges else print_judge_run)(name, run)


@contextmanager
def stage_progress(label: str, total: int | None) -> Iterator:
    """Show a stage's progress: a bar over its pairs, or a count of LLM requests."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from .llm import request_progress

    if total is None:
        display = request_progress(label)
    else:
        text = literal(label).replace("{", "{{").replace("}", "}}")  # a format string
        display = Progress(TextColumn(text), BarColumn(), MofNCompleteColumn(),
                           TimeElapsedColumn(), console=console, transient=True)
    with display as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


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

    from ..properties import load_schema, schema_yaml

    if show_yaml:
        text = schema_yaml(schema)
        # written as is: rich would wrap long lines at the terminal width (80 columns
        # when piped), and the YAML would no longer load
        console.file.write(text if text.endswith("\n") else text + "\n")
        console.file.flush()
        return
    loaded = load_schema(schema)
    table = Table("#", "name", "rule", "applies when", "description", box=None)
    for i, prop in enumerate(loaded.properties):
        table.add_row(str(i), literal(prop.name), prop.rule, prop.applies_when or "always",
                      literal(prop.description))
    console.print(table)
