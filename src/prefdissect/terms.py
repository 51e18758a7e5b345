"""Model terms: the part of a judge's choice owed to which models wrote the responses.

The paper's model has no intercept, which is right when sides are randomly
ordered across models of similar strength. When one model is always side A (a
fixed baseline, as in AlpacaEval) or some models are simply stronger, the
property weights would absorb model quality. A fit can therefore carry, beside
the property comparisons, columns for the models (fitted jointly, with a wide
Gaussian prior, and reported apart from the properties):

- ``none``: the paper's model, no terms;
- ``baseline``: one column, the fixed baseline's edge: +1 where the baseline is
  side A (AlpacaEval), -1 where it is side B; where no model is fixed, a column
  of ones, the advantage of the first position ("side A");
- ``models``: one strength per model (Bradley-Terry), +1 where the model wrote
  A, -1 where it wrote B, identified by fixing one ``anchor`` model at 0 — the
  shape of Chatbot Arena's style control, with any property set as covariates;
- ``auto``: ``baseline`` when one side is always one model that never appears
  on the other, else ``none``; :func:`choose_terms` says why.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .errors import UsageError

KINDS = ("auto", "none", "baseline", "models")
TERM_COLUMNS = ("judge", "group", "term", "kind", "anchor", "mean", "sd", "lower", "upper",
                "n_pairs")
"""Columns of a model-term table (``terms.csv``): posterior of each term per fit."""
SIDE_A = "side A"


@dataclass
class TermDesign:
    """The model-term columns of a set of pairs."""

    kind: str
    """'none', 'baseline' or 'models'."""
    reason: str
    """Why this kind was chosen (for ``auto``) or that it was asked for."""
    names: list[str] = field(default_factory=list)
    """One name per column: ``side A (MODEL)`` or the model name."""
    columns: np.ndarray | None = None
    """(pairs x terms) values; None for ``none``."""
    anchor: str | None = None
    """``models``: the model whose strength is fixed at 0; ``baseline``: the fixed model."""

    @property
    def width(self) -> int:
        """Number of term columns."""
        return len(self.names)

    def counts(self, rows: np.ndarray | None = None) -> np.ndarray:
        """Pairs (among ``rows``) in which each term's column is non-zero."""
        if self.columns is None:
            return np.zeros(0, dtype=int)
        cols = self.columns if rows is None else self.columns[rows]
        return (cols != 0).sum(axis=0)


def _models(pairs: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    # object first: a string column keeps NaN where None is put (pandas 3)
    return tuple(pairs[c].astype(object).where(pairs[c].notna(), None)
                 for c in ("model_a", "model_b"))


def fixed_side(pairs: pd.DataFrame) -> tuple[str, str] | None:
    """Return (model, 'A' or 'B') when one side is one model in every pair, never the other."""
    a, b = _models(pairs)
    if len(pairs) == 0:
        return None
    for side, mine, other in (("A", a, b), ("B", b, a)):
        names = mine.unique()
        if not mine.isna().any() and len(names) == 1 and names[0] not in set(other.dropna()):
            return str(names[0]), side
    return None


def fixed_baseline(pairs: pd.DataFrame) -> str | None:
    """Return the model that is the same side of every pair and never the other, if any."""
    found = fixed_side(pairs)
    return None if found is None else found[0]


def choose_terms(pairs: pd.DataFrame, requested: str) -> tuple[str, str]:
    """Resolve ``requested`` (one of :data:`KINDS`) into a kind and the reason for it."""
    if requested not in KINDS:
        raise UsageError(f"--model-terms {requested}: use one of {', '.join(KINDS)}")
    a, b = _models(pairs)
    known = a.notna() & b.notna()
    if requested == "models" and not known.any():
        raise UsageError("--model-terms models needs model_a and model_b names in the pairs; "
                         "this data has none")
    if requested != "auto":
        return requested, f"--model-terms {requested} was asked for"
    found = fixed_side(pairs)
    if found is not None:
        return "baseline", (f"side {found[1]} is always {found[0]}, a fixed baseline: one "
                            "term absorbs its advantage")
    if not known.any():
        return "none", "the pairs carry no model names (the paper's model, no terms)"
    return "none", ("models appear on both sides (the paper's model, no terms); "
                    "--model-terms models also separates model strength from style")


def default_anchor(pairs: pd.DataFrame) -> str:
    """Return the model fixed at strength 0: a fixed baseline, else the most frequent."""
    baseline = fixed_baseline(pairs)
    if baseline is not None:
        return baseline
    a, b = _models(pairs)
    counts = pd.concat([a, b]).dropna().astype(str).value_counts()
    top = counts[counts == counts.max()].index
    return sorted(top)[0]


def term_design(pairs: pd.DataFrame, kind: str, reason: str = "",
                anchor: str | None = None) -> TermDesign:
    """Build the term columns of ``kind`` for ``pairs`` (in their order)."""
    n = len(pairs)
    if anchor is not None and kind in ("none", "baseline"):
        raise UsageError(f"--anchor-model {anchor}: an anchor is only used with one strength "
                         f"per model (--model-terms models); this fit uses '{kind}' terms "
                         f"({reason or 'as asked'})")
    if kind == "none":
        return TermDesign("none", reason)
    if kind == "baseline":
        found = fixed_side(pairs)
        if found is None:  # no fixed model: the first position's advantage
            return TermDesign("baseline", reason, [SIDE_A], np.ones((n, 1)))
        sign = 1.0 if found[1] == "A" else -1.0
        return TermDesign("baseline", reason, [f"baseline ({found[0]})"],
                          np.full((n, 1), sign), found[0])
    if kind != "models":
        raise UsageError(f"unknown model-term kind '{kind}'; use one of {', '.join(KINDS)}")
    a, b = _models(pairs)
    models = sorted(set(a.dropna().astype(str)) | set(b.dropna().astype(str)))
    anchor = anchor or default_anchor(pairs)
    if anchor not in models:
        raise UsageError(f"--anchor-model {anchor}: no pair has this model; models: "
                         f"{', '.join(models[:12])}{' ...' if len(models) > 12 else ''}")
    names = [m for m in models if m != anchor]
    index = {m: j for j, m in enumerate(names)}
    columns = np.zeros((n, len(names)))
    for row, (ma, mb) in enumerate(zip(a, b)):
        if ma is None or mb is None or ma == mb:
            continue
        if str(ma) in index:
            columns[row, index[str(ma)]] += 1.0
        if str(mb) in index:
            columns[row, index[str(mb)]] -= 1.0
    return TermDesign("models", reason, names, columns, anchor)


def pair_term_values(pair: pd.Series, terms: pd.DataFrame) -> dict[str, float]:
    """Return the term columns' values for one pair, given one fit's rows of a term table.

    Used to explain a single decision: each term becomes one more bar beside the
    properties.
    """
    out = {}
    for row in terms.itertuples():
        if row.kind == "baseline":
            base = row.anchor if isinstance(row.anchor, str) else None
            out[row.term] = -1.0 if base is not None and pair.get("model_b") == base else 1.0
        elif row.kind == "models":
            a, b = pair.get("model_a"), pair.get("model_b")
            if pd.isna(a) or pd.isna(b) or a == b:  # as in the design: no term for this pair
                out[row.term] = 0.0
            else:
                out[row.term] = float(a == row.term) - float(b == row.term)
    return out
