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

import difflib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd

from . import registry
from .errors import UsageError
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


def check_measured(schema: PropertySchema, annotators: list[str], annotated: set[str],
                   source: str | None) -> None:
    """Refuse a schema property that looks misspelt and that nothing would measure.

    ``annotated`` names properties that already have values (brought by the user);
    ``source`` is the schema file, for the message.
    """
    from .properties import misspelt

    suspects = misspelt(schema)
    if not suspects:
        return
    measured = set(annotated)
    for name in annotators:
        if name == "llm":
            from .annotators.llm import LLMAnnotator

            measured |= set(LLMAnnotator(None, "probe").measures(schema))
            continue
        try:
            measured |= set(make_annotator(name).measures(schema))
        except TypeError:  # an annotator that needs settings: it may measure anything
            return
    for name, close in suspects.items():
        if name not in measured:
            raise UsageError(f"--schema {source}: no annotator measures the property '{name}'; "
                             f"did you mean '{close}'? (a property of your own gets its "
                             "values from `prefdissect annotate STUDY --from FILE`)")


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


def _number(value) -> float | None:
    """Return ``value`` as a number, or None when it is missing or not a number."""
    number = pd.to_numeric(pd.Series([value], dtype=object), errors="coerce").iloc[0]
    return None if pd.isna(number) else float(number)


def read_user_annotations(path: str | Path, pair_ids: Iterable[str],
                          properties: Iterable[str]) -> pd.DataFrame:
    """Read a user's annotation table (``annotate --from``) and check every row.

    Each row must name a pair of the study and a property of the schema, carry
    numbers (or nothing, for a value that could not be obtained) in ``value_a`` and
    ``value_b``, and appear once per (pair, property, annotator). The first bad row
    raises an :class:`~prefdissect.errors.InputError` naming its line and field.
    """
    from .errors import InputError
    from .readers import iter_records

    path = Path(path)
    pair_ids, properties = set(map(str, pair_ids)), list(properties)
    known = set(properties)
    lines, records = [], []
    for line, record in iter_records(path):
        status = record.get("status")
        if status is not None and status not in STATUSES:
            raise InputError(path, f"has unknown status {status!r}",
                             f"use one of {', '.join(STATUSES)}", line=line, field="status")
        if status is None:
            present = all(_number(record.get(c)) is not None for c in ("value_a", "value_b"))
            record = {**record, "status": OK if present else FAILED}
        lines.append(line)
        records.append(record)
    frame = check_annotations(pd.DataFrame(records), str(path))
    seen: dict[tuple[str, str, str], int] = {}
    for line, record, row in zip(lines, records, frame.itertuples(index=False)):
        for column in ("value_a", "value_b"):
            given = record.get(column)
            if pd.isna(getattr(row, column)) and given is not None and str(given).strip() \
                    and not (isinstance(given, float) and np.isnan(given)):
                raise InputError(path, f"must be a number, got {given!r}",
                                 "give numbers (or leave the cell empty for a value that "
                                 "could not be obtained)", line=line, field=column)
        if row.status == OK and (pd.isna(row.value_a) or pd.isna(row.value_b)):
            raise InputError(path, "has status 'ok' but a missing value",
                             "give both values, or set status to failed with a reason",
                             line=line, field="value_a" if pd.isna(row.value_a) else "value_b")
        if row.property not in known:
            close = difflib.get_close_matches(str(row.property), properties, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise InputError(path, f"names the unknown property {row.property!r}",
                             f"{hint}properties of the schema: {', '.join(properties)} (add "
                             "a property of your own to a --schema file first)", line=line,
                             field="property")
        if row.pair_id not in pair_ids:
            raise InputError(path, f"names pair {row.pair_id!r}, which the study lacks",
                             "use the ids in the study's pairs.parquet (`prefdissect import` "
                             "keeps the source's own ids)", line=line, field="pair_id")
        key = (row.pair_id, row.property, str(row.annotator))
        if key in seen:
            raise InputError(path, f"repeats pair {row.pair_id!r} and property "
                             f"{row.property!r} (first on line {seen[key]})",
                             "give each pair and property one row per annotator", line=line)
        seen[key] = line
    return frame


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
