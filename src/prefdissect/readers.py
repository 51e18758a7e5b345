"""Low-level file reading that fails with the file, the line and the fix.

Every importer reads through these helpers, so a bad JSON line, non-UTF-8 bytes or
an empty file give the same kind of one-line message wherever they occur.
"""

from __future__ import annotations

import gzip
import io
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from .errors import InputError, UsageError


def _open_bytes(path: Path) -> bytes:
    if not path.exists():
        raise InputError(path, "does not exist", "check the path")
    if path.is_dir():
        raise InputError(path, "is a folder, not a file", "point to the data file inside it")
    raw = path.read_bytes()
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except OSError as exc:
            raise InputError(path, f"is not valid gzip ({exc})", "re-download the file") from None
    return raw


def _decode(path: Path, raw: bytes) -> str:
    if not raw.strip():
        raise InputError(path, "is empty", "give a file that holds at least one record")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise InputError(
            path,
            f"is not valid UTF-8 (byte 0x{raw[exc.start]:02x} at position {exc.start})",
            "save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`)",
            line=line,
        ) from None


def read_text(path: str | Path) -> str:
    """Return the text of a UTF-8 file (``.gz`` is decompressed)."""
    path = Path(path)
    return _decode(path, _open_bytes(path))


def read_json(path: str | Path) -> Any:
    """Parse a whole-file JSON document."""
    path = Path(path)
    text = read_text(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data" and path.name.lower().endswith((".jsonl", ".jsonl.gz")):
            fix = ("this format reads one JSON document, not JSON Lines; check --format "
                   "(`prefdissect formats`)")
        elif exc.msg == "Extra data":
            fix = ("it holds more than one JSON value: if it is JSON Lines (one object per "
                   "line), give it the .jsonl extension")
        else:
            fix = "fix the JSON syntax"
        raise InputError(path, f"is not valid JSON ({exc.msg}, column {exc.colno})", fix,
                         line=exc.lineno) from None


def _check_file(path: Path) -> None:
    if not path.exists():
        raise InputError(path, "does not exist", "check the path")
    if path.is_dir():
        raise InputError(path, "is a folder, not a file", "point to the data file inside it")


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, text)`` of a UTF-8 file (``.gz`` decompressed), one at a time."""
    _check_file(path)
    opener = gzip.open if path.suffix == ".gz" else open
    offset = 0
    try:
        with opener(path, "rb") as handle:
            for number, raw in enumerate(handle, start=1):
                start = 3 if number == 1 and raw.startswith(b"\xef\xbb\xbf") else 0
                try:
                    text = raw[start:].decode("utf-8")
                except UnicodeDecodeError as exc:
                    bad = start + exc.start
                    raise InputError(
                        path,
                        f"is not valid UTF-8 (byte 0x{raw[bad]:02x} at position {offset + bad})",
                        "save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`)",
                        line=number,
                    ) from None
                offset += len(raw)
                yield number, text
    except (OSError, EOFError) as exc:  # gzip's errors surface while reading
        if path.suffix != ".gz":
            raise
        raise InputError(path, f"is not valid gzip ({exc})", "re-download the file") from None


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, record)`` for each non-blank line of a JSON Lines file.

    The file is read a line at a time, so its size is not bounded by memory.
    """
    path = Path(path)
    empty = True
    for number, line in _lines(path):
        if not line.strip():
            continue
        empty = False
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(
                path,
                f"is not valid JSON ({exc.msg}, column {exc.colno})",
                "each line must be one complete JSON object",
                line=number,
            ) from None
        if not isinstance(record, dict):
            raise InputError(
                path,
                f"holds a {type(record).__name__}, not a JSON object",
                "each line must be one JSON object with named fields",
                line=number,
            )
        yield number, record
    if empty:
        raise InputError(path, "is empty", "give a file that holds at least one record")


def read_csv(path: str | Path) -> pd.DataFrame:
    """Read a CSV file with every column as text (missing cells become None)."""
    path = Path(path)
    text = read_text(path)
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except pd.errors.ParserError as exc:
        raise InputError(path, f"is not valid CSV ({exc})", "quote fields that hold commas "
                         "or line breaks") from None
    return frame.replace({"": None})


def csv_columns(path: str | Path) -> list[str]:
    """Return a CSV file's column names, reading its header only."""
    try:
        return list(pd.read_csv(path, nrows=0, dtype=str, encoding="utf-8-sig").columns)
    except (ValueError, UnicodeDecodeError, OSError):  # say what is wrong as a read would
        return list(read_csv(path).columns)


def _parquet_file(path: Path):
    import pyarrow.parquet as pq

    if not path.exists():
        raise InputError(path, "does not exist", "check the path")
    if path.stat().st_size == 0:
        raise InputError(path, "is empty", "give a file that holds at least one record")
    try:
        return pq.ParquetFile(path, pre_buffer=False)  # pre-buffering keeps what was read
    except Exception as exc:  # pyarrow raises several unrelated types
        raise InputError(path, f"is not a readable Parquet file ({exc})",
                         "write it with pandas.DataFrame.to_parquet or pyarrow") from None


def read_parquet(path: str | Path) -> pd.DataFrame:
    """Read a Parquet file."""
    path = Path(path)
    handle = _parquet_file(path)
    try:
        return handle.read().to_pandas()
    except Exception as exc:  # pyarrow raises several unrelated types
        raise InputError(path, f"is not a readable Parquet file ({exc})",
                         "write it with pandas.DataFrame.to_parquet or pyarrow") from None


def parquet_columns(path: str | Path) -> list[str]:
    """Return the column names of a Parquet file (an error names a file it cannot read)."""
    return list(_parquet_file(Path(path)).schema_arrow.names)


def iter_parquet(path: str | Path, batch_rows: int = 10_000
                 ) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(row_number, record)`` from a Parquet file, ``batch_rows`` rows at a time.

    Missing cells are None; list and struct columns become lists and dicts.
    """
    path = Path(path)
    handle = _parquet_file(path)
    number = 0
    try:
        for batch in handle.iter_batches(batch_size=batch_rows, use_threads=False):
            for record in batch.to_pylist():
                number += 1
                yield number, record
    except InputError:
        raise
    except Exception as exc:  # a damaged row group surfaces while reading
        raise InputError(path, f"is not a readable Parquet file ({exc})",
                         "write it with pandas.DataFrame.to_parquet or pyarrow",
                         line=number + 1) from None
    if number == 0:
        raise InputError(path, "has a header but no rows", "add at least one record")


SUFFIXES = (".jsonl", ".jsonl.gz", ".json", ".csv", ".parquet")


def clean_cell(value: Any) -> Any:
    """Return None for a missing (NaN) cell, else the value."""
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def iter_records(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line, record)`` from a JSONL, JSON-list, CSV or Parquet file.

    ``line`` is the line (JSONL, CSV) or record number (JSON, Parquet) to cite in errors.
    """
    path = Path(path)
    name = path.name.lower()
    if path.is_dir():
        raise UsageError(f"{path} is a folder; this reads one file ({', '.join(SUFFIXES)}); "
                         "for a dataset's folder give its --format (see `prefdissect formats`)")
    if name.endswith((".jsonl", ".jsonl.gz", ".ndjson")):
        yield from iter_jsonl(path)
    elif name.endswith(".json"):
        data = read_json(path)
        if not isinstance(data, list):
            raise InputError(path, f"holds a JSON {type(data).__name__}, not a list of records",
                             "use a JSON list of objects, or JSON Lines (.jsonl)")
        for number, record in enumerate(data, start=1):
            if not isinstance(record, dict):
                raise InputError(path, "is not a JSON object", "each record must be a JSON "
                                 "object with named fields", line=number)
            yield number, record
    elif name.endswith(".parquet"):
        yield from iter_parquet(path)
    elif name.endswith(".csv"):
        frame = read_csv(path)
        if frame.empty:
            raise InputError(path, "has a header but no rows", "add at least one record")
        for offset, record in enumerate(frame.to_dict(orient="records")):
            yield 2 + offset, {k: clean_cell(v) for k, v in record.items()}  # line 1: header
    else:
        raise UsageError(f"{path}: unknown file type; use one of {', '.join(SUFFIXES)}")


def require(record: dict[str, Any], key: str, path: Path | str, line: int, fix: str) -> Any:
    """Return ``record[key]``, or raise an :class:`InputError` naming the field."""
    if key not in record or record[key] is None:
        raise InputError(path, "is missing", fix, line=line, field=key)
    return record[key]


def require_text(record: dict[str, Any], key: str, path: Path | str, line: int, fix: str,
                 *, scalars: bool = False) -> str:
    """Like :func:`require` but the value must also be a string.

    With ``scalars=True`` a JSON number or boolean is accepted and read as its text
    (some datasets store a model's literal answer "True" as a JSON boolean).
    """
    value = require(record, key, path, line, fix)
    if scalars and isinstance(value, (bool, int, float)):
        return str(value)
    if not isinstance(value, str):
        raise InputError(path, f"must be text, got {type(value).__name__} {value!r:.40}", fix,
                         line=line, field=key)
    return value
