"""Report and figure commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from . import console, literal
from .options import ReferenceOpt

FIGURES = ("dissection", "similarity", "waterfall")


def _reference(reference: str | None):
    from ..reference import PAPER_URL, load_reference_profiles

    if not reference:
        return None
    return load_reference_profiles(PAPER_URL if reference == "paper" else reference)


def report(study: Annotated[Path, typer.Argument(help="Study folder (after `fit`).")],
           out: Annotated[Path, typer.Option("--out", "-o", help="HTML file to write.")]
           = Path("report.html"),
           reference: ReferenceOpt = None,
           probes: Annotated[Path | None, typer.Option(
               "--probes", help="A probe folder (`prefdissect probe --out`) for the Probes "
               "view.")] = None) -> None:
    """Write one self-contained HTML report (no network needed to open it)."""
    from ..report import build_report
    from ..study import Study

    path = build_report(Study(study), out, _reference(reference), probes)
    size = path.stat().st_size / 2**20
    console.print(f"wrote {literal(str(path))} ({size:.1f} MiB); open it in any browser, "
                  "offline",
                  highlight=False)


def plot(study: Annotated[Path, typer.Argument(help="Study folder (after `fit`).")],
         figure: Annotated[str, typer.Option("--figure", help="dissection, similarity or "
                                             "waterfall.")] = "dissection",
         out: Annotated[Path, typer.Option("--out", "-o", help="File to write: .png, .svg or "
                                           ".pdf.")] = Path("dissection.png"),
         judge: Annotated[list[str] | None, typer.Option(
             "--judge", "-j", help="Judge(s) to show (default: the study's, and with "
             "--reference the paper's judges of the same name, e.g. paper:human).")] = None,
         group: Annotated[str, typer.Option("--group", "-g", help="Group.")] = "all",
         pair: Annotated[str | None, typer.Option("--pair", help="Pair id (waterfall).")]
         = None,
         reference: ReferenceOpt = None,
         dpi: Annotated[int, typer.Option("--dpi", help="Resolution of PNG files.")] = 200,
         ) -> None:
    """Write a publication figure with matplotlib."""
    from ..errors import UsageError

    if figure not in FIGURES:
        raise UsageError(f"--figure {figure}: use dissection, similarity or waterfall")
    if out.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise UsageError(f"--out {out}: use a .png, .svg or .pdf file name")
    if figure == "waterfall" and not pair:
        raise UsageError("the waterfall figure needs --pair PAIR_ID")
    from .. import figures
    from ..study import Study

    fig = figures.study_figure(Study(study), figure, judges=judge, group=group, pair=pair,
                               reference=_reference(reference))
    path = figures.save_figure(fig, out, dpi)
    console.print(f"wrote {literal(str(path))}", highlight=False)
