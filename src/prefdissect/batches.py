"""Tables too large to hold at once: Parquet written and read in bounded Arrow batches.

A preference dataset can hold millions of pairs, whose texts alone outgrow memory.
The stages that touch texts (import, the heuristic annotator, scenario rules,
export) therefore read and write the study's tables a batch of rows at a time:

- :func:`iter_frames` reads a Parquet file as DataFrames of at most ``batch_rows``
  rows, optionally only some of its columns;
- :class:`ParquetSink` writes a table batch by batch into one Parquet file under a
  fixed schema, renamed into place only when complete (so a crash leaves no half
  file, as with every other study file);
- :class:`Spool` is a list of records (pairs, judgments) that moves to a temporary
  Parquet file once it grows past a limit, so an importer can append a million
  pairs and hand them on without holding them; below the limit it is a plain list.

:data:`PAIR_SCHEMA`, :data:`JUDGMENT_SCHEMA` and :data:`ANNOTATION_SCHEMA` are the
Arrow types of the three large tables, so that batches written apart (a column
all missing in one batch, text in the next) form one table.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import tempfile
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import islice
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .annotations import ANNOTATION_COLUMNS
from .pairs import PAIR_COLUMNS

BATCH_ROWS = 20_000
"""Rows per batch where a stage streams a table (texts of ~20k pairs: tens of MB)."""

PAIR_SCHEMA = pa.schema([(name, pa.string()) for name in PAIR_COLUMNS])
"""Arrow types of a pair table (every column is text; history and metadata as JSON)."""
JUDGMENT_SCHEMA = pa.schema([("pair_id", pa.string()), ("judge", pa.string()),
                             ("label", pa.string()), ("p_a", pa.float64()),
                             ("details", pa.string())])
"""Arrow types of a judgment table."""
ANNOTATION_SCHEMA = pa.schema([
    (name, pa.float64() if name in ("value_a", "value_b") else pa.string())
    for name in ANNOTATION_COLUMNS])
"""Arrow types of an annotation table."""


def as_objects(frame: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` with object columns and None for every missing cell.

    The pair table's readers return it this way (Parquet gives NaN or pandas
    string types), whether it was read whole or a batch at a time.
    """
    frame = frame.astype(object)
    return frame.where(frame.notna(), None)


def parquet_rows(path: str | Path) -> int:
    """Return the number of rows of a Parquet file (from its footer; nothing is read)."""
    return pq.ParquetFile(path).metadata.num_rows


def release_memory() -> None:
    """Hand memory that Arrow's pool and C's allocator keep after a large stage back to the OS.

    Both keep freed pages for reuse; after a stage that streamed gigabytes of text
    that reserve would otherwise count towards every later stage's peak.
    """
    pa.default_memory_pool().release_unused()
    try:
        ctypes.CDLL(None).malloc_trim(0)  # glibc; other C libraries lack it
    except (AttributeError, OSError):
        pass


def open_parquet(path: str | Path) -> pq.ParquetFile:
    """Open a Parquet file for reading a batch at a time.

    Pre-buffering is off: with it, pyarrow keeps every column chunk it has read
    until the file is closed, so memory would grow with the file.
    """
    return pq.ParquetFile(path, pre_buffer=False)


def iter_batches(path: str | Path, columns: Sequence[str] | None = None,
                 batch_rows: int = BATCH_ROWS) -> Iterator[pa.RecordBatch]:
    """Yield a Parquet file as Arrow record batches of at most ``batch_rows`` rows.

    ``columns`` limits what is read (None: every column; names the file lacks are
    skipped); the others are never decoded, which is how the fit reads a pair
    table without its texts. A file without rows yields one empty batch.
    """
    handle = open_parquet(path)
    names = handle.schema_arrow.names
    wanted = None if columns is None else [c for c in columns if c in names]
    if handle.metadata.num_rows == 0:
        fields = [handle.schema_arrow.field(name) for name in wanted or names]
        yield pa.RecordBatch.from_pylist([], schema=pa.schema(fields))
        return
    pool = pa.default_memory_pool()
    for batch in handle.iter_batches(batch_size=batch_rows, columns=wanted, use_threads=False):
        yield batch
        del batch
        pool.release_unused()  # else the pool keeps each batch's pages, and memory grows


def iter_frames(path: str | Path, columns: Sequence[str] | None = None,
                batch_rows: int = BATCH_ROWS) -> Iterator[pd.DataFrame]:
    """Yield a Parquet file as DataFrames of at most ``batch_rows`` rows (see iter_batches)."""
    for batch in iter_batches(path, columns, batch_rows):
        yield batch.to_pandas()


def _table(data: pd.DataFrame | pa.Table | pa.RecordBatch, schema: pa.Schema) -> pa.Table:
    if isinstance(data, pd.DataFrame):
        return pa.Table.from_pandas(data[schema.names], schema=schema, preserve_index=False)
    table = data if isinstance(data, pa.Table) else pa.Table.from_batches([data])
    return table.select(schema.names).cast(schema)


class ParquetSink:
    """Write one Parquet file batch by batch; it appears at ``path`` only when closed.

    Use it as a context manager: leaving the block normally renames the finished
    file into place, an exception removes the partial one.

    Parameters
    ----------
    path
        The file to write.
    schema
        Arrow schema every batch is cast to.
    """

    def __init__(self, path: str | Path, schema: pa.Schema):
        self.path = Path(path)
        self.schema = schema
        self.rows = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        self._writer: pq.ParquetWriter | None = pq.ParquetWriter(self._tmp, schema)

    def write(self, data: pd.DataFrame | pa.Table | pa.RecordBatch) -> None:
        """Append rows (a DataFrame or Arrow data with the schema's columns)."""
        table = _table(data, self.schema)
        if table.num_rows:
            self._writer.write_table(table)
            self.rows += table.num_rows

    def close(self) -> Path:
        """Finish the file and rename it into place; return its path."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
            os.replace(self._tmp, self.path)
        return self.path

    def abort(self) -> None:
        """Drop the partial file."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> ParquetSink:
        return self

    def __exit__(self, kind, value, traceback) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()


class Spool(Sequence):
    """A list of records that moves to temporary Parquet files once it grows large.

    Below ``limit`` records it is a plain in-memory list. Past it, records are
    converted to a table (``to_frame``) and written out every ``limit`` records;
    reading (iteration, :meth:`frames`) converts them back (``from_frame``), one
    batch at a time. The temporary files go when the spool is garbage-collected
    or :meth:`close` is called.

    Parameters
    ----------
    to_frame
        Turns a list of records into a DataFrame with the schema's columns.
    from_frame
        Turns such a DataFrame back into records.
    schema
        Arrow schema of the spilled table.
    limit
        Records held in memory before they are written out.
    """

    def __init__(self, to_frame: Callable[[list], pd.DataFrame],
                 from_frame: Callable[[pd.DataFrame], list], schema: pa.Schema,
                 limit: int = BATCH_ROWS):
        self._to_frame, self._from_frame = to_frame, from_frame
        self.schema, self.limit = schema, limit
        self._buffer: list = []
        self._parts: list[Path] = []
        self._spilled = 0
        self._folder: Path | None = None
        self._sink: ParquetSink | None = None

    # -- writing -------------------------------------------------------------------
    def append(self, record: Any) -> None:
        """Add one record."""
        self._buffer.append(record)
        if len(self._buffer) >= self.limit:
            self._spill()

    def extend(self, records: Iterable[Any]) -> None:
        """Add several records."""
        for record in records:
            self.append(record)

    def _spill(self) -> None:
        if not self._buffer:
            return
        if self._sink is None:
            if self._folder is None:
                self._folder = Path(tempfile.mkdtemp(prefix="prefdissect-spool-"))
                weakref.finalize(self, shutil.rmtree, self._folder, ignore_errors=True)
            self._sink = ParquetSink(self._folder / f"part-{len(self._parts):05d}.parquet",
                                     self.schema)
        self._sink.write(self._to_frame(self._buffer))
        self._spilled += len(self._buffer)
        self._buffer = []

    def _seal(self) -> None:
        """Finish the open part file, so that everything spilled can be read."""
        if self._sink is not None:
            self._parts.append(self._sink.close())
            self._sink = None

    # -- reading -------------------------------------------------------------------
    @property
    def spilled(self) -> bool:
        """Whether any record has moved to disk."""
        return self._spilled > 0

    def __len__(self) -> int:
        return self._spilled + len(self._buffer)

    def frames(self, columns: Sequence[str] | None = None,
               batch_rows: int = BATCH_ROWS) -> Iterator[pd.DataFrame]:
        """Yield the records as DataFrames of at most ``batch_rows`` rows, in order."""
        self._seal()
        for part in self._parts:
            for frame in iter_frames(part, columns, batch_rows):
                yield frame if columns is None else frame[list(columns)]
        for start in range(0, len(self._buffer), batch_rows):
            frame = self._to_frame(self._buffer[start:start + batch_rows])
            yield frame if columns is None else frame[list(columns)]

    def frame(self, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """Return every record as one DataFrame (only for tables that fit in memory)."""
        frames = list(self.frames(columns))
        if not frames:
            return self._to_frame([]) if columns is None else self._to_frame([])[list(columns)]
        return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)

    def __iter__(self) -> Iterator[Any]:
        if not self._spilled:
            yield from list(self._buffer)
            return
        for frame in self.frames():
            yield from self._from_frame(as_objects(frame))

    def __getitem__(self, index):
        if not self._spilled:
            return self._buffer[index]
        if isinstance(index, slice):
            return list(self)[index]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("spool index out of range")
        return next(islice(iter(self), index, None))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (Spool, list, tuple)):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None

    def __repr__(self) -> str:
        where = f", {self._spilled} on disk" if self._spilled else ""
        return f"Spool({len(self)} records{where})"

    def close(self) -> None:
        """Delete the temporary files (the spool is empty afterwards)."""
        if self._sink is not None:
            self._sink.abort()
            self._sink = None
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
        self._buffer, self._parts, self._spilled = [], [], 0
