"""`prefdissect demo`: the whole pipeline on simulated data with known answers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from . import console, literal


def demo(out: Annotated[Path, typer.Option("--out", "-o", help="Study folder to write.")]
         = Path("prefdissect-demo"),
         pairs: Annotated[int, typer.Option("--pairs", "-n", help="Simulated pairs.")] = 4000,
         seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0) -> None:
    """Simulate judged pairs with known weights, dissect them, and compare with the truth."""
    from rich.table import Table

    from ..demo import run_demo
    from .render import print_summary

    done = run_demo(out, pairs, seed)
    console.print(f"simulated {pairs} pairs and a judge with known weights -> "
                  f"{literal(done.source)}", highlight=False)
    print_summary(console, done.dissection.summary, str(out))
    view = Table("property", "true weight", "recovered", "95% interval", "covered",
                 title="recovered vs true weights", title_justify="left", box=None)
    for row in done.recovery.itertuples():
        view.add_row(row.property, f"{row.true:+.2f}", f"{row.mean:+.3f}",
                     f"[{row.lower:+.3f}, {row.upper:+.3f}]", "yes" if row.covered else "no")
    console.print(view)
    console.print(f"correlation of recovered with true weights: {done.correlation:.3f}; "
                  f"intervals cover the truth for {int(done.recovery['covered'].sum())} of "
                  f"{len(done.recovery)} properties", highlight=False)
