"""The local causal-LM judge on a tiny randomly initialised model saved to a folder."""

from __future__ import annotations

import json

import pandas as pd
import pytest

torch = pytest.importorskip("torch", reason="the local judge needs torch (CPU build)")
transformers = pytest.importorskip("transformers", reason="the local judge needs transformers")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A 1-layer GPT-2 with a word-level tokenizer, saved locally (no hub involved)."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    words = ["[UNK]", "[PAD]", "A", "B", "Response", "The", "better", "response", "is",
             "Request", "user", "judge", "answer", "good", "bad"]
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]",
                                                pad_token="[PAD]")
    torch.manual_seed(0)
    config = transformers.GPT2Config(vocab_size=len(words), n_positions=1024, n_embd=16,
                                     n_layer=1, n_head=2)
    model = transformers.GPT2LMHeadModel(config)
    folder = tmp_path_factory.mktemp("tiny-judge")
    model.save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder


def pairs_frame(n=3):
    from prefdissect.pairs import Pair, pairs_to_frame

    return pairs_to_frame([Pair(f"p{i}", "Request", "good answer", "bad answer")
                           for i in range(n)])


def test_next_token_probabilities_match_a_direct_forward_pass(tiny_model):
    from prefdissect.judges.local import LocalJudge
    from prefdissect.pairs import frame_to_pairs

    judge = LocalJudge(str(tiny_model), batch_size=2)
    run = judge.judge(pairs_frame())
    assert len(run.judgments) == 3 and not run.exclusions
    details = run.judgments[0].details
    # independent computation for the first order
    first_pair = frame_to_pairs(pairs_frame(1))[0]
    text = judge._prompt(first_pair, False)
    ids = judge.tokenizer(text, return_tensors="pt")
    with torch.no_grad():
        probs = torch.softmax(judge.network(**ids).logits[0, -1], dim=-1)
    a = float(probs[judge.tokenizer.convert_tokens_to_ids("A")])
    b = float(probs[judge.tokenizer.convert_tokens_to_ids("B")])
    assert details["p_first_order"] == pytest.approx(a / (a + b), rel=1e-5)
    # identical pairs in both orders: P(A) is the average of the two readings
    judgment = run.judgments[0]
    assert judgment.p_a == pytest.approx((details["p_first_order"]
                                          + details["p_swapped_order"]) / 2)


def test_local_judge_command(tiny_model, cli, tmp_path):
    src = tmp_path / "pairs.jsonl"
    src.write_text("\n".join(json.dumps({"id": f"p{i}", "query": "Request", "response_a":
                                         "good", "response_b": "bad"}) for i in range(4)),
                   encoding="utf-8")
    study = tmp_path / "study"
    assert cli("import", str(src), "--out", str(study)).code == 0
    result = cli("judge", str(study), "--local-model", str(tiny_model), "--name", "tiny")
    assert result.code == 0, result.err
    judged = pd.read_parquet(study / "judgments.parquet")
    assert (judged["judge"] == "tiny").sum() == 4
    missing = cli("judge", str(study), "--local-model", str(tmp_path / "nowhere"))
    assert missing.code == 2 and "nowhere does not exist" in " ".join(missing.err.split())
    (tmp_path / "empty").mkdir()
    broken = cli("judge", str(study), "--local-model", str(tmp_path / "empty"))
    assert broken.code == 2
    assert "cannot load a causal language model" in " ".join(broken.err.split())
