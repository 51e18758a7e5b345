"""A human panel as judge of probes: the labels given to a `probe export` file.

`probe export` writes every probe pair once, in a random order, and the study's
original pairs in both orders; each record's metadata names its probe and whether
it is shown ``flipped``. A panel adds a ``label`` (``A``, ``B`` or ``tie``, for
the order shown) to each record it judged. This judge reads that file back: a
record shown as exported is the probe's first order, a flipped one its swapped
order, and the two are combined as every judge's orders are
(:func:`~prefdissect.judges.combine`) — so the originals, labelled in both
orders, also give the panel's position effect. A probe nobody labelled is a judge
failure with that reason; a response set against itself (the swap probe's self pair)
is never exported and not asked for — the swap effect comes from the originals.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ..errors import InputError, UsageError
from ..judgments import normalize_label, verdict_probability
from ..readers import iter_records
from ..registry import register
from . import JudgeRun, OrderResult, combine

FIX = ("label the file `prefdissect probe export` wrote: keep each record's metadata and "
       "add label A, B or tie for the order shown")


def _label(record: dict) -> object:
    if "label" in record:
        return record["label"]
    named = [k for k in record if str(k).startswith("label:")]
    return record[named[0]] if len(named) == 1 else None


@register("judge", "panel", "a panel's labels of the pairs `probe export` wrote (a JSONL "
          "file with a label per record)")
class PanelJudge:
    """Read a panel's labels of exported probe pairs; see the module docstring.

    Parameters
    ----------
    path
        The labelled export (JSONL, JSON, CSV or Parquet with the export's fields).
    name
        The panel's name as a judge (default: ``panel``).
    """

    def __init__(self, path: str | Path, *, name: str | None = None):
        self.path = Path(path)
        if not self.path.is_file():
            raise UsageError(f"--labels {self.path} does not exist; give the labelled file")
        self.name = name or "panel"
        self.model = str(self.path)
        self.orders = self._read()

    def _read(self) -> dict[str, dict[bool, float]]:
        orders: dict[str, dict[bool, float]] = {}
        for line, record in iter_records(self.path):
            meta = record.get("metadata")
            if isinstance(meta, str):  # a CSV or Parquet export keeps it as JSON text
                try:
                    meta = json.loads(meta)
                except json.JSONDecodeError:
                    meta = None
            if not isinstance(meta, dict) or "probe" not in meta or "flipped" not in meta:
                raise InputError(self.path, "has no metadata.probe and metadata.flipped", FIX,
                                 line=line, field="metadata")
            raw = _label(record)
            if raw is None or (isinstance(raw, str) and not raw.strip()):
                continue  # not labelled (yet): the probe fails with that reason
            label = normalize_label(raw)
            if label is None:
                raise InputError(self.path, f"is {str(raw)[:20]!r}", FIX, line=line,
                                 field="label")
            seen = orders.setdefault(str(meta["probe"]), {})
            flipped = bool(meta["flipped"])
            if flipped in seen:
                raise InputError(self.path, f"labels probe {meta['probe']} twice in the same "
                                 "order", "keep one label per exported record", line=line)
            seen[flipped] = verdict_probability(label)
        return orders

    def judge(self, pairs: pd.DataFrame, progress=None) -> JudgeRun:
        """Give each probe pair the panel's verdicts in the orders it was shown."""
        ids = [str(i) for i in pairs["id"]]
        if ids and not any(i in self.orders for i in ids):
            raise UsageError(f"--labels {self.path}: none of its records names a probe of this "
                             "run; label the export of a probe folder made with the same "
                             "study, --n, --seed, --group-by and edits")
        run = JudgeRun()
        missing = OrderResult(None, "not labelled in this order")
        same = dict(zip(ids, (pairs["response_a"] == pairs["response_b"]).tolist()))
        for pair_id in ids:
            if pair_id not in self.orders and same[pair_id]:
                continue  # a response against itself (swap): never exported, nothing to read
            got = self.orders.get(pair_id, {})
            first = OrderResult(got[False], "label") if False in got else missing
            swapped = OrderResult(got[True], "label") if True in got else missing
            run.add(combine(pair_id, self.name, first, swapped, {"source": str(self.path),
                                                                 "mode": "panel"}))
            if progress:
                progress(1)
        return run
