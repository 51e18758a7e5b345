"""Imported judges asked in both orders: position consistency in judge_stats.csv."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from prefdissect.judges import JudgeRun, verdict_stats

STATS_COLUMNS = ["judge", "pairs", "judged", "failed", "both_orders", "single_order",
                 "position_consistency", "consistent", "first_position_rate",
                 "mean_order_gap", "no_verdict_share", "tie_share", "warning"]


def test_verdict_stats_counts_by_hand():
    orders = [("A", "A"), ("A", "B"), ("tie", "tie"), ("B", "tie"), ("A", None)]
    row = verdict_stats("j", orders, failed=2)
    assert list(row) == STATS_COLUMNS == list(JudgeRun().stats("x"))
    assert (row["pairs"], row["judged"], row["failed"], row["both_orders"]) == (7, 5, 2, 4)
    assert row["position_consistency"] == 2 / 4  # A/A and tie/tie
    # first shown: A in the first order, B in the swapped one -> (A,B) twice, (A,A) once
    assert row["first_position_rate"] == 3 / 8
    assert row["mean_order_gap"] == pytest.approx((0 + 1 + 0 + 0.5) / 4)


@pytest.mark.shared_data
def test_autoj_consistency_matches_its_two_order_files(shared_data, cli, tmp_path):
    study = tmp_path / "autoj"
    assert cli("import", str(shared_data / "auto-j"), "--format", "auto-j", "--out",
               str(study)).code == 0
    stats = pd.read_csv(study / "judge_stats.csv").set_index("judge")
    assert list(stats.reset_index().columns) == STATS_COLUMNS
    outputs = shared_data / "auto-j" / "data" / "outputs"
    shown = [json.loads(x)["output"] for x in
             (outputs / "pairwise_example_output.jsonl").read_text().splitlines() if x.strip()]
    exchanged = [json.loads(x)["output"] for x in
                 (outputs / "pairwise_exchange_example_output.jsonl").read_text().splitlines()
                 if x.strip()]
    # in the exchange file 0 names the response shown first, i.e. the original response 2
    back = [{0: 1, 1: 0, 2: 2}[v] for v in exchanged]
    consistency = sum(a == b for a, b in zip(shown, back)) / len(shown)
    first = (shown.count(0) + exchanged.count(0)) / (2 * len(shown))
    row = stats.loc["auto-j-13b"]
    assert row["both_orders"] == len(shown) == 1392
    assert row["position_consistency"] == pytest.approx(consistency, abs=1e-12)
    assert row["position_consistency"] == pytest.approx(0.8341, abs=0.0001)  # Auto-J README
    assert row["first_position_rate"] == pytest.approx(first, abs=1e-12)


@pytest.mark.shared_data
def test_llmbar_judges_get_position_stats(shared_data, cli, tmp_path):
    study = tmp_path / "llmbar"
    assert cli("import", str(shared_data / "llmbar"), "--format", "llmbar", "--out",
               str(study)).code == 0
    stats = pd.read_csv(study / "judge_stats.csv").set_index("judge")
    judges = {p.parent.parent.name for p in
              (shared_data / "llmbar").glob("Dataset/**/evaluators/*/*/result.json")}
    assert set(stats.index) == judges and len(judges) == 6
    same = total = 0
    for file in (shared_data / "llmbar").glob("Dataset/**/evaluators/GPT-4/*/result.json"):
        for row in json.loads(file.read_text()):
            last = row["results"][-1]
            a, b = (last[k]["winner"] if last.get(k) else None
                    for k in ("swap = False", "swap = True"))
            if a is not None and b is not None:
                total += 1
                same += a == b
    assert stats.loc["GPT-4", "both_orders"] == total
    assert stats.loc["GPT-4", "position_consistency"] == pytest.approx(same / total)
    # a re-import replaces the statistics, a judge run adds to them (tested elsewhere)
    assert cli("import", str(shared_data / "llmbar"), "--format", "llmbar", "--out",
               str(study)).code == 0
    assert len(pd.read_csv(study / "judge_stats.csv")) == 6
