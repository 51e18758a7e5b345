"""Write a study back as a TRL preference dataset, optionally balanced on one property.

The format is TRL's conversational preference type with an explicit prompt (TRL's
"Dataset formats" guide), one row per pair the judge decided:

``prompt``
    the conversation up to the user's last turn: each earlier turn (history), then
    ``{"role": "user", "content": query}``;
``chosen`` / ``rejected``
    ``[{"role": "assistant", "content": response}]`` for the side the judge
    preferred and the other;
``id``, and ``chosen_model`` / ``rejected_model`` where the models are known.

TRL applies the model's chat template to such rows itself. The file is JSON Lines,
or Parquet when ``out`` ends in ``.parquet``; pairs are read and written a batch
at a time. Ties and pairs the judge did not decide are left out and counted.

``balance=PROPERTY`` subsamples so that the property cannot predict the choice:
among the pairs whose two responses differ on it (by its comparison rule), the
chosen response is the better one (for ``lengthy``: the longer) in exactly half.
It does so within every combination of the other measured properties'
comparisons (taken relative to the chosen response), because a marginal balance
alone leaves the property tied to the choice through what travels with it: on
AlpacaEval, longer answers are also better formatted, and a refit of a merely
halved set finds *lengthy* lowering preference. In each combination the larger
side is cut down to the size of the smaller by a seeded draw; pairs on which the
property shows no difference say nothing about it and are all kept; pairs
without a comparison are left out. The notes say how many of each were kept.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..batches import ParquetSink
from ..comparisons import resolve_batches
from ..errors import UsageError
from ..judgments import A, B, judge_names
from ..pairs import frame_to_pairs
from ..registry import register
from . import ExportResult, choose_judge

COLUMNS = ("id", "prompt", "chosen", "rejected", "chosen_model", "rejected_model")


def balanced(chosen_better: pd.Series, strata: pd.Series | None = None,
             seed: int = 0) -> tuple[pd.Index, dict[str, int]]:
    """Return the pairs to keep so that ``chosen_better`` is +1 in half of those where it is not 0.

    ``chosen_better`` holds, per pair id, +1 (the chosen response is better on the
    property), -1 (worse), 0 (no difference) or NaN (no comparison). Within each
    stratum (``strata``: a key per pair id; None: one stratum) the larger side is
    cut down to the size of the smaller by a draw seeded with ``seed``; pairs with
    0 are all kept, NaN ones left out. Returns the kept ids in their original
    order and the counts behind them.
    """
    strata = pd.Series("", index=chosen_better.index) if strata is None else strata
    rng = np.random.default_rng(seed)
    value = chosen_better.to_numpy()
    keep = set(chosen_better.index[value == 0])
    kept_each = 0
    frame = pd.DataFrame({"key": strata.reindex(chosen_better.index).astype(str).to_numpy(),
                          "side": value}, index=chosen_better.index)
    for _, group in frame[np.isin(value, (1, -1))].groupby("key", sort=True):
        better = group.index[group["side"].to_numpy() == 1]
        worse = group.index[group["side"].to_numpy() == -1]
        size = min(len(better), len(worse))
        kept_each += size
        for ids in (better, worse):
            keep.update(rng.choice(np.asarray(ids, dtype=object), size, replace=False)
                        if len(ids) > size else ids)
    counts = {"better": int((value == 1).sum()), "worse": int((value == -1).sum()),
              "same": int((value == 0).sum()), "unknown": int(np.isnan(value).sum()),
              "kept_each": kept_each, "strata": int(frame["key"].nunique())}
    return pd.Index([i for i in chosen_better.index if i in keep]), counts


def _rows(frame: pd.DataFrame, labels: pd.Series) -> list[dict]:
    out = []
    for pair in frame_to_pairs(frame):
        label = labels.get(pair.id)
        if label not in (A, B):
            continue
        good, bad = (pair.response_a, pair.response_b) if label == A else (
            pair.response_b, pair.response_a)
        model_good, model_bad = (pair.model_a, pair.model_b) if label == A else (
            pair.model_b, pair.model_a)
        row = {"id": pair.id,
               "prompt": [*pair.history, {"role": "user", "content": pair.query}],
               "chosen": [{"role": "assistant", "content": good}],
               "rejected": [{"role": "assistant", "content": bad}]}
        if model_good or model_bad:
            row.update(chosen_model=model_good, rejected_model=model_bad)
        out.append(row)
    return out


def _messages_type():
    import pyarrow as pa

    return pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))


@register("exporter", "preference", "TRL preference dataset (conversational, explicit prompt) "
          "as JSON Lines or Parquet; --balance PROPERTY subsamples so the property cannot "
          "predict the choice")
def export(study, out: Path, *, judge: str | None = None, balance: str | None = None,
           seed: int = 0) -> ExportResult:
    """Write ``study`` to ``out`` as a TRL preference dataset (see the module docstring)."""
    judgments = study.judgments()
    judge = choose_judge(judge_names(judgments), judge)
    mine = judgments[judgments["judge"] == judge].drop_duplicates("pair_id", keep="last")
    labels = mine.set_index("pair_id")["label"]
    decided = labels[labels.isin([A, B])]
    notes = [f"judge: {judge}; {len(decided)} decided pairs"
             + (f", {len(labels) - len(decided)} ties or undecided left out"
                if len(labels) > len(decided) else "")]
    if balance is not None:
        decided, note = _balance(study, decided, balance, seed)
        notes.append(note)
    keep = decided.index
    parquet = out.name.lower().endswith(".parquet")
    written = 0
    if parquet:
        import pyarrow as pa

        schema = pa.schema([("id", pa.string()), ("prompt", _messages_type()),
                            ("chosen", _messages_type()), ("rejected", _messages_type()),
                            ("chosen_model", pa.string()), ("rejected_model", pa.string())])
        with ParquetSink(out, schema) as sink:
            for frame in study.pair_batches():
                rows = _rows(frame[frame["id"].isin(keep)], decided)
                sink.write(pa.Table.from_pylist(rows, schema=schema))
                written += len(rows)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.tmp")
        try:
            with tmp.open("w", encoding="utf-8") as handle:
                for frame in study.pair_batches():
                    for row in _rows(frame[frame["id"].isin(keep)], decided):
                        handle.write(json.dumps(row, ensure_ascii=False) + "\n")
                        written += 1
            tmp.replace(out)
        finally:
            tmp.unlink(missing_ok=True)
    return ExportResult(out, "preference", written, notes, unit="preference pairs")


def _balance(study, decided: pd.Series, prop: str, seed: int) -> tuple[pd.Series, str]:
    schema = study.schema()
    if prop not in schema.names:
        raise UsageError(f"--balance {prop}: not a property of the study's schema; properties: "
                         f"{', '.join(schema.names)}")
    if not study.path("annotations.parquet").exists():
        raise UsageError(f"--balance {prop}: the study has no annotations; run `prefdissect "
                         "annotate` first")
    comparisons = resolve_batches(study.annotation_batches, decided.index, schema)
    if prop not in comparisons.values.columns:
        raise UsageError(f"--balance {prop}: no annotator measured it in this study; "
                         f"measured: {', '.join(comparisons.values.columns) or 'none'}")
    sign = np.where(decided.to_numpy() == A, 1.0, -1.0)
    relative = comparisons.values.mul(sign, axis=0)  # +1: the chosen response is better
    others = [c for c in relative.columns if c != prop]
    strata = relative[others].astype(str).agg(",".join, axis=1) if others else None
    keep, counts = balanced(relative[prop], strata, seed)
    label = schema.labels().get(prop, prop)
    note = (f"--balance {prop}: kept {len(keep)} of {len(decided)} pairs; the chosen response "
            f"is better on {label} in {counts['kept_each']} and worse in "
            f"{counts['kept_each']} (of {counts['better']} and {counts['worse']}; drawn with "
            f"seed {seed} within each of {counts['strata']} combinations of the other "
            f"{len(others)} properties' comparisons), no difference in {counts['same']} "
            "(all kept)"
            + (f"; {counts['unknown']} without a {label} comparison left out"
               if counts["unknown"] else ""))
    return decided.loc[keep], note
