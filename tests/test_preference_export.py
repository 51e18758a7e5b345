"""A study written back as a TRL preference dataset, and balanced on a property."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from prefdissect.exporters.preference import balanced
from prefdissect.importers import run_import


def small_study(tmp_path, cli):
    rows = [{"id": f"p{i}", "query": f"question {i}", "response_a": f"short {i}",
             "response_b": f"a longer answer {i} " + "with more words " * (i % 4),
             "model_a": "m1", "model_b": "m2", "label": "A" if i % 3 else "B",
             "history": [{"role": "user", "content": "hello"},
                         {"role": "assistant", "content": "hi"}] if i == 0 else []}
            for i in range(9)] + [{"id": "t", "query": "q", "response_a": "x",
                                   "response_b": "y", "label": "tie"}]
    src = tmp_path / "pairs.jsonl"
    src.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    study = tmp_path / "study"
    assert cli("import", str(src), "--out", str(study)).code == 0
    return rows, study


@pytest.mark.parametrize("suffix", ["jsonl", "parquet"])
def test_export_is_trl_conversational_and_imports_back(tmp_path, cli, suffix):
    rows, study = small_study(tmp_path, cli)
    out = tmp_path / f"prefs.{suffix}"
    run = cli("export", str(study), "--format", "preference", "--out", str(out))
    assert run.code == 0, run.err
    assert "wrote 9 preference pairs" in run.text and "1 ties or undecided left out" in run.text
    frame = pd.read_json(out, lines=True) if suffix == "jsonl" else pd.read_parquet(out)
    first = frame[frame["id"] == "p0"].iloc[0]
    assert [dict(m) for m in first["prompt"]] == [
        {"role": "user", "content": "hello"}, {"role": "assistant", "content": "hi"},
        {"role": "user", "content": "question 0"}]
    assert [dict(m) for m in first["chosen"]] == [{"role": "assistant",
                                                    "content": rows[0]["response_b"]}]
    assert (first["chosen_model"], first["rejected_model"]) == ("m2", "m1")
    back = run_import(out, "preference")
    chosen = {p.id: (p.response_a if j.label == "A" else p.response_b, p.query, p.history)
              for p, j in zip(back.pairs, back.judgments)}
    for row in rows[:9]:
        winner = row["response_a"] if row["label"] == "A" else row["response_b"]
        assert chosen[row["id"]] == (winner, row["query"], row["history"])


def test_balance_within_strata_by_hand():
    ids = [f"x{i}" for i in range(12)]
    side = pd.Series([1, 1, 1, -1, 0, 1, -1, -1, np.nan, 1, 1, 0], index=ids, dtype=float)
    strata = pd.Series(list("aaaaabbbbccc"), index=ids)
    keep, counts = balanced(side, strata, seed=4)
    # a: 3 better, 1 worse -> 1 + 1; b: 1 better, 2 worse -> 1 + 1; c: 2 better, 0 worse
    assert counts["kept_each"] == 2 and counts["same"] == 2 and counts["unknown"] == 1
    kept = side[keep]
    assert (kept == 1).sum() == (kept == -1).sum() == 2
    assert {"x4", "x11", "x3", "x5"} <= set(keep)  # no-difference pairs and lone sides stay
    assert list(keep) == [i for i in ids if i in set(keep)]  # original order
    for key in "abc":
        mine = kept[strata[keep] == key]
        assert (mine == 1).sum() == (mine == -1).sum()
    assert list(balanced(side, strata, seed=4)[0]) == list(keep)


def test_balanced_export_refits_with_no_length_effect(alpaca_study, tmp_path, cli):
    datasets = pytest.importorskip("datasets")
    out = tmp_path / "balanced.jsonl"
    run = cli("export", str(alpaca_study), "--format", "preference", "--balance", "lengthy",
              "--out", str(out))
    assert run.code == 0, run.err
    assert "--balance lengthy: kept" in run.text
    kept = int(run.text.split("wrote ")[1].split()[0])
    loaded = datasets.load_dataset("json", data_files=str(out), split="train")
    assert loaded.num_rows == kept > 1000
    row = loaded[0]
    assert row["prompt"][-1]["role"] == "user" and row["chosen"][0]["role"] == "assistant"
    refit = tmp_path / "refit"
    result = cli("dissect", str(out), "--format", "preference", "--folds", "0",
                 "--out", str(refit))
    assert result.code == 0, result.err
    profiles = pd.read_csv(refit / "profiles.csv")
    lengthy = profiles[(profiles["group"] == "all") & (profiles["property"] == "lengthy")]
    lower, upper = 1 / (1 + np.exp(-lengthy[["lower", "upper"]].to_numpy()[0]))
    assert lower < 0.5 < upper
    # the study itself: the judge rewards length (the README's figure)
    before = pd.read_csv(alpaca_study / "profiles.csv")
    assert before.query("group == 'all' and property == 'lengthy'")["lower"].iloc[0] > 0
