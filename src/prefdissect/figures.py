"""Publication figures with matplotlib.

The dissection forest plot, the similarity heatmap, and one pair's Shapley
waterfall. Each function returns a Figure; save it as PNG, SVG or PDF by the
file's extension. The figures follow the report's conventions: this study's
judges as dots with 95% intervals in one palette, the paper's published means
as diamonds (no interval was published) in another; similarity on a diverging
blue-orange scale whose lightness changes in equal steps (:func:`diverging_colors`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .errors import UsageError
from .explanations import Explanation
from .profiles import probability_preferred
from .similarity import Similarity

STUDY_COLORS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"]
"""Okabe-Ito hues (colour-blind safe) for a study's judges."""
REFERENCE_COLORS = ["#332288", "#882255", "#999933", "#44AA99", "#AA4499", "#DDCC77",
                    "#88CCEE", "#CC6677"]
"""Paul Tol's muted hues for the paper's judges, none shared with :data:`STUDY_COLORS`."""
TOWARD_A, TOWARD_B = "#3a6ea5", "#c0722b"
"""Neutral hues for 'pushes toward A' and 'toward B' (not right/wrong green and red)."""


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise UsageError("figures need matplotlib: pip install 'prefdissect[plot]'") from None
    return plt


def _oklab_to_srgb(lab: np.ndarray) -> np.ndarray:
    """Convert OKLab (L, a, b) rows to sRGB in [0, 1] (clipped to the gamut)."""
    m1 = np.array([[1.0, 0.3963377774, 0.2158037573], [1.0, -0.1055613458, -0.0638541728],
                   [1.0, -0.0894841775, -1.2914855480]])
    m2 = np.array([[4.0767416621, -3.3077115913, 0.2309699292],
                   [-1.2684380046, 2.6097574011, -0.3413193965],
                   [-0.0041960863, -0.7034186147, 1.7076147010]])
    linear = (lab @ m1.T) ** 3 @ m2.T
    linear = np.clip(linear, 0.0, 1.0)
    return np.where(linear <= 0.0031308, 12.92 * linear,
                    1.055 * np.power(linear, 1 / 2.4) - 0.055)


def diverging_colors(values: np.ndarray) -> np.ndarray:
    """Map values in [-1, 1] to sRGB: blue (-1), near white (0), orange-brown (+1).

    Lightness (OKLab L) falls linearly from 0.97 at 0 to 0.42 at either end, so
    equal steps in value are equal steps in perceived lightness; chroma rises
    quickly away from 0, and the two arms differ in hue along the blue-orange axis
    that red-green colour-blind readers see. The report's script uses the same
    formula.
    """
    v = np.clip(np.asarray(values, dtype=float), -1.0, 1.0)
    t = np.abs(v)
    lightness = 0.97 - 0.55 * t
    chroma = 0.105 * (1 - (1 - t) ** 2)
    hue = np.where(v < 0, np.deg2rad(250.0), np.deg2rad(60.0))
    lab = np.stack([lightness, chroma * np.cos(hue), chroma * np.sin(hue)], axis=-1)
    return _oklab_to_srgb(lab.reshape(-1, 3)).reshape(*v.shape, 3)


def _colormap():
    from matplotlib.colors import ListedColormap

    return ListedColormap(diverging_colors(np.linspace(-1, 1, 256)), name="prefdissect")


def dissection_figure(profiles: pd.DataFrame, judges: list[str], group: str = "all",
                      labels: dict[str, str] | None = None, sort: bool = True,
                      reference: list[str] | None = None):
    """Draw probability of preferred per property, with 95% intervals, for several judges.

    Parameters
    ----------
    profiles
        Profile table (a panel's, where judges are keys).
    judges
        Judges to draw, in legend order.
    group
        The group whose profiles to draw.
    labels
        Display label of each property.
    sort
        Order properties by the first judge's weight (else in table order).
    reference
        Judges that are published means without intervals (drawn as diamonds).
    """
    plt = _pyplot()
    reference = set(reference or [])
    rows = profiles[(profiles["group"] == group) & profiles["judge"].isin(judges)]
    if rows.empty:
        raise UsageError(f"no profile of {', '.join(judges)} in group '{group}'")
    order = list(dict.fromkeys(rows["property"]))
    fitted = rows[~rows["judge"].isin(reference)]
    if len(fitted):  # properties this study never measured would be the paper's alone
        order = list(dict.fromkeys(fitted["property"]))
    if sort:
        first = rows[rows["judge"] == judges[0]].set_index("property")["mean"]
        order.sort(key=lambda p: -first.get(p, -9))
    labels = labels or {}
    height = 0.34 * len(order) * max(1.0, len(judges) / 3) + 1.6
    fig, ax = plt.subplots(figsize=(7.5, height))
    offsets = np.linspace(-0.3, 0.3, len(judges)) if len(judges) > 1 else [0.0]
    n_study = n_reference = 0
    for k, judge in enumerate(judges):
        mine = rows[rows["judge"] == judge].set_index("property").reindex(order)
        y = np.arange(len(order)) + offsets[k]
        p = 100 * probability_preferred(mine["mean"].to_numpy(dtype=float))
        if judge in reference:
            color = REFERENCE_COLORS[n_reference % len(REFERENCE_COLORS)]
            n_reference += 1
            ax.scatter(p, y, marker="D", s=30, facecolor="white", edgecolor=color,
                       linewidth=1.6, zorder=3, label=f"{judge} (published mean)")
            continue
        color = STUDY_COLORS[n_study % len(STUDY_COLORS)]
        n_study += 1
        if mine["lower"].notna().any():
            lo = 100 * probability_preferred(mine["lower"].to_numpy(dtype=float))
            hi = 100 * probability_preferred(mine["upper"].to_numpy(dtype=float))
            ax.hlines(y, lo, hi, color=color, lw=2.6, alpha=0.8, zorder=2)
        ax.scatter(p, y, color=color, s=30, zorder=3, label=judge)
    ax.axvline(50, color="#555555", ls="--", lw=1)
    ax.set_xlim(0, 100)
    ax.set_yticks(range(len(order)), [labels.get(p, p) for p in order])
    ax.invert_yaxis()
    ax.set_xlabel("probability of preferred (%), 95% intervals")
    if len(order) * max(1, len(judges)) > 24:  # a tall chart: the axis at the top too
        ax.tick_params(axis="x", top=True, labeltop=True)
    ax.set_title(f"What the judge rewards ({group})", loc="left", fontsize=11)
    ax.grid(axis="x", color="#eeeeee")
    ax.spines[["top", "right"]].set_visible(False)
    if len(judges) > 1 or reference:
        ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    return fig


def similarity_figure(sim: Similarity, annotate: bool | None = None,
                      highlight: list[str] | None = None, schema_size: int | None = None):
    """Draw the judge-similarity heatmap, judges in the order given (e.g. clustering).

    Parameters
    ----------
    sim
        The similarity matrices.
    annotate
        Print each cell's value (default: up to 20 judges).
    highlight
        Judges whose labels to set in bold (a study's own, among the paper's).
    schema_size
        Number of properties in the schema, to say when fewer were compared.
    """
    plt = _pyplot()
    values = sim.matrix.to_numpy(dtype=float)
    n = len(values)
    size = max(4.0, 0.3 * n + 2.4)
    fig, ax = plt.subplots(figsize=(size + 1.2, size))
    image = ax.imshow(values, cmap=_colormap(), vmin=-1, vmax=1)
    ax.set_xticks(range(n), sim.matrix.columns, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(n), sim.matrix.index, fontsize=8)
    bold = set(highlight or [])
    for tick in (*ax.get_xticklabels(), *ax.get_yticklabels()):
        if tick.get_text() in bold:
            tick.set_fontweight("bold")
    if annotate if annotate is not None else n <= 20:
        for i in range(n):
            for j in range(n):
                ax.text(j, i, f"{values[i, j]:.2f}", ha="center", va="center",
                        fontsize=7 if n > 12 else 8,
                        color="white" if abs(values[i, j]) > 0.55 else "#1d2430")
    bar = fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, ticks=[-1, -0.5, 0, 0.5, 1])
    bar.set_label(f"{sim.method} correlation of weights")
    compared = len(sim.properties)
    on = f" on {compared} of {schema_size} properties" if schema_size and compared and \
        compared < schema_size else ""
    ax.set_title(f"Judge similarity over {len(sim.groups)} group(s){on}", loc="left",
                 fontsize=11)
    fig.tight_layout()
    return fig


def waterfall_figure(explanation: Explanation):
    """Draw one pair's Shapley values, from the 50% baseline to the predicted P(A)."""
    plt = _pyplot()
    rows = explanation.table[explanation.table["comparison"] != 0]
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(rows) + 1.6))
    level = 0.5
    for i, row in enumerate(rows.itertuples()):
        ax.barh(i, 100 * row.shapley, left=100 * level,
                color=TOWARD_A if row.shapley > 0 else TOWARD_B, height=0.6)
        level += row.shapley
    ax.axvline(50, color="#888888", ls="--", lw=1)
    ax.axvline(100 * explanation.p_a, color="#1d2430", lw=1.5)
    def name(r) -> str:
        side = "A" if r.comparison > 0 else "B"
        if getattr(r, "kind", "property") == "model term":
            return f"{r.label} ({side}'s model)"
        return f"{r.label} ({side} better)"

    ax.set_yticks(range(len(rows)), [name(r) for r in rows.itertuples()], fontsize=9)
    ax.invert_yaxis()
    ax.set_xlabel("P(A preferred), %: bars toward A right, toward B left")
    ax.set_title(f"{explanation.pair_id}: {explanation.judge} predicts "
                 f"{100 * explanation.p_a:.1f}% for A", loc="left", fontsize=11)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return fig


FIGURES = ("dissection", "similarity", "waterfall")
"""The figures :func:`study_figure` draws."""


def study_figure(study, figure: str = "dissection", *, judges: list[str] | None = None,
                 group: str = "all", pair: str | None = None, reference=None):
    """Draw one of :data:`FIGURES` for a fitted study (what `prefdissect plot` draws).

    ``reference`` is the paper's profiles (:func:`prefdissect.reference.load_reference_profiles`)
    or None. By default the dissection shows the study's judges beside any paper judge of the
    same name (kept apart, e.g. ``paper:human``); the waterfall explains ``pair`` for the first
    judge given, else the study's first.
    """
    from .explanations import explain_in_study
    from .panel import REFERENCE, STUDY, build_panel
    from .similarity import similarity

    if figure not in FIGURES:
        raise UsageError(f"--figure {figure}: use {', '.join(FIGURES)}")
    if figure == "waterfall" and not pair:
        raise UsageError("the waterfall figure needs --pair PAIR_ID")
    profiles = study.profiles()
    labels = study.schema().labels()
    if figure == "waterfall":
        name = (judges or list(dict.fromkeys(profiles["judge"])))[0]
        return waterfall_figure(explain_in_study(study, pair, name, group, labels))
    # The study's judges and the paper's stay apart even where names coincide.
    panel = build_panel([(study.root.resolve().name, profiles)], reference)
    chosen = panel.resolve(judges) if judges else None
    if figure == "dissection":
        default = panel.keys(STUDY) + [j.key for j in panel.judges
                                       if j.source == REFERENCE and j.key != j.name]
        return dissection_figure(panel.profiles, chosen or default, group, labels,
                                 reference=panel.keys(REFERENCE))
    return similarity_figure(similarity(panel.profiles, chosen).ordered(),
                             highlight=panel.keys(STUDY), schema_size=len(labels))


def save_figure(fig, path, dpi: int = 200):
    """Write a figure to ``path`` (PNG, SVG or PDF by its extension); return the path."""
    from pathlib import Path

    path = Path(path)
    if path.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise UsageError(f"--out {path}: use a .png, .svg or .pdf file name")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    return path
