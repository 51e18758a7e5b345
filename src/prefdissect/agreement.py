"""Agreement: how far two annotators, two judges, or a hand-labelled sample agree.

Annotators are compared property by property on their *comparisons* (each pair's
-1 / 0 / +1 under the schema's rule), not on raw ratings, since the comparison is
what the model is fitted on. Judges are compared on their labels (A -> +1,
B -> -1, tie -> 0). For each comparison the table has the columns
:data:`AGREEMENT_COLUMNS`:

``pairs``
    Pairs considered (the study's pairs, or the labelled ones).
``both``
    Pairs where both sides give a value (coverage is ``both / pairs``).
``agreement``
    Share of ``both`` where the two values are equal.
``kappa``
    Cohen's kappa over the three categories, (p_o - p_e) / (1 - p_e), with p_e
    from the two sides' marginal shares. Undefined (NaN) when p_e is 1, i.e. both
    sides always gave one and the same value: agreement is then 1 but carries no
    information beyond chance.
``kappa_lower``, ``kappa_upper``
    A 95% percentile bootstrap interval: 2,000 resamples of the ``both`` pairs
    (drawn as multinomial counts of the 3 x 3 confusion table, seeded), kappa
    recomputed on each; resamples where kappa is undefined are left out.

The confusion table (:data:`CONFUSION_COLUMNS`) holds all nine cells of each
comparison, zeros included.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .comparisons import compare as rule_compare
from .comparisons import resolve
from .errors import InputError, UsageError
from .judgments import TIE, A, B, normalize_label
from .properties import PropertySchema
from .readers import iter_records

AGREEMENT_COLUMNS = ("kind", "first", "second", "property", "pairs", "both", "agreement",
                     "kappa", "kappa_lower", "kappa_upper")
"""Columns of ``agreement.csv``; ``property`` is empty for judges."""
CONFUSION_COLUMNS = ("kind", "first", "second", "property", "first_value", "second_value",
                     "count")
"""Columns of ``agreement_confusion.csv``."""
VALUES = (-1, 0, 1)
LABEL_VALUE = {A: 1, B: -1, TIE: 0}
DRAWS = 2000


def cohen_kappa(confusion: np.ndarray) -> float:
    """Cohen's kappa of a square confusion table (rows: first, columns: second)."""
    counts = np.asarray(confusion, dtype=float)
    n = counts.sum()
    if n == 0:
        return float("nan")
    observed = np.trace(counts) / n
    chance = float(counts.sum(axis=1) @ counts.sum(axis=0)) / n**2
    if chance >= 1.0 - 1e-12:
        return float("nan")
    return float((observed - chance) / (1.0 - chance))


def kappa_interval(confusion: np.ndarray, *, mass: float = 0.95, draws: int = DRAWS,
                   seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of Cohen's kappa (resampling the judged pairs)."""
    counts = np.asarray(confusion, dtype=float)
    n = int(counts.sum())
    if n == 0:
        return float("nan"), float("nan")
    k = counts.shape[0]
    samples = np.random.default_rng(seed).multinomial(n, counts.ravel() / n, size=draws)
    tables = samples.reshape(draws, k, k).astype(float)
    observed = np.trace(tables, axis1=1, axis2=2) / n
    chance = np.einsum("di,di->d", tables.sum(axis=2), tables.sum(axis=1)) / n**2
    with np.errstate(divide="ignore", invalid="ignore"):
        kappas = np.where(chance < 1.0 - 1e-12, (observed - chance) / (1.0 - chance), np.nan)
    kappas = kappas[~np.isnan(kappas)]
    if not len(kappas):
        return float("nan"), float("nan")
    tail = 100 * (1 - mass) / 2
    lower, upper = np.percentile(kappas, [tail, 100 - tail])
    return float(lower), float(upper)


@dataclass
class Agreement:
    """Agreement rows and their confusion tables."""

    table: pd.DataFrame
    """One row per (kind, first, second, property): :data:`AGREEMENT_COLUMNS`."""
    confusion: pd.DataFrame
    """Nine rows per agreement row: :data:`CONFUSION_COLUMNS`."""
    notes: list[str] = field(default_factory=list)
    """What was left out, and why (labels of pairs the study does not have)."""


def compare(first: pd.Series, second: pd.Series, kind: str, names: tuple[str, str],
            prop: str = "", pairs: int | None = None) -> tuple[dict, list[dict]]:
    """Compare two value series (index: pair id; values -1, 0, +1 or NaN).

    Returns the agreement row and the nine confusion rows.
    """
    joined = pd.concat([first.rename("a"), second.rename("b")], axis=1, join="outer")
    both = joined.dropna()
    table = np.zeros((3, 3))
    rows = both["a"].astype(int).map(VALUES.index).to_numpy()
    cols = both["b"].astype(int).map(VALUES.index).to_numpy()
    np.add.at(table, (rows, cols), 1)
    lower, upper = kappa_interval(table)
    key = {"kind": kind, "first": names[0], "second": names[1], "property": prop}
    row = {**key, "pairs": len(joined) if pairs is None else pairs, "both": len(both),
           "agreement": float(np.trace(table) / len(both)) if len(both) else float("nan"),
           "kappa": cohen_kappa(table), "kappa_lower": lower, "kappa_upper": upper}
    cells = [{**key, "first_value": VALUES[i], "second_value": VALUES[j],
              "count": int(table[i, j])} for i in range(3) for j in range(3)]
    return row, cells


def _frame(rows: list[dict], cells: list[dict]) -> Agreement:
    return Agreement(pd.DataFrame(rows, columns=list(AGREEMENT_COLUMNS)),
                     pd.DataFrame(cells, columns=list(CONFUSION_COLUMNS)))


def annotator_comparisons(annotations: pd.DataFrame, pair_ids: pd.Index | list[str],
                          schema: PropertySchema, annotator: str) -> pd.DataFrame:
    """Return one annotator's comparisons: pair id x property, values -1, 0, +1 or NaN."""
    mine = annotations[annotations["annotator"] == annotator]
    if mine.empty:
        known = ", ".join(sorted(annotations["annotator"].unique()))
        raise UsageError(f"no annotations by '{annotator}' in this study; annotators found: "
                         f"{known}")
    return resolve(mine, pair_ids, schema).values


def between_annotators(annotations: pd.DataFrame, pair_ids: pd.Index | list[str],
                       schema: PropertySchema, first: str, second: str,
                       kind: str = "annotators") -> Agreement:
    """Per property measured by both annotators: coverage, agreement, kappa, confusion."""
    left = annotator_comparisons(annotations, pair_ids, schema, first)
    right = annotator_comparisons(annotations, pair_ids, schema, second)
    shared = [p for p in left.columns if p in right.columns]
    if not shared:
        raise UsageError(f"'{first}' and '{second}' share no property; nothing to compare")
    rows, cells = [], []
    for prop in shared:
        row, confusion = compare(left[prop], right[prop], kind, (first, second), prop,
                                 pairs=len(left))
        rows.append(row)
        cells += confusion
    return _frame(rows, cells)


def judge_values(judgments: pd.DataFrame, judge: str) -> pd.Series:
    """Return a judge's labels as values (A +1, B -1, tie 0), indexed by pair id."""
    mine = judgments[judgments["judge"] == judge].drop_duplicates("pair_id", keep="last")
    if mine.empty:
        known = ", ".join(sorted(judgments["judge"].unique()))
        raise UsageError(f"no judgments by '{judge}' in this study; judges found: {known}")
    return mine.set_index("pair_id")["label"].map(LABEL_VALUE).astype(float)


def between_judges(judgments: pd.DataFrame, pair_ids: pd.Index | list[str], first: str,
                   second: str, kind: str = "judges") -> Agreement:
    """Agreement and kappa between two judges' labels over the study's pairs."""
    index = pd.Index(pair_ids)
    left = judge_values(judgments, first).reindex(index)
    right = judge_values(judgments, second).reindex(index)
    row, cells = compare(left, right, kind, (first, second))
    return _frame([row], cells)


def read_labels(path: str | Path, schema: PropertySchema) -> pd.DataFrame:
    """Read a hand-labelled file: per pair either judge labels or property comparisons.

    Columns: ``pair_id`` and either ``label`` (A / B / tie: which response is
    better) or ``property`` with ``comparison`` (+1 / 0 / -1, or A / B / tie: which
    response is better on it) or ``value_a`` and ``value_b`` (compared with the
    schema's rule). Returns columns pair_id, property ('' for labels) and value.
    """
    fix = ("give pair_id and label (A/B/tie), or pair_id, property and comparison "
           "(+1/0/-1 or A/B/tie) or value_a and value_b")
    rows = []
    for line, record in iter_records(path):
        if record.get("pair_id") is None or str(record["pair_id"]).strip() == "":  # 0 is an id
            raise InputError(path, "is missing", fix, line=line, field="pair_id")
        prop = record.get("property") or ""
        if prop and prop not in schema.names:
            raise InputError(path, f"names unknown property {prop!r}", "use a property of "
                             "the study's schema (`prefdissect properties`)", line=line,
                             field="property")
        field = "comparison" if prop else "label"
        if prop and record.get(field) is None and record.get("value_a") is not None:
            a, b = (_number(record.get(k), path, line, k, fix) for k in ("value_a", "value_b"))
            rule = schema.get(prop)
            value = float(rule_compare(rule.rule, np.array([a]), np.array([b]),
                                       schema.rules.get(rule.rule, {}))[0])
        else:
            value = _value(record.get(field), path, line, field, fix)
        rows.append({"pair_id": str(record["pair_id"]), "property": prop, "value": value})
    return pd.DataFrame(rows, columns=["pair_id", "property", "value"])


def _number(value, path, line, field, fix) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InputError(path, f"is not a number ({value!r:.40})", fix, line=line,
                         field=field) from None


def _value(value, path, line, field, fix) -> float:
    label = normalize_label(value)
    if label is not None:
        return float(LABEL_VALUE[label])
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if number not in VALUES:
        raise InputError(path, f"has {value!r:.40}, not one of A, B, tie, +1, 0, -1", fix,
                         line=line, field=field)
    return number


def against_labels(labels: pd.DataFrame, name: str, *, annotations: pd.DataFrame | None,
                   judgments: pd.DataFrame, schema: PropertySchema,
                   pair_ids: pd.Index | list[str] | None = None) -> Agreement:
    """Compare hand labels with every annotator (property labels) or judge (labels).

    With the study's ``pair_ids``, labels of pairs the study does not have are left
    out with a note (how many, and some of their ids); when none is in the study the
    labels are refused.
    """
    notes = []
    if pair_ids is not None:
        known = labels["pair_id"].isin(set(map(str, pair_ids)))
        missing = list(dict.fromkeys(labels.loc[~known, "pair_id"]))
        if missing:
            labelled = labels["pair_id"].nunique()
            example = ", ".join(missing[:3]) + (", ..." if len(missing) > 3 else "")
            if len(missing) == labelled:
                shown = ", ".join(map(str, list(pair_ids)[:3]))
                raise UsageError(f"none of the {labelled} labelled pair ids is in the study "
                                 f"(e.g. {example}); its pair ids look like {shown}")
            notes.append(f"{len(missing)} of {labelled} labelled pairs are not in the study "
                         f"and were left out (e.g. {example})")
            labels = labels[known]
    rows, cells = [], []
    ids = pd.Index(labels["pair_id"].unique())
    rated = labels[labels["property"] != ""]
    if len(rated) and annotations is None:
        raise UsageError("the labels rate properties but the study has no annotations; "
                         "run `prefdissect annotate` first")
    others = {} if not len(rated) else {
        annotator: annotator_comparisons(annotations, ids, schema, annotator)
        for annotator in sorted(annotations["annotator"].unique())}
    for prop, mine in labels.groupby("property", sort=False):
        truth = mine.drop_duplicates("pair_id", keep="last").set_index("pair_id")["value"]
        if prop:
            sides = [(a, v[prop]) for a, v in others.items() if prop in v]
        else:
            sides = [(j, judge_values(judgments, j)) for j in sorted(judgments["judge"].unique())]
        for other, values in sides:
            row, confusion = compare(truth, values.reindex(truth.index), "labels",
                                     (name, other), prop)
            rows.append(row)
            cells += confusion
    if not rows:
        raise UsageError("no annotator or judge in the study covers these labels")
    result = _frame(rows, cells)
    result.notes = notes
    return result


def merge_into(old: pd.DataFrame | None, new: pd.DataFrame) -> pd.DataFrame:
    """Replace the rows of ``old`` that ``new`` recomputes (same kind, first, second)."""
    if old is None or old.empty:
        return new
    keys = ["kind", "first", "second"]
    stale = old.set_index(keys).index.isin(new.set_index(keys).index)
    return pd.concat([old[~stale], new], ignore_index=True)


def record(study, result: Agreement) -> pd.DataFrame:
    """Merge ``result`` into the study's agreement.csv and agreement_confusion.csv.

    Rows of the same (kind, first, second) are replaced; others are kept, so one
    file holds every comparison made on the study. Returns the merged table.
    """
    files = (("agreement.csv", result.table), ("agreement_confusion.csv", result.confusion))
    merged = []
    for name, frame in files:
        path = study.path(name)
        old = pd.read_csv(path, dtype={"property": str, "first": str, "second": str}) \
            if path.exists() else None
        if old is not None:
            old["property"] = old["property"].fillna("")
        merged.append(merge_into(old, frame))
        study.write_frame(name, merged[-1])
    return merged[0]
