"""A probe folder: the files of probe runs, how runs add to them, and what they are read for.

Layout::

    probe.json                the settings that make runs comparable, the edits and judges
    probes.csv                per judge, edit and group: effects with intervals
    probe_pairs.parquet       every probe pair with its texts and each judge's verdict
    probe_edits.csv           every sampled response and edit: kept, or why it was left out
    probe_sources.csv         the sampled responses and their groups
    probe_observational.csv   the probe effects beside the study's profile
    llm_log.sqlite            the exchange log (cache) of server judges and the rewriter

Runs of other judges, or of more edits, with the same study, sample size, seed
and groups add to the folder; a judge's earlier rows for the same edits are
replaced. Every file is written whole or not at all.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import UsageError
from ..importers.native import write_pairs
from ..pairs import PAIR_COLUMNS
from ..study import Study
from . import (
    OBSERVATIONAL_COLUMNS,
    ORIGINAL,
    SELF,
    SEP,
    ProbeConfig,
    ProbeResult,
    ProbeSet,
    observational,
)

SETTINGS = "probe.json"
FILES = {"probes": "probes.csv", "pairs": "probe_pairs.parquet",
         "outcomes": "probe_edits.csv", "sources": "probe_sources.csv",
         "observational": "probe_observational.csv"}
"""The files of a probe folder."""


def settings(study, config: ProbeConfig) -> dict:
    """Return what makes two probe runs comparable: the study, the sample, the groups."""
    return {"study": str(study.root.resolve()), "n": config.n, "seed": config.seed,
            "group_by": list(config.group_by)}


def check_folder(folder, study, config: ProbeConfig) -> None:
    """Refuse a probe folder that holds probes of another study, sample or grouping."""
    target = Study(folder)
    if not target.path(SETTINGS).exists():
        return
    old = json.loads(target.path(SETTINGS).read_text(encoding="utf-8"))
    new = settings(study, config)
    changed = [k for k in new if old.get(k) != new[k]]
    if changed:
        shown = ", ".join(f"{k} {old.get(k)!r} there, {new[k]!r} now" for k in changed)
        raise UsageError(f"{folder} holds probes made with other settings ({shown}); "
                         "use another --out, or the same settings to add a judge or edits")


def save(folder, study, config: ProbeConfig, probe_set: ProbeSet, result: ProbeResult) -> None:
    """Write (or add to) a probe folder; one judge's earlier rows for these edits are replaced."""
    target = Study(folder)
    judge = result.probes["judge"].iloc[0] if len(result.probes) else None
    edits = set(config.edits)

    def merged(name: str, new: pd.DataFrame, stale) -> pd.DataFrame:
        path = target.path(name)
        if not path.exists():
            return new
        old = pd.read_parquet(path) if name.endswith(".parquet") else pd.read_csv(path)
        kept = old[~stale(old)]
        return pd.concat([kept, new], ignore_index=True) if len(kept) else new

    def mine(frame: pd.DataFrame) -> pd.Series:
        return (frame["judge"] == judge) & frame["edit"].isin(edits)

    target.write_frame(FILES["probes"], merged(FILES["probes"], result.probes, mine))
    target.write_frame(FILES["pairs"], merged(
        FILES["pairs"], result.judged, lambda f: (f["judge"] == judge)
        & (f["edit"].isin(edits) | (f["kind"] == ORIGINAL))))
    target.write_frame(FILES["outcomes"], merged(
        FILES["outcomes"], probe_set.outcomes.drop(columns=["edited"]),
        lambda f: f["edit"].isin(edits)))
    target.write_frame(FILES["sources"], probe_set.sources)
    target.write_frame(FILES["observational"], merged(
        FILES["observational"], result.observational, mine))
    info = settings(study, config)
    path = target.path(SETTINGS)
    if path.exists():
        old = json.loads(path.read_text(encoding="utf-8"))
        info["edits"] = list(dict.fromkeys([*old.get("edits", []), *config.edits]))
        info["judges"] = list(dict.fromkeys([*old.get("judges", []), judge]))
    else:
        info.update(edits=list(config.edits), judges=[judge])
    target.write_json(SETTINGS, info)


def export_pairs(folder, out, seed: int = 0) -> int:
    """Write a probe folder's pairs as ``pairs`` JSONL for a human panel; return how many.

    Every self-contrast and in-pair probe appears once, its A/B order drawn at
    random (seeded); the study's original pairs appear in both orders, which is
    how a panel's position effect shows. Each record's metadata names its probe
    (``probe``, ``kind``, ``edit``, ``source``, ``side``) and whether it is shown
    ``flipped``. The swap pseudo-edit's self pairs (a response against itself)
    are left out: a reader can only tell them apart by position.
    """
    path = Study(folder).path(FILES["pairs"])
    if not path.exists():
        raise UsageError(f"{folder}: no {FILES['pairs']}; run `prefdissect probe` with "
                         "--out there first")
    table = pd.read_parquet(path).drop_duplicates("id")
    table = table[~((table["kind"] == SELF) & (table["edit"] == "swap"))]
    rng = np.random.default_rng(seed)
    rows = []
    for row in table.to_dict("records"):
        flips = [False, True] if row["kind"] == ORIGINAL else [bool(rng.random() < 0.5)]
        for flipped in flips:
            a, b = row["response_a"], row["response_b"]
            meta = {"probe": row["id"], "kind": row["kind"], "edit": row["edit"],
                    "source": row["source"], "side": row["side"], "flipped": flipped}
            rows.append({**{k: row[k] for k in PAIR_COLUMNS},
                         "id": row["id"] + (f"{SEP}flipped" if flipped else ""),
                         "response_a": b if flipped else a, "response_b": a if flipped else b,
                         "model_a": row["model_b"] if flipped else row["model_a"],
                         "model_b": row["model_a"] if flipped else row["model_b"],
                         "metadata": json.dumps({k: v for k, v in meta.items()
                                                 if v is not None and v == v})})
    frame = pd.DataFrame(rows, columns=list(PAIR_COLUMNS))
    out = Path(out)
    if out.suffix.lower() != ".jsonl":
        raise UsageError(f"--out {out}: write the panel's file as .jsonl")
    out.parent.mkdir(parents=True, exist_ok=True)
    write_pairs(frame, out)
    return len(frame)


def report_block(folder, profiles: pd.DataFrame | None, limit: int = 4000) -> dict:
    """Return what the report's Probes view shows: probes, the profile beside them, examples.

    ``examples`` holds, per edit, one source response before and after the edit
    (cut to ``limit`` characters), so a reader sees what the edit did.
    """
    target = Study(folder)
    path = target.path(FILES["probes"])
    if not path.exists():
        raise UsageError(f"--probes {folder}: no {FILES['probes']} there; give the --out "
                         "folder of `prefdissect probe`")
    table = pd.read_csv(path)
    beside = (observational(table, profiles) if profiles is not None
              else pd.DataFrame(columns=list(OBSERVATIONAL_COLUMNS)))
    examples = {}
    pairs_path = target.path(FILES["pairs"])
    if pairs_path.exists():
        pairs = pd.read_parquet(pairs_path, columns=["kind", "edit", "source", "response_a",
                                                     "response_b"])
        own = pairs[(pairs["kind"] == SELF) & (pairs["edit"] != "swap")]
        for row in own.drop_duplicates("edit").itertuples():
            examples[row.edit] = {"source": row.source, "original": row.response_a[:limit],
                                  "edited": row.response_b[:limit]}
    info = (json.loads(target.path(SETTINGS).read_text(encoding="utf-8"))
            if target.path(SETTINGS).exists() else {})

    def records(frame: pd.DataFrame) -> list[dict]:
        return json.loads(frame.to_json(orient="records")) if len(frame) else []

    return {"rows": records(table), "observational": records(beside), "examples": examples,
            "settings": {k: info.get(k) for k in ("n", "seed", "group_by")}}
