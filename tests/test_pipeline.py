"""The pipeline end to end: demo, dissect, and each stage on its own."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from prefdissect import demo as sim
from prefdissect.profiles import PROFILE_COLUMNS


def test_demo_recovers_the_simulated_judge(cli, tmp_path):
    out = tmp_path / "demo"
    result = cli("demo", "--out", str(out), "--pairs", "3000", "--seed", "1")
    assert result.code == 0, result.err
    table = pd.read_csv(out / "demo_recovery.csv")
    assert len(table) == len(sim.TRUE_WEIGHTS)
    assert np.corrcoef(table["true"], table["mean"])[0, 1] > 0.9
    assert table["covered"].mean() >= 0.7
    assert "recovered vs true weights" in result.out
    profiles = pd.read_csv(out / "profiles.csv")
    assert tuple(profiles.columns) == PROFILE_COLUMNS
    assert set(profiles["judge"]) == {"demo-judge"}


def write_pairs(path, rows):
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def small_study_rows(n=240, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        long_a = rng.random() < 0.5
        long, short = (" ".join(f"w{k}" for k in range(n_words)) for n_words in (60, 8))
        a, b = (long, short) if long_a else (short, long)
        label = "A" if (rng.random() < (0.8 if long_a else 0.2)) else "B"
        rows.append({"id": f"s{i}", "query": "q", "response_a": a,
                     "response_b": b, "scenario": "Code" if i % 2 else "Advice",
                     "metadata": {"split": "x" if i % 3 else "y"}, "label:judge1": label,
                     "label:judge2": "tie" if i % 4 == 0 else label})
    rows.append({"id": "same", "query": "q", "response_a": "same text",
                 "response_b": "same text", "label:judge1": "A"})
    rows.append({"id": "empty", "query": "q", "response_a": "", "response_b": "x",
                 "label:judge1": "B"})
    return rows


def test_dissect_groups_and_exclusions(cli, tmp_path):
    src = write_pairs(tmp_path / "pairs.jsonl", small_study_rows())
    out = tmp_path / "study"
    result = cli("dissect", str(src), "--out", str(out), "--group-by", "split",
                 "--judge", "judge1", "--judge", "judge2")
    assert result.code == 0, result.err
    profiles = pd.read_csv(out / "profiles.csv")
    groups = set(profiles["group"])
    assert groups == {"all", "Advice", "Code", "split=x", "split=y"}
    lengthy = profiles[(profiles["property"] == "lengthy") & (profiles["group"] == "all")]
    assert (lengthy["lower"] > 0).all()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["judges"]["judge1"]["excluded"] == {"identical responses": 1,
                                                       "empty response": 1}
    assert summary["judges"]["judge2"]["excluded"] == {"tie": 60}
    assert summary["judges"]["judge1"]["pairs_used"] == 240
    exclusions = pd.read_csv(out / "exclusions.csv")
    assert len(exclusions[exclusions["stage"] == "fit"]) == 62
    assert "identical responses" in result.out and "60 tie" in result.out
    n_all = profiles[(profiles["judge"] == "judge2") & (profiles["group"] == "all")]["n_pairs"]
    assert set(n_all) == {180}


def test_stages_with_your_own_annotations(cli, tmp_path):
    src = write_pairs(tmp_path / "pairs.jsonl", small_study_rows(120, seed=2))
    study = tmp_path / "study"
    assert cli("import", str(src), "--out", str(study)).code == 0
    pairs = pd.read_parquet(study / "pairs.parquet")
    rng = np.random.default_rng(0)
    own = pd.DataFrame({"pair_id": pairs["id"], "property": "clear",
                        "value_a": rng.integers(0, 4, len(pairs)),
                        "value_b": rng.integers(0, 4, len(pairs))})
    own.loc[0, ["value_a", "value_b"]] = None  # one value could not be obtained
    own.to_csv(tmp_path / "mine.csv", index=False)
    added = cli("annotate", str(study), "--from", str(tmp_path / "mine.csv"))
    assert added.code == 0, added.err
    fitted = cli("fit", str(study), "--judge", "judge1")
    assert fitted.code == 0, fitted.err
    profiles = pd.read_csv(study / "profiles.csv")
    assert set(profiles["property"]) == {"clear"}
    summary = json.loads((study / "summary.json").read_text())
    assert summary["judges"]["judge1"]["excluded"]["annotation failed"] == 1
    # the heuristic annotator adds its own properties beside the user's
    assert cli("annotate", str(study)).code == 0
    assert cli("fit", str(study), "--judge", "judge1").code == 0
    assert {"clear", "lengthy"} <= set(pd.read_csv(study / "profiles.csv")["property"])


def test_soft_labels_use_probabilities(cli, tmp_path):
    rows = small_study_rows(200, seed=3)
    for row in rows:
        row["p_a:judge1"] = 0.9 if row["label:judge1"] == "A" else 0.1
    src = write_pairs(tmp_path / "pairs.jsonl", rows)
    hard, soft = tmp_path / "hard", tmp_path / "soft"
    assert cli("dissect", str(src), "--out", str(hard), "--judge", "judge1").code == 0
    assert cli("dissect", str(src), "--out", str(soft), "--judge", "judge1",
               "--soft-labels").code == 0

    def lengthy(folder):
        p = pd.read_csv(folder / "profiles.csv")
        return p[(p["property"] == "lengthy") & (p["group"] == "all")]["mean"].item()

    assert 0 < lengthy(soft) < lengthy(hard)


def test_alpaca_eval_length_bias(shared_data, cli, tmp_path):
    out = tmp_path / "alpaca"
    result = cli("dissect", str(shared_data / "alpaca_eval"), "--format", "alpaca-eval",
                 "--out", str(out))
    assert result.code == 0, result.err
    profiles = pd.read_csv(out / "profiles.csv")
    row = profiles[(profiles["property"] == "lengthy") & (profiles["group"] == "all")].iloc[0]
    assert row["judge"] == "weighted_alpaca_eval_gpt4_turbo"
    assert row["mean"] > 0 and row["lower"] > 0
    assert row["n_pairs"] > 11000


@pytest.mark.parametrize("folder, format, judge, used, excluded, lengthy", [
    # pairs used and left out are exact; the weight of 'lengthy' (group all) is pinned to
    # the value the EP engine gives on the heuristic annotations
    ("hh-rlhf", "hh-rlhf", "human", 8505, {"identical responses": 36, "empty response": 11},
     0.109),
    ("llmbar", "llmbar", "GPT-4", 779, {"tie": 99, "identical responses": 1,
                                        "empty response": 1}, 0.034),
    ("pandalm", "pandalm", "annotator1", 850, {"tie": 95, "empty response": 54}, 0.795),
    ("auto-j", "auto-j", "auto-j-13b", 1185, {"tie": 197, "identical responses": 9,
                                              "empty response": 1}, 1.375),
])
def test_real_datasets_end_to_end(shared_data, cli, tmp_path, folder, format, judge, used,
                                  excluded, lengthy):
    out = tmp_path / folder
    result = cli("dissect", str(shared_data / folder), "--format", format, "--out", str(out))
    assert result.code == 0, result.err
    profiles = pd.read_csv(out / "profiles.csv")
    assert profiles[["mean", "sd", "lower", "upper"]].notna().all().all()
    row = profiles.query("judge == @judge and group == 'all' and property == 'lengthy'")
    assert row["mean"].item() == pytest.approx(lengthy, abs=0.02)
    assert row["lower"].item() < row["mean"].item() < row["upper"].item()
    assert row["n_pairs"].item() == used
    summary = json.loads((out / "summary.json").read_text())
    assert summary["judges"][judge]["pairs_used"] == used
    assert summary["judges"][judge]["excluded"] == excluded
    diagnostics = pd.read_csv(out / "fit_diagnostics.csv")
    assert diagnostics["converged"].all()


def test_credible_effects_beyond_the_shown_five_are_never_called_unclear():
    from rich.console import Console

    from prefdissect.cli.render import _effects_table
    from prefdissect.pipeline import top_effects

    means = [1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.05, -0.3]
    profiles = pd.DataFrame({"judge": "j", "group": "all",
                             "property": [f"p{i}" for i in range(len(means))], "mean": means,
                             "lower": [m - 0.2 for m in means], "upper": [m + 0.2 for m in means]})
    up, down, unclear = top_effects(profiles, "j", k=None)
    assert [e.property for e in up] == [f"p{i}" for i in range(7)]
    assert [e.property for e in down] == ["p8"] and [e.property for e in unclear] == ["p7"]
    console = Console(width=100, record=True)
    console.print(_effects_table("raises", [vars(e) for e in up], "green"))
    text = console.export_text()
    assert "p4" in text and "p5" not in text and "... and 2 more (profiles.csv)" in text
