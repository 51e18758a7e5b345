"""Publication figures with matplotlib.

The dissection dot plot, the similarity heatmap, and one pair's Shapley
waterfall. Each function returns a Figure; save it as PNG, SVG or PDF by the
file's extension.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .errors import UsageError
from .explanations import Explanation
from .profiles import probability_preferred
from .similarity import Similarity

COLORS = ["#3056d3", "#e8590c", "#2b8a3e", "#c2255c", "#7048e8", "#0b7285", "#a61e4d",
          "#5c940d", "#d9480f", "#1864ab"]


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise UsageError("figures need matplotlib: pip install 'prefdissect[plot]'") from None
    return plt


def dissection_figure(profiles: pd.DataFrame, judges: list[str], group: str = "all",
                      labels: dict[str, str] | None = None, sort: bool = True):
    """Draw probability of preferred per property, with 95% intervals, for several judges."""
    plt = _pyplot()
    rows = profiles[(profiles["group"] == group) & profiles["judge"].isin(judges)]
    if rows.empty:
        raise UsageError(f"no profile of {', '.join(judges)} in group '{group}'")
    order = list(dict.fromkeys(rows["property"]))
    if sort:
        first = rows[rows["judge"] == judges[0]].set_index("property")["mean"]
        order.sort(key=lambda p: -first.get(p, -9))
    labels = labels or {}
    fig, ax = plt.subplots(figsize=(7.5, 0.32 * len(order) + 1.4))
    offsets = np.linspace(-0.25, 0.25, len(judges)) if len(judges) > 1 else [0.0]
    for k, judge in enumerate(judges):
        mine = rows[rows["judge"] == judge].set_index("property").reindex(order)
        y = np.arange(len(order)) + offsets[k]
        p = probability_preferred(mine["mean"].to_numpy())
        ax.scatter(100 * p, y, color=COLORS[k % len(COLORS)], s=26, zorder=3, label=judge)
        if mine["lower"].notna().any():
            lo = probability_preferred(mine["lower"].to_numpy())
            hi = probability_preferred(mine["upper"].to_numpy())
            ax.hlines(y, 100 * lo, 100 * hi, color=COLORS[k % len(COLORS)], lw=1.6, alpha=0.7)
    ax.axvline(50, color="#c4321c", ls="--", lw=1)
    ax.set_yticks(range(len(order)), [labels.get(p, p) for p in order])
    ax.invert_yaxis()
    ax.set_xlabel("probability of preferred (%)")
    ax.set_title(f"What the judge rewards ({group})", loc="left", fontsize=11)
    ax.grid(axis="x", color="#eeeeee")
    ax.spines[["top", "right"]].set_visible(False)
    if len(judges) > 1:
        ax.legend(frameon=False, fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def similarity_figure(sim: Similarity, annotate: bool | None = None):
    """Draw the judge-similarity heatmap, judges in the order given (e.g. clustering)."""
    plt = _pyplot()
    values = sim.matrix.to_numpy(dtype=float)
    n = len(values)
    size = max(4.0, 0.32 * n + 2)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    image = ax.imshow(values, cmap="RdBu_r", vmin=-1, vmax=1)
    ax.set_xticks(range(n), sim.matrix.columns, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(n), sim.matrix.index, fontsize=8)
    if annotate if annotate is not None else n <= 14:
        for i in range(n):
            for j in range(n):
                ax.text(j, i, f"{values[i, j]:.2f}", ha="center", va="center", fontsize=8,
                        color="white" if abs(values[i, j]) > 0.6 else "black")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label=f"{sim.method} similarity")
    ax.set_title(f"Judge similarity over {len(sim.groups)} group(s)", loc="left", fontsize=11)
    fig.tight_layout()
    return fig


def waterfall_figure(explanation: Explanation):
    """Draw one pair's Shapley values, from the 50% baseline to the predicted P(A)."""
    plt = _pyplot()
    rows = explanation.table[explanation.table["comparison"] != 0]
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(rows) + 1.6))
    level = 0.5
    for i, row in enumerate(rows.itertuples()):
        ax.barh(i, 100 * row.shapley, left=100 * level, color="#2b8a3e" if row.shapley > 0
                else "#c4321c", height=0.6)
        level += row.shapley
    ax.axvline(50, color="#888888", ls="--", lw=1)
    ax.axvline(100 * explanation.p_a, color="#3056d3", lw=1.5)
    ax.set_yticks(range(len(rows)), [f"{r.label} ({'A' if r.comparison > 0 else 'B'} better)"
                                     for r in rows.itertuples()], fontsize=9)
    ax.invert_yaxis()
    ax.set_xlabel("P(A preferred), %")
    ax.set_title(f"{explanation.pair_id}: {explanation.judge} predicts "
                 f"{100 * explanation.p_a:.1f}% for A", loc="left", fontsize=11)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return fig
