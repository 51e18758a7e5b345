"""Where a dataset's records come from: files, folders of shards, `datasets` folders.

Records are read a batch at a time and renamed to the user's column names. A
*source* is a path given to ``import --format pairs|preference|ratings``:

- one JSON Lines (``.jsonl``, ``.jsonl.gz``), JSON list, CSV or Parquet file;
- a folder of such files (read recursively in name order: Parquet shards
  ``train-00000-of-00004.parquet``..., or HH-RLHF's ``*/test.jsonl.gz``);
- a folder written by the `datasets` library's ``save_to_disk`` (a ``Dataset``, or
  a ``DatasetDict`` with one subfolder per split), read with ``datasets`` from
  disk, without the Hub.

Each file or split is a :class:`Table` with a short ``name`` (its path inside the
folder without the extension, or its split), which importers use in pair ids and,
when a source has several tables, in each pair's metadata (``file``, ``split``).

``--columns TARGET=SOURCE,...`` (:func:`parse_columns`) renames a file's columns
to the names a format reads. A mapped or required column that a file lacks is an
error naming the file, the column and the columns the file has.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import InputError, UsageError
from .readers import csv_columns, iter_records, parquet_columns

SUFFIXES = (".jsonl.gz", ".jsonl", ".ndjson", ".json", ".csv", ".parquet")
"""File types a folder source is searched for."""


def parse_columns(text: str | Mapping[str, str] | None, known: Sequence[str],
                  format: str, prefixes: Sequence[str] = ()) -> dict[str, str]:
    """Parse ``TARGET=SOURCE,...`` into ``{target: source}``; check every target.

    ``known`` lists the names the format reads (and ``prefixes`` the families of
    names, such as ``label:``); a target outside them is refused with the
    closest known name.
    """
    if not text:
        return {}
    if isinstance(text, Mapping):
        pairs = list(text.items())
    else:
        pairs = []
        for item in str(text).split(","):
            if not item.strip():
                continue
            target, sep, source = item.partition("=")
            if not sep or not target.strip() or not source.strip():
                raise UsageError(f"--columns {text}: '{item.strip()}' is not TARGET=SOURCE; "
                                 "write e.g. --columns query=instruction,response_a=output_1")
            pairs.append((target.strip(), source.strip()))
    mapping: dict[str, str] = {}
    for target, source in pairs:
        if target not in known and not any(target.startswith(x) for x in prefixes):
            close = difflib.get_close_matches(target, known, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise UsageError(f"--columns: '{target}' is not a column --format {format} reads; "
                             f"{hint}it reads: {', '.join(known)}")
        if target in mapping:
            raise UsageError(f"--columns: '{target}' is mapped twice")
        mapping[target] = source
    return mapping


@dataclass
class Table:
    """One file, or one split of a `datasets` folder, of a source."""

    path: Path
    """The file (or the split's folder)."""
    name: str
    """Short name: the path inside the source folder without its extension, or the split."""
    split: str | None = None
    """The split of a `datasets` DatasetDict, if any."""
    dataset: Any = field(default=None, repr=False)
    """The loaded `datasets.Dataset`, for a `datasets` folder."""

    def columns(self) -> list[str] | None:
        """Return the table's column names where they are known before reading rows."""
        if self.dataset is not None:
            return list(self.dataset.column_names)
        name = self.path.name.lower()
        if name.endswith(".parquet"):
            return parquet_columns(self.path)
        if name.endswith(".csv"):
            return csv_columns(self.path)
        return None  # JSON: each record has its own keys

    def records(self, batch_rows: int = 10_000) -> Iterator[tuple[int, dict[str, Any]]]:
        """Yield ``(line or row number, record)``, holding at most one batch of rows."""
        if self.dataset is None:
            yield from iter_records(self.path)
            return
        number = 0
        for batch in self.dataset.with_format("arrow").iter(batch_size=batch_rows):
            for record in batch.to_pylist():
                number += 1
                yield number, record


def _data_name(path: Path) -> str:
    name = path.name
    for suffix in SUFFIXES:
        if name.lower().endswith(suffix):
            return name[:-len(suffix)]
    return path.stem


def _datasets_tables(path: Path) -> list[Table]:
    try:
        import datasets
    except ImportError:
        raise UsageError(f"{path} is a `datasets` save_to_disk folder; reading it needs the "
                         "datasets library: pip install datasets") from None
    try:
        loaded = datasets.load_from_disk(str(path))
    except Exception as exc:  # datasets raises many types for a damaged folder
        raise InputError(path, f"is not a readable `datasets` folder ({exc})",
                         "write it with Dataset.save_to_disk, or give its data files") from None
    if isinstance(loaded, datasets.DatasetDict):
        return [Table(path / split, split, split, ds) for split, ds in loaded.items()]
    return [Table(path, path.name, None, loaded)]


def tables(path: str | Path) -> list[Table]:
    """Return the tables of a source: one file, a folder of files, or a `datasets` folder."""
    path = Path(path)
    if not path.exists():
        raise UsageError(f"{path} does not exist; check the path")
    if path.is_file():
        return [Table(path, _data_name(path))]
    if (path / "dataset_dict.json").exists() or (path / "state.json").exists():
        return _datasets_tables(path)
    files = sorted(p for p in path.rglob("*") if p.is_file()
                   and p.name.lower().endswith(SUFFIXES) and not p.name.startswith("."))
    if not files:
        raise UsageError(f"{path} is a folder with no data files below it; give a file, a "
                         f"folder of {', '.join(SUFFIXES)} files or a `datasets` save_to_disk "
                         "folder; for a dataset's own layout give its --format (see "
                         "`prefdissect formats`)")
    return [Table(p, str(p.relative_to(path).with_name(_data_name(p)))) for p in files]


def missing_column(table: Table | Path, column: str, present: Sequence[str], fix: str,
                   line: int | None = None, known: Sequence[str] = ()) -> InputError:
    """Return the error for a column a file lacks: the file, the column, the ones it has.

    The closest column of the file that is not one of ``known`` (the format's own
    names) is suggested.
    """
    where = table.path if isinstance(table, Table) else table
    close = difflib.get_close_matches(column, [c for c in present if c not in known], n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    shown = ", ".join(map(str, present[:30])) + (" ..." if len(present) > 30 else "")
    return InputError(where, f"is missing (columns here: {shown or 'none'})",
                      f"{hint}{fix}", line=line, field=column)


def records(path: str | Path | list[Table], mapping: Mapping[str, str] | None = None,
            required: Sequence[str] = (), fix: str = "", known: Sequence[str] = (),
            ) -> Iterator[tuple[Table, int, dict[str, Any]]]:
    """Yield ``(table, line, record)`` over every table of a source, renamed by ``mapping``.

    ``path`` is a source, or its :func:`tables` already listed.

    ``mapping`` is ``{name the format reads: column in the file}``; a mapped
    column the file lacks is an error, and so is a ``required`` column (after
    renaming). Files whose columns are known up front (Parquet, CSV, `datasets`)
    are checked before any row is read; JSON records one by one.
    """
    mapping = dict(mapping or {})
    sources = set(mapping.values())
    fix = fix or "map your column names with --columns TARGET=SOURCE,..."
    for table in path if isinstance(path, list) else tables(path):
        present = table.columns()
        if present is not None:
            _check_columns(table, present, mapping, required, fix, known)
        for line, record in table.records():
            if present is None:
                _check_columns(table, list(record), mapping, required, fix, known, line)
            if mapping:  # a mapped column replaces any column already named as its target
                renamed = {k: v for k, v in record.items() if k not in sources and k not in mapping}
                renamed.update((target, record.get(source)) for target, source in mapping.items())
                record = renamed
            yield table, line, record


def _check_columns(table: Table, present: list[str], mapping: Mapping[str, str],
                   required: Sequence[str], fix: str, known: Sequence[str],
                   line: int | None = None) -> None:
    for target, source in mapping.items():
        if source not in present:
            raise missing_column(table, source, present, f"check --columns {target}={source}",
                                 line, known)
    for target in required:
        column = mapping.get(target, target)
        if column not in present:
            raise missing_column(table, column, present, fix, line, known)

