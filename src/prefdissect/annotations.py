"""Annotations: each pair's value on each property, for A and for B.

An annotation table has the columns :data:`ANNOTATION_COLUMNS`, one row per
(pair, property, annotator). A value that could not be obtained is a row with
status ``failed`` and a reason, never a zero; a property that does not apply to
the pair's query is status ``not_applicable``.

Annotators are registered under kind ``annotator``: a class whose instances have
``name``, ``measures(schema) -> list[str]`` and
``annotate(pairs, schema, progress=None) -> DataFrame``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np
import pandas as pd

from . import registry
from .properties import PropertySchema

OK, FAILED, NOT_APPLICABLE = "ok", "failed", "not_applicable"
STATUSES = (OK, FAILED, NOT_APPLICABLE)

ANNOTATION_COLUMNS = ("pair_id", "property", "value_a", "value_b", "status", "reason",
                      "annotator", "model", "prompt_version")
"""Columns of an annotation table, in order."""

Progress = Callable[[int], None]
"""Called with the number of pairs just finished, for progress bars."""


class Annotator(Protocol):
    """What every annotator offers."""

    name: str

    def measures(self, schema: PropertySchema) -> list[str]:
        """Return the schema properties this annotator can give values for."""

    def annotate(self, pairs: pd.DataFrame, schema: PropertySchema,
                 progress: Progress | None = None) -> pd.DataFrame:
        """Return an annotation table for ``pairs``."""


def make_annotator(name: str, **options) -> Annotator:
    """Build the annotator registered as ``name``."""
    return registry.get("annotator", name).factory(**options)


def values_to_frame(pair_ids: np.ndarray, properties: list[str], values_a: np.ndarray,
                    values_b: np.ndarray, *, annotator: str, model: str | None = None,
                    prompt_version: str | None = None) -> pd.DataFrame:
    """Build an all-``ok`` annotation table from per-pair value matrices.

    ``values_a`` and ``values_b`` have one row per pair and one column per property.
    """
    n, k = values_a.shape
    return pd.DataFrame({
        "pair_id": np.repeat(np.asarray(pair_ids, dtype=object), k),
        "property": np.tile(np.asarray(properties, dtype=object), n),
        "value_a": values_a.reshape(-1).astype(float),
        "value_b": values_b.reshape(-1).astype(float),
        "status": OK,
        "reason": None,
        "annotator": annotator,
        "model": model,
        "prompt_version": prompt_version,
    }, columns=list(ANNOTATION_COLUMNS))


def check_annotations(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """Validate a user-supplied annotation table; return it with all columns present."""
    from .errors import InputError

    fix = f"annotation tables need columns {', '.join(ANNOTATION_COLUMNS[:5])}"
    for column in ("pair_id", "property", "value_a", "value_b"):
        if column not in frame.columns:
            raise InputError(source, "is missing", fix, field=column)
    frame = frame.copy()
    if "status" not in frame.columns:
        frame["status"] = np.where(frame["value_a"].notna() & frame["value_b"].notna(), OK,
                                   FAILED)
    bad = ~frame["status"].isin(STATUSES)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(source, f"has unknown status {frame['status'].iloc[row]!r}",
                         f"use one of {', '.join(STATUSES)}", line=row + 2, field="status")
    for column in ANNOTATION_COLUMNS:
        if column not in frame.columns:
            frame[column] = None
    frame["value_a"] = pd.to_numeric(frame["value_a"], errors="coerce")
    frame["value_b"] = pd.to_numeric(frame["value_b"], errors="coerce")
    frame["pair_id"] = frame["pair_id"].astype(str)
    return frame[list(ANNOTATION_COLUMNS)]


def query_traits(query_info: pd.DataFrame | None) -> pd.DataFrame | None:
    """Return the query traits of a query-information table: pair id x trait (bool).

    None when there is no table or no pair with known traits.
    """
    from .properties import TRAITS

    if query_info is None or query_info.empty:
        return None
    rows = query_info[query_info["status"] == OK].set_index("pair_id")
    if rows.empty:
        return None
    return rows[[t for t in TRAITS if t in rows]].fillna(False).astype(bool)
