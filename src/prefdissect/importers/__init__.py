"""Importers turn a source format into pairs, judgments and counted exclusions.

Each importer is a function ``load(path, *, seed=0) -> ImportResult`` registered
with :func:`prefdissect.registry.register` under the name users pass as
``--format``. The result accounts for every source row: it became a pair or an
exclusion with a reason, so ``rows_read == len(pairs) + len(import exclusions)``
for sources with one pair per row.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .. import registry
from ..errors import UsageError
from ..exclusions import Exclusion
from ..judgments import Judgment
from ..pairs import Pair


@dataclass
class ImportResult:
    """What an importer read."""

    source: str
    """The path that was imported."""
    format: str
    """The importer's registered name."""
    pairs: list[Pair] = field(default_factory=list)
    """The pairs read."""
    judgments: list[Judgment] = field(default_factory=list)
    """Every judge's verdicts on those pairs."""
    exclusions: list[Exclusion] = field(default_factory=list)
    """Source rows that did not become pairs, with reasons."""
    rows_read: int = 0
    """Source rows (records) read, for checking counts against the source's own."""
    notes: list[str] = field(default_factory=list)
    """Anything the user should know (orders randomised, files skipped, ...)."""
    properties: list[dict] = field(default_factory=list)
    """Properties the source defines (schema entries, as in the schema YAML); the
    study's schema becomes the default one plus these."""
    annotations: pd.DataFrame | None = None
    """Annotations the source carries for those properties (an annotation table)."""
    judge_stats: list[dict] = field(default_factory=list)
    """Position statistics of judges whose verdicts in both orders were imported, one
    row per judge in the columns of ``judge_stats.csv``."""
    seed: int = 0
    """The seed the import ran with (sources whose order it randomises)."""


def run_import(path: str | Path, format: str, *, seed: int = 0) -> ImportResult:
    """Import ``path`` with the importer registered as ``format``."""
    entry = registry.get("importer", format)
    path = Path(path)
    if not path.exists():
        raise UsageError(f"{path} does not exist; check the path")
    result: ImportResult = entry.factory(path, seed=seed)
    result.seed = seed
    ids = [p.id for p in result.pairs]
    if len(set(ids)) != len(ids):
        dupes = sorted({i for i in ids if ids.count(i) > 1})[:3]
        raise UsageError(f"{path}: pair ids are not unique (e.g. {', '.join(dupes)}); "
                         "give each pair its own id")
    return result


def seeded_swap(key: str, seed: int) -> bool:
    """Decide, reproducibly per pair, whether to swap a pair's stored order.

    Sources that always store the better response first (HH-RLHF's ``chosen``,
    EvalBiasBench) get a random but repeatable A/B order, so that neither letter
    is always the winner.
    """
    return random.Random(f"{seed}:{key}").random() < 0.5
