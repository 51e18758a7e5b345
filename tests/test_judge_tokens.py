"""Local judges feed the model exactly one BOS token, with and without a chat template.

A Llama-3-style tokenizer adds ``<|begin_of_text|>`` itself, and its chat template writes
it too: a template rendered as text and tokenized again with special tokens gets it
twice. The tokenizers here have a BOS token that the tokenizer adds (a post-processor,
as Llama's do) and, for the templated one, a chat template that writes ``{{ bos_token }}``.
The expected ids are built by hand from the rendered words, not by the tokenizer.
"""

from __future__ import annotations

import re

import pytest

torch = pytest.importorskip("torch", reason="the local judges need torch (CPU build)")
transformers = pytest.importorskip("transformers", reason="the local judges need transformers")

WORDS = ["[UNK]", "[PAD]", "<s>", "A", "B", "system", "user", "assistant", ":", "judge",
         "pick", "query", "yes", "no", "maybe"]
TEMPLATE = ("{{ bos_token }}{% for m in messages %}{{ m['role'] }} : {{ m['content'] }} "
            "{% endfor %}{% if add_generation_prompt %}assistant :{% endif %}")
PROMPTS = ("system: judge\nuser: '{query} {response_a} {response_b} pick'\n"
           "completion: '{query} {response_a} {response_b} pick'\n")


def save(folder, model, templated: bool):
    """Save ``model`` with a word-level tokenizer that adds BOS (and maybe a template)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors

    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", WORDS.index("<s>"))])
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]",
                                                pad_token="[PAD]", bos_token="<s>")
    if templated:
        fast.chat_template = TEMPLATE
    model.save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder


def by_hand(text: str) -> list[int]:
    """BOS, then each word of ``text`` (split as the Whitespace pre-tokenizer does)."""
    return [WORDS.index("<s>")] + [WORDS.index(w) if w in WORDS else 0
                                   for w in re.findall(r"\w+|[^\w\s]+", text)]


class Spy:
    """Stands in for a network: records the ids it is fed (padding dropped), then runs it."""

    def __init__(self, network):
        self.network, self.config, self.fed = network, network.config, []

    def __call__(self, input_ids, attention_mask, **rest):
        for ids, mask in zip(input_ids.tolist(), attention_mask.tolist()):
            self.fed.append([i for i, m in zip(ids, mask) if m])
        return self.network(input_ids=input_ids, attention_mask=attention_mask, **rest)


def pairs():
    from prefdissect.pairs import Pair, pairs_to_frame

    return pairs_to_frame([Pair("p0", "query", "yes", "no maybe")])


@pytest.mark.parametrize("templated", [True, False])
def test_the_local_judge_feeds_one_bos(tmp_path, templated):
    from prefdissect.judges.local import LocalJudge

    torch.manual_seed(0)
    model = transformers.GPT2LMHeadModel(transformers.GPT2Config(
        vocab_size=len(WORDS), n_positions=128, n_embd=8, n_layer=1, n_head=2))
    (tmp_path / "prompts.yaml").write_text(PROMPTS)
    judge = LocalJudge(str(save(tmp_path / "m", model, templated)),
                       prompt_file=str(tmp_path / "prompts.yaml"))
    judge.network = spy = Spy(judge.network)
    judge.judge(pairs())
    if templated:
        want = [by_hand("system : judge user : query yes no maybe pick assistant :"),
                by_hand("system : judge user : query no maybe yes pick assistant :")]
    else:
        want = [by_hand("query yes no maybe pick"), by_hand("query no maybe yes pick")]
    assert spy.fed == want


@pytest.mark.parametrize("templated", [True, False])
def test_the_reward_judge_feeds_one_bos(tmp_path, templated):
    from prefdissect.judges.reward import RewardModelJudge

    torch.manual_seed(0)
    model = transformers.GPT2ForSequenceClassification(transformers.GPT2Config(
        vocab_size=len(WORDS), n_positions=128, n_embd=8, n_layer=1, n_head=2, num_labels=1,
        pad_token_id=WORDS.index("[PAD]")))
    judge = RewardModelJudge(str(save(tmp_path / "m", model, templated)), device="cpu")
    judge.network = spy = Spy(judge.network)
    judge.judge(pairs())
    if templated:
        want = [by_hand("user : query assistant : yes"),
                by_hand("user : query assistant : no maybe")]
    else:
        want = [by_hand("query\n\nyes"), by_hand("query\n\nno maybe")]
    assert spy.fed == want
