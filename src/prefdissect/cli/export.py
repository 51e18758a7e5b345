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
               "JSON, which Feedback Forensics loads).")] = "annotated-pairs",
           judge: Annotated[str | None, typer.Option(
               "--judge", "-j", help="The reference judge (default: the study's only "
               "judge).")] = None) -> None:
    """Write a study for another tool: judges as annotators, properties as principles."""
    from .. import registry
    from ..exporters import run_export
    from ..study import Study

    registry.get("exporter", format)
    result = run_export(Study(study), format, out, judge=judge)
    console.print(f"wrote {result.records} comparisons to {literal(result.path)} "
                  f"({literal(result.format)})", highlight=False)
    for note in result.notes:
        console.print(f"[dim]note: {literal(note)}[/]", highlight=False)
