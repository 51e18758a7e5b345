"""Reward models as judges: `judge --reward-model PATH` and `judge --scores FILE`."""

from __future__ import annotations

from pathlib import Path

from . import console, literal


def judge_with_reward(study: Path, reward_model: Path | None, scores: Path | None,
                      name: str | None, device: str, batch_size: int, server: bool) -> None:
    """Check the options, load the reward model (or scores), judge and report."""
    from ..errors import UsageError
    from ..registry import get as registry_get
    from ..study import Study

    if reward_model is not None and scores is not None:
        raise UsageError("give --reward-model or --scores, not both")
    if server:
        raise UsageError("--reward-model and --scores do not combine with --model, "
                         "--local-model, --dry-run or --batch-export")
    if scores is not None:
        if not name:
            raise UsageError("--scores needs --name, the reward model's name in the study")
        if not scores.exists():
            raise UsageError(f"{scores} does not exist; check the scores file path")
    elif not reward_model.exists():
        raise UsageError(f"{reward_model} does not exist; give the folder of a "
                         "transformers sequence-classification model")
    with Study(study).lock("judge", create=False) as target:
        target.pairs()  # a study without pairs fails here, before a model is loaded
        if scores is not None:
            worker = registry_get("judge", "reward-scores").factory(scores, name=name)
        else:
            worker = registry_get("judge", "reward").factory(
                str(reward_model), name=name, batch_size=batch_size, device=device)
        run_reward_judge(target, worker)


def run_reward_judge(study, worker) -> None:
    """Run a reward-model judge on a study with a progress bar, and report."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from .. import pipeline

    total = len(study.pairs())
    label = literal(worker.name).replace("{", "{{").replace("}", "}}")  # a format string
    with Progress(TextColumn(f"scoring with {label}"), BarColumn(),
                  MofNCompleteColumn(), console=console, transient=True) as bar:
        task = bar.add_task("reward", total=total)
        run = pipeline.judge(study, worker, progress=lambda n: bar.advance(task, n))
    print_reward_run(worker.name, run)


def print_reward_run(name: str, run) -> None:
    """Say how a reward-model judge's run went."""
    stats = run.stats(name)
    console.print(f"{literal(name)}: judged {stats['judged']} of {stats['pairs']} pairs "
                  f"({stats['failed']} without two usable scores, see exclusions.csv); "
                  "P(A) = sigmoid(reward A - reward B)", highlight=False)
