"""How the CLI shows results: the fit summary as readable tables."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape as literal
from rich.table import Table


def _effects_table(title: str, effects: list[dict[str, Any]], style: str) -> Table:
    table = Table(title=title, title_style=style, title_justify="left", box=None,
                  pad_edge=False, show_header=True, header_style="dim")
    table.add_column("property")
    table.add_column("P(preferred)", justify="right")
    table.add_column("95% interval", justify="right")
    table.add_column("weight", justify="right")
    for e in effects:
        table.add_row(literal(e["label"]), f"{100 * e['probability']:.1f}%",
                      f"{100 * e['lower']:.1f}-{100 * e['upper']:.1f}%", f"{e['weight']:+.3f}")
    if not effects:
        table.add_row("(none)", "", "", "")
    return table


def print_summary(console: Console, summary: dict[str, Any], out: str | None = None) -> None:
    """Print what a fit found: per judge, the properties that raise and lower preference."""
    console.print(f"[bold]{summary['pairs']}[/] pairs imported from "
                  f"{literal(str(summary['source']))} ({literal(str(summary['format']))}; "
                  f"{summary['rows_read']} source rows)", highlight=False)
    if summary["import_excluded"]:
        parts = ", ".join(f"{n} {reason}" for reason, n in summary["import_excluded"].items())
        console.print(f"left out at import: {literal(parts)}", highlight=False)
    console.print(f"properties in the model: {len(summary['properties_fitted'])}",
                  highlight=False)
    for note in summary["notes"]:
        console.print(f"[dim]note: {literal(note)}[/]", highlight=False)
    for judge, info in summary["judges"].items():
        console.rule(f"[bold]{literal(judge)}[/]")
        excluded = info["excluded"]
        text = ", ".join(f"{n} {reason}" for reason, n in excluded.items()) or "none"
        console.print(f"{info['pairs_used']} usable pairs (group 'all'); left out: "
                      f"{literal(text)}",
                      highlight=False)
        if info.get("judge_failed"):
            console.print(f"the judge gave no usable answer on {info['judge_failed']} pairs "
                          "(see exclusions.csv)", highlight=False)
        if info["not_converged"]:
            console.print(f"[yellow]{info['not_converged']} of {info['groups']} group fits did "
                          "not converge; see fit_diagnostics.csv[/]")
        held = info.get("held_out")
        if held and held.get("model_accuracy") == held.get("model_accuracy"):  # not NaN
            console.print(
                f"held-out ({held['folds']} folds) accuracy {100 * held['model_accuracy']:.1f}%"
                f", log-loss {held['model_log_loss']:.3f}; length alone "
                f"{100 * held['length_accuracy']:.1f}% / {held['length_log_loss']:.3f}; "
                f"always A {100 * held['always_a_accuracy']:.1f}%; majority label "
                f"{100 * held['majority_accuracy']:.1f}% / {held['majority_log_loss']:.3f}",
                highlight=False)
        console.print(_effects_table("raises preference", info["raises"], "green"))
        console.print(_effects_table("lowers preference", info["lowers"], "red"))
    console.print("[dim]P(preferred): chance a response wins when it is better on that "
                  "property alone (sigmoid of the weight).[/]")
    if out:
        console.print(f"wrote {literal(out)}/profiles.csv (one row per judge, group and "
                      "property)",
                      highlight=False)
