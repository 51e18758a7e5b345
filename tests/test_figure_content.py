"""Figures show the numbers they claim: read back from the drawn artists and pixels."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("matplotlib", reason="figures need matplotlib (the plot extra)")


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    from conftest import run_cli

    rng = np.random.default_rng(3)
    rows = []
    for i in range(160):
        long_a = rng.random() < 0.5
        words = (50, 6) if long_a else (6, 50)
        listed = rng.random() < 0.5
        rows.append({"id": f"f{i}", "query": "q",
                     "response_a": ("- " if listed else "") + " ".join(["w"] * words[0]),
                     "response_b": " ".join(["v"] * words[1]),
                     "label:one": "A" if rng.random() < (0.8 if long_a else 0.2) else "B",
                     "label:two": "A" if rng.random() < 0.5 else "B"})
    folder = tmp_path_factory.mktemp("figures")
    src = folder / "pairs.jsonl"
    src.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    assert run_cli("dissect", str(src), "--out", str(folder / "s"), "--folds", "0").code == 0
    return folder / "s"


@pytest.fixture
def drawn(monkeypatch):
    """Keep every figure the command saves, to read its artists back."""
    from matplotlib.figure import Figure

    figures = []
    save = Figure.savefig

    def keep(self, *args, **kwargs):
        figures.append(self)
        return save(self, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", keep)
    return figures


def test_dissection_dots_sit_at_each_probability(cli, study, drawn, tmp_path):
    out = tmp_path / "d.png"
    assert cli("plot", str(study), "--figure", "dissection", "--out", str(out)).code == 0
    ax = drawn[0].axes[0]
    profiles = pd.read_csv(study / "profiles.csv").query("group == 'all'")
    labels = [t.get_text() for t in ax.get_yticklabels()]
    from prefdissect.properties import load_schema

    by_label = {v: k for k, v in load_schema().labels().items()}
    scatter = {c.get_label(): c for c in ax.collections if c.get_label() in ("one", "two")}
    for judge in ("one", "two"):
        mine = profiles[profiles["judge"] == judge].set_index("property")["mean"]
        dots = scatter[judge].get_offsets()
        rows = np.round(np.asarray(dots)[:, 1]).astype(int)
        expected = 100 / (1 + np.exp(-mine.loc[[by_label[labels[r]] for r in rows]].to_numpy()))
        assert np.allclose(np.asarray(dots)[:, 0], expected)
    # the first judge's properties are sorted from most to least preferred
    first = np.asarray(scatter["one"].get_offsets())
    assert np.all(np.diff(first[np.argsort(first[:, 1]), 0]) <= 1e-9)
    # and the PNG holds the first judge's dots, in their colour
    from matplotlib.image import imread

    pixels = (imread(out)[..., :3] * 255).round()
    colour = (np.asarray(scatter["one"].get_facecolor())[0, :3] * 255).round()
    assert (np.abs(pixels - colour).max(axis=-1) <= 2).sum() > 50


def test_similarity_cells_hold_the_matrix(cli, study, drawn, tmp_path):
    assert cli("plot", str(study), "--figure", "similarity", "--out",
               str(tmp_path / "s.svg")).code == 0
    ax = drawn[0].axes[0]
    from prefdissect.similarity import similarity
    from prefdissect.study import Study

    sim = similarity(Study(study).profiles()).ordered()
    shown = np.asarray(ax.images[0].get_array())
    names = [t.get_text() for t in ax.get_yticklabels()]
    assert np.allclose(shown, sim.matrix.loc[names, names].to_numpy())
    assert set(names) == {"one", "two"}


def test_waterfall_bars_are_the_shapley_values(cli, study, drawn, tmp_path):
    assert cli("plot", str(study), "--figure", "waterfall", "--pair", "f0", "--judge", "one",
               "--out", str(tmp_path / "w.pdf")).code == 0
    ax = drawn[0].axes[0]
    from prefdissect.explanations import explain
    from prefdissect.study import Study

    target = Study(study)
    profiles = target.profiles()
    comparisons = pd.read_parquet(study / "comparisons.parquet").set_index("pair_id")
    result = explain("f0", comparisons.loc["f0"], profiles.query(
        "judge == 'one' and group == 'all'"), "one", "all", {})
    rows = result.table[result.table["comparison"] != 0]
    widths = [bar.get_width() for bar in ax.patches]
    assert np.allclose(widths, 100 * rows["shapley"].to_numpy())
    lefts = [bar.get_x() for bar in ax.patches]
    assert np.allclose(lefts, 100 * (0.5 + np.concatenate([[0], np.cumsum(
        rows["shapley"].to_numpy())[:-1]])))
    assert 50 + sum(widths) == pytest.approx(100 * result.p_a)
