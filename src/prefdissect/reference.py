"""Reference profiles: the paper's published weights for its 33 judges and 16 groups.

Reads the layout of the paper's ``fitted_paras_comparison`` folder — one file
``model_<group>_fitted_paras.jsonl`` per group, one line per judge with
``model_name`` and 29 ``parameters`` in the paper's property order — from a local
folder or from a URL (the public repository by default), into the same profile
table as fitted profiles. Only posterior means were published, so ``sd``,
``lower``, ``upper`` and ``n_pairs`` are missing.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pandas as pd

from .errors import InputError, UsageError
from .profiles import ALL, PROFILE_COLUMNS
from .properties import PropertySchema, load_schema

PAPER_URL = ("https://raw.githubusercontent.com/GAIR-NLP/Preference-Dissection/main/"
             "visualization/data/fitted_paras_comparison")
"""Where the paper's repository publishes its fitted weights."""

SCENARIOS = ("Advice", "Code", "Communication", "Creative Writing", "Daily Tasks",
             "Exam Questions", "Functional Writing", "Knowledge-aware", "NLP Tasks", "Others",
             "Unsafe Queries")
"""The paper's 11 scenario groups."""

PAPER_TRAIT_GROUPS = {
    "intent_unclear": "intent_unclear",
    "express_feeling": "expresses_feelings",
    "w_constraints": "explicit_constraints",
    "w_stances": "explicit_stances",
    "w_mistakes": "contains_mistakes",
}
"""The paper's file names of the query-specific groups -> this project's trait names."""


def _file_name(group: str) -> str:
    return f"model_{group}_fitted_paras.jsonl"


def _read_source(source: str, group: str, timeout: float) -> str | None:
    if source.startswith(("http://", "https://")):
        url = f"{source.rstrip('/')}/{quote(_file_name(group))}"
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310
                return response.read().decode("utf-8")
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise UsageError(f"{url}: HTTP {exc.code}; check the --reference URL") from None
        except (urllib.error.URLError, TimeoutError) as exc:
            raise UsageError(f"{url}: cannot be fetched ({getattr(exc, 'reason', exc)}); "
                             "give a local copy of the folder instead") from None
    path = Path(source)
    if not path.is_dir():
        raise UsageError(f"{source}: not a folder or http(s) URL; give the folder that holds "
                         "model_<group>_fitted_paras.jsonl files")
    found = next(iter(sorted(path.glob(f"**/{_file_name(group)}"))), None)
    return found.read_text(encoding="utf-8") if found else None


def load_reference_profiles(source: str | Path = PAPER_URL, schema: PropertySchema | None = None,
                            timeout: float = 30.0) -> pd.DataFrame:
    """Return the paper's weights as a profile table (means only).

    Parameters
    ----------
    source
        A folder holding ``model_<group>_fitted_paras.jsonl`` files (searched
        recursively), or a URL of such a folder.
    schema
        The schema whose first 29 properties name the paper's parameters
        (default: the paper's own).
    timeout
        Seconds to wait for each download.
    """
    schema = schema or load_schema()
    names = schema.names
    rows = []
    for group in (*SCENARIOS, *PAPER_TRAIT_GROUPS):
        text = _read_source(str(source), group, timeout)
        if text is None:
            continue
        label = PAPER_TRAIT_GROUPS.get(group, group)
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            where = f"{source}/{_file_name(group)}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(where, f"is not valid JSON ({exc.msg})",
                                 "use the paper's files unchanged", line=number) from None
            params = record.get("parameters")
            if not isinstance(params, list) or len(params) != len(names):
                raise InputError(where, f"has {len(params) if isinstance(params, list) else 0}"
                                 f" parameters, expected {len(names)}",
                                 "use a schema with the paper's 29 properties", line=number,
                                 field="parameters")
            for prop, value in zip(names, params):
                rows.append((str(record.get("model_name")), label, prop, float(value),
                             np.nan, np.nan, np.nan, np.nan))
    if not rows:
        raise UsageError(f"{source}: no model_<group>_fitted_paras.jsonl files found")
    table = pd.DataFrame(rows, columns=list(PROFILE_COLUMNS))
    scenario_rows = table[table["group"].isin(SCENARIOS)]
    if not scenario_rows.empty:
        average = (scenario_rows.groupby(["judge", "property"], sort=False)["mean"].mean()
                   .reset_index().assign(group=ALL, sd=np.nan, lower=np.nan, upper=np.nan,
                                         n_pairs=np.nan))
        table = pd.concat([table, average[list(PROFILE_COLUMNS)]], ignore_index=True)
    return table
