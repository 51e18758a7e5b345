"""The cluster commands: annotation as tasks on a Dask cluster, written as shards."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from . import console, literal
from .options import SchemaOpt, StudyArg

cluster_app = typer.Typer(help="Run a stage on a Dask cluster (pip install "
                          "'prefdissect[dask]').", no_args_is_help=True)


@cluster_app.command("annotate")
def annotate(study: StudyArg, schema: SchemaOpt = None,
             scheduler: Annotated[str | None, typer.Option(
                 "--scheduler", help="Address of a running Dask scheduler (tcp://HOST:8786); "
                 "default: a local cluster of --workers processes.")] = None,
             workers: Annotated[int, typer.Option(
                 "--workers", help="Worker processes of the local cluster.")] = 2,
             rows_per_task: Annotated[int, typer.Option(
                 "--rows-per-task", help="Pairs per task (one annotation shard each).")]
             = 50_000) -> None:
    """Annotate a study with the heuristic annotator on a Dask cluster; fit reads the shards.

    Every worker must see the study folder at the same path (a shared filesystem).
    """
    from ..errors import UsageError
    from ..shards import annotate_on_dask
    from ..study import Study

    if workers < 1:
        raise UsageError(f"--workers {workers}: give 1 or more")
    target = Study(Path(study))
    with target.lock("cluster annotate", create=False):
        run = annotate_on_dask(target, target.schema(schema), scheduler=scheduler,
                               workers=workers, rows_per_task=rows_per_task)
    console.print(f"annotated {run.pairs} pairs in {run.tasks} tasks on {literal(run.scheduler)}"
                  f": {run.rows} values in {literal(run.folder)}", highlight=False)
