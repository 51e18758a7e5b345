"""Shared test helpers: the CLI runner and the optional real datasets."""

from __future__ import annotations

import io
import os
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest

SHARED = Path(os.environ.get("PREFDISSECT_SHARED_DATA",
                             Path(__file__).resolve().parents[2] / "shared" / "data"))


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        """stdout with rich's line wrapping undone."""
        return " ".join(self.out.split())


def run_cli(*args: str) -> CliResult:
    """Run the prefdissect CLI in-process; return exit code, stdout and stderr."""
    from prefdissect.cli import console, errors, main

    out, err = io.StringIO(), io.StringIO()
    old = console.file, errors.file
    console.file, errors.file = out, err
    code = 0
    try:
        with redirect_stdout(out), redirect_stderr(err):
            main(list(args))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        console.file, errors.file = old
    return CliResult(code, out.getvalue(), err.getvalue())


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture
def shared_data() -> Path:
    """The real datasets of ../shared/data; the test skips when they are absent."""
    if not SHARED.is_dir():
        pytest.skip(f"real datasets not found at {SHARED} (set PREFDISSECT_SHARED_DATA)")
    return SHARED


@pytest.fixture(scope="session")
def alpaca_study(tmp_path_factory) -> Path:
    """The shared AlpacaEval data dissected once (heuristic annotator, default options)."""
    if not SHARED.is_dir():
        pytest.skip(f"real datasets not found at {SHARED} (set PREFDISSECT_SHARED_DATA)")
    out = tmp_path_factory.mktemp("alpaca") / "study"
    result = run_cli("dissect", str(SHARED / "alpaca_eval"), "--format", "alpaca-eval",
                     "--out", str(out))
    assert result.code == 0, result.err
    (out / "dissect_output.txt").write_text(result.text)
    return out


SHARED_FIXTURES = ("shared_data", "alpaca_study")
"""Fixtures that read ../shared/data: tests taking one are marked shared_data."""


def pytest_collection_modifyitems(config, items):
    """Mark every test that reads the shared datasets, so -m shared_data selects it."""
    for item in items:
        if set(SHARED_FIXTURES) & set(getattr(item, "fixturenames", ())) and \
                item.get_closest_marker("shared_data") is None:
            item.add_marker(pytest.mark.shared_data)
