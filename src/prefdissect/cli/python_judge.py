"""A Python function as judge: `judge STUDY --python FILE.py:FUNCTION`."""

from __future__ import annotations

from pathlib import Path

from . import console, literal


def judge_with_python(study: Path, spec: str, name: str | None, other: bool) -> None:
    """Check the options, load the function, judge every pair and report."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from .. import pipeline
    from ..errors import PartialFailure, UsageError
    from ..registry import get as registry_get
    from ..study import Study
    from .llm import print_judge_run

    if other:
        raise UsageError("--python does not combine with --model, --local-model, "
                         "--reward-model, --scores, --dry-run or --batch-export")
    worker = registry_get("judge", "python").factory(spec, name=name)
    with Study(study).lock("judge", create=False) as target:
        total = len(target.pairs())
        label = literal(worker.name).replace("{", "{{").replace("}", "}}")  # a format string
        with Progress(TextColumn(f"judging with {label}"), BarColumn(), MofNCompleteColumn(),
                      console=console, transient=True) as bar:
            task = bar.add_task("python", total=total)
            run = pipeline.judge(target, worker, progress=lambda n: bar.advance(task, n))
    print_judge_run(worker.name, run)
    if run.exclusions:
        example = run.exclusions[0]
        raise PartialFailure(f"{len(run.exclusions)} pairs got no usable answer in either "
                             f"order (e.g. pair {example.pair_id}: {example.detail}); they "
                             "are recorded in exclusions.csv with their reasons")
