"""Model families: one model prompted differently (AlpacaEval's ``_concise`` / ``_verbose``).

One definition serves every command that groups models this way (``scores``'
family spread, ``exploit replay --family``): a model's family is what the user's
mapping says, else its name without a style suffix (:data:`FAMILY_SUFFIXES`).
``gpt-3.5-turbo-1106``, ``gpt-3.5-turbo-1106_concise`` and
``gpt-3.5-turbo-1106_verbose`` are one family; ``gpt4`` and ``gpt4_1106_preview``
are two models, not one family (a shared prefix is not a family).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputError, UsageError

FAMILY_SUFFIXES = ("_concise", "_verbose")
"""Name endings that mark a model prompted for a style (AlpacaEval's variants)."""
FAMILY_COLUMNS = ("judge", "family", "models", "raw_mean", "raw_spread", "controlled_mean",
                  "controlled_spread")
"""Columns of ``families.csv``: each family's mean score and spread (sd / mean)."""
_SUFFIX = re.compile("(" + "|".join(map(re.escape, FAMILY_SUFFIXES)) + ")$")


def family_of(model: str, mapping: dict[str, str] | None = None) -> str:
    """Return a model's family: the mapping's entry, else the name without a style suffix."""
    return (mapping or {}).get(model) or _SUFFIX.sub("", model)


def family_names(models: list[str], mapping: dict[str, str] | None = None) -> dict[str, str]:
    """Map each model to its family (see :func:`family_of`).

    Only families with at least two members present are returned.
    """
    found = {m: family_of(m, mapping) for m in models}
    sizes = pd.Series(found, dtype=object).value_counts()
    return {m: f for m, f in found.items() if sizes[f] >= 2}


def family_members(family: str, models: list[str],
                   mapping: dict[str, str] | None = None) -> list[str]:
    """Return the models of ``family`` among ``models``, in their given order.

    Raises :class:`UsageError` naming the families present when ``family`` has
    fewer than two members.
    """
    members = [m for m in models if family_of(m, mapping) == family]
    if len(members) < 2:
        present = sorted(set(family_names(models, mapping).values()))
        raise UsageError(f"--family {family}: {len(members)} model(s) of that family "
                         f"({', '.join(members) or 'none'}); a family is one model and its "
                         f"{' / '.join(FAMILY_SUFFIXES)} variants (or what --family-map "
                         f"says); families here: {', '.join(present) or 'none'}")
    return members


def read_family_map(path: str | Path | None) -> dict[str, str] | None:
    """Read a model -> family mapping: YAML (``model: family``) or CSV (``model,family``)."""
    if path is None:
        return None
    path = Path(path)
    if not path.exists():
        raise InputError(path, "does not exist", "check the --family-map path")
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml

        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise InputError(path, f"is not readable YAML ({exc})",
                             "write one 'model: family' per line") from None
        if not isinstance(data, dict):
            raise InputError(path, "is not a mapping", "write one 'model: family' per line")
        return {str(k): str(v) for k, v in data.items()}
    try:
        table = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(path, f"is not a readable CSV ({exc})", "write a CSV with a header "
                         "'model,family' and one row per model") from None
    if not {"model", "family"} <= set(table.columns):
        raise InputError(path, "lacks the columns model and family", "write a CSV with a "
                         "header 'model,family' and one row per model")
    return dict(zip(table["model"].astype(str), table["family"].astype(str)))


def spread(values: pd.Series) -> float:
    """Return the population sd over the mean: how far prompting moves a family's score."""
    numbers = np.asarray(values, dtype=float)
    mean = float(np.mean(numbers))
    return float(np.std(numbers) / mean) if mean else float("nan")


def family_spread(scores: pd.DataFrame, mapping: dict[str, str] | None = None) -> pd.DataFrame:
    """Per family of one judge's leaderboard: mean score and spread, raw and controlled.

    With a ``published_lc`` column (a published leaderboard), also the spread of
    the published length-controlled scores, ``published_lc_spread``.
    """
    families = family_names(list(scores["model"]), mapping)
    published = "published_lc" in scores
    columns = [*FAMILY_COLUMNS, *(["published_lc_spread"] if published else [])]
    rows = []
    for family, members in scores[scores["model"].isin(families)].groupby(
            scores["model"].map(families)):
        row = [members["judge"].iloc[0], family, ", ".join(members["model"]),
               members["raw"].mean(), spread(members["raw"]),
               members["controlled"].mean(), spread(members["controlled"])]
        if published:
            row.append(spread(members["published_lc"]))
        rows.append(row)
    return pd.DataFrame(rows, columns=columns)
