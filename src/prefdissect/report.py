"""The report: one self-contained HTML file to explore a study offline.

:func:`report_data` gathers what a fitted study holds — profiles, similarity,
held-out quality, exclusions, judge position bias, annotator flip rates, and every
pair with its judges' choices and annotations — and :func:`build_report` writes
it into a single HTML page with its script and styles inline. The texts of the
pairs are de-duplicated and gzip-compressed (the page unpacks them with the
browser's own DecompressionStream). The page never fetches anything: its
Content-Security-Policy forbids every request, and model text is only ever put
into the page as text, never as markup.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import math
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import __version__
from .annotations import query_traits
from .comparisons import resolve
from .profiles import FitConfig, pair_groups
from .similarity import similarity
from .study import Study

ASSETS = ("report.css", "report.js")
NO_LABEL = "-"


def _records(frame: pd.DataFrame | None) -> list[dict[str, Any]]:
    if frame is None or frame.empty:
        return []
    return json.loads(frame.to_json(orient="records"))


def _similarity_block(profiles: pd.DataFrame, judges: list[str]) -> dict[str, Any] | None:
    if len(judges) < 2:
        return None
    try:
        sim = similarity(profiles, judges, draws=400).ordered()
    except Exception:  # noqa: BLE001 - a report without this view is still useful
        return None
    clean = lambda f: [[None if math.isnan(v) else round(float(v), 4) for v in row]  # noqa: E731
                       for row in f.to_numpy()]
    return {"judges": list(sim.matrix.index), "matrix": clean(sim.matrix),
            "lower": clean(sim.lower), "upper": clean(sim.upper), "groups": sim.groups,
            "method": sim.method, "interval": sim.interval}


def _fit_config(summary: dict[str, Any]) -> FitConfig:
    known = FitConfig.__dataclass_fields__
    return FitConfig(**{k: v for k, v in (summary.get("config") or {}).items() if k in known})


def report_data(study: Study, reference: pd.DataFrame | None = None) -> dict[str, Any]:
    """Collect everything the report shows, as JSON-ready data (texts kept apart)."""
    info = study.info()
    summary = json.loads(study.path("summary.json").read_text(encoding="utf-8")) \
        if study.path("summary.json").exists() else {}
    schema = study.schema()
    labels = schema.labels()
    profiles = study.profiles()
    pairs = study.pairs()
    judgments = study.judgments()
    fitted_judges = list(dict.fromkeys(profiles["judge"]))
    config = _fit_config(summary)
    groups = pair_groups(pairs, config, query_traits(study.query_info()))
    group_names = list(dict.fromkeys(profiles["group"]))

    texts: dict[str, int] = {}

    def text_id(value: Any) -> int:
        return texts.setdefault("" if value is None else str(value), len(texts))

    n = len(pairs)
    table = {"id": pairs["id"].astype(str).tolist(),
             "query": [text_id(q) for q in pairs["query"]],
             "a": [text_id(t) for t in pairs["response_a"]],
             "b": [text_id(t) for t in pairs["response_b"]],
             "scenario": pairs["scenario"].tolist()}
    membership = np.zeros(n, dtype=np.int64)
    shown_groups = [g for g in groups if g in group_names] or ["all"]
    for bit, name in enumerate(shown_groups[:62]):
        membership |= groups[name].astype(np.int64) << bit
    table["groups"] = membership.tolist()

    position = pd.Series(np.arange(n), index=pairs["id"].to_numpy())
    choices, probabilities = {}, {}
    for judge, rows in judgments.groupby("judge", sort=False):
        rows = rows.drop_duplicates("pair_id", keep="last")
        rows = rows[rows["pair_id"].isin(position.index)]
        letters = np.full(n, NO_LABEL, dtype=object)
        letters[position[rows["pair_id"]].to_numpy()] = rows["label"].map(
            {"A": "A", "B": "B", "tie": "T"}).fillna(NO_LABEL).to_numpy()
        choices[judge] = "".join(letters)
        p = np.full(n, np.nan)
        p[position[rows["pair_id"]].to_numpy()] = rows["p_a"].to_numpy(dtype=float)
        if not np.isnan(p).all():
            probabilities[judge] = [None if math.isnan(v) else round(float(v), 4) for v in p]

    annotations = study.annotations() if study.path("annotations.parquet").exists() else None
    properties: list[str] = []
    comparison_rows: list[list[int | None]] = []
    raw: dict[str, list] = {}
    if annotations is not None:
        comparisons = resolve(annotations, pairs["id"], schema)
        properties = list(comparisons.values.columns)
        values = comparisons.values.to_numpy()
        comparison_rows = [[None if math.isnan(v) else int(v) for v in row] for row in values]
        chosen = annotations.merge(pd.DataFrame({"property": list(comparisons.sources),
                                                 "annotator": list(comparisons.sources
                                                                   .values())}))
        chosen = chosen.drop_duplicates(["pair_id", "property"], keep="last")
        for prop, rows in chosen.groupby("property"):
            at = position.reindex(rows["pair_id"]).to_numpy()
            keep = ~np.isnan(at.astype(float))
            a = np.full(n, np.nan)
            b = np.full(n, np.nan)
            a[at[keep].astype(int)] = rows["value_a"].to_numpy(dtype=float)[keep]
            b[at[keep].astype(int)] = rows["value_b"].to_numpy(dtype=float)[keep]
            raw[prop] = [[None if math.isnan(x) else round(float(x), 3),
                          None if math.isnan(y) else round(float(y), 3)] for x, y in zip(a, b)]

    all_profiles = profiles.assign(reference=False)
    if reference is not None:
        all_profiles = pd.concat([all_profiles, reference.assign(reference=True)],
                                 ignore_index=True)
    sim_fitted = _similarity_block(profiles, fitted_judges)
    sim_reference = None
    if reference is not None:
        mixed = pd.concat([profiles, reference], ignore_index=True)
        sim_reference = _similarity_block(mixed, list(dict.fromkeys(mixed["judge"])))

    def optional_csv(name: str) -> pd.DataFrame | None:
        path = study.path(name)
        return pd.read_csv(path) if path.exists() and path.stat().st_size else None

    exclusions = study.exclusions()
    return {
        "meta": {"title": f"prefdissect report: {Path(str(info.get('source'))).name}",
                 "source": info.get("source"), "format": info.get("format"),
                 "rows_read": info.get("rows_read"), "pairs": n,
                 "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                 "version": __version__, "notes": summary.get("notes", [])},
        "properties": [{"name": p.name, "label": p.label, "description": p.description}
                       for p in schema.properties],
        "judges": fitted_judges,
        "all_judges": list(choices),
        "groups": [{"name": g, "pairs": int(groups[g].sum()) if g in groups else None}
                   for g in group_names],
        "group_bits": shown_groups[:62],
        "profiles": _records(all_profiles),
        "similarity": sim_fitted,
        "similarity_reference": sim_reference,
        "quality": _records(optional_csv("fit_quality.csv")),
        "diagnostics": _records(optional_csv("fit_diagnostics.csv")),
        "judge_stats": _records(optional_csv("judge_stats.csv")),
        "consistency": _records(optional_csv("annotation_consistency.csv")),
        "exclusions": _records(exclusions.groupby(["stage", "reason"], dropna=False)
                               .size().rename("count").reset_index()
                               if len(exclusions) else None),
        "exclusions_by_judge": _records(exclusions.dropna(subset=["judge"])
                                        .groupby(["judge", "stage", "reason"]).size()
                                        .rename("count").reset_index()
                                        if len(exclusions) else None),
        "pairs": table,
        "choices": choices,
        "p_a": probabilities,
        "comparison_properties": properties,
        "comparisons": comparison_rows,
        "annotations": raw,
        "labels": labels,
    }, list(texts)


def _pack_texts(texts: list[str]) -> str:
    raw = json.dumps(texts, ensure_ascii=False).encode("utf-8")
    return base64.b64encode(gzip.compress(raw, compresslevel=9, mtime=0)).decode("ascii")


def _script_json(data: Any) -> str:
    """JSON safe to place inside a <script> element (no '</script>' can appear)."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def build_report(study: Study, out: str | Path, reference: pd.DataFrame | None = None) -> Path:
    """Write the study's report to ``out`` (one HTML file); returns its path."""
    from jinja2 import Environment
    from markupsafe import Markup

    data, texts = report_data(study, reference)
    assets = {name: resources.files("prefdissect.report_assets").joinpath(name)
              .read_text(encoding="utf-8") for name in (*ASSETS, "report.html.j2")}
    env = Environment(autoescape=True)
    template = env.from_string(assets["report.html.j2"])
    # Only this exact script may run (no inline event handlers, no injected scripts).
    digest = base64.b64encode(hashlib.sha256(assets["report.js"].encode("utf-8")).digest())
    html = template.render(title=data["meta"]["title"], css=assets["report.css"],
                           js=assets["report.js"], data=_script_json(data),
                           texts=_pack_texts(texts), version=__version__,
                           script_hash=Markup(f"'sha256-{digest.decode('ascii')}'"))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(out)
    return out
