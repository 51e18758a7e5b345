"""A study folder: each pipeline stage's files, so any stage can be re-run or replaced.

Layout::

    study.json            what was imported, from where, with which settings
    schema.yaml           the study's property schema, when its import brought properties
    pairs.parquet         the pair table
    judgments.parquet     the judgment table
    annotations.parquet   the annotation table (all annotators)
    annotation_shards/    annotation tables written in parts (e.g. on a Dask cluster),
                          one folder per annotator: NAME/part-*.parquet; read with
                          annotations.parquet as one table
    query_info.parquet    per pair: query traits, scenario, generated reference (LLM)
    llm_log.sqlite        every LLM exchange: the cache of the LLM annotator and judges
    comparisons.parquet   the comparison matrix used by the last fit
    profiles.csv          judge, group, property, mean, sd, lower, upper, n_pairs
    terms.csv             judge, group, term, kind, anchor, mean, sd, lower, upper, n_pairs
    fit_diagnostics.csv   per (judge, group): pairs, engine, convergence
    exclusions.csv        every item left out of import or fit, with its reason
    summary.json          the counts and top properties shown after a fit

Writes go to a temporary file first and are renamed into place, so a crash
never leaves a half-written stage file. One process writes to a study at a time:
commands that write hold :meth:`Study.lock` (an advisory lock on
``.prefdissect.lock``), and a second writer is refused with the first one's PID.
Readers (report, explain, compare) need no lock, since every file is replaced
atomically.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from . import __version__
from .annotations import check_annotations
from .batches import (
    ANNOTATION_SCHEMA,
    BATCH_ROWS,
    JUDGMENT_SCHEMA,
    PAIR_SCHEMA,
    ParquetSink,
    Spool,
    as_objects,
    iter_batches,
    iter_frames,
    open_parquet,
    parquet_rows,
    release_memory,
)
from .errors import UsageError
from .exclusions import EXCLUSION_COLUMNS, Exclusion, exclusions_to_frame
from .importers import ImportResult
from .judgments import judgments_to_frame
from .pairs import PAIR_COLUMNS, TEXT_COLUMNS, TEXT_PROBLEM, pairs_to_frame, text_problems
from .properties import PropertySchema, extended_schema_yaml, load_schema

LOCK_NAME = ".prefdissect.lock"
SCHEMA_NAME = "schema.yaml"
SHARDS = "annotation_shards"
"""Folder of annotation tables written in parts, one subfolder per annotator."""


def prepare_folder(path: str | Path, what: str = "output folder") -> Path:
    """Create ``path`` as a folder (if needed) and return it; explain why it cannot be.

    Raises :class:`UsageError` for a path that names a file, or a folder that cannot
    be created or written to.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UsageError(f"{path} is a file, not a {what}; give a folder path (new or "
                         "existing)")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise UsageError(f"{path}: a part of this path is a file; give a folder path as the "
                         f"{what}") from None
    except PermissionError:
        raise UsageError(f"{path}: permission denied; choose an {what} you can write "
                         "to") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot create the {what} ({exc.strerror})") from None
    if not os.access(path, os.W_OK):
        raise UsageError(f"{path}: permission denied; choose an {what} you can write to")
    return path


def _atomic(path: Path, write) -> None:
    # A name unique to this process, so that two writers never share a temp file.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@dataclass
class Study:
    """A study folder and typed access to its files."""

    root: Path

    def __post_init__(self) -> None:
        self.root = Path(self.root)

    def path(self, name: str) -> Path:
        """Return the path of one of the study's files."""
        return self.root / name

    @contextmanager
    def lock(self, command: str, create: bool = True) -> Iterator[Study]:
        """Hold the study's writer lock while a command runs; refuse a second writer.

        The lock is an advisory ``flock`` on ``.prefdissect.lock`` in the study
        folder, so the operating system releases it when the process ends, even on
        ``kill -9``. The folder is created if needed, unless ``create`` is False
        (commands that work on an existing study).
        """
        if not create and not self.root.exists():
            raise UsageError(f"{self.root} does not exist; check the study path, or create "
                             "a study with `prefdissect import SOURCE --out STUDY`")
        prepare_folder(self.root, "study folder")
        try:
            handle = open(self.path(LOCK_NAME), "a+", encoding="utf-8")  # noqa: SIM115
        except PermissionError:
            raise UsageError(f"{self.root}: permission denied; choose a study folder you "
                             "can write to") from None
        try:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "another process"
                raise UsageError(f"{self.root} is in use by {holder}; wait for it to finish "
                                 "or use another folder") from None
            handle.seek(0)
            handle.truncate()
            handle.write(f"PID {os.getpid()} (prefdissect {command})")
            handle.flush()
            yield self
        finally:
            handle.close()

    def check_import_target(self, source: str | Path, format: str, seed: int,
                            overwrite: bool = False) -> None:
        """Refuse to import over a study that holds other data, unless ``overwrite``.

        Re-importing the same source with the same format and seed is allowed: it
        is how an interrupted ``dissect`` resumes (its LLM answers come from the log).
        """
        if overwrite or not self.path("study.json").exists():
            return
        try:
            info = self.info()
        except (ValueError, OSError):
            info = {}
        where = info.get("source_path") or str(Path(str(info.get("source"))).resolve())
        if (where, info.get("format"), info.get("seed", 0)) == (
                str(Path(source).resolve()), format, seed):
            return
        was = f"{info.get('source')} ({info.get('format')}" + (
            f", seed {info['seed']}" if info.get("seed") else "") + ")"
        raise UsageError(f"{self.root} already holds a study of {was}; give a new --out "
                         "folder, or add --overwrite to replace that study (its LLM log, the "
                         "cache of paid answers, is kept)")

    def _require(self, name: str, how: str) -> Path:
        path = self.path(name)
        if not self.root.exists():
            raise UsageError(f"{self.root} does not exist; check the study path, or create "
                             "a study with `prefdissect import SOURCE --out STUDY`")
        if not self.root.is_dir():
            raise UsageError(f"{self.root} is a file, not a study folder")
        if not path.exists():
            raise UsageError(f"{self.root}: no {name} yet; {how}")
        return path

    # -- writing -------------------------------------------------------------------
    def write_frame(self, name: str, frame: pd.DataFrame) -> Path:
        """Write a table atomically (Parquet or CSV by extension)."""
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.path(name)
        if name.endswith(".parquet"):
            _atomic(path, lambda p: frame.to_parquet(p, index=False))
        else:
            _atomic(path, lambda p: frame.to_csv(p, index=False))
        return path

    def write_json(self, name: str, data: Any) -> Path:
        """Write a JSON document atomically."""
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.path(name)
        text = json.dumps(data, indent=2, ensure_ascii=False, default=str)
        _atomic(path, lambda p: p.write_text(text + "\n", encoding="utf-8"))
        return path

    def save_import(self, result: ImportResult) -> None:
        """Store an importer's pairs, judgments and exclusions, replacing earlier ones.

        Properties and annotations the importer brought (AnnotatedPairs principles)
        become the study's ``schema.yaml`` and its first annotations.
        """
        self._write_records("pairs.parquet", result.pairs, pairs_to_frame, PAIR_SCHEMA)
        self._write_records("judgments.parquet", result.judgments, judgments_to_frame,
                            JUDGMENT_SCHEMA)
        self.write_frame("exclusions.csv", exclusions_to_frame(result.exclusions))
        if self.path(SHARDS).exists():
            shutil.rmtree(self.path(SHARDS))
        for stale in ("annotations.parquet", "query_info.parquet", "comparisons.parquet",
                      "profiles.csv", "terms.csv", "fit_diagnostics.csv", "fit_quality.csv",
                      "summary.json", "scores.csv", "score_components.csv", "families.csv",
                      "annotation_consistency.csv", "judge_stats.csv", SCHEMA_NAME,
                      "discoveries.csv", "discovery.json",
                      "agreement.csv", "agreement_confusion.csv"):
            self.path(stale).unlink(missing_ok=True)
        if result.properties:
            text = extended_schema_yaml(result.properties, result.format)
            _atomic(self.path(SCHEMA_NAME), lambda p: p.write_text(text, encoding="utf-8"))
        if result.annotations is not None and len(result.annotations):
            self.save_annotations(result.annotations)
        if result.query_info is not None and len(result.query_info):
            self.save_query_info(result.query_info)
        if result.judge_stats:  # judges imported with their verdicts in both orders
            self.write_frame("judge_stats.csv", pd.DataFrame(result.judge_stats))
        self.write_json("study.json", {
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "prefdissect": __version__,
            "source": result.source,
            "source_path": str(Path(result.source).resolve()),
            "seed": result.seed,
            "format": result.format,
            "rows_read": result.rows_read,
            "pairs": len(result.pairs),
            "judgments": len(result.judgments),
            "imported_judges": sorted({j.judge for j in result.judgments}),
            "import_exclusions": len(result.exclusions),
            "notes": result.notes,
        })

    def _write_records(self, name: str, records, to_frame, schema) -> None:
        """Write importer records; a spool that went to disk is copied a batch at a time."""
        if isinstance(records, Spool) and records.spilled:
            with ParquetSink(self.path(name), schema) as sink:
                for frame in records.frames():
                    sink.write(frame)
        else:
            self.write_frame(name, to_frame(list(records)))

    def save_annotation_batches(self, batches, replaces: list[tuple[str, str]]) -> int:
        """Stream annotations in, replacing earlier rows of the (annotator, property) pairs given.

        ``batches`` yields annotation tables whose rows all belong to ``replaces``;
        rows of other annotators and properties are kept, before the new ones (as
        :meth:`save_annotations` orders them). The annotators' shard folders are
        removed. Returns the number of new rows.
        """
        keys = pd.MultiIndex.from_tuples(replaces, names=["annotator", "property"])
        old = self.path("annotations.parquet")
        written = 0
        with ParquetSink(old, ANNOTATION_SCHEMA) as sink:
            if old.exists():
                for frame in iter_frames(old):
                    frame = check_annotations(frame, str(old))
                    stale = pd.MultiIndex.from_frame(frame[["annotator", "property"]]).isin(keys)
                    sink.write(frame[~stale])
            for frame in batches:
                frame = check_annotations(frame, "new annotations")
                sink.write(frame)
                written += len(frame)
                del frame
                release_memory()  # each batch's texts are gone: keep the process small
        self._drop_shards({annotator for annotator, _ in replaces})
        release_memory()
        return written

    def _drop_shards(self, annotators: set[str]) -> None:
        for annotator in annotators:
            folder = self.path(SHARDS) / annotator
            if folder.exists():
                shutil.rmtree(folder)

    def shard_files(self) -> list[Path]:
        """Return the annotation shards (``annotation_shards/*/part-*.parquet``), in order."""
        return sorted(self.path(SHARDS).glob("*/*.parquet"))

    def save_annotations(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Merge new annotations in, replacing earlier rows of the same annotator and property.

        Returns the merged table (annotation shards stay where they are, except
        those of the new rows' annotators, which the new rows replace).
        """
        frame = check_annotations(frame, "new annotations")
        annotators = set(frame["annotator"].dropna().astype(str))
        path = self.path("annotations.parquet")
        if path.exists():
            old = check_annotations(pd.read_parquet(path), str(path))
            replaced = old.set_index(["annotator", "property"]).index.isin(
                frame.set_index(["annotator", "property"]).index.unique())
            frame = pd.concat([old[~replaced], frame], ignore_index=True)
        self.write_frame("annotations.parquet", frame)
        self._drop_shards(annotators)  # their new rows replace any shards
        return frame

    def save_query_info(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Merge query information in (one row per pair; new rows replace old ones)."""
        if self.path("query_info.parquet").exists():
            old = self.query_info()
            frame = pd.concat([old[~old["pair_id"].isin(frame["pair_id"])], frame],
                              ignore_index=True)
        self.write_frame("query_info.parquet", frame)
        return frame

    def save_judgments(self, frame: pd.DataFrame, judges: list[str]) -> pd.DataFrame:
        """Replace every earlier judgment of ``judges`` with ``frame`` (which may be empty)."""
        old = self.judgments()
        frame = pd.concat([old[~old["judge"].isin(set(judges))], frame], ignore_index=True)
        self.write_frame("judgments.parquet", frame)
        return frame

    def replace_exclusions(self, items: list[Exclusion], stage: str,
                           judge: str | None = None) -> None:
        """Replace the exclusions of one stage (and judge, if given) with ``items``."""
        old = self.exclusions()
        stale = old["stage"] == stage
        if judge is not None:
            stale &= old["judge"] == judge
        frame = pd.concat([old[~stale], exclusions_to_frame(items)], ignore_index=True)
        self.write_frame("exclusions.csv", frame)

    # -- reading -------------------------------------------------------------------
    def pairs(self, texts: bool = True) -> pd.DataFrame:
        """Return the pair table.

        With ``texts=False`` the text columns (:data:`~prefdissect.pairs.TEXT_COLUMNS`)
        are left out and a ``text_problem`` column (empty or identical responses,
        see :func:`~prefdissect.pairs.text_problems`) takes their place; the table
        is read a batch at a time, so a fit of millions of pairs never holds their
        texts.
        """
        path = self._require("pairs.parquet", "run `prefdissect import` first")
        if texts:
            return as_objects(pd.read_parquet(path))
        keep = [c for c in PAIR_COLUMNS if c not in TEXT_COLUMNS]
        parts = []
        for batch in iter_batches(path, [*keep, "response_a", "response_b"]):
            problem = text_problems(batch.column("response_a").to_pylist(),
                                    batch.column("response_b").to_pylist())
            frame = as_objects(batch.select(keep).to_pandas())
            parts.append(frame.assign(**{TEXT_PROBLEM: problem}))
        release_memory()
        return parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)

    def pair_batches(self, columns: list[str] | None = None,
                     batch_rows: int = BATCH_ROWS):
        """Yield the pair table (or some of its columns) in batches of ``batch_rows`` rows."""
        path = self._require("pairs.parquet", "run `prefdissect import` first")
        for frame in iter_frames(path, columns, batch_rows):
            yield as_objects(frame)

    def pair_count(self) -> int:
        """Return the number of pairs (read from the table's footer)."""
        return parquet_rows(self._require("pairs.parquet", "run `prefdissect import` first"))

    def judgments(self) -> pd.DataFrame:
        """Return the judgment table."""
        path = self._require("judgments.parquet", "run `prefdissect import` first")
        frame = pd.read_parquet(path)
        # details are JSON text or None, however the file typed a column of missing values
        frame["details"] = frame["details"].astype(object).where(frame["details"].notna(), None)
        return frame

    def annotations(self) -> pd.DataFrame:
        """Return the annotation table (with any annotation shards)."""
        path = self._require("annotations.parquet", "run `prefdissect annotate` first")
        shards = self.shard_files()
        if not shards:
            return check_annotations(pd.read_parquet(path), str(path))
        frames = [check_annotations(pd.read_parquet(p), str(p)) for p in [path, *shards]]
        return pd.concat(frames, ignore_index=True)

    def annotated_properties(self) -> set[str]:
        """Return the properties the annotation table has rows for (empty without one)."""
        if not self.path("annotations.parquet").exists():
            return set()
        return {p for batch in self.annotation_batches(["property"])
                for p in batch["property"].dropna().unique()}

    def annotation_counts(self, annotator: str) -> tuple[int, int]:
        """Return (values, failed values) of one annotator, read a column pair at a time.

        What a streaming annotator (which returns no table) reports after its run.
        """
        values = failed = 0
        for batch in self.annotation_batches(["annotator", "status"]):
            mine = batch["status"][batch["annotator"] == annotator]
            values += len(mine)
            failed += int((mine == "failed").sum())
        return values, failed

    def annotation_batches(self, columns: list[str] | None = None,
                           batch_rows: int = 10 * BATCH_ROWS):
        """Yield the annotation table (and its shards) in batches.

        With ``columns`` only those are read, unchecked; without, every batch is
        checked as :meth:`annotations` checks the whole table.
        """
        path = self._require("annotations.parquet", "run `prefdissect annotate` first")
        for source in [path, *self.shard_files()]:
            for frame in iter_frames(source, columns, batch_rows):
                yield frame if columns is not None else check_annotations(frame, str(source))

    def exclusions(self) -> pd.DataFrame:
        """Return every exclusion recorded so far."""
        path = self.path("exclusions.csv")
        if not path.exists() or path.stat().st_size == 0:
            return pd.DataFrame(columns=list(EXCLUSION_COLUMNS))
        return pd.read_csv(path, dtype={"pair_id": str, "judge": str})

    def annotation_consistency(self) -> pd.DataFrame | None:
        """Return the LLM annotator's swap-check flip rates, highest first, if it ran one."""
        path = self.path("annotation_consistency.csv")
        if not path.exists():
            return None
        return pd.read_csv(path).sort_values("flip_rate", ascending=False, kind="stable")

    def query_info(self, columns: list[str] | None = None) -> pd.DataFrame | None:
        """Return the query-information table (or some of its columns), if there is one."""
        path = self.path("query_info.parquet")
        if not path.exists():
            return None
        if columns is not None:
            names = set(open_parquet(path).schema_arrow.names)
            columns = [c for c in columns if c in names]
        return pd.read_parquet(path, columns=columns)

    def pairs_with_scenarios(self, texts: bool = True) -> pd.DataFrame:
        """Return the pair table as fits group it (``texts``: as in :meth:`pairs`).

        Where the data has no scenarios, the ones an annotator assigned (in the
        query-information table) fill the ``scenario`` column.
        """
        pairs, info = self.pairs(texts), self.query_info(["pair_id", "scenario"])
        if info is not None and pairs["scenario"].isna().all():
            found = info.dropna(subset=["scenario"]).set_index("pair_id")["scenario"]
            pairs = pairs.assign(scenario=pairs["id"].map(found))
            pairs = pairs.where(pairs.notna(), None)
        return pairs

    def profiles(self) -> pd.DataFrame:
        """Return the profile table of the last fit."""
        return pd.read_csv(self._require("profiles.csv", "run `prefdissect fit` first"))

    def schema(self, path: str | Path | None = None) -> PropertySchema:
        """Return the property schema: ``path`` if given, else the study's own, else the default.

        A study has its own ``schema.yaml`` when its import brought properties.
        """
        if path is None and self.path(SCHEMA_NAME).exists():
            return load_schema(self.path(SCHEMA_NAME))
        return load_schema(path)

    def info(self) -> dict[str, Any]:
        """Return the study manifest (study.json)."""
        path = self._require("study.json", "run `prefdissect import` first")
        return json.loads(path.read_text(encoding="utf-8"))
