"""The command line: a thin shell over the library.

Errors meant for users (:class:`~prefdissect.errors.PrefDissectError`) become one
line on stderr and exit status 2; nothing else is caught, so a bug still shows
its traceback.
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console
from rich.markup import escape

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

from . import analysis as _analysis  # noqa: E402,F401  (registers commands)
from . import demo as _demo  # noqa: E402,F401
from . import llm as _llm  # noqa: E402,F401
from . import report as _report  # noqa: E402,F401
from . import stages as _stages  # noqa: E402,F401


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
