"""The discover command: what a judge rewards that the schema does not name."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from . import console, literal
from .options import (
    AttemptsOpt,
    BaseUrlOpt,
    ConcurrencyOpt,
    DryOpt,
    ExportOpt,
    KeyOpt,
    MaxWaitOpt,
    ModelOpt,
    PricesOpt,
    SchemaOpt,
    StudyArg,
    ThreadsOpt,
    TimeoutOpt,
)

DiscoverTermsOpt = Annotated[str, typer.Option(
    "--model-terms", help="Model terms of the base model: auto (one strength per model where "
    "the pairs name their models, holding model quality fixed; else none), none, baseline "
    "(one 'side A' term), models.")]
ProposerOpt = Annotated[list[str] | None, typer.Option(
    "--proposer", "-p", help="Proposer to run (repeatable): features (a library of text "
    "features), phrases (words distinctive of the winner where the model errs), llm (an LLM "
    "reads mispredicted pairs; needs --model). Default: features and phrases.")]


def discover(study: StudyArg,
             out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write "
                                               "discoveries.csv, discovered.yaml and "
                                               "discovery.json to.")],
             judge: Annotated[str | None, typer.Option(
                 "--judge", "-j", help="The judge to explain (default: the study's only "
                 "one).")] = None,
             group: Annotated[str, typer.Option(
                 "--group", "-g", help="Work on one group of pairs: a scenario, a query "
                 "trait, or all.")] = "all",
             proposer: ProposerOpt = None,
             max_new: Annotated[int, typer.Option(
                 "--max-new", help="Keep at most this many discoveries.")] = 5,
             seed: Annotated[int, typer.Option(
                 "--seed", help="Seed of the split by query, the folds and the label "
                 "shuffles.")] = 0,
             folds: Annotated[int, typer.Option(
                 "--folds", help="Folds (by query) for each candidate's held-out gain.")] = 10,
             permutations: Annotated[int, typer.Option(
                 "--permutations", help="Label shuffles that set the threshold (at least "
                 "1/level - 1).")] = 99,
             level: Annotated[float, typer.Option(
                 "--level", help="Chance that labels carrying nothing beyond the schema "
                 "yield any discovery.")] = 0.01,
             phrases: Annotated[int, typer.Option(
                 "--phrases", help="At most this many phrase candidates.")] = 20,
             schema: SchemaOpt = None, model_terms: DiscoverTermsOpt = "auto",
             threads: ThreadsOpt = 1,
             model: ModelOpt = None, base_url: BaseUrlOpt = None, api_key: KeyOpt = None,
             llm_pairs: Annotated[int, typer.Option(
                 "--llm-pairs", help="LLM proposer: mispredicted pairs it reads.")] = 12,
             llm_candidates: Annotated[int, typer.Option(
                 "--llm-candidates", help="LLM proposer: at most this many candidates "
                 "(after merging near-duplicates).")] = 8,
             llm_max_tokens: Annotated[int, typer.Option(
                 "--llm-max-tokens", help="LLM proposer: cap on each proposal answer (the "
                 "ratings' cap is sized to the candidates).")] = 700,
             structured: Annotated[bool, typer.Option(
                 "--structured/--no-structured", help="LLM: ask for schema-constrained "
                 "JSON.")] = True,
             concurrency: ConcurrencyOpt = 8, timeout: TimeoutOpt = 60.0,
             max_attempts: AttemptsOpt = 5, max_wait: MaxWaitOpt = 60.0,
             prices: PricesOpt = None, dry_run: DryOpt = False,
             batch_export: ExportOpt = None) -> None:
    """Find what a judge rewards beyond the schema: propose on some queries, test on others."""
    from ..discovery.discoveries import SelectionConfig
    from ..discovery.proposals import ProposerSettings
    from ..discovery.run import DiscoverConfig, check_options, check_targets, plan_llm
    from ..discovery.run import discover as run
    from ..llm.batch import export_batch
    from ..study import Study
    from .llm import check_base_url, finish, make_client, print_plan

    config = DiscoverConfig(judge=judge, group=group,
                            proposers=tuple(dict.fromkeys(proposer or ("features", "phrases"))),
                            phrases=phrases, model_terms=model_terms,
                            selection=SelectionConfig(folds=folds, permutations=permutations,
                                                      level=level, max_new=max_new, seed=seed,
                                                      threads=threads))
    uses_llm = "llm" in config.proposers
    settings = ProposerSettings(model, llm_pairs, llm_candidates, llm_max_tokens, structured)
    check_options(config, settings if uses_llm else None,
                  dry_run=dry_run or batch_export is not None)
    if uses_llm:
        check_base_url(base_url)
    with Study(study).lock("discover", create=False) as target:
        check_targets(target, config, schema_path=schema)  # before an LLM client exists
        llm = settings.proposer(make_client(target.root, base_url, api_key, concurrency,
                                            timeout, max_attempts, prices, max_wait)) \
            if uses_llm else None
        if dry_run or batch_export:
            requests, waiting = plan_llm(target, config, llm, schema_path=schema)
            if dry_run:
                print_plan(llm.client.plan(requests), waiting)
                return
            count = export_batch(requests, batch_export, llm.client.log)
            console.print(f"wrote {count} requests to {literal(batch_export)}; {waiting} more "
                          "depend on their answers: import the results and export again",
                          highlight=False)
            return
        found = run(target, out, config, schema_path=schema, llm=llm)
    show(found, out)
    if llm is not None:
        console.print(finish(llm.client), highlight=False)


def show(found, out: Path) -> None:
    """Print a discovery's summary: the split, the threshold, the best candidates."""
    from rich.table import Table

    from .render import preferred, preferred_interval

    r = found.result
    counts = ", ".join(f"{n} {p}" for p, n in found.summary()["by_proposer"].items())
    console.print(f"judge {literal(found.judge)}, group {literal(found.group)}: proposed on "
                  f"{found.proposal_pairs} pairs, tested on {r.pairs} pairs of other queries "
                  f"({r.queries} queries); {len(found.candidates)} candidates ({counts})",
                  highlight=False)
    if r.table["gain"].notna().any():
        console.print(f"threshold: a held-out gain above {r.threshold:.5f} (labels shuffled "
                      f"{len(r.null_gains)} times: the best candidate's gain reached it in "
                      f"{int((r.null_gains >= r.threshold).sum())} of them); kept "
                      f"{len(r.selected)}: {literal(', '.join(r.selected) or 'none')}",
                      highlight=False)
    else:
        console.print("no candidate differs between the responses of enough test pairs to "
                      "be tested; nothing kept", highlight=False)
    view = Table("candidate", "from", "covers", "P(preferred)", "95% interval",
                 "held-out gain", "95% interval", "kept", box=None,
                 title="best candidates (all in discoveries.csv)", title_justify="left")
    for row in r.table.head(12).itertuples():
        tested = row.mean == row.mean
        view.add_row(literal(row.candidate), row.proposer, f"{100 * row.coverage:.0f}%",
                     preferred(row.p_preferred) if tested else "not tested",
                     preferred_interval(_sig(row.lower), _sig(row.upper)) if tested else "",
                     f"{row.gain:+.4f}" if row.gain == row.gain else "",
                     f"{row.gain_lower:+.4f} to {row.gain_upper:+.4f}"
                     if row.gain == row.gain else "",
                     "yes" if row.selected else "")
    console.print(view)
    if r.set_gain:
        g = r.set_gain
        console.print(f"kept set, fitted jointly: held-out log-loss {g['base_log_loss']:.4f} "
                      f"(schema + model terms) -> {g['log_loss']:.4f}; gain {g['gain']:+.4f} "
                      f"[{g['gain_lower']:+.4f}, {g['gain_upper']:+.4f}] (95%, over queries)",
                      highlight=False)
    for reason, count in found.left_out.items():
        console.print(f"[dim]left out: {count} pairs, {literal(reason)}[/]", highlight=False)
    for note in found.notes:
        console.print(f"[dim]note: {literal(note)}[/]", highlight=False)
    console.print(f"wrote {literal(out)}/discoveries.csv, discovered.yaml (the schema plus "
                  "what was kept), discovered_annotations.parquet and discovery.json",
                  highlight=False)


def _sig(x: float) -> float:
    import math

    return 1.0 / (1.0 + math.exp(-x))
