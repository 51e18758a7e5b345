"""Exclusions: items kept out of an import or a fit, each with its reason.

Nothing leaves the pipeline silently: an importer that skips a source row, or a
fit that leaves out a tie, records an :class:`Exclusion`, and summaries count them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass

import pandas as pd

EXCLUSION_COLUMNS = ("stage", "reason", "pair_id", "judge", "source", "line", "detail")
"""Columns of an exclusion table, in order."""

# Reasons shared by several stages (free text is allowed too).
TIE = "tie"
IDENTICAL = "identical responses"
EMPTY = "empty response"
NO_LABEL = "no usable label"
MISSING_ANNOTATION = "missing annotation"
NOT_APPLICABLE = "property not applicable"


@dataclass(slots=True)
class Exclusion:
    """One item kept out of a stage, and why."""

    stage: str
    """Where it was kept out: 'import' or 'fit'."""
    reason: str
    """Short reason, the key that summaries count by."""
    pair_id: str | None = None
    """The pair concerned, if it has one."""
    judge: str | None = None
    """The judge concerned (fit exclusions are per judge)."""
    source: str | None = None
    """The source file, for import exclusions."""
    line: int | None = None
    """Line or record number in the source file."""
    detail: str = ""
    """Anything more specific (which property was missing, ...)."""


def exclusions_to_frame(items: Iterable[Exclusion]) -> pd.DataFrame:
    """Turn exclusion records into a table."""
    return pd.DataFrame([asdict(x) for x in items], columns=list(EXCLUSION_COLUMNS))

