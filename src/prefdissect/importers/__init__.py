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
from typing import Any

import pandas as pd

from .. import batches, registry
from ..batches import JUDGMENT_SCHEMA, PAIR_SCHEMA, Spool, as_objects
from ..errors import UsageError
from ..exclusions import Exclusion
from ..judgments import Judgment, frame_to_judgments, judgments_to_frame
from ..pairs import Pair, frame_to_pairs, pairs_to_frame, text_free


@dataclass
class ImportResult:
    """What an importer read."""

    source: str
    """The path that was imported."""
    format: str
    """The importer's registered name."""
    pairs: list[Pair] | Spool = field(default_factory=list)
    """The pairs read (a :class:`~prefdissect.batches.Spool` for large formats)."""
    judgments: list[Judgment] | Spool = field(default_factory=list)
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
    query_info: pd.DataFrame | None = None
    """Query information the source carries (traits per pair, as the LLM annotator's
    query step gives them; the paper's resolved annotations)."""
    judge_stats: list[dict] = field(default_factory=list)
    """Position statistics of judges whose verdicts in both orders were imported, one
    row per judge in the columns of ``judge_stats.csv``."""
    seed: int = 0
    """The seed the import ran with (sources whose order it randomises)."""

    def pair_frame(self, texts: bool = True) -> pd.DataFrame:
        """Return the pairs as a pair table; ``texts=False``: as :meth:`Study.pairs` does.

        Without texts the table stays small however many pairs were read (a spool
        is read a batch at a time).
        """
        frames = (self.pairs.frames() if isinstance(self.pairs, Spool)
                  else [pairs_to_frame(self.pairs)])
        parts = [frame if texts else text_free(as_objects(frame)) for frame in frames]
        return parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)

    def judgment_frame(self) -> pd.DataFrame:
        """Return the judgments as a judgment table."""
        if isinstance(self.judgments, Spool):
            return self.judgments.frame()
        return judgments_to_frame(self.judgments)


def spooled_result(source: str | Path, format: str) -> ImportResult:
    """Return an empty :class:`ImportResult` whose pairs and judgments spill to disk.

    Importers of formats that reach millions of rows use it: below
    :data:`~prefdissect.batches.BATCH_ROWS` records the lists stay in memory, past
    it they move to temporary Parquet files (:class:`~prefdissect.batches.Spool`).
    """
    limit = batches.BATCH_ROWS  # read now, so that tests can make it small
    return ImportResult(
        source=str(source), format=format,
        pairs=Spool(pairs_to_frame, frame_to_pairs, PAIR_SCHEMA, limit),
        judgments=Spool(judgments_to_frame, frame_to_judgments, JUDGMENT_SCHEMA, limit))


OPTIONS = {"columns": "--columns", "pairs_per_prompt": "--pairs-per-prompt"}
"""Importer options and their command-line spelling (an importer lists the ones it
takes in its registry entry's ``options``)."""


def check_options(format: str, **options: Any) -> dict[str, Any]:
    """Return the options given (not None), or refuse one that ``format`` does not take."""
    options = {k: v for k, v in options.items() if v is not None}
    takes = registry.get("importer", format).extra.get("options", ())
    for name in options:
        if name not in takes:
            users = [e.name for e in registry.entries("importer")
                     if name in e.extra.get("options", ())]
            raise UsageError(f"{OPTIONS.get(name, name)} does not apply to --format {format}; "
                             f"it applies to: {', '.join(users) or 'no format'}")
    return options


def run_import(path: str | Path, format: str, *, seed: int = 0, **options: Any) -> ImportResult:
    """Import ``path`` with the importer registered as ``format``.

    ``options`` (None values ignored) go to the importer: ``columns``
    (``TARGET=SOURCE,...``, for pairs, preference and ratings) and
    ``pairs_per_prompt`` (ratings). An option the format does not take is refused.
    """
    entry = registry.get("importer", format)
    options = check_options(format, **options)
    path = Path(path)
    if not path.exists():
        raise UsageError(f"{path} does not exist; check the path")
    result: ImportResult = entry.factory(path, seed=seed, **options)
    result.seed = seed
    if isinstance(result.pairs, Spool):
        ids = pd.concat([f["id"] for f in result.pairs.frames(["id"])], ignore_index=True)
        dupes = sorted(set(ids[ids.duplicated()]))[:3]
    else:
        ids = [p.id for p in result.pairs]
        dupes = sorted({i for i in ids if ids.count(i) > 1})[:3] \
            if len(set(ids)) != len(ids) else []
    if dupes:
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
