"""LLM commands: the LLM judge, and the batch transport for annotation and judging."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from . import console, literal, remember
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
    ScoresOpt,
    TimeoutOpt,
)

batch_app = typer.Typer(help="Provider batch files: export requests, run them on a server, "
                        "import the results into a study's LLM log.", no_args_is_help=True)

LOG_NAME = "llm_log.sqlite"


def one_call_annotator(annotator: str, plan: str, steps: str, swap_check: bool,
                       reference_model: str | None) -> str:
    """Check --plan; return the annotator it means (``llm-onecall`` for the one-call plan)."""
    from ..annotators.llm import STEPS
    from ..errors import UsageError

    if plan not in ("five-step", "one-call"):
        raise UsageError(f"--plan {plan}: use five-step or one-call")
    if plan == "five-step":
        return annotator
    if annotator != "llm":
        raise UsageError(f"--plan one-call applies to the llm annotator, not '{annotator}'")
    if steps != ",".join(STEPS) or swap_check or reference_model:
        raise UsageError("--steps, --swap-check and --reference-model belong to the five-step "
                         "plan; the one-call plan asks everything in one request")
    return "llm-onecall"


def llm_annotator_options(client, model: str | None, reference_model: str | None,
                          steps: str, structured: bool, swap_check: bool,
                          prompts: Path | None, max_tokens: list[str] | None,
                          plan: str = "llm") -> dict:
    """Check the LLM annotator's options and return its keyword arguments.

    ``plan`` is the annotator: ``llm`` (five steps) or ``llm-onecall`` (one request per
    pair, whose answer cap is ``--max-tokens onecall=N``).
    """
    from ..annotators.llm import MAX_TOKENS, STEPS
    from ..errors import UsageError

    if not model:
        raise UsageError("the llm annotator needs --model (and --base-url)")
    if plan == "llm-onecall":
        caps = [item.partition("=") for item in max_tokens or []]
        bad = [f"{s}{e}{n}" for s, e, n in caps if s != "onecall" or not n.isdigit()]
        if bad:
            raise UsageError(f"--max-tokens {bad[0]}: the one-call plan takes onecall=N")
        return dict(client=client, model=model, structured=structured,
                    prompt_file=str(prompts) if prompts else None,
                    max_tokens=int(caps[-1][2]) if caps else None)
    chosen = tuple(x.strip() for x in steps.split(",") if x.strip())
    unknown = [x for x in chosen if x not in STEPS]
    if unknown:
        raise UsageError(f"--steps {','.join(unknown)}: unknown; steps are {','.join(STEPS)}")
    caps = {}
    for item in max_tokens or []:
        step, _, number = item.partition("=")
        if step not in MAX_TOKENS or not number.isdigit():
            raise UsageError(f"--max-tokens {item}: write STEP=N with STEP one of "
                             f"{', '.join(MAX_TOKENS)}")
        caps[step] = int(number)
    return dict(client=client, model=model, reference_model=reference_model,
                structured=structured, swap_check=swap_check, steps=chosen,
                prompt_file=str(prompts) if prompts else None, max_tokens=caps)


def run_llm_annotation(study, options: dict, schema, annotator: str = "llm") -> None:
    """Run an LLM annotator on a study with a progress display, and report."""
    from .. import pipeline
    model = options["model"]
    with request_progress(f"annotating with {model}") as bar:
        task = bar.add_task("annotate", total=None)
        frame = pipeline.annotate(study, annotator, schema,
                                  progress=lambda n: bar.advance(task, n), **options)
    mine = frame[frame["annotator"] == annotator]
    print_annotation_run(len(study.pairs()), model, len(mine),
                         int((mine["status"] == "failed").sum()))
    flips = study.annotation_consistency() if options.get("swap_check") else None
    if flips is not None:
        console.print("flip rate under A/B swap: " + ", ".join(
            f"{literal(r.property)} {100 * r.flip_rate:.0f}%" for r in flips.itertuples()),
            highlight=False)


def print_annotation_run(pairs: int, model: str, values: int, failed: int) -> None:
    """Say how an LLM annotation went: values made and failed."""
    console.print(f"annotated {pairs} pairs with {literal(model)}: {values} values, {failed} "
                  "failed (kept with their reasons)", highlight=False)


def run_llm_judge(study, worker) -> None:
    """Run an LLM judge on a study with a progress display, and report."""
    from .. import pipeline

    with request_progress(f"judging with {worker.model}") as bar:
        task = bar.add_task("judge", total=None)
        run = pipeline.judge(study, worker, progress=lambda n: bar.advance(task, n))
    print_judge_run(worker.name, run)


def print_judge_run(name: str, run) -> None:
    """Say how a judge's run went: pairs judged (both orders or one), failures, warnings."""
    from ..judges import judge_warnings

    stats = run.stats(name)
    if not stats["judged"]:
        console.print(f"[bold red]{literal(name)}: no pair was judged[/] (all "
                      f"{stats['pairs']} failed; reasons in exclusions.csv)", highlight=False)
        return
    line = (f"{literal(name)}: judged {stats['judged']} of {stats['pairs']} pairs "
            f"({stats['both_orders']} in both orders, {stats['single_order']} in one order "
            f"only, {stats['failed']} failed, see exclusions.csv)")
    if stats["both_orders"]:
        line += (f"; position consistency {100 * stats['position_consistency']:.1f}%, first "
                 f"position chosen {100 * stats['first_position_rate']:.1f}% of the time")
    console.print(line, highlight=False)
    for warning in judge_warnings(stats):
        console.print(f"[bold yellow]warning:[/] {literal(name)}: {literal(warning)}",
                      highlight=False)


def make_client(study: Path, base_url: str | None, api_key: str | None, concurrency: int,
                timeout: float, max_attempts: int, prices,
                max_wait: float = 60.0, dry: bool = False):
    """Build the client for a study (its exchange log lives in the study folder).

    ``prices`` is a price file's path or a :class:`~prefdissect.llm.client.Prices`
    read before (to refuse a bad file before a folder is made). A ``dry`` client (for
    a dry run) makes no folder: it reads the folder's log where there is one.
    """
    from ..llm.client import LLMClient, Prices

    check_base_url(base_url)
    prices = prices if isinstance(prices, Prices) else Prices.load(prices)
    log = study / LOG_NAME
    if dry:
        log = log if log.exists() else ":memory:"
    else:
        study.mkdir(parents=True, exist_ok=True)
    client = LLMClient(base_url, log, api_key=api_key, concurrency=concurrency,
                       timeout=timeout, max_attempts=max_attempts, max_wait=max_wait,
                       prices=prices)
    remember(client)
    return client


def check_base_url(base_url: str | None) -> None:
    """Refuse a missing or malformed --base-url before any work starts."""
    from ..errors import UsageError

    if not base_url:
        raise UsageError("give --base-url (or set OPENAI_BASE_URL), e.g. "
                         "--base-url http://127.0.0.1:8080/v1")
    if not base_url.startswith(("http://", "https://")):
        raise UsageError(f"--base-url {base_url}: give the server's API root with its scheme, "
                         "e.g. http://127.0.0.1:8080/v1")


def finish(client) -> str:
    """Say what this run's requests came to; raise PartialFailure if some failed.

    Returns the one-line account of the run (requests, answers, tokens).
    """
    from ..errors import PartialFailure

    tally = client.tally
    cost = ""
    if tally.priced:
        cost = f"; cost ${tally.cost:.4f}" + (f" (+ {tally.unpriced} answers without a price)"
                                             if tally.unpriced else "")
    line = (f"LLM requests in this run: {len(tally.keys)} ({tally.answered} answered by the "
            f"server, {tally.cached} from the log, {len(tally.failed)} failed); paid for in "
            f"this run: {tally.prompt_tokens:,} prompt + {tally.completion_tokens:,} "
            "completion tokens" + cost)
    failed = tally.failed
    if failed:
        console.print(line, highlight=False)
        reasons = sorted(set(failed.values()))
        cut = [r for r in reasons if "raise --max-tokens" in r]
        example = cut[0] if cut else reasons[0]  # the one that needs the user first
        raise PartialFailure(
            f"{len(failed)} of {len(tally.keys)} LLM requests failed or gave answers that "
            f"could not be used (e.g. {example}); they are recorded with "
            f"their reasons, and the {len(tally.keys) - len(failed)} answers are kept in "
            f"{client.log.path}: run the same command again to retry only the failures "
            "(answers cut off at a token cap need a higher cap first)")
    return line


def print_plan(plan, waiting: int = 0) -> None:
    """Show a dry run's numbers."""
    cost = "unknown (no --prices for this model)" if plan.cost is None else f"${plan.cost:.4f}"
    console.print(f"dry run: {plan.requests} requests to send ({plan.cached} already in the "
                  f"log); about {plan.prompt_tokens:,} prompt tokens and at most "
                  f"{plan.completion_tokens:,} completion tokens; cost {cost}",
                  highlight=False)
    if waiting:
        console.print(f"{waiting} more requests depend on these answers and are counted "
                      "once they exist (plus a repair request for each unusable answer)",
                      highlight=False)


def request_progress(label: str):
    """Return a progress display that counts finished requests (no total known)."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    label = literal(label).replace("{", "{{").replace("}", "}}")  # a format string below
    bar = Progress(SpinnerColumn(), TextColumn(f"{label}: {{task.completed}} requests done"),
                   TimeElapsedColumn(), console=console, transient=True)
    return bar


def judge(study: Annotated[Path, typer.Argument(help="Study folder (after `import`).")],
          model: ModelOpt = None, base_url: BaseUrlOpt = None, api_key: KeyOpt = None,
          name: Annotated[str | None, typer.Option("--name", help="Judge name in the study "
                                                   "(default: the model).")] = None,
          mode: Annotated[str, typer.Option("--mode", help="auto, logprobs or verdict.")]
          = "auto",
          endpoint: Annotated[str, typer.Option("--endpoint", help="chat, or completions "
                                                "for base models.")] = "chat",
          prompt: Annotated[Path | None, typer.Option("--prompt", help="YAML with system, "
                                                      "user and completion templates.")]
          = None,
          local_model: Annotated[Path | None, typer.Option(
              "--local-model", help="Judge with a local causal LM (a transformers folder) "
              "instead of a server.")] = None,
          reward_model: RewardModelOpt = None, scores: ScoresOpt = None,
          python: PythonOpt = None, device: DeviceOpt = "auto", batch_size: BatchSizeOpt = 8,
          concurrency: ConcurrencyOpt = 8, timeout: TimeoutOpt = 60.0,
          max_attempts: AttemptsOpt = 5, max_wait: MaxWaitOpt = 60.0, prices: PricesOpt = None,
          dry_run: DryOpt = False, batch_export: ExportOpt = None) -> None:
    """Judge every pair with an LLM (both orders), a reward model or a Python function."""
    from ..study import Study
    from .python_judge import judge_with_python
    from .reward import judge_with_reward

    if python is not None:
        judge_with_python(study, python, name, other=bool(
            model or local_model or reward_model or scores or dry_run or batch_export))
        return
    if reward_model is not None or scores is not None:
        judge_with_reward(study, reward_model, scores, name, device, batch_size,
                          server=bool(model or local_model or dry_run or batch_export))
        return
    with Study(study).lock("judge", create=False) as target:
        _judge(target, model, base_url, api_key, name, mode, endpoint, prompt, local_model,
               concurrency, timeout, max_attempts, max_wait, prices, dry_run, batch_export)


def _judge(target, model, base_url, api_key, name, mode, endpoint, prompt, local_model,
           concurrency, timeout, max_attempts, max_wait, prices, dry_run,
           batch_export) -> None:
    from ..errors import UsageError
    from ..llm.batch import export_batch
    from ..llm.client import Prices
    from ..registry import get as registry_get

    study = target.root
    if local_model is not None:
        if dry_run or batch_export:
            raise UsageError("--dry-run and --batch-export apply to server judges only")
        if not local_model.exists():
            raise UsageError(f"--local-model {local_model} does not exist; give a folder "
                             "with a transformers causal language model")
        target.pairs()  # fail before loading a model on a study without pairs
        worker = registry_get("judge", "local").factory(
            str(local_model), name=name, prompt_file=str(prompt) if prompt else None)
        run_llm_judge(target, worker)
        return
    if not model:
        raise UsageError("give --model, the model name on the server (or --local-model)")
    check_base_url(base_url)
    Prices.load(prices)
    probe = registry_get("judge", "llm").factory(  # checks mode, endpoint and prompt first
        None, model, name=name, mode=mode, endpoint=endpoint,
        prompt_file=str(prompt) if prompt else None)
    pairs = target.pairs()
    client = make_client(study, base_url, api_key, concurrency, timeout, max_attempts, prices,
                         max_wait)
    probe.client = client
    if dry_run:
        print_plan(probe.plan(pairs))
        return
    if batch_export:
        count = export_batch(probe.requests(pairs), batch_export, client.log)
        console.print(f"wrote {count} requests to {literal(batch_export)}", highlight=False)
        return
    run_llm_judge(target, probe)
    console.print(finish(client), highlight=False)


@batch_app.command("run")
def batch_run(requests: Annotated[Path, typer.Argument(help="Batch JSONL file.")],
              out: Annotated[Path, typer.Option("--out", "-o", help="Results JSONL to "
                                                "write.")],
              base_url: BaseUrlOpt = None, api_key: KeyOpt = None,
              log: Annotated[Path | None, typer.Option(
                  "--log", help="Exchange log (the cache) for this run; processes may share "
                  "one. Default: beside --out, named OUT.log.sqlite.")] = None,
              concurrency: ConcurrencyOpt = 8, timeout: TimeoutOpt = 60.0,
              max_attempts: AttemptsOpt = 5, max_wait: MaxWaitOpt = 60.0) -> None:
    """Run a batch file against an OpenAI-compatible server (like vLLM's batch runner)."""
    from ..errors import PartialFailure, UsageError
    from ..llm.batch import read_batch, run_batch_file
    from ..llm.client import LLMClient
    from ..study import prepare_folder

    check_base_url(base_url)
    read_batch(requests)  # a bad batch file stops here, before anything is sent
    if out.is_dir():
        raise UsageError(f"--out {out} is a folder; give the results file to write")
    prepare_folder(out.parent.resolve(), "folder of --out")
    log = log or out.with_name(out.name + ".log.sqlite")
    client = LLMClient(base_url, log, api_key=api_key, concurrency=concurrency,
                       timeout=timeout, max_attempts=max_attempts, max_wait=max_wait)
    remember(client)
    ok, failed = run_batch_file(requests, client, out)
    console.print(f"ran {ok + failed} requests: {ok} answered, {failed} failed -> "
                  f"{literal(out)}", highlight=False)
    if failed:
        raise PartialFailure(f"{failed} of {ok + failed} requests failed; their reasons "
                             f"are in {out}; run the same command again to retry only them "
                             f"(the answers come from {log})")


@batch_app.command("import")
def batch_import(study: Annotated[Path, typer.Argument(help="Study folder.")],
                 results: Annotated[Path, typer.Argument(help="Results JSONL file.")],
                 requests: Annotated[Path, typer.Option("--requests", help="The batch file "
                                                        "the results answer.")]) -> None:
    """Import a batch results file into the study's LLM log (then re-run the command)."""
    from ..llm.batch import import_results
    from ..llm.cache import ExchangeLog
    from ..study import Study

    with Study(study).lock("batch import", create=False):
        log = ExchangeLog(study / LOG_NAME)
        stored, failed = import_results(results, requests, log)
    console.print(f"imported {stored} answers ({failed} failed) into "
                  f"{literal(study / LOG_NAME)}; "
                  "run the same annotate or judge command again to use them",
                  highlight=False)
