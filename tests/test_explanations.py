"""Shapley explanations: exact values checked against brute-force enumeration."""

from __future__ import annotations

import itertools
import json
from math import factorial

import numpy as np
import pandas as pd
import pytest

from prefdissect import explanations
from prefdissect.explanations import explain, shapley_values


def brute_force(weights, x):
    """The Shapley definition over all orderings of the properties."""
    n = len(x)
    phi = np.zeros(n)
    f = lambda s: 1 / (1 + np.exp(-sum(weights[j] * x[j] for j in s)))  # noqa: E731
    for order in itertools.permutations(range(n)):
        seen = []
        for j in order:
            phi[j] += f(seen + [j]) - f(seen)
            seen.append(j)
    return phi / factorial(n)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_exact_values_match_enumeration(seed):
    rng = np.random.default_rng(seed)
    weights = rng.normal(0, 0.6, 7)
    x = rng.choice([-1.0, 0.0, 1.0], 7)
    phi, errors = shapley_values(weights, x)
    assert errors is None
    assert np.allclose(phi, brute_force(weights, x), atol=1e-12)
    assert phi[x == 0] == pytest.approx(0.0)
    # efficiency: the values add up to the prediction minus the 0.5 baseline
    assert phi.sum() == pytest.approx(1 / (1 + np.exp(-weights @ x)) - 0.5)


def test_estimate_beyond_the_exact_limit(monkeypatch):
    rng = np.random.default_rng(3)
    weights, x = rng.normal(0, 0.5, 6), rng.choice([-1.0, 1.0], 6)
    exact, _ = shapley_values(weights, x)
    monkeypatch.setattr(explanations, "EXACT_LIMIT", 3)
    estimate, errors = shapley_values(weights, x, permutations=40000)
    assert errors is not None and (errors[x != 0] > 0).all()
    assert np.all(np.abs(estimate - exact) < 5 * errors + 1e-9)


def test_explain_table():
    profile = pd.DataFrame({"property": ["a", "b", "c"], "mean": [1.0, -0.5, 0.2]})
    comparisons = pd.Series({"a": 1.0, "b": 1.0, "c": 0.0})
    result = explain("p1", comparisons, profile, "judge", "all", {"a": "A-label"})
    assert result.exact and result.p_a == pytest.approx(1 / (1 + np.exp(-0.5)))
    assert list(result.table["property"])[:2] == ["a", "b"]
    assert result.table.iloc[0]["label"] == "A-label"
    assert result.table["shapley"].sum() == pytest.approx(result.p_a - 0.5)


def test_explain_command(cli, tmp_path):
    study = tmp_path / "demo"
    assert cli("demo", "--out", str(study), "--pairs", "600").code == 0
    text = cli("explain", str(study), "demo:5")
    assert text.code == 0, text.err
    assert "predicted P(A preferred)" in text.out and "Shapley" in text.out
    raw = cli("explain", str(study), "demo:5", "--json")
    data = json.loads(raw.out)
    assert data[0]["judge"] == "demo-judge" and data[0]["exact"]
    total = sum(p["shapley"] for p in data[0]["properties"])
    assert total == pytest.approx(data[0]["p_a"] - 0.5)
    missing = cli("explain", str(study), "nope")
    assert missing.code == 2 and "no pair with id 'nope'" in missing.err


def test_a_model_term_is_one_more_bar():
    profile = pd.DataFrame({"property": ["a", "b"], "mean": [0.4, -0.2]})
    comparisons = pd.Series({"a": 1.0, "b": -1.0})
    result = explain("p1", comparisons, profile, "judge", "all",
                     terms={"baseline (base)": (1.0, 0.9)})
    assert result.p_a == pytest.approx(1 / (1 + np.exp(-(0.4 + 0.2 + 0.9))))
    term = result.table.set_index("property").loc["baseline (base)"]
    assert term["kind"] == "model term" and term["label"] == "model term: baseline (base)"
    assert result.table["shapley"].sum() == pytest.approx(result.p_a - 0.5)
    assert term["shapley"] == result.table["shapley"].max()  # the largest contribution here


@pytest.mark.shared_data
def test_explain_shows_the_baseline_term_on_alpaca_eval(alpaca_study, cli):
    result = cli("explain", str(alpaca_study), "alpaca_eval:alpaca-7b:3", "--json")
    assert result.code == 0, result.err
    rows = json.loads(result.out)[0]["properties"]
    terms = [r for r in rows if r["kind"] == "model term"]
    assert [r["property"] for r in terms] == ["baseline (gpt4_1106_preview)"]
    assert sum(r["shapley"] for r in rows) == pytest.approx(json.loads(result.out)[0]["p_a"]
                                                            - 0.5)
