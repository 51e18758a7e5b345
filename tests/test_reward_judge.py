"""Reward models as judges: a tiny sequence-classification model built locally, and scores
files from reward models run elsewhere."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from prefdissect.judges.reward import bradley_terry

WORDS = ["[UNK]", "[PAD]", "user", "assistant", ":", "good", "bad", "answer", "question",
         "please", "thanks", "long", "short", "the", "a", "list", "step", "one", "two", "yes",
         "no", "maybe", "sure"]
TEMPLATE = ("{% for m in messages %}{{ m['role'] }} : {{ m['content'] }} {% endfor %}")


@pytest.fixture(scope="module")
def tiny_reward_model(tmp_path_factory):
    """A 1-layer GPT-2 sequence classifier (one output) with a word-level tokenizer and a
    chat template, saved to a folder; no hub involved."""
    torch = pytest.importorskip("torch", reason="the reward-model judge needs torch (CPU)")
    transformers = pytest.importorskip("transformers", reason="needs transformers")
    from tokenizers import Tokenizer, models, pre_tokenizers

    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]",
                                                pad_token="[PAD]")
    fast.chat_template = TEMPLATE
    torch.manual_seed(0)
    config = transformers.GPT2Config(vocab_size=len(WORDS), n_positions=256, n_embd=16,
                                     n_layer=1, n_head=2, num_labels=1,
                                     pad_token_id=WORDS.index("[PAD]"))
    model = transformers.GPT2ForSequenceClassification(config)
    folder = tmp_path_factory.mktemp("tiny-rm")
    model.save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder


def pair_rows(n=200, seed=0):
    rng = np.random.default_rng(seed)
    content = WORDS[5:]
    rows = []
    for i in range(n):
        a, b = (" ".join(rng.choice(content, size=rng.integers(1, 30))) for _ in range(2))
        rows.append({"id": f"r{i}", "query": " ".join(rng.choice(content, size=4)),
                     "response_a": a, "response_b": b})
    return rows


def direct_rewards(folder, rows):
    """Score each response alone (no batch, no padding) with a plain forward pass."""
    import torch
    import transformers

    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    model = transformers.AutoModelForSequenceClassification.from_pretrained(folder).eval()
    out = {}
    for row in rows:
        scores = []
        for side in ("response_a", "response_b"):
            text = tokenizer.apply_chat_template(
                [{"role": "user", "content": row["query"]},
                 {"role": "assistant", "content": row[side]}], tokenize=False)
            with torch.no_grad():
                scores.append(float(model(**tokenizer(text, return_tensors="pt")).logits[0, 0]))
        out[row["id"]] = tuple(scores)
    return out


def write_jsonl(path, rows):
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def test_bradley_terry_is_a_stable_sigmoid():
    assert bradley_terry(2.0, 0.5) == pytest.approx(1 / (1 + math.exp(-1.5)))
    assert bradley_terry(-800.0, 800.0) == 0.0 and bradley_terry(800.0, -800.0) == 1.0


@pytest.mark.slow
def test_dissect_with_a_reward_model_and_its_scores_file(tiny_reward_model, cli, tmp_path):
    rows = pair_rows()
    src = write_jsonl(tmp_path / "pairs.jsonl", rows)
    study = tmp_path / "study"
    result = cli("dissect", str(src), "--out", str(study), "--reward-model",
                 str(tiny_reward_model), "--folds", "0")
    assert result.code == 0, result.err
    judged = pd.read_parquet(study / "judgments.parquet")
    mine = judged[judged["judge"] == tiny_reward_model.name].set_index("pair_id")
    assert len(mine) == 200
    truth = direct_rewards(tiny_reward_model, rows)
    expected = pd.Series({k: 1 / (1 + math.exp(b - a)) for k, (a, b) in truth.items()})
    np.testing.assert_allclose(mine["p_a"].reindex(expected.index), expected, atol=1e-5)
    details = json.loads(mine.loc["r0", "details"])
    assert details["reward_a"] == pytest.approx(truth["r0"][0], abs=1e-5)
    assert (mine["label"] == np.where(expected > 0.5, "A", "B")).all()
    assert len(set(np.round(expected, 6))) > 150  # the rewards really differ between texts
    profiles = pd.read_csv(study / "profiles.csv")
    assert set(profiles["judge"]) == {tiny_reward_model.name}
    stats = pd.read_csv(study / "judge_stats.csv").set_index("judge")
    assert stats.loc[tiny_reward_model.name, "judged"] == 200

    # the same rewards, computed elsewhere, come in through a scores file and fit
    scores = tmp_path / "scores.csv"
    pd.DataFrame([{"pair_id": k, "score_a": a, "score_b": b} for k, (a, b) in truth.items()
                  if k != "r7"]).to_csv(scores, index=False)
    result = cli("judge", str(study), "--scores", str(scores), "--name", "rm-file")
    assert result.code == 0, result.err
    judged = pd.read_parquet(study / "judgments.parquet")
    imported = judged[judged["judge"] == "rm-file"].set_index("pair_id")["p_a"]
    assert len(imported) == 199
    np.testing.assert_allclose(imported, expected.reindex(imported.index), atol=1e-9)
    excluded = pd.read_csv(study / "exclusions.csv")
    failed = excluded[(excluded["judge"] == "rm-file") & (excluded["stage"] == "judge")]
    assert failed["pair_id"].tolist() == ["r7"] and "no record" in failed["detail"].iloc[0]
    assert cli("fit", str(study), "--folds", "0").code == 0
    assert "rm-file" in set(pd.read_csv(study / "profiles.csv")["judge"])


def test_scores_file_errors_name_file_line_and_field(cli, tmp_path):
    src = write_jsonl(tmp_path / "pairs.jsonl", pair_rows(3))
    study = tmp_path / "study"
    assert cli("import", str(src), "--out", str(study)).code == 0
    bad = tmp_path / "bad.jsonl"
    write_jsonl(bad, [{"pair_id": "r0", "score_a": 1, "score_b": 0},
                      {"pair_id": "r1", "score_a": "high", "score_b": 0}])
    result = cli("judge", str(study), "--scores", str(bad), "--name", "rm")
    assert result.code == 2
    assert "bad.jsonl line 2: field 'score_a' is not a number" in " ".join(result.err.split())
    write_jsonl(bad, [{"pair_id": "zz", "score_a": 1, "score_b": 0}])
    result = cli("judge", str(study), "--scores", str(bad), "--name", "rm")
    assert "line 1: field 'pair_id' names pair 'zz'" in " ".join(result.err.split())
    write_jsonl(bad, [{"pair_id": "r0", "score_a": 1}])
    result = cli("judge", str(study), "--scores", str(bad), "--name", "rm")
    assert "line 1: field 'score_b' is missing" in " ".join(result.err.split())
    assert "--scores needs --name" in cli("judge", str(study), "--scores", str(bad)).err
    # nothing was written by the refused runs
    assert set(pd.read_parquet(study / "judgments.parquet")["judge"]) <= {"labels"}
