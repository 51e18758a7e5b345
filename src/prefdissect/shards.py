"""Annotation shards: the heuristic annotator run over a study's pairs on a Dask cluster.

Beyond one machine, annotation is split into tasks that an existing engine runs:
each task reads a slice of the study's ``pairs.parquet`` (a row group, or part of
one), applies :func:`~prefdissect.annotators.heuristic.annotate_record_batch` (a
pure function of an Arrow batch) and writes its rows as one Parquet shard,
``annotation_shards/heuristic/part-NNNNN.parquet``. The client only schedules:
texts never pass through it. Workers must see the study folder at the same path
(a shared filesystem, as usual on a cluster); without a scheduler address a
local cluster of worker processes is started.

When every task has finished, the shards replace the annotator's earlier rows
(its rows in ``annotations.parquet`` are removed, earlier shards replaced), and
scenarios are assigned as after any annotation. :meth:`Study.annotations` and
``fit`` read the shards with the table. The values are those of a single-process
run: each shard holds exactly the rows that run would write for its pairs.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from .errors import UsageError
from .properties import PropertySchema
from .study import SHARDS, Study

ANNOTATOR = "heuristic"
ROWS_PER_TASK = 50_000
"""Pairs per task by default (texts of ~50k pairs: about 100 MB in a worker)."""


@dataclass
class ShardRun:
    """What a distributed annotation run did."""

    tasks: int
    """Tasks run (one shard each)."""
    rows: int
    """Annotation rows written."""
    pairs: int
    """Pairs annotated."""
    folder: Path
    """The annotator's shard folder."""
    scheduler: str
    """Address of the Dask scheduler that ran the tasks."""


def pieces(path: str | Path, rows_per_task: int = ROWS_PER_TASK) -> list[tuple[int, int, int]]:
    """Split a Parquet file into tasks: ``(row group, first row, end row)`` within the group."""
    import pyarrow.parquet as pq

    if rows_per_task < 1:
        raise UsageError(f"--rows-per-task {rows_per_task}: give 1 or more")
    meta = pq.ParquetFile(path).metadata
    out = []
    for group in range(meta.num_row_groups):
        rows = meta.row_group(group).num_rows
        out += [(group, start, min(start + rows_per_task, rows))
                for start in range(0, rows, rows_per_task)]
    return out


def annotate_piece(pairs_path: str, group: int, start: int, stop: int,
                   properties: list[str], out: str) -> int:
    """Annotate one slice of a pair table and write it as a shard (runs on a worker).

    Returns the number of annotation rows written.
    """
    import pyarrow.parquet as pq

    from .annotators.heuristic import annotate_record_batch

    table = pq.ParquetFile(pairs_path).read_row_group(
        group, columns=["id", "response_a", "response_b"]).slice(start, stop - start)
    rows = annotate_record_batch(table, properties)
    tmp = f"{out}.{os.getpid()}.tmp"
    pq.write_table(rows, tmp)
    os.replace(tmp, out)
    return rows.num_rows


def _client(scheduler: str | None, workers: int):
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise UsageError("the distributed route needs Dask: pip install 'prefdissect[dask]' "
                         "(dask[distributed])") from None
    if scheduler:
        try:
            return Client(scheduler, timeout="30s"), None
        except OSError as exc:
            raise UsageError(f"--scheduler {scheduler}: cannot reach it ({exc}); start one "
                             "with `dask scheduler` and workers with `dask worker ADDRESS`") \
                from None
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                           dashboard_address=None)
    return Client(cluster), cluster


def annotate_on_dask(study: Study, schema: PropertySchema | None = None, *,
                     scheduler: str | None = None, workers: int = 2,
                     rows_per_task: int = ROWS_PER_TASK, client=None) -> ShardRun:
    """Annotate a study's pairs with the heuristic annotator on a Dask cluster.

    Parameters
    ----------
    study
        The study (its folder must be visible to every worker at the same path).
    schema
        Properties to annotate (default: the study's schema).
    scheduler
        Address of a running Dask scheduler (``tcp://host:8786``); None starts a
        local cluster of ``workers`` processes.
    workers
        Worker processes of the local cluster.
    rows_per_task
        Pairs per task (and per shard).
    client
        A ``distributed.Client`` to use instead (the caller keeps it open).
    """
    from .annotators.heuristic import HeuristicAnnotator
    from .pipeline import assign_scenarios

    schema = schema or study.schema()
    properties = HeuristicAnnotator().measures(schema)
    if not properties:
        raise UsageError("the schema has no property the heuristic annotator measures")
    pairs_path = study.path("pairs.parquet").resolve()
    if not pairs_path.exists():
        raise UsageError(f"{study.root}: no pairs.parquet yet; run `prefdissect import` first")
    tasks = pieces(pairs_path, rows_per_task)
    final = study.path(SHARDS) / ANNOTATOR
    staging = study.path(SHARDS) / f".{ANNOTATOR}.{os.getpid()}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    own, cluster = (client, None) if client is not None else _client(scheduler, workers)
    try:
        outs = [str((staging / f"part-{i:05d}.parquet").resolve()) for i in range(len(tasks))]
        futures = own.map(annotate_piece, [str(pairs_path)] * len(tasks),
                          *zip(*tasks), [properties] * len(tasks), outs,
                          pure=False) if tasks else []
        rows = sum(own.gather(futures))
        address = own.scheduler.address
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        if client is None:
            own.close()
            if cluster is not None:
                cluster.close()
    # the shards replace this annotator's earlier rows, wherever they were kept
    study.save_annotation_batches(iter(()), [(ANNOTATOR, p) for p in properties])
    if final.exists():
        shutil.rmtree(final)
    staging.rename(final)
    assign_scenarios(study)
    return ShardRun(len(tasks), rows, sum(stop - start for _, start, stop in tasks), final,
                    address)
