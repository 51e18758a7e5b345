"""The report: one self-contained HTML file to explore a study offline.

:func:`report_data` gathers what a fitted study holds — profiles (the study's
judges and, in their own namespace, the paper's), similarity, held-out quality,
exclusions, agreement, judge position bias, annotator flip rates, and every pair
with its judges' choices and annotations — and :func:`build_report` writes it
into a single HTML page with its script and styles inline. The texts of the
pairs are de-duplicated and gzip-compressed (the page unpacks them with the
browser's own DecompressionStream). The page never fetches anything: its
Content-Security-Policy forbids every request, and its script builds every
element with ``createElement`` and ``textContent``, so model text (Markdown
included) is never parsed as markup.
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
from .errors import PrefDissectError
from .panel import REFERENCE, STUDY, Panel, build_panel
from .probes.folder import report_block
from .profiles import ALL, FitConfig, pair_groups
from .properties import TRAITS, PropertySchema
from .reference import SCENARIOS
from .similarity import similarity
from .study import Study

SCRIPTS = ("util.js", "markdown.js", "charts.js", "samples.js", "leaderboard.js", "probes.js",
           "discoveries.js", "report.js")
"""The page's script, in order; concatenated into one inline script."""
NO_LABEL = "-"
OPTIONAL_TABLES = {"quality": "fit_quality.csv", "diagnostics": "fit_diagnostics.csv",
                   "judge_stats": "judge_stats.csv",
                   "consistency": "annotation_consistency.csv",
                   "agreement": "agreement.csv", "terms": "terms.csv",
                   "scores": "scores.csv", "score_components": "score_components.csv",
                   "families": "families.csv", "discoveries": "discoveries.csv"}
"""Report key -> study file shown when present (a missing file is an empty section)."""


class _Texts:
    """Every distinct text once; pairs refer to texts by index."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}

    def id(self, value: Any) -> int:
        return self.index.setdefault("" if value is None else str(value), len(self.index))

    def ids(self, values) -> list[int]:
        return [self.id(v) for v in values]


def _clean(value: Any, digits: int = 4) -> Any:
    """Round a float for JSON; NaN becomes None."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return round(float(value), digits)


def _records(frame: pd.DataFrame | None) -> list[dict[str, Any]]:
    if frame is None or frame.empty:
        return []
    return json.loads(frame.to_json(orient="records"))


def _optional_table(study: Study, name: str) -> dict[str, Any]:
    """Rows of an optional study CSV, or the reason it could not be read."""
    path = study.path(name)
    if not path.exists() or path.stat().st_size == 0:
        return {"rows": []}
    try:
        return {"rows": _records(pd.read_csv(path))}
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        return {"rows": [], "error": f"{name} could not be read: {exc}"}


def _summary(study: Study) -> dict[str, Any]:
    path = study.path("summary.json")
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def _finite(value: Any) -> Any:
    """Return JSON data with every NaN or infinity replaced by None."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _fit_config(summary: dict[str, Any]) -> FitConfig:
    known = FitConfig.__dataclass_fields__
    return FitConfig(**{k: v for k, v in (summary.get("config") or {}).items() if k in known})


def _pair_block(pairs: pd.DataFrame, groups: dict[str, np.ndarray], texts: _Texts
                ) -> dict[str, Any]:
    """Return the pair table: text indices, models, scenario, each group's members."""
    models: dict[str, int] = {}

    def model(value: Any) -> int | None:
        return None if value is None else models.setdefault(str(value), len(models))

    block = {"id": pairs["id"].astype(str).tolist(),
             "query": texts.ids(pairs["query"]), "a": texts.ids(pairs["response_a"]),
             "b": texts.ids(pairs["response_b"]),
             "model_a": [model(m) for m in pairs["model_a"]],
             "model_b": [model(m) for m in pairs["model_b"]],
             "scenario": pairs["scenario"].tolist(),
             "members": {name: np.flatnonzero(mask).tolist()
                         for name, mask in groups.items() if name != ALL}}
    block["models"] = list(models)
    return block


def _choice_block(judgments: pd.DataFrame, ids: pd.Series) -> dict[str, Any]:
    """Per judge with judgments: one letter per pair (A, B, T, -) and P(A) where given."""
    n = len(ids)
    position = pd.Series(np.arange(n), index=ids.to_numpy())
    choices, probabilities = {}, {}
    for judge, rows in judgments.groupby("judge", sort=False):
        rows = rows.drop_duplicates("pair_id", keep="last")
        rows = rows[rows["pair_id"].isin(position.index)]
        at = position[rows["pair_id"]].to_numpy()
        letters = np.full(n, NO_LABEL, dtype=object)
        letters[at] = rows["label"].map({"A": "A", "B": "B", "tie": "T"}).fillna(
            NO_LABEL).to_numpy()
        choices[str(judge)] = "".join(letters)
        p = np.full(n, np.nan)
        p[at] = rows["p_a"].to_numpy(dtype=float)
        if not np.isnan(p).all():
            probabilities[str(judge)] = [_clean(v) for v in p]
    return {"choices": choices, "p_a": probabilities}


def _annotation_block(study: Study, pairs: pd.DataFrame, schema: PropertySchema
                      ) -> dict[str, Any]:
    """Per pair and property: the comparison (+1/0/-1) and both raw values."""
    empty = {"comparison_properties": [], "comparisons": [], "annotations": {}}
    if not study.path("annotations.parquet").exists():
        return empty
    annotations = study.annotations()
    comparisons = resolve(annotations, pairs["id"], schema)
    n = len(pairs)
    position = pd.Series(np.arange(n), index=pairs["id"].to_numpy())
    chosen = annotations.merge(pd.DataFrame({"property": list(comparisons.sources),
                                             "annotator": list(comparisons.sources.values())}))
    chosen = chosen.drop_duplicates(["pair_id", "property"], keep="last")
    raw: dict[str, list] = {}
    for prop, rows in chosen.groupby("property"):
        at = position.reindex(rows["pair_id"]).to_numpy(dtype=float)
        keep = ~np.isnan(at)
        values = np.full((n, 2), np.nan)
        values[at[keep].astype(int)] = rows[["value_a", "value_b"]].to_numpy(dtype=float)[keep]
        raw[str(prop)] = [[_clean(a, 3), _clean(b, 3)] for a, b in values]
    return {"comparison_properties": list(comparisons.values.columns),
            "comparisons": [[None if math.isnan(v) else int(v) for v in row]
                            for row in comparisons.values.to_numpy(dtype=float)],
            "annotations": raw}


def _profile_block(panel: Panel, properties: list[str], groups: list[str]) -> dict[str, Any]:
    """Return the panel's profiles column-wise, judges, groups and properties by index."""
    table = panel.profiles
    judge_at = {key: i for i, key in enumerate(panel.keys())}
    prop_at = {name: i for i, name in enumerate(properties)}
    group_at = {name: i for i, name in enumerate(groups)}
    return {"judge": table["judge"].map(judge_at).tolist(),
            "group": table["group"].map(group_at).tolist(),
            "property": table["property"].map(prop_at).tolist(),
            **{column: [_clean(v, 6) for v in table[column]]
               for column in ("mean", "sd", "lower", "upper")},
            "n_pairs": [None if pd.isna(v) else int(v) for v in table["n_pairs"]]}


def _similarity_block(profiles: pd.DataFrame, judges: list[str], schema_size: int
                      ) -> dict[str, Any]:
    """Return the similarity matrix in clustering order, or why it cannot be shown."""
    if len(judges) < 2:
        return {"error": "similarity needs at least two judges with profiles; this study "
                         "has one (add --reference to set it beside the paper's judges)"}
    try:
        sim = similarity(profiles, judges, draws=400).ordered()
    except PrefDissectError as exc:
        return {"error": str(exc)}

    def clean(frame: pd.DataFrame) -> list[list[float | None]]:
        return [[_clean(v) for v in row] for row in frame.to_numpy(dtype=float)]

    return {"judges": list(sim.matrix.index), "matrix": clean(sim.matrix),
            "lower": clean(sim.lower), "upper": clean(sim.upper), "groups": sim.groups,
            "method": sim.method, "interval": sim.interval, "properties": sim.properties,
            "schema_size": schema_size}


def _group_list(panel: Panel, counts: dict[str, int]) -> list[dict[str, Any]]:
    """Return the groups to choose from: the study's (with pair counts), the paper's."""
    table = panel.profiles
    out = [{"name": g, "source": STUDY, "pairs": counts.get(g)}
           for g in dict.fromkeys(table.loc[table["source"] == STUDY, "group"])]
    paper = set(table.loc[table["source"] == REFERENCE, "group"])
    for name in (*SCENARIOS, *TRAITS, ALL):
        if name in paper:
            note = ("mean of its 11 scenario fits" if name == ALL
                    else "query trait" if name in TRAITS else "scenario")
            out.append({"name": name, "source": REFERENCE, "pairs": None, "note": note})
    return out


def _property_list(schema: PropertySchema, names: list[str]) -> list[dict[str, Any]]:
    """Each property's label, description and comparison rule (bare names if unknown)."""
    out = []
    for name in names:
        if name not in schema.names:
            out.append({"name": name, "label": name, "description": "", "rule": None})
            continue
        prop = schema.get(name)
        out.append({"name": name, "label": prop.label, "description": prop.description,
                    "rule": prop.rule, "scale": prop.scale, "applies_when": prop.applies_when})
    return out


def _exclusion_block(study: Study) -> list[dict[str, Any]]:
    """Count left-out items by stage, reason and judge (None: not judge-specific)."""
    exclusions = study.exclusions()
    if exclusions.empty:
        return []
    counts = exclusions.groupby(["stage", "reason", "judge"], dropna=False).size()
    return _records(counts.rename("count").reset_index())


def report_data(study: Study, reference: pd.DataFrame | None = None,
                probes: str | Path | None = None) -> tuple[dict[str, Any], list[str]]:
    """Collect everything the report shows, as JSON-ready data, and the texts apart.

    ``probes`` is a probe folder (``prefdissect probe --out``) for the Probes view.
    """
    info, summary, schema = study.info(), _summary(study), study.schema()
    pairs, judgments = study.pairs_with_scenarios(), study.judgments()
    panel = build_panel([(study.root.resolve().name, study.profiles())], reference)
    groups = pair_groups(pairs, _fit_config(summary), query_traits(study.query_info()))
    group_list = _group_list(panel, {g: int(m.sum()) for g, m in groups.items()})
    group_names = list(dict.fromkeys(g["name"] for g in group_list))
    properties = list(dict.fromkeys([*schema.names, *panel.profiles["property"]]))
    study_groups = {g["name"] for g in group_list if g["source"] == STUDY}
    texts = _Texts()
    data = {
        # the source's name only: a shared report carries no path of the machine that made it
        "meta": {"title": f"prefdissect report: {Path(str(info.get('source'))).name}",
                 "source": Path(str(info.get("source"))).name, "format": info.get("format"),
                 "rows_read": info.get("rows_read"), "pairs": len(pairs),
                 "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                 "version": __version__, "notes": list(summary.get("notes", []))},
        "properties": _property_list(schema, properties),
        "rules": schema.rules,
        "judges": [vars(j) for j in panel.judges],
        "groups": group_list,
        "group_names": group_names,
        "profiles": _profile_block(panel, properties, group_names),
        "similarity": _similarity_block(panel.profiles, panel.keys(STUDY), len(schema.names)),
        "similarity_reference": None if reference is None else _similarity_block(
            panel.profiles, panel.keys(), len(schema.names)),
        **{key: _optional_table(study, name) for key, name in OPTIONAL_TABLES.items()},
        "exclusions": _exclusion_block(study),
        "discovery": _finite(json.loads(study.path("discovery.json").read_text(encoding="utf-8"))
                             if study.path("discovery.json").exists() else {}),
        "pairs": _pair_block(pairs, {g: m for g, m in groups.items() if g in study_groups},
                             texts),
        **_choice_block(judgments, pairs["id"].astype(str)),
        **_annotation_block(study, pairs, schema),
        "probes": None if probes is None else report_block(probes, study.profiles()),
    }
    return data, list(texts.index)


def pack_texts(texts: list[str]) -> str:
    """Return the texts as base64 of gzip of a JSON list (how the page carries them)."""
    raw = json.dumps(texts, ensure_ascii=False).encode("utf-8")
    return base64.b64encode(gzip.compress(raw, compresslevel=9, mtime=0)).decode("ascii")


def _script_json(data: Any) -> str:
    """JSON safe to place inside a <script> element (no '</script>' can appear)."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def page_script() -> str:
    """Return the report's script: the asset files in order, in one strict closure."""
    folder = resources.files("prefdissect.report_assets")
    parts = [folder.joinpath(name).read_text(encoding="utf-8") for name in SCRIPTS]
    return "(function () {\n\"use strict\";\n" + "\n".join(parts) + "\n})();\n"


def build_report(study: Study, out: str | Path, reference: pd.DataFrame | None = None,
                 probes: str | Path | None = None) -> Path:
    """Write the study's report to ``out`` (one HTML file); returns its path."""
    from jinja2 import Environment
    from markupsafe import Markup

    data, texts = report_data(study, reference, probes)
    folder = resources.files("prefdissect.report_assets")
    script = page_script()
    template = Environment(autoescape=True).from_string(
        folder.joinpath("report.html.j2").read_text(encoding="utf-8"))
    # Only this exact script may run (no inline event handlers, no injected scripts).
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    html = template.render(title=data["meta"]["title"],
                           css=folder.joinpath("report.css").read_text(encoding="utf-8"),
                           js=script, data=_script_json(data), texts=pack_texts(texts),
                           version=__version__, script_hash=Markup(f"'sha256-{digest}'"))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(out)
    return out
