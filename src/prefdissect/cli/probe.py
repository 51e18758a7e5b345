"""The probe commands: `probe STUDY --edit ... --out DIR` and `probe export DIR`.

`probe STUDY ...` is short for `probe run STUDY ...`: the group runs `run` when
its first argument is not one of its commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from typer.core import TyperGroup

from . import console, literal
from .options import (
    AttemptsOpt,
    BaseUrlOpt,
    BatchSizeOpt,
    ConcurrencyOpt,
    DeviceOpt,
    DryOpt,
    ExportOpt,
    KeyOpt,
    MaxWaitOpt,
    ModelOpt,
    PricesOpt,
    PythonOpt,
    RewardModelOpt,
    SeedOpt,
    TimeoutOpt,
)


class _RunByDefault(TyperGroup):
    """A command group whose first argument, when not a command's name, goes to `run`."""

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


probe_app = typer.Typer(
    cls=_RunByDefault, no_args_is_help=True,
    help="Change one thing at a time in a study's responses (bullets, length, politeness, "
    "position, ...) and measure how the judge's verdict moves. `probe STUDY ...` is "
    "`probe run STUDY ...` (its options: `probe run --help`; the edits: `probe "
    "--list-edits`).")


def register(app, guard) -> None:
    """Add the probe commands to the CLI, each wrapped in ``guard`` (Ctrl-C handling)."""
    for info in probe_app.registered_commands:
        info.callback = guard(info.callback)
    app.add_typer(probe_app, name="probe", rich_help_panel="Audit")


def list_edits() -> None:
    """Print every registered edit: name, target, direction and what it does."""
    from rich.table import Table

    from ..edits import all_edits

    table = Table("edit", "target", "moves", "what it does", box=None, highlight=False)
    for spec in all_edits():
        table.add_row(literal(spec.name), literal(spec.target), spec.direction_word,
                      literal(spec.summary))
    console.print(table)
    console.print("[dim]rewrite:PROPERTY:up or :down (with --rewriter MODEL): an LLM rewrite "
                  "of one property the heuristic measures, checked like the others[/]",
                  highlight=False)


@probe_app.command("run")
def run(study: Annotated[Path | None, typer.Argument(help="Study folder (imported; fitted "
                                                     "to compare with its profile).",
                                                     show_default=False)] = None,
        edit: Annotated[list[str] | None, typer.Option(
            "--edit", "-e", help="Edit to apply (repeatable); see --list-edits.")] = None,
        out: Annotated[Path | None, typer.Option("--out", "-o", help="Probe folder to write "
                                                 "(runs of other judges add to it).")] = None,
        python: PythonOpt = None, model: ModelOpt = None, base_url: BaseUrlOpt = None,
        api_key: KeyOpt = None,
        local_model: Annotated[Path | None, typer.Option(
            "--local-model", help="Judge with a local causal LM (a transformers folder).")]
        = None,
        reward_model: RewardModelOpt = None,
        labels: Annotated[Path | None, typer.Option(
            "--labels", help="A panel's labels of `probe export`'s file (a label per record) "
            "as the judge.")] = None,
        name: Annotated[str | None, typer.Option("--name", help="The judge's name (as in "
                                                 "the study, to compare with its profile).")]
        = None,
        mode: Annotated[str, typer.Option("--mode", help="LLM judge: auto, logprobs or "
                                          "verdict.")] = "auto",
        endpoint: Annotated[str, typer.Option("--endpoint", help="LLM judge: chat, or "
                                              "completions for base models.")] = "chat",
        n: Annotated[int, typer.Option("--n", help="Source responses to sample.")] = 200,
        seed: SeedOpt = 0,
        group_by: Annotated[list[str] | None, typer.Option(
            "--group-by", "-g", help="Stratify and report by: scenario, a pair column or a "
            "metadata key (repeatable).")] = None,
        rewriter: Annotated[str | None, typer.Option(
            "--rewriter", help="Model for rewrite:PROPERTY:up|down edits (on --base-url).")]
        = None,
        list_edits_: Annotated[bool, typer.Option("--list-edits", help="Print the edits and "
                                                  "exit.")] = False,
        device: DeviceOpt = "auto", batch_size: BatchSizeOpt = 8,
        concurrency: ConcurrencyOpt = 8, timeout: TimeoutOpt = 60.0,
        max_attempts: AttemptsOpt = 5, max_wait: MaxWaitOpt = 60.0, prices: PricesOpt = None,
        dry_run: DryOpt = False, batch_export: ExportOpt = None) -> None:
    """Probe a judge: edit sampled responses one property at a time and ask the judge again."""
    from ..errors import UsageError
    from ..probes import ProbeConfig

    if list_edits_:
        list_edits()
        return
    if study is None or out is None or not edit:
        raise UsageError("give the study, --edit NAME (repeatable) and --out DIR, e.g. "
                         "prefdissect probe STUDY --edit bullets --python judge.py:f --out DIR")
    chosen = [flag for flag, value in (("--python", python), ("--model", model),
                                       ("--local-model", local_model),
                                       ("--reward-model", reward_model),
                                       ("--labels", labels)) if value]
    if len(chosen) != 1:
        raise UsageError("give exactly one judge: --python FILE.py:FUNCTION, --model M "
                         "(with --base-url), --local-model DIR, --reward-model DIR or "
                         "--labels FILE"
                         + (f"; got {', '.join(chosen)}" if chosen else ""))
    if (dry_run or batch_export) and not (model or rewriter):
        raise UsageError("--dry-run and --batch-export count or write LLM requests: they need "
                         "--model or --rewriter")
    config = ProbeConfig(edits=list(edit), n=n, seed=seed, group_by=list(group_by or []))
    _run(study, out, config, dict(
        python=python, labels=labels, model=model, base_url=base_url, api_key=api_key,
        local_model=local_model, reward_model=reward_model, name=name, mode=mode,
        endpoint=endpoint, rewriter=rewriter, device=device, batch_size=batch_size,
        concurrency=concurrency, timeout=timeout, max_attempts=max_attempts,
        max_wait=max_wait, prices=prices), dry_run, batch_export)


@probe_app.command("export")
def export(folder: Annotated[Path, typer.Argument(help="Probe folder (from `probe`).")],
           out: Annotated[Path, typer.Option("--out", "-o", help="JSONL file to write.")],
           seed: SeedOpt = 0) -> None:
    """Write the probe pairs as `pairs` JSONL for a human panel (each in a random order)."""
    from ..probes.folder import export_pairs

    count = export_pairs(folder, out, seed)
    console.print(f"wrote {count} probe pairs to {literal(out)}; each pair's A/B order is "
                  "drawn at random (metadata.flipped says which) and the original pairs are "
                  "there in both orders; once a panel has labelled it, `probe STUDY --labels "
                  "FILE` (same study, --n, --seed, --group-by and edits) measures the panel",
                  highlight=False)


def _judge(options: dict, out: Path, dry: bool = False):
    """Build the judge the options name (a server judge gets the probe folder's log)."""
    from ..errors import UsageError
    from ..llm.client import Prices
    from ..registry import get as registry_get
    from .llm import check_base_url, make_client

    client = None
    if options["model"] or options["rewriter"]:
        check_base_url(options["base_url"])
        prices = Prices.load(options["prices"])
    if options["python"]:
        worker = registry_get("judge", "python").factory(options["python"],
                                                         name=options["name"])
    elif options["labels"]:
        worker = registry_get("judge", "panel").factory(options["labels"], name=options["name"])
    elif options["model"]:
        worker = registry_get("judge", "llm").factory(  # checks mode and endpoint first
            None, options["model"], name=options["name"], mode=options["mode"],
            endpoint=options["endpoint"])
    else:
        path = options["local_model"] or options["reward_model"]
        if not Path(path).exists():
            raise UsageError(f"{path} does not exist; give the folder of a transformers model")
        worker = None  # loaded once the study is known to be readable
    if options["model"] or options["rewriter"]:
        client = make_client(out, options["base_url"], options["api_key"],
                             options["concurrency"], options["timeout"],
                             options["max_attempts"], prices, options["max_wait"], dry=dry)
        if options["model"]:
            worker.client = client
    return worker, client


def _load_model(options: dict):
    from ..registry import get as registry_get

    if options["local_model"]:
        return registry_get("judge", "local").factory(str(options["local_model"]),
                                                      name=options["name"])
    return registry_get("judge", "reward").factory(
        str(options["reward_model"]), name=options["name"], batch_size=options["batch_size"],
        device=options["device"])


def _progress(worker, pairs):
    """Return a progress bar counting the judge's own unit (requests, prompts or pairs)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from ..judges.local import LocalJudge

    if hasattr(worker, "requests"):
        total, unit = len({r.key for r in worker.requests(pairs)}), "requests"
    elif isinstance(worker, LocalJudge):
        total, unit = 2 * len(pairs), "prompts"
    else:
        total, unit = len(pairs), "pairs"
    label = literal(f"probing {worker.name}").replace("{", "{{").replace("}", "}}")
    bar = Progress(TextColumn(f"{label} ({unit})"), BarColumn(), MofNCompleteColumn(),
                   console=console, transient=True)
    return bar, total


def _run(study_path: Path, out: Path, config, options: dict, dry_run: bool,
         batch_export: Path | None) -> None:
    from contextlib import nullcontext

    from .. import probes
    from ..edits import Checker
    from ..edits.rewrite import Rewriter
    from ..errors import PartialFailure
    from ..llm.batch import export_batch
    from ..pairs import PAIR_COLUMNS
    from ..probes import folder
    from ..study import Study, prepare_folder
    from .llm import finish, print_plan, request_progress

    study = Study(study_path)
    study.pairs()  # a missing or empty study fails here, before anything is loaded or sent
    if not dry_run:  # a dry run reads the folder where there is one and writes nothing
        prepare_folder(out, "probe folder")
    worker, client = _judge(options, out, dry=dry_run)
    with nullcontext() if dry_run else Study(out).lock("probe"):
        if out.exists():
            folder.check_folder(out, study, config)
        rewriter = None
        if options["rewriter"]:
            rewriter = Rewriter(client, options["rewriter"], Checker(study.schema()),
                                cached_only=bool(dry_run or batch_export))
            with request_progress(f"rewriting with {options['rewriter']}") as bar:
                task = bar.add_task("rewrite", total=None)
                probe_set = probes.prepare(study, config, rewriter=rewriter,
                                           progress=lambda k: bar.advance(task, k))
        else:
            probe_set = probes.prepare(study, config)
        pairs = probe_set.pairs[list(PAIR_COLUMNS)]
        if dry_run:
            _dry_run(worker, rewriter, probe_set, pairs, print_plan)
            return
        if batch_export:
            requests = ([] if rewriter is None else rewriter.pending())
            requests += worker.requests(pairs) if hasattr(worker, "requests") else []
            count = export_batch(requests, batch_export, client.log)
            console.print(f"wrote {count} requests to {literal(batch_export)}"
                          + (f"; {probe_set.waiting} rewrites are not answered yet: import "
                             "their results and export again for the probes that need them"
                             if probe_set.waiting else ""), highlight=False)
            return
        worker = worker or _load_model(options)
        bar, total = _progress(worker, pairs)
        with bar:
            task = bar.add_task("probe", total=total)
            result = probes.probe(study, worker, probe_set, config,
                                  progress=lambda k: bar.advance(task, k))
        folder.save(out, study, config, probe_set, result)
    _print(result, probe_set, out)
    problems = []
    if client is not None:
        try:
            console.print(finish(client), highlight=False)
        except PartialFailure as exc:  # said below, with what else failed
            problems.append(str(exc))
    if result.run.exclusions:
        problems.append(f"{len(result.run.exclusions)} probe pairs got no verdict (e.g. "
                        f"{result.run.exclusions[0].detail or result.run.exclusions[0].reason})")
    failed = probe_set.failed_rewrites
    if len(failed):
        problems.append(f"{len(failed)} rewrites failed (e.g. {failed['reason'].iloc[0]})")
    if problems:
        raise PartialFailure("; ".join(problems) + f"; what failed is kept with its reason in "
                             f"{out}")


def _dry_run(worker, rewriter, probe_set, pairs, print_plan) -> None:
    console.print(f"{len(probe_set.sources)} source responses, {len(pairs)} probe pairs "
                  "(every one asked in both orders)", highlight=False)
    if rewriter is not None:
        console.print("the rewriter:", highlight=False)
        print_plan(rewriter.client.plan(rewriter.pending()))
    if hasattr(worker, "plan"):
        console.print(f"the judge, {literal(worker.name)}:", highlight=False)
        print_plan(worker.plan(pairs), 4 * probe_set.waiting)  # self and pair probes, both orders


def _print(result, probe_set, out: Path) -> None:
    from rich.table import Table

    table = Table("edit", "target", "n", "win rate [95%]", "shift in pair [95%]", "flips",
                  "kept", title=f"{literal(result.probes['judge'].iloc[0])}: group all",
                  box=None, highlight=False)

    def interval(row, key: str) -> str:
        if row[key] != row[key]:
            return "-"
        return f"{row[key]:.1f} [{row[key + '_lower']:.1f}, {row[key + '_upper']:.1f}]"

    for row in result.probes[result.probes["group"] == "all"].to_dict("records"):
        table.add_row(literal(row["edit"]), f"{literal(row['property'])} {row['direction']}",
                      str(row["n"]), interval(row, "win_rate"), interval(row, "pair_shift"),
                      "-" if row["flip_rate"] != row["flip_rate"] else
                      f"{100 * row['flip_rate']:.0f}%", f"{100 * row['kept_share']:.0f}%")
    console.print(table)
    beside = result.observational[result.observational["group"] == "all"]
    if len(beside):
        compare = Table("property", "edit", "profile P(preferred) [95%]",
                        "probe effect [95%]", "", title="observational (profile) beside "
                        "interventional (probe), on the property's scale, %", box=None,
                        highlight=False)
        for row in beside.to_dict("records"):
            compare.add_row(literal(row["property"]), literal(row["edit"]),
                            f"{row['profile_p']:.1f} [{row['profile_lower']:.1f}, "
                            f"{row['profile_upper']:.1f}]",
                            f"{row['probe_effect']:.1f} [{row['probe_lower']:.1f}, "
                            f"{row['probe_upper']:.1f}]",
                            f"[bold yellow]disagree: {row['why']}[/]" if row["disagree"]
                            else "agree")
        console.print(compare)
    else:
        console.print("[dim]no fitted profile of this judge in the study to set beside the "
                      "probes (judge and fit the study under the same --name first)[/]",
                      highlight=False)
    for note in result.notes:
        console.print(f"[bold yellow]note:[/] {literal(note)}", highlight=False)
    left = probe_set.outcomes[probe_set.outcomes["status"] != "kept"]
    if len(left):
        console.print(f"{len(left)} edited responses were left out (not applicable or failing "
                      f"the manipulation check), with their reasons in "
                      f"{literal(out / 'probe_edits.csv')}", highlight=False)
    console.print(f"wrote {literal(out)}: probes.csv, probe_pairs.parquet, probe_edits.csv, "
                  "probe_observational.csv", highlight=False)
