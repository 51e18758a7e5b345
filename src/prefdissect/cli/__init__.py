"""The command line: a thin shell over the library.

Errors meant for users (:class:`~prefdissect.errors.PrefDissectError`) become one
line on stderr and exit status 2; nothing else is caught, so a bug still shows
its traceback.

Commands are plain functions in one module per command group; they are
registered here, in the order of the workflow, so that ``--help`` reads like the
pipeline. Command modules import the library inside the command functions, which
keeps ``prefdissect --help`` fast.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from .. import __version__
from ..errors import PrefDissectError

app = typer.Typer(
    name="prefdissect",
    help="Find out what a preference judge (humans, an LLM judge, a reward model) rewards.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
console = Console()
errors = Console(stderr=True)


def literal(value: object) -> str:
    """Return data-derived text (queries, responses, names) escaped for rich markup.

    Everything that comes from a user's data passes through here before it is
    printed with markup, so that ``[red]`` or ``[/]`` in a response prints as is.
    """
    return escape(str(value))


def _display_type(self, ctx) -> str | None:
    """Show option types as click does (TEXT, INTEGER, PATH ...), and none for flags."""
    if getattr(self, "is_flag", False) or getattr(self, "count", False):
        return None
    if self.metavar:
        return self.metavar
    annotation = self.type_descriptor.annotation
    many = getattr(self, "multiple", False) or getattr(self, "nargs", 1) != 1
    names = {int: "INTEGER", float: "FLOAT", bool: "BOOLEAN"}
    if self.type_descriptor.is_path:
        label = "PATH"
    else:
        label = names.get(annotation, "TEXT")
    return f"{label} ..." if many else label


typer.core.TyperOption.display_type_rich = _display_type
typer.core.TyperArgument.display_type_rich = _display_type


def _version(value: bool) -> None:
    if value:
        console.print(f"prefdissect {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[bool, typer.Option(
        "--version", help="Print the version and exit.", callback=_version,
        is_eager=True)] = False) -> None:
    """Find out what a preference judge (humans, an LLM judge, a reward model) rewards."""


def _register() -> None:
    from . import agreement, analysis, demo, exploit, export, llm, report, scores, stages

    pipeline = "Pipeline"
    analyse = "Analyse"
    share = "Share"
    lists = "Reference"
    for name, function, panel in (
        ("demo", demo.demo, pipeline),
        ("dissect", stages.dissect, pipeline),
        ("import", stages.import_command, pipeline),
        ("annotate", stages.annotate, pipeline),
        ("judge", llm.judge, pipeline),
        ("fit", stages.fit_command, pipeline),
        ("scores", scores.scores, analyse),
        ("compare", analysis.compare, analyse),
        ("explain", analysis.explain, analyse),
        ("agreement", agreement.agreement, analyse),
        ("report", report.report, share),
        ("plot", report.plot, share),
        ("export", export.export, share),
        ("formats", stages.formats, lists),
        ("annotators", stages.annotators, lists),
        ("properties", stages.properties, lists),
    ):
        app.command(name, rich_help_panel=panel)(function)
    app.add_typer(llm.batch_app, name="batch", rich_help_panel=pipeline)
    app.add_typer(exploit.exploit_app, name="exploit", rich_help_panel="Audit")


_register()


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; user errors print one line and exit with status 2."""
    try:
        app(args=argv, standalone_mode=True)
    except PrefDissectError as exc:
        errors.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        errors.print("interrupted; finished stages are saved in the study folder")
        sys.exit(130)
