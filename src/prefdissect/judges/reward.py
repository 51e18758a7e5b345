"""Reward models as judges: a scalar score per response, P(A) = sigmoid(r_A - r_B).

Two ways in, both registered under kind ``judge``:

``reward``
    A local ``transformers`` sequence-classification model with one output (the
    shape of RewardBench's classifier reward models). Each response is scored on
    its own, as the conversation (earlier turns, the query, the response) rendered
    with the tokenizer's chat template where it has one (tokenized without adding
    special tokens again: the template writes the BOS token where the model wants
    one), else as the query and the response separated by a blank line (with the
    tokenizer's own special tokens). Prompts longer than ``max_length`` tokens
    are cut from the left, so the response is always scored whole where it fits.
    Batched, on CPU or a CUDA device. Needs ``transformers`` and ``torch``.
``reward-scores``
    A scores file written by a reward model run elsewhere: one record per pair
    with ``pair_id``, ``score_a`` and ``score_b`` (CSV, JSONL, JSON or Parquet).

P(A) is the Bradley-Terry probability sigmoid(r_A - r_B); both raw rewards are
kept in the judgment's details (``reward_a``, ``reward_b``). A pair whose score
is missing or not finite is recorded as a judge failure with its reason.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError, UsageError
from ..exclusions import Exclusion
from ..judgments import Judgment, label_from_probability
from ..pairs import Pair, frame_to_pairs
from ..readers import iter_records, require
from ..registry import register
from . import JudgeRun

SCORE_COLUMNS = ("pair_id", "score_a", "score_b")
DEVICES = ("auto", "cpu", "cuda")


def bradley_terry(reward_a: float, reward_b: float) -> float:
    """P(A preferred) = sigmoid(reward_a - reward_b), computed without overflow."""
    gap = reward_a - reward_b
    if gap >= 0:
        return 1.0 / (1.0 + math.exp(-gap))
    z = math.exp(gap)
    return z / (1.0 + z)


def reward_run(pair_ids: list[str], rewards: dict[str, tuple[float | None, float | None]],
               judge: str, extra: dict, missing: dict[str, str] | None = None) -> JudgeRun:
    """Turn per-pair rewards into judgments; pairs without two finite rewards fail.

    Parameters
    ----------
    pair_ids
        Every pair the judge was asked about, in order.
    rewards
        Per pair id, the rewards of A and B (None where there is none).
    judge
        The judge's name.
    extra
        Details stored with every judgment (model, source file, ...).
    missing
        Per pair id, why it has no rewards (default: "no score").
    """
    run = JudgeRun()
    for pair_id in pair_ids:
        r_a, r_b = rewards.get(pair_id, (None, None))
        usable = [r for r in (r_a, r_b) if r is not None and math.isfinite(r)]
        if len(usable) < 2:
            reason = (missing or {}).get(pair_id) or f"reward A {r_a}, reward B {r_b}"
            run.add(Exclusion("judge", "judge failed", pair_id=pair_id, judge=judge,
                              detail=reason))
            continue
        p_a = bradley_terry(r_a, r_b)
        run.add(Judgment(pair_id, judge, label_from_probability(p_a), p_a,
                         {"reward_a": float(r_a), "reward_b": float(r_b), **extra}))
    return run


def _load(path: str, device: str):
    try:
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer
    except ImportError:
        raise UsageError("the reward-model judge needs transformers and torch: pip install "
                         "transformers torch==2.13.0 (the CPU build)") from None
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: torch sees no CUDA device here; use --device cpu")
    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModelForSequenceClassification.from_pretrained(
            path, dtype=torch.float32 if device == "cpu" else "auto")
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: cannot load a sequence-classification reward model "
                         f"({exc}); give a local folder with config, weights and "
                         "tokenizer") from None
    if model.config.num_labels != 1:
        raise UsageError(f"{path}: the model has {model.config.num_labels} outputs; a reward "
                         "model gives one score per text (num_labels=1)")
    model.to(device).eval()
    return torch, tokenizer, model, device


@register("judge", "reward", "a local sequence-classification reward model through "
          "transformers: P(A) = sigmoid(r_A - r_B)")
class RewardModelJudge:
    """Judge pairs with a local reward model; see the module docstring.

    Parameters
    ----------
    path
        Folder (or hub name, where a hub is reachable) of the model and tokenizer.
    name
        The judge's name in the study (default: the folder name).
    batch_size
        Responses scored per forward pass.
    max_length
        Longest input in tokens; longer inputs lose their beginning.
    device
        ``auto`` (CUDA when torch sees one, else CPU), ``cpu`` or ``cuda``.
    """

    def __init__(self, path: str, *, name: str | None = None, batch_size: int = 8,
                 max_length: int = 2048, device: str = "auto"):
        if device not in DEVICES:
            raise UsageError(f"--device {device}: use one of {', '.join(DEVICES)}")
        if batch_size < 1 or max_length < 2:
            raise UsageError("--batch-size and --max-length must be positive")
        self.path = str(path)
        self.name = name or Path(self.path).name
        self.model = self.path
        self.batch_size = batch_size
        self.max_length = max_length
        self._torch, self.tokenizer, self.network, self.device = _load(self.path, device)
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token or self.tokenizer.unk_token
        self.tokenizer.truncation_side = "left"
        # batched scoring reads each row's last non-padding token
        self.network.config.pad_token_id = self.tokenizer.pad_token_id
        # a chat template writes the model's special tokens itself
        self.templated = bool(getattr(self.tokenizer, "chat_template", None))

    def text(self, pair: Pair, response: str) -> str:
        """Render what the reward model scores: earlier turns, the query, the response."""
        if self.templated:
            messages = [*pair.history, {"role": "user", "content": pair.query},
                        {"role": "assistant", "content": response}]
            return self.tokenizer.apply_chat_template(messages, tokenize=False)
        return f"{pair.prompt_text()}\n\n{response}"

    def score(self, texts: list[str]) -> np.ndarray:
        """Return the reward of each text (one forward pass per batch)."""
        torch = self._torch
        out = []
        for start in range(0, len(texts), self.batch_size):
            batch = self.tokenizer(texts[start:start + self.batch_size], return_tensors="pt",
                                   padding=True, truncation=True, max_length=self.max_length,
                                   add_special_tokens=not self.templated)
            batch = {k: v.to(self.device) for k, v in batch.items()}
            with torch.no_grad():
                logits = self.network(**batch).logits
            out.append(logits[:, 0].float().cpu().numpy())
        return np.concatenate(out) if out else np.zeros(0)

    def judge(self, pairs: pd.DataFrame, progress=None) -> JudgeRun:
        """Score both responses of every pair; progress counts pairs."""
        records = frame_to_pairs(pairs)
        per_batch = max(1, self.batch_size // 2)
        rewards = {}
        for start in range(0, len(records), per_batch):
            chunk = records[start:start + per_batch]
            texts = [self.text(p, r) for p in chunk for r in (p.response_a, p.response_b)]
            scores = self.score(texts)
            for i, pair in enumerate(chunk):
                rewards[pair.id] = (float(scores[2 * i]), float(scores[2 * i + 1]))
            if progress:
                progress(len(chunk))
        return reward_run([p.id for p in records], rewards, self.name,
                          {"model": self.path, "mode": "reward"})


@register("judge", "reward-scores", "a reward model run elsewhere: a file of pair_id, "
          "score_a, score_b")
class ScoresFileJudge:
    """Import a reward model's scores from a file (CSV, JSONL, JSON or Parquet).

    Parameters
    ----------
    path
        The scores file: one record per pair with ``pair_id``, ``score_a``, ``score_b``.
    name
        The judge's name in the study.
    """

    def __init__(self, path: str | Path, *, name: str):
        if not name:
            raise UsageError("--scores needs --name, the reward model's name in the study")
        self.path = Path(path)
        self.name = name
        self.model = str(self.path)

    def read(self, known: set[str]) -> tuple[dict, dict[str, str]]:
        """Return rewards per pair id and, per pair with an empty score, the reason."""
        fix = f"each record needs {', '.join(SCORE_COLUMNS)} (numbers for the scores)"
        rewards, missing, lines = {}, {}, {}
        for line, record in iter_records(self.path):
            pair_id = str(require(record, "pair_id", self.path, line, fix))
            if pair_id not in known:
                raise InputError(self.path, f"names pair {pair_id!r}, which is not in the "
                                 "study", "use the ids of the study's pairs.parquet",
                                 line=line, field="pair_id")
            if pair_id in lines:
                raise InputError(self.path, f"repeats pair {pair_id!r} (first on line "
                                 f"{lines[pair_id]})", "give one record per pair", line=line,
                                 field="pair_id")
            lines[pair_id] = line
            values = []
            for field in ("score_a", "score_b"):
                if field not in record:
                    raise InputError(self.path, "is missing", fix, line=line, field=field)
                value = record[field]
                if value is None or (isinstance(value, str) and not value.strip()):
                    values.append(None)
                    continue
                try:
                    values.append(float(value))
                except (TypeError, ValueError):
                    raise InputError(self.path, f"is not a number ({value!r:.40})", fix,
                                     line=line, field=field) from None
            if None in values:
                missing[pair_id] = f"{self.path} line {line}: empty score"
            rewards[pair_id] = tuple(values)
        return rewards, missing

    def judge(self, pairs: pd.DataFrame, progress=None) -> JudgeRun:
        """Read the file; pairs it has no scores for are recorded as failures."""
        ids = [str(i) for i in pairs["id"]]
        rewards, missing = self.read(set(ids))
        for pair_id in ids:
            if pair_id not in rewards:
                missing[pair_id] = f"no record in {self.path}"
        if progress:
            progress(len(ids))
        return reward_run(ids, rewards, self.name,
                          {"source": str(self.path), "mode": "reward-scores"}, missing)
