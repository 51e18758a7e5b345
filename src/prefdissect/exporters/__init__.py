"""Exporters write a study in another tool's format.

Each exporter is a function ``export(study, out, **options) -> ExportResult``
registered under kind ``exporter`` with the name users pass as ``--format``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .. import registry
from ..errors import UsageError


@dataclass
class ExportResult:
    """What an exporter wrote."""

    path: Path
    """The file written."""
    format: str
    """The exporter's registered name."""
    records: int = 0
    """Records (comparisons, pairs) written."""
    notes: list[str] = field(default_factory=list)
    """Anything the user should know (which judge is the reference, ...)."""
    unit: str = "comparisons"
    """What a record is, for messages ("comparisons", "preference pairs")."""


def run_export(study, format: str, out: str | Path, **options) -> ExportResult:
    """Export ``study`` with the exporter registered as ``format``."""
    return registry.get("exporter", format).factory(study, Path(out), **options)


def choose_judge(judges: list[str], judge: str | None) -> str:
    """Return ``judge``, or the study's only judge; refuse an unknown or ambiguous choice."""
    if judge is None:
        if len(judges) != 1:
            raise UsageError(f"the study has {len(judges)} judges; choose the reference with "
                             f"--judge ({', '.join(judges) or 'none'})")
        return judges[0]
    if judge not in judges:
        raise UsageError(f"--judge {judge}: not in this study; judges: {', '.join(judges)}")
    return judge


def write_atomic(path: Path, text: str) -> None:
    """Write text to ``path`` through a temporary file, so no half file is left behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
