"""A local causal language model as judge: next-token probabilities, no server.

Loads a model and tokenizer with ``transformers`` from a local folder (or a hub
name, where a hub is reachable), renders the judge prompt (the tokenizer's chat
template where it has one, else the plain completion prompt), and reads the
probability of the answer letters at the next position: P(A) / (P(A) + P(B)),
summing each letter's spellings (``A`` and `` A``). Both orders are asked and
combined as for the API judge. A prompt rendered by the chat template is
tokenized without adding special tokens again (the template writes the BOS token
where the model wants one); a plain prompt gets the tokenizer's own. Needs
``transformers`` and ``torch`` (install the CPU build of torch explicitly, e.g.
``pip install torch==2.13.0``).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .. import prompts
from ..errors import UsageError
from ..pairs import Pair, frame_to_pairs
from ..registry import register
from . import JudgeRun, OrderResult


def _load(path: str):
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError:
        raise UsageError("the local judge needs transformers and torch: pip install "
                         "transformers torch==2.13.0 (the CPU build)") from None
    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModelForCausalLM.from_pretrained(path, torch_dtype=torch.float32)
    except (OSError, ValueError) as exc:  # transformers raises either for a bad folder
        raise UsageError(f"{path}: cannot load a causal language model ({exc}); give a "
                         "local folder with config, weights and tokenizer") from None
    model.eval()
    return torch, tokenizer, model


@register("judge", "local", "a local causal LM through transformers (next-token "
          "probabilities of A and B, both orders)")
class LocalJudge:
    """Judge pairs with a local causal LM; see the module docstring.

    Parameters
    ----------
    path
        Folder (or hub name) of the model and tokenizer.
    name
        The judge's name in the study (default: the folder name).
    prompt_file
        YAML with ``system``, ``user`` and ``completion`` templates.
    batch_size
        Prompts scored per forward pass.
    max_length
        Longest prompt in tokens; longer prompts are cut from the left.
    """

    def __init__(self, path: str, *, name: str | None = None, prompt_file: str | None = None,
                 batch_size: int = 4, max_length: int = 2048):
        self.path = str(path)
        self.name = name or Path(self.path).name
        self.model = self.path
        self.batch_size = batch_size
        self.max_length = max_length
        self.prompts, self.version = prompts.load("judge", prompt_file)
        from .llm import REQUIRED

        prompts.check(self.prompts, ("system", "user", "completion"),
                      ("query", "response_a", "response_b"), prompt_file or "judge.yaml",
                      "--prompt", REQUIRED)
        self._torch, self.tokenizer, self.network = _load(self.path)
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token or self.tokenizer.unk_token
        self.tokenizer.padding_side = "left"
        self.letters = {letter: self._letter_ids(letter) for letter in "AB"}
        # a chat template writes the model's special tokens itself
        self.templated = bool(getattr(self.tokenizer, "chat_template", None))

    def _letter_ids(self, letter: str) -> list[int]:
        ids = set()
        for spelling in (letter, f" {letter}"):
            tokens = self.tokenizer.encode(spelling, add_special_tokens=False)
            if len(tokens) == 1:
                ids.add(tokens[0])
        if not ids:
            raise UsageError(f"{self.path}: the tokenizer has no single token for '{letter}'")
        return sorted(ids)

    def _prompt(self, pair: Pair, swapped: bool) -> str:
        a, b = (pair.response_b, pair.response_a) if swapped else (pair.response_a,
                                                                    pair.response_b)
        values = {"query": pair.prompt_text(), "response_a": a, "response_b": b}
        if getattr(self.tokenizer, "chat_template", None):
            messages = [{"role": "system", "content": self.prompts["system"]},
                        {"role": "user", "content": prompts.render(self.prompts["user"],
                                                                   **values)}]
            try:
                return self.tokenizer.apply_chat_template(messages, tokenize=False,
                                                          add_generation_prompt=True)
            except Exception:  # templates without a system role
                messages = [{"role": "user", "content": messages[0]["content"] + "\n\n"
                             + messages[1]["content"]}]
                return self.tokenizer.apply_chat_template(messages, tokenize=False,
                                                          add_generation_prompt=True)
        return prompts.render(self.prompts["completion"], **values)

    def score(self, texts: list[str]) -> list[OrderResult]:
        """P(A) / (P(A) + P(B)) at the next token, for each prompt text."""
        torch = self._torch
        out = []
        for start in range(0, len(texts), self.batch_size):
            batch = self.tokenizer(texts[start:start + self.batch_size], return_tensors="pt",
                                   padding=True, truncation=True, max_length=self.max_length,
                                   add_special_tokens=not self.templated)
            with torch.no_grad():
                logits = self.network(**batch).logits[:, -1, :]
            probs = torch.softmax(logits.float(), dim=-1)
            for row in probs:
                p_a = float(row[self.letters["A"]].sum())
                p_b = float(row[self.letters["B"]].sum())
                if p_a + p_b == 0.0:
                    out.append(OrderResult(None, "A and B both have probability 0", 0.0))
                else:
                    out.append(OrderResult(p_a / (p_a + p_b), "next-token probabilities",
                                           min(1.0, p_a + p_b)))
        return out

    def judge(self, pairs: pd.DataFrame, progress=None) -> JudgeRun:
        """Score every pair in both orders; combine into judgments."""
        records = frame_to_pairs(pairs)
        texts = [self._prompt(p, s) for p in records for s in (False, True)]
        scores = []
        for start in range(0, len(texts), self.batch_size):
            scores += self.score(texts[start:start + self.batch_size])
            if progress:
                progress(min(self.batch_size, len(texts) - start))
        run = JudgeRun()
        extra = {"model": self.path, "mode": "next-token", "prompt_version": self.version}
        for i, pair in enumerate(records):
            run.add_pair(pair.id, self.name, scores[2 * i], scores[2 * i + 1], extra)
        return run
