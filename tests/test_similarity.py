"""Reference profiles, judge similarity and the compare command."""

from __future__ import annotations

import functools
import http.server
import threading

import numpy as np
import pandas as pd
import pytest

from prefdissect.errors import UsageError
from prefdissect.reference import SCENARIOS, load_reference_profiles
from prefdissect.similarity import cluster_order, nearest, similarity

PAPER = "preference-dissection"


def fake_profiles(judges, groups, rng, sd=None):
    rows = []
    base = rng.normal(0, 0.3, 10)
    for k, judge in enumerate(judges):
        for group in groups:
            weights = base + rng.normal(0, 0.1 * (k + 1), 10)
            for p, w in enumerate(weights):
                rows.append((judge, group, f"p{p}", w, sd if sd else np.nan, np.nan, np.nan,
                             100))
    return pd.DataFrame(rows, columns=["judge", "group", "property", "mean", "sd", "lower",
                                       "upper", "n_pairs"])


def test_similarity_is_the_average_of_within_group_correlations():
    rng = np.random.default_rng(0)
    table = fake_profiles(["a", "b", "c"], ["g1", "g2", "g3"], rng)
    sim = similarity(table, method="pearson", draws=50)
    wide = table.set_index(["judge", "group"])["mean"]
    expected = np.mean([np.corrcoef(wide.loc[("a", g)], wide.loc[("b", g)])[0, 1]
                        for g in ["g1", "g2", "g3"]])
    assert sim.matrix.loc["a", "b"] == pytest.approx(expected)
    assert sim.groups == ["g1", "g2", "g3"]
    spearman = similarity(table, method="spearman", draws=50)
    from scipy.stats import spearmanr
    expected_s = np.mean([spearmanr(wide.loc[("a", g)], wide.loc[("c", g)])[0]
                          for g in ["g1", "g2", "g3"]])
    assert spearman.matrix.loc["a", "c"] == pytest.approx(expected_s)


def test_intervals_from_posterior_draws_and_bootstrap():
    rng = np.random.default_rng(1)
    certain = similarity(fake_profiles(["a", "b"], ["g"], rng, sd=1e-6), draws=200)
    assert certain.interval.startswith("posterior draws")
    assert certain.upper.loc["a", "b"] - certain.lower.loc["a", "b"] < 1e-3
    noisy = similarity(fake_profiles(["a", "b"], ["g"], np.random.default_rng(1), sd=0.5),
                       draws=200)
    assert noisy.upper.loc["a", "b"] - noisy.lower.loc["a", "b"] > 0.2
    boot = similarity(fake_profiles(["a", "b"], ["g"], rng), draws=200)
    assert boot.interval == "bootstrap over properties"
    assert boot.lower.loc["a", "b"] <= boot.matrix.loc["a", "b"] <= boot.upper.loc["a", "b"]


def test_cluster_order_puts_similar_judges_together():
    names = ["x1", "y1", "x2", "y2"]
    values = np.full((4, 4), 0.1)
    for a, b in [(0, 2), (1, 3)]:
        values[a, b] = values[b, a] = 0.9
    np.fill_diagonal(values, 1.0)
    order = cluster_order(pd.DataFrame(values, index=names, columns=names))
    assert abs(order.index("x1") - order.index("x2")) == 1
    assert abs(order.index("y1") - order.index("y2")) == 1


def test_unknown_judge_is_a_clear_error():
    table = fake_profiles(["a", "b"], ["g"], np.random.default_rng(2))
    with pytest.raises(UsageError, match="no profile for zed"):
        similarity(table, ["a", "zed"])


def test_paper_similarities(shared_data):
    table = load_reference_profiles(shared_data / PAPER)
    assert table["judge"].nunique() == 33
    assert set(SCENARIOS) <= set(table["group"])
    sim = similarity(table, ["human", "gpt-4-1106-preview", "gpt-3.5-turbo-1106"])
    assert sim.groups == list(SCENARIOS)
    assert sim.matrix.loc["human", "gpt-4-1106-preview"] == pytest.approx(0.742, abs=0.001)
    assert sim.matrix.loc["human", "gpt-3.5-turbo-1106"] == pytest.approx(0.652, abs=0.001)
    assert sim.matrix.loc["gpt-4-1106-preview", "gpt-3.5-turbo-1106"] == pytest.approx(
        0.572, abs=0.001)
    near = nearest(similarity(table), "human", list(table["judge"].unique()), k=3)
    assert len(near) == 3 and "human" not in set(near["judge"])


def test_compare_command_writes_a_labelled_matrix(shared_data, cli, tmp_path):
    out = tmp_path / "cmp"
    result = cli("compare", "--reference", str(shared_data / PAPER), "--judges", "human",
                 "gpt-4-1106-preview", "gpt-3.5-turbo-1106", "--out", str(out))
    assert result.code == 0, result.err
    matrix = pd.read_csv(out / "similarity.csv", index_col="judge")
    assert set(matrix.index) == set(matrix.columns) == {"human", "gpt-4-1106-preview",
                                                        "gpt-3.5-turbo-1106"}
    assert matrix.loc["human", "gpt-4-1106-preview"] == pytest.approx(0.742, abs=0.001)
    pairs = pd.read_csv(out / "similarity_pairs.csv")
    assert len(pairs) == 3 and (pairs["lower"] <= pairs["similarity"]).all()


def test_reference_profiles_over_http_on_loopback(shared_data):
    folder = shared_data / PAPER / "visualization_data" / "fitted_paras_comparison"
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        remote = load_reference_profiles(url)
    finally:
        server.shutdown()
    local = load_reference_profiles(folder)
    pd.testing.assert_frame_equal(remote.reset_index(drop=True), local.reset_index(drop=True))


def test_place_a_fitted_judge_among_the_papers(shared_data, cli, tmp_path):
    study = tmp_path / "study"
    assert cli("demo", "--out", str(study), "--pairs", "800").code == 0
    result = cli("compare", "--reference", str(shared_data / PAPER), "--study", str(study),
                 "--nearest", "3")
    assert result.code == 0, result.err
    assert "nearest of the paper's judges to demo-judge" in " ".join(result.out.split())
