"""The project's own pair format, in JSON Lines, JSON, CSV or Parquet.

One record per pair. Required: ``query``, ``response_a``, ``response_b``.
Optional: ``id``, ``model_a``, ``model_b``, ``scenario``, ``reference``,
``history`` (list of ``{"role", "content"}``), ``metadata`` (object); any other
column also lands in ``metadata``. Labels, if the file carries them:

- ``label`` (A / B / tie; also model_a / model_b) with an optional ``judge``
  column naming who gave it (default ``labels``) and optional ``p_a``;
- ``label:NAME`` and ``p_a:NAME`` columns, one pair per judge NAME.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import InputError, UsageError
from ..exclusions import NO_LABEL, Exclusion
from ..judgments import Judgment, label_from_probability, normalize_label
from ..pairs import PAIR_COLUMNS, Pair, content_id
from ..readers import clean_cell
from ..registry import register
from ..sources import parse_columns, records, tables
from . import ImportResult, spooled_result

REQUIRED = ("query", "response_a", "response_b")
FIX = "each record needs query, response_a and response_b (see `prefdissect formats`)"
DEFAULT_JUDGE = "labels"


def _text(record: dict, key: str, path: Path, line: int, required: bool) -> str | None:
    value = record.get(key)
    if value is None:
        if required:
            raise InputError(path, "is missing", FIX, line=line, field=key)
        return None
    if not isinstance(value, str):
        if isinstance(value, (int, float)) and not required:
            return str(value)
        raise InputError(path, f"must be text, got {type(value).__name__}", FIX,
                         line=line, field=key)
    return value


def _json_field(record: dict, key: str, kind: type, path: Path, line: int) -> Any:
    value = record.get(key)
    if value is None:
        return kind()
    if isinstance(value, str):  # CSV cells carry JSON as text
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise InputError(path, "is not valid JSON text", f"write {key} as JSON",
                             line=line, field=key) from None
    if not isinstance(value, kind):
        raise InputError(path, f"must be a JSON {kind.__name__}", f"write {key} as a JSON "
                         f"{kind.__name__}", line=line, field=key)
    return value


def _label(value: Any, path: Path, line: int, field: str) -> str:
    label = normalize_label(value)
    if label is None:
        raise InputError(path, f"has unknown label {value!r}",
                         "use A, B or tie (model_a / model_b also work)", line=line, field=field)
    return label


def _probability(value: Any, path: Path, line: int, field: str) -> float | None:
    if value is None:
        return None
    try:
        p = float(value)
    except (TypeError, ValueError):
        p = math.nan
    if not 0.0 <= p <= 1.0:
        raise InputError(path, f"must be a probability in [0, 1], got {value!r}",
                         "give P(A is better) as a number between 0 and 1", line=line,
                         field=field)
    return p


def _judgments(record: dict, pair_id: str, path: Path, line: int
               ) -> tuple[list[Judgment], list[Exclusion]]:
    found: dict[str, dict[str, Any]] = {}
    empty: list[tuple[str, str]] = []  # (judge, field) given without a value
    if record.get("label") is not None or record.get("p_a") is not None:
        judge = str(record.get("judge") or DEFAULT_JUDGE)
        found[judge] = {"label": record.get("label"), "p_a": record.get("p_a"),
                        "fields": ("label", "p_a")}
    elif "label" in record or "p_a" in record:
        empty.append((str(record.get("judge") or DEFAULT_JUDGE), "label"))
    for key, value in record.items():
        for prefix in ("label:", "p_a:"):
            if key.startswith(prefix) and value is not None:
                judge = key[len(prefix):]
                slot = found.setdefault(judge, {"label": None, "p_a": None,
                                                "fields": (f"label:{judge}", f"p_a:{judge}")})
                slot[prefix[:-1]] = value
            elif key.startswith(prefix):
                empty.append((key[len(prefix):], key))
    out = []
    for judge, slot in found.items():
        label_field, p_field = slot["fields"]
        p_a = _probability(slot["p_a"], path, line, p_field)
        if slot["label"] is not None:
            label = _label(slot["label"], path, line, label_field)
        else:
            label = label_from_probability(p_a)
        out.append(Judgment(pair_id, judge, label, p_a))
    missing = {judge: name for judge, name in empty if judge not in found}
    return out, [Exclusion("import", NO_LABEL, pair_id=pair_id, judge=judge, source=str(path),
                           line=line, detail=f"'{name}' is empty")
                 for judge, name in missing.items()]


KNOWN = set(PAIR_COLUMNS) | {"label", "p_a", "judge"}


@register("importer", "pairs", "prefdissect's own format: JSONL / JSON / CSV / Parquet with "
          "query, response_a, response_b and optional label columns (a file, Parquet "
          "shards or a `datasets` folder)", options=("columns",))
def load(path: Path, *, seed: int = 0, columns: str | dict | None = None) -> ImportResult:
    """Read pairs (and any labels) in the project's own format.

    ``columns`` maps the file's own column names (``query=instruction,...``); a
    folder is read file by file (see :mod:`prefdissect.sources`).
    """
    mapping = parse_columns(columns, sorted(KNOWN), "pairs", ("label:", "p_a:"))
    result = spooled_result(path, "pairs")
    found = tables(path)
    for table, line, record in records(found, mapping, REQUIRED, FIX, sorted(KNOWN)):
        file = table.path
        result.rows_read += 1
        texts = {k: _text(record, k, file, line, required=k in REQUIRED)
                 for k in ("query", "response_a", "response_b", "model_a", "model_b",
                           "scenario", "reference")}
        if not texts["query"].strip() and not record.get("history"):
            raise InputError(file, "is empty", "each pair needs the request its two responses "
                             "answer", line=line, field="query")
        raw_id = record.get("id")
        pair_id = str(raw_id) if raw_id is not None else content_id(
            texts["query"], texts["response_a"], texts["response_b"], prefix="p")
        metadata = _json_field(record, "metadata", dict, file, line)
        for key, value in record.items():
            if key not in KNOWN and not key.startswith(("label:", "p_a:")) and value is not None:
                metadata[key] = value
        pair = Pair(id=pair_id, history=_json_field(record, "history", list, file, line),
                    metadata=metadata, **texts)
        result.pairs.append(pair)
        judgments, unlabelled = _judgments(record, pair_id, file, line)
        result.judgments.extend(judgments)
        result.exclusions.extend(unlabelled)
    if not result.pairs:
        raise InputError(path, "holds no records", "add at least one pair")
    return result


def write_pairs(pairs: pd.DataFrame, path: str | Path,
                judgments: pd.DataFrame | None = None) -> None:
    """Write a pair table (and optionally labels) in the project's own format.

    The file type follows the extension (.jsonl, .csv, .parquet). Labels are
    written as ``label:JUDGE`` / ``p_a:JUDGE`` columns, readable by :func:`load`.
    """
    path = Path(path)
    frame = pairs.copy()
    if judgments is not None and not judgments.empty:
        wide_label = judgments.pivot(index="pair_id", columns="judge", values="label")
        wide_p = judgments.pivot(index="pair_id", columns="judge", values="p_a")
        for judge in wide_label.columns:
            frame[f"label:{judge}"] = frame["id"].map(wide_label[judge])
            if wide_p[judge].notna().any():
                frame[f"p_a:{judge}"] = frame["id"].map(wide_p[judge])
    name = path.name.lower()
    if name.endswith(".parquet"):
        frame.to_parquet(path, index=False)
    elif name.endswith(".csv"):
        frame.to_csv(path, index=False)
    elif name.endswith(".jsonl"):
        with path.open("w", encoding="utf-8") as handle:
            for record in frame.to_dict(orient="records"):
                for key in ("history", "metadata"):
                    if record.get(key):
                        record[key] = json.loads(record[key])
                clean = {k: v for k, v in record.items() if clean_cell(v) is not None}
                handle.write(json.dumps(clean, ensure_ascii=False) + "\n")
    else:
        raise UsageError(f"{path}: unknown file type; write .jsonl, .csv or .parquet")
