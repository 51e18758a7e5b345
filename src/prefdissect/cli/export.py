"""The export command: a study in another tool's format."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from . import console, literal
from .options import StudyArg


def export(study: StudyArg,
           out: Annotated[Path, typer.Option("--out", "-o", help="File to write.")],
           format: Annotated[str, typer.Option(
               "--format", "-f", help="Export format: annotated-pairs (AnnotatedPairs v2 "
               "JSON, which Feedback Forensics loads) or preference (a TRL preference "
               "dataset: JSON Lines, or Parquet by extension).")] = "annotated-pairs",
           judge: Annotated[str | None, typer.Option(
               "--judge", "-j", help="The reference judge (default: the study's only "
               "judge).")] = None,
           balance: Annotated[str | None, typer.Option(
               "--balance", help="preference: keep pairs so that the chosen response is "
               "better on this property (e.g. lengthy) in half of those that differ on it.")]
           = None,
           seed: Annotated[int, typer.Option("--seed", help="Seed of --balance's draw.")]
           = 0) -> None:
    """Write a study for another tool (Feedback Forensics, TRL)."""
    from .. import registry
    from ..errors import UsageError
    from ..exporters import run_export
    from ..study import Study

    registry.get("exporter", format)
    options = {"judge": judge}
    if balance is not None or seed:
        if format != "preference":
            raise UsageError("--balance and --seed apply to --format preference")
        options.update(balance=balance, seed=seed)
    result = run_export(Study(study), format, out, **options)
    console.print(f"wrote {result.records} {result.unit} to {literal(result.path)} "
                  f"({literal(result.format)})", highlight=False)
    for note in result.notes:
        console.print(f"[dim]note: {literal(note)}[/]", highlight=False)
