"""How the CLI shows results: the fit summary as readable tables."""

from __future__ import annotations

import math
from typing import Any

from rich.console import Console
from rich.markup import escape as literal
from rich.table import Table


def _pct(p: float | None, digits: int = 1) -> str:
    return "" if p is None or (isinstance(p, float) and math.isnan(p)) else \
        f"{100 * p:.{digits}f}%"


def preferred(p: float) -> str:
    """Show a P(preferred) the one way every command shows it: a percentage, one decimal."""
    return _pct(p)


def preferred_interval(lower: float, upper: float) -> str:
    """Show a P(preferred) interval the one way every command shows it (70.1-79.0%)."""
    return f"{100 * lower:.1f}-{100 * upper:.1f}%"


def _effects_table(title: str, effects: list[dict[str, Any]], style: str, k: int = 5) -> Table:
    """Show the ``k`` strongest credible effects, and how many more there are."""
    table = Table(title=title, title_style=style, title_justify="left", box=None,
                  pad_edge=False, show_header=True, header_style="dim")
    table.add_column("property")
    table.add_column("P(preferred)", justify="right")
    table.add_column("95% interval", justify="right")
    table.add_column("weight", justify="right")
    for e in effects[:k]:
        table.add_row(literal(e["label"]), preferred(e["probability"]),
                      preferred_interval(e["lower"], e["upper"]), f"{e['weight']:+.3f}")
    if not effects:
        table.add_row("(none)", "", "", "")
    elif len(effects) > k:
        table.add_row(f"[dim]... and {len(effects) - k} more (profiles.csv)[/]", "", "", "")
    return table


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _print_terms(console: Console, terms: list[dict[str, Any]], k: int = 4) -> None:
    """Model terms of group 'all': the baseline's edge, or the strongest and weakest models."""
    if not terms:
        return
    if terms[0]["kind"] == "baseline":
        t = terms[0]
        who = "side A" if t["term"] == "side A" else "the baseline"
        console.print(f"model term {literal(t['term'])}: {t['mean']:+.3f} "
                      f"[{t['lower']:+.3f}, {t['upper']:+.3f}] (logit); with the responses "
                      f"equal on every property, {who} wins {_pct(_sigmoid(t['mean']))} "
                      f"[{_pct(_sigmoid(t['lower']))}, {_pct(_sigmoid(t['upper']))}]",
                      highlight=False)
        return
    shown = terms if len(terms) <= 2 * k else terms[:k] + terms[-k:]
    parts = [f"{literal(t['term'])} {t['mean']:+.2f} [{t['lower']:+.2f}, {t['upper']:+.2f}]"
             for t in shown]
    more = "" if len(terms) <= 2 * k else f" (strongest and weakest {k} of {len(terms)}; " \
        "all in terms.csv)"
    console.print(f"model strengths (logit, vs the anchor){more}: " + "; ".join(parts),
                  highlight=False)


def _groups_table(groups: list[dict[str, Any]]) -> Table:
    table = Table(title="other groups (credible effects, strongest first)", title_style="bold",
                  title_justify="left", box=None, pad_edge=False, header_style="dim")
    table.add_column("group", no_wrap=True)
    for name, justify in (("pairs", "right"), ("held-out acc.", "right"),
                          ("length alone", "right"), ("raises", "left"), ("lowers", "left")):
        table.add_column(name, justify=justify)

    def effects(items: list) -> str:
        return ", ".join(f"{literal(label)} {preferred(p)}" for label, p in items) or "-"

    for g in groups:
        table.add_row(literal(g["group"]), str(g["n_pairs"]), _pct(g["accuracy"]),
                      _pct(g["length_accuracy"]), effects(g["raises"]), effects(g["lowers"]))
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
    terms = summary.get("model_terms")
    if terms:
        console.print(f"model terms: [bold]{terms['kind']}[/] ({literal(terms['reason'])})",
                      highlight=False)
    for note in summary["notes"]:
        console.print(f"[dim]note: {literal(note)}[/]", highlight=False)
    for judge, info in summary["judges"].items():
        console.rule(f"[bold]{literal(judge)}[/]")
        excluded = info["excluded"]
        text = ", ".join(f"{n} {reason}" for reason, n in excluded.items()) or "none"
        console.print(f"{info['pairs_used']} usable pairs (group 'all'); left out: "
                      f"{literal(text)}", highlight=False)
        if info.get("judge_failed"):
            console.print(f"the judge gave no usable answer on {info['judge_failed']} pairs "
                          "(see exclusions.csv)", highlight=False)
        if info["not_converged"]:
            console.print(f"[yellow]{info['not_converged']} of {info['groups']} group fits did "
                          "not converge; see fit_diagnostics.csv[/]")
        held = info.get("held_out")
        if held and held.get("model_accuracy") is not None:
            terms_part = "" if held.get("terms_accuracy") is None else (
                f"; model terms alone {_pct(held['terms_accuracy'])} / "
                f"{held['terms_log_loss']:.3f}")
            length_part = "" if held.get("length_accuracy") is None else (
                f"; length alone {_pct(held['length_accuracy'])} / "
                f"{held['length_log_loss']:.3f}")
            console.print(
                f"held-out ({held['folds']:.0f} folds) accuracy / log-loss: properties "
                f"{_pct(held['model_accuracy'])} / {held['model_log_loss']:.3f}{length_part}"
                f"{terms_part}; base rate {_pct(held['majority_accuracy'])} / "
                f"{held['base_rate_log_loss']:.3f}; always A {_pct(held['always_a_accuracy'])}",
                highlight=False)
        _print_terms(console, info.get("terms") or [])
        console.print(_effects_table("raises preference (95% interval above 50%)",
                                     info["raises"], "green"))
        console.print(_effects_table("lowers preference (95% interval below 50%)",
                                     info["lowers"], "red"))
        unclear = info.get("unclear") or []
        if unclear:
            console.print("[dim]no clear effect (interval includes 50%): " + ", ".join(
                literal(e["label"]) for e in unclear) + "[/]", highlight=False)
        if info.get("other_groups"):
            console.print(_groups_table(info["other_groups"]))
    console.print("[dim]P(preferred): chance a response wins when it is better on that "
                  "property alone (sigmoid of the weight).[/]")
    if out:
        console.print(f"wrote {literal(out)}/profiles.csv (one row per judge, group and "
                      "property)" + (", terms.csv (model terms)" if terms and
                                     terms.get("terms") else ""), highlight=False)
