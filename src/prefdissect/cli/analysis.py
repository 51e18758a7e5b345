"""Analysis commands: compare judges, explain single decisions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from . import console, literal


def compare(
    extra: Annotated[list[str] | None, typer.Argument(
        help="More judge names (so that `--judges a b c` works).", show_default=False)] = None,
    study: Annotated[list[Path] | None, typer.Option(
        "--study", "-s", help="Study folder whose fitted judges to include (repeatable).")]
    = None,
    reference: Annotated[str | None, typer.Option(
        "--reference", "-r", help="The paper's 33 judges: a folder of "
        "model_<group>_fitted_paras.jsonl files, a URL, or 'paper' for the public "
        "repository.")] = None,
    judges: Annotated[list[str] | None, typer.Option(
        "--judges", "-j", help="Judges to compare (default: every judge given).")] = None,
    method: Annotated[str, typer.Option("--method", help="pearson (the paper's) or spearman.")]
    = "pearson",
    groups: Annotated[list[str] | None, typer.Option(
        "--group", "-g", help="Groups to average over (default: the paper's scenarios, "
        "else the shared groups).")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Folder for the CSV "
                                            "files.")] = None,
    draws: Annotated[int, typer.Option("--draws", help="Draws for the intervals.")] = 1000,
    top: Annotated[int, typer.Option("--nearest", help="How many nearest reference judges "
                                     "to list for each study judge.")] = 5,
) -> None:
    """Compare judges by the similarity of their profiles (the paper's measure)."""
    from rich.table import Table

    from ..errors import UsageError
    from ..panel import compare_judges, load_panel
    from ..similarity import METHODS
    from ..study import prepare_folder

    if method not in METHODS:
        raise UsageError(f"--method {method}: use pearson or spearman")
    if out:
        prepare_folder(out, "--out folder")  # before any work: a file or a locked folder
    if not study and not reference:
        raise UsageError("nothing to compare; give --study STUDY and/or --reference DIR")
    panel = load_panel(list(study or []), reference)
    chosen = [*(judges or []), *(extra or [])] or None
    result = compare_judges(panel, chosen, groups or None, method, draws=draws, top=top)
    sim = result.similarity
    if len(sim.matrix) <= 12:
        table = Table("", *map(literal, sim.matrix.columns), box=None,
                      title=f"{method} similarity, averaged over {len(sim.groups)} groups",
                      title_justify="left")
        for name, row in sim.matrix.iterrows():
            table.add_row(literal(name), *(f"{v:.3f}" for v in row))
        console.print(table)
    else:
        console.print(f"{method} similarity of {len(sim.matrix)} judges, averaged over "
                      f"{len(sim.groups)} groups (too wide to print; see --out)",
                      highlight=False)
    console.print(f"[dim]groups: {literal(', '.join(sim.groups))}; compared on "
                  f"{len(sim.properties)} properties every judge has; intervals: "
                  f"{sim.interval}[/]", highlight=False)
    renamed = [j for j in panel.judges if j.key != j.name and j.key in sim.matrix.index]
    if renamed:
        console.print("[dim]kept apart: " + literal(", ".join(
            f"{j.key} = {j.origin}'s {j.name}" for j in renamed)) + "[/]", highlight=False)
    if reference:
        from ..protocol import protocol_notes

        for note in protocol_notes(list(study or [])):
            console.print(f"[dim]note: {literal(note)}[/]", highlight=False)
    if out:
        paths = result.save(out)
        console.print(f"wrote {literal(', '.join(str(p) for p in paths))}", highlight=False)
    for name, near in result.nearest.items():
        view = Table("reference judge", "similarity", "interval", box=None,
                     title=f"nearest of the paper's judges to {literal(name)}",
                     title_justify="left")
        for row in near.itertuples():
            view.add_row(literal(row.judge), f"{row.similarity:.3f}",
                         f"[{row.lower:.3f}, {row.upper:.3f}]")
        console.print(view)


def _bar(value: float, scale: float, width: int = 24) -> str:
    cells = int(round(abs(value) / scale * width)) if scale > 0 else 0
    return ("[green]" + "\u2588" * cells + "[/]") if value > 0 else \
        ("[red]" + "\u2588" * cells + "[/]")


def explain(study: Annotated[Path, typer.Argument(help="Study folder (after `fit`).")],
            pair_id: Annotated[str, typer.Argument(help="The pair's id.")],
            judge: Annotated[list[str] | None, typer.Option(
                "--judge", "-j", help="Judge(s) to explain (default: all).")] = None,
            group: Annotated[str, typer.Option("--group", "-g", help="Which group's profile "
                                               "to use.")] = "all",
            as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of "
                                                  "tables.")] = False) -> None:
    """Explain one pair: each property's Shapley value toward the judge's choice."""
    from rich.table import Table

    from ..errors import UsageError
    from ..explanations import explain_in_study
    from ..judgments import judge_names
    from ..study import Study

    target = Study(study)
    pairs = target.pairs().set_index("id")
    if pair_id not in pairs.index:
        raise UsageError(f"{study}: no pair with id '{pair_id}'; ids look like "
                         f"{', '.join(map(str, pairs.index[:3]))}")
    profiles = target.profiles()
    judgments = target.judgments()
    labels = target.schema().labels()
    chosen = judge or [j for j in judge_names(judgments) if j in set(profiles["judge"])]
    results = []
    for name in chosen:
        result = explain_in_study(target, pair_id, name, group, labels)
        actual = judgments[(judgments["judge"] == name) & (judgments["pair_id"] == pair_id)]
        results.append((result, actual["label"].iloc[0] if len(actual) else None))
    if as_json:
        console.print_json(json.dumps([{
            "pair_id": r.pair_id, "judge": r.judge, "group": r.group, "p_a": r.p_a,
            "actual": actual, "exact": r.exact,
            "properties": r.table.to_dict(orient="records")} for r, actual in results]))
        return
    pair = pairs.loc[pair_id]
    console.print(f"[bold]query:[/] {literal(str(pair['query'])[:400])}", highlight=False)
    console.print(f"[bold]A:[/] {literal(str(pair['response_a'])[:300])}", highlight=False)
    console.print(f"[bold]B:[/] {literal(str(pair['response_b'])[:300])}", highlight=False)
    for result, actual in results:
        console.rule(literal(f"{result.judge} ({result.group})"))
        console.print(f"predicted P(A preferred) = {100 * result.p_a:.1f}% "
                      f"(baseline 50%); the judge chose: {literal(actual or 'no label')}"
                      + ("" if result.exact else " [dim](Shapley values estimated)[/]"),
                      highlight=False)
        rows = result.table[result.table["comparison"] != 0]
        scale = float(rows["shapley"].abs().max()) if len(rows) else 0.0
        view = Table("property", "better", "weight", "Shapley (pp)", "", box=None)
        for row in rows.itertuples():
            side = "A" if row.comparison > 0 else "B"
            view.add_row(literal(row.label), side if row.kind == "property" else f"{side}'s model",
                         f"{row.weight:+.3f}", f"{100 * row.shapley:+.2f}",
                         _bar(row.shapley, scale))
        console.print(view)
