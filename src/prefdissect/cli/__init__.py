"""The command line: a thin shell over the library.

Errors meant for users (:class:`~prefdissect.errors.PrefDissectError`) become one
line on stderr; nothing else is caught, so a bug still shows its traceback.
Exit statuses: 0 done; 2 bad input or options (nothing was done); 3 finished
with failures (LLM requests that failed after every attempt, or whose answers
could not be used, kept with their reasons; re-running retries only them; also
when the server refused the key and the run stopped); 130 interrupted (finished
work is kept).

Commands are plain functions in one module per command group; they are
registered here, in the order of the workflow, so that ``--help`` reads like the
pipeline. Command modules import the library inside the command functions, which
keeps ``prefdissect --help`` fast.
"""

from __future__ import annotations

import functools
import os
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from .. import __version__
from ..errors import EXIT_INTERRUPTED, EXIT_PARTIAL, EXIT_USAGE, PartialFailure, PrefDissectError

app = typer.Typer(
    name="prefdissect",
    help="Find out what a preference judge (humans, an LLM judge, a reward model) rewards.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
WIDE = 200
"""Columns of the output when it goes to no terminal and COLUMNS is not set."""


def _width() -> int | None:
    """Return the output width: rich's own where stdout or the user sees a terminal.

    Written to a pipe or a file (``| tee``, CI logs) rich would squeeze tables into
    80 columns and wrap them one word per line; there the width is ``COLUMNS`` when
    set, else the width of a terminal on stderr or stdin (``| cat`` typed in one),
    else :data:`WIDE`, so that a logged summary reads like the terminal one.
    """
    if sys.stdout.isatty():
        return None
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    for stream in (sys.stderr, sys.stdin):
        try:
            if stream is not None and stream.isatty():
                return os.get_terminal_size(stream.fileno()).columns
        except (OSError, ValueError, AttributeError):
            continue
    return WIDE


console = Console(width=_width())
errors = Console(stderr=True)


_kept: list = []  # LLM clients of this command, to say what an interrupt kept


def remember(client) -> None:
    """Note an LLM client, so that Ctrl-C can say how many of its answers were kept."""
    _kept.append(client)


def _interrupted() -> str:
    parts = ["interrupted; each study file is replaced whole or not at all, so none is "
             "half-written, but a stage stopped between two of its files may leave the "
             "others from its previous run"]
    for client in _kept:
        got = client.tally.answered
        parts.append(f"{got} LLM answer{'s' if got != 1 else ''} received in this run "
                     f"{'are' if got != 1 else 'is'} kept in {client.log.path} and will not "
                     "be paid for again")
    parts.append("run the same command again to continue")
    return "; ".join(parts)


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


class _Interrupted(Exception):
    """Ctrl-C inside a command (typer would turn it into a silent exit 130)."""


def _guard(function):
    """Let Ctrl-C inside ``function`` reach :func:`main`, which says what was kept."""
    @functools.wraps(function)
    def run(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except KeyboardInterrupt:
            raise _Interrupted() from None

    return run


def _register() -> None:
    from . import (
        agreement,
        analysis,
        cluster,
        demo,
        discover,
        exploit,
        export,
        llm,
        report,
        scores,
        stages,
    )

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
        ("discover", discover.discover, analyse),
        ("report", report.report, share),
        ("plot", report.plot, share),
        ("export", export.export, share),
        ("formats", stages.formats, lists),
        ("annotators", stages.annotators, lists),
        ("properties", stages.properties, lists),
    ):
        app.command(name, rich_help_panel=panel)(_guard(function))
    for info in [*llm.batch_app.registered_commands, *exploit.exploit_app.registered_commands,
                 *cluster.cluster_app.registered_commands]:
        info.callback = _guard(info.callback)
    app.add_typer(llm.batch_app, name="batch", rich_help_panel=pipeline)
    app.add_typer(cluster.cluster_app, name="cluster", rich_help_panel=pipeline)
    app.add_typer(exploit.exploit_app, name="exploit", rich_help_panel="Audit")
    from .probe import register as register_probe
    register_probe(app, _guard)


_register()


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; user errors print one line and exit with status 2 (3: partial)."""
    _kept.clear()
    try:
        app(args=argv, standalone_mode=True)
    except PartialFailure as exc:
        errors.print(f"[bold yellow]finished with failures:[/] {escape(str(exc))}",
                     highlight=False, soft_wrap=True)
        sys.exit(EXIT_PARTIAL)
    except PrefDissectError as exc:
        errors.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(EXIT_USAGE)
    except (_Interrupted, KeyboardInterrupt):
        errors.print(escape(_interrupted()), highlight=False, soft_wrap=True)
        sys.exit(EXIT_INTERRUPTED)
