"""Comparisons: per pair and property, whether A or B is better on it (+1 / 0 / -1).

:func:`resolve` turns an annotation table into the comparison matrix the model is
fitted on, following each property's rule in the schema. A value that cannot be
compared stays NaN, and :class:`Comparisons` keeps why (failed, not applicable,
never annotated) so that a fit can report the pairs it leaves out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .annotations import FAILED, NOT_APPLICABLE, OK
from .properties import PropertySchema

# Status codes kept beside each comparison value.
S_OK, S_NOT_APPLICABLE, S_FAILED, S_MISSING = 0, 1, 2, 3
STATUS_REASONS = {S_NOT_APPLICABLE: "property not applicable", S_FAILED: "annotation failed",
                  S_MISSING: "missing annotation"}


def length_comparison(words_a: np.ndarray, words_b: np.ndarray,
                      short_table: dict, ratio_steps: list) -> np.ndarray:
    """Compare word counts: +1 when B is clearly shorter, -1 when A is, else 0.

    The shorter response (s words, the longer l) loses when ``s <= 11`` and
    ``l >= short_table[s]``, or when ``s > 11`` and, for some ``(ratio, gap)`` in
    ``ratio_steps``, ``s <= ratio * l`` and ``l - s >= gap``.
    """
    a = np.asarray(words_a, dtype=float)
    b = np.asarray(words_b, dtype=float)
    short, long = np.minimum(a, b), np.maximum(a, b)
    table = np.full(max(int(k) for k in short_table) + 1, np.inf)
    for k, v in short_table.items():
        table[int(k)] = v
    small = short < len(table)
    index = np.where(small, short, 0).astype(int)
    loses = np.where(small, long >= table[index], False)
    for ratio, gap in ratio_steps:
        loses |= ~small & (short <= ratio * long) & (long - short >= gap)
    return np.where(loses, np.sign(a - b), 0.0)


def compare(rule: str, a: np.ndarray, b: np.ndarray, params: dict) -> np.ndarray:
    """Apply one comparison rule to value arrays (NaN in, NaN out)."""
    if rule == "higher_better":
        out = np.sign(a - b)
    elif rule == "lower_better":
        out = np.sign(b - a)
    elif rule == "nonzero_better":
        out = (a != 0).astype(float) - (b != 0).astype(float)
    elif rule == "length_thresholds":
        out = length_comparison(np.nan_to_num(a), np.nan_to_num(b),
                                params["short_table"], params["ratio_steps"])
    else:
        raise ValueError(f"unknown comparison rule {rule!r}")
    return np.where(np.isnan(a) | np.isnan(b), np.nan, out)


@dataclass
class Comparisons:
    """The comparison matrix of a set of pairs, with why any value is missing."""

    values: pd.DataFrame
    """Index: pair id; columns: measured properties; values in {-1, 0, 1} or NaN."""
    status: pd.DataFrame
    """Same shape; 0 ok, 1 not applicable (excluded), 2 failed, 3 never annotated."""
    unmeasured: list[str] = field(default_factory=list)
    """Schema properties no annotator gave any value for; left out of fits."""
    sources: dict[str, str] = field(default_factory=dict)
    """Which annotator each property's values came from."""

    def without_sparse(self, max_missing: float) -> tuple[Comparisons, dict[str, float]]:
        """Drop properties with no value for over ``max_missing`` of the pairs.

        A value is missing when its annotation failed or was never made, or when
        the property does not apply to the pair and its rule excludes such pairs
        (``when_not_applicable: exclude``); where the rule is ``zero`` a property
        that does not apply counts as no difference and is not missing. Returns the
        reduced comparisons and, per dropped property, its share of missing values:
        one unreliable property should not take most pairs out of the fit with it.
        """
        status = self.status.to_numpy()
        share = (status != S_OK).mean(axis=0) if len(status) else np.zeros(status.shape[1])
        dropped = {p: float(x) for p, x in zip(self.values.columns, share) if x > max_missing}
        keep = [p for p in self.values.columns if p not in dropped]
        return Comparisons(self.values[keep], self.status[keep], self.unmeasured,
                           {p: self.sources[p] for p in keep}), dropped

    def reasons(self, pair_ids: pd.Index | None = None) -> pd.Series:
        """Return, per pair with a missing value, a reason naming the first property."""
        status = self.status if pair_ids is None else self.status.loc[pair_ids]
        bad = status.to_numpy() != S_OK
        rows = np.flatnonzero(bad.any(axis=1))
        first = bad[rows].argmax(axis=1)
        codes = status.to_numpy()[rows, first]
        text = [f"{STATUS_REASONS[int(c)]}: {status.columns[j]}" for c, j in zip(codes, first)]
        return pd.Series(text, index=status.index[rows], dtype=object)


def _choose_sources(found: dict[str, set[str]], prefer: list[str] | None) -> dict[str, str]:
    """Pick one annotator per property: the first of ``prefer``, else non-heuristic first."""
    sources = {}
    for prop, names in found.items():
        order = list(prefer or []) + sorted(names, key=lambda n: (n == "heuristic", n))
        sources[prop] = next(n for n in order if n in names)
    return sources


Batches = Callable[..., Iterable[pd.DataFrame]]
"""A source of annotation-table batches: called with ``columns`` (a list, or None for
every column), it returns an iterable of DataFrames; called again, it starts over."""


def resolve(annotations: pd.DataFrame, pair_ids: pd.Index | list[str],
            schema: PropertySchema, prefer: list[str] | None = None) -> Comparisons:
    """Turn an annotation table into :class:`Comparisons` for ``pair_ids``.

    Parameters
    ----------
    annotations
        Annotation table (any number of annotators).
    pair_ids
        The pairs to build rows for, in order.
    schema
        The property schema giving each property's rule.
    prefer
        Annotator names to take a property from when several annotated it;
        by default any non-heuristic annotator wins over the heuristic one.
    """
    return resolve_batches(lambda columns=None: [annotations], pair_ids, schema, prefer)


def resolve_batches(batches: Batches, pair_ids: pd.Index | list[str], schema: PropertySchema,
                    prefer: list[str] | None = None) -> Comparisons:
    """Like :func:`resolve`, reading the annotation table a batch at a time.

    Two passes over ``batches``: the first reads only which annotators gave which
    property, the second fills the comparison matrix. Where a pair has several
    rows for one property and annotator, the last one counts, as in
    :func:`resolve`. Memory holds the matrix and one batch, never the table.
    """
    index = pd.Index(pair_ids, name="pair_id")
    names = set(schema.names)
    found: dict[str, set[str]] = {}
    for batch in batches(columns=["property", "annotator"]):
        known = batch.loc[batch["property"].isin(names), ["property", "annotator"]]
        for prop, annotator in known.drop_duplicates().itertuples(index=False):
            found.setdefault(prop, set()).add(annotator)
    sources = _choose_sources(found, prefer)
    measured = [p for p in schema.names if p in sources]
    values = np.full((len(index), len(measured)), np.nan)
    status = np.full((len(index), len(measured)), S_MISSING, dtype=np.int8)
    column = {name: j for j, name in enumerate(measured)}
    for batch in batches(columns=None):
        for (name, annotator), rows in batch.groupby(["property", "annotator"], sort=False):
            if sources.get(name) != annotator:
                continue
            j, prop = column[name], schema.get(name)
            rows = rows.drop_duplicates("pair_id", keep="last")
            position = index.get_indexer(rows["pair_id"])
            rows, position = rows[position >= 0], position[position >= 0]
            state = rows["status"].to_numpy()
            a = rows["value_a"].to_numpy(dtype=float)
            b = rows["value_b"].to_numpy(dtype=float)
            result = compare(prop.rule, a, b, schema.rules.get(prop.rule, {}))
            ok = (state == OK) & ~np.isnan(result)
            failed = (state == FAILED) | ((state == OK) & np.isnan(result))
            na = state == NOT_APPLICABLE
            zero = prop.when_not_applicable == "zero"
            values[position, j] = np.where(ok, result, np.where(na & zero, 0.0, np.nan))
            status[position, j] = np.where(ok | (na & zero), S_OK, np.where(
                failed, S_FAILED, np.where(na, S_NOT_APPLICABLE, S_MISSING)))
    return Comparisons(
        values=pd.DataFrame(values, index=index, columns=measured),
        status=pd.DataFrame(status, index=index, columns=measured),
        unmeasured=[p for p in schema.names if p not in sources],
        sources={p: sources[p] for p in measured},
    )
