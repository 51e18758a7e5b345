"""An LLM judge over any OpenAI-compatible API, asked in both orders.

In ``logprobs`` mode the judge answers with one token and P(first is better) is
read from that token's log-probabilities, P(A) / (P(A) + P(B)), summing the
variants of each letter (" A", "A"); a letter missing from the top list counts
as probability 0 (log-probability -inf), not as an error. The chat endpoint's
``top_logprobs`` and the completions endpoint's ``logprobs`` are both read, in
the standard shapes and in llama.cpp's chat-style shape. In ``verdict`` mode (for
servers without log-probabilities) the answer text is parsed: A -> 1, B -> 0,
a tie -> 0.5. ``auto`` asks for log-probabilities and falls back to the text
where none come back. The two orders are averaged into P(A), as in the paper.
"""

from __future__ import annotations

import math
import re
from typing import Any

import pandas as pd

from .. import prompts
from ..errors import UsageError
from ..llm.answers import answer_text, first_choice
from ..llm.cache import Exchange
from ..llm.client import ENDPOINTS, LLMClient, Plan, Request
from ..pairs import Pair, frame_to_pairs
from ..registry import register
from . import JudgeRun, OrderResult, combine

MODES = ("auto", "logprobs", "verdict")
_VERDICTS = (re.compile(r"\[\[([AB])\]\]"),
             re.compile(r"\b(?:response|output|answer|assistant)\s*\(?([AB])\)?(?![a-z])", re.I),
             re.compile(r"^\W*([AB])\W*$"),
             re.compile(r"^\W*([AB])\b"))
_TIE = re.compile(r"\b(tie|equal(ly)?|both)\b", re.I)


def _top_logprobs(choice: dict[str, Any]) -> list[tuple[str, float]] | None:
    """Return the first token's alternatives as (token, logprob), from any known shape.

    None when the choice carries no log-probabilities in a shape read here.
    """
    try:
        return _alternatives(choice.get("logprobs"))
    except (TypeError, ValueError, AttributeError):
        return None  # a shape no known server sends: no log-probabilities


def _alternatives(logprobs: Any) -> list[tuple[str, float]] | None:
    if not isinstance(logprobs, dict):
        return None
    content = logprobs.get("content")
    if isinstance(content, list) and content and isinstance(content[0], dict):
        first = content[0]
        pairs = [(str(t.get("token", "")), _logprob(t.get("logprob")))
                 for t in first.get("top_logprobs") or [] if isinstance(t, dict)]
        pairs.append((str(first.get("token", "")), _logprob(first.get("logprob"))))
        return pairs
    top = logprobs.get("top_logprobs")
    if isinstance(top, list) and top and isinstance(top[0], dict):
        return [(str(tok), _logprob(lp)) for tok, lp in top[0].items()]
    return None


def _logprob(value: Any) -> float:
    """Return a log-probability; a missing one counts as -inf (probability 0)."""
    return -math.inf if value is None else float(value)


def read_logprobs(choice: dict[str, Any]) -> OrderResult:
    """P(the first-shown response is better) from the answer token's log-probabilities."""
    top = _top_logprobs(choice)
    if top is None:
        return OrderResult(None, "no log-probabilities in the response")
    mass = {"A": 0.0, "B": 0.0}
    seen = set()
    for token, logprob in top:
        if not (logprob <= 0.0):  # NaN or positive: no log-probability a server can mean
            return OrderResult(None, f"invalid log-probability {logprob!r} for {token!r}")
        letter = token.strip()
        if letter in mass and (token, letter) not in seen:
            seen.add((token, letter))
            mass[letter] += math.exp(logprob)
    if mass["A"] + mass["B"] == 0.0:
        shown = ", ".join(repr(t) for t, _ in top[:5])
        return OrderResult(None, f"neither A nor B among the top tokens ({shown})")
    return OrderResult(mass["A"] / (mass["A"] + mass["B"]), "logprobs")


def read_verdict(text: str | None) -> OrderResult:
    """P(first is better) from a written verdict: A -> 1, B -> 0, tie -> 0.5."""
    if not text or not text.strip():
        return OrderResult(None, "empty answer")
    for pattern in _VERDICTS:
        match = pattern.search(text.strip())
        if match:
            return OrderResult(1.0 if match.group(1).upper() == "A" else 0.0, "verdict")
    if _TIE.search(text):
        return OrderResult(0.5, "verdict (tie)")
    return OrderResult(None, f"no verdict in the answer {text.strip()[:40]!r}")


@register("judge", "llm", "an LLM over any OpenAI-compatible API, both orders, P(A) from "
          "log-probabilities (or a parsed verdict)")
class LLMJudge:
    """Judge pairs with an LLM; see the module docstring.

    Parameters
    ----------
    client
        The :class:`LLMClient` for the model's server.
    model
        Model name sent with every request.
    name
        The judge's name in the study (default: the model name).
    mode
        'auto', 'logprobs' or 'verdict'.
    endpoint
        'chat' (chat template on the server) or 'completions' (raw text, base models).
    prompt_file
        YAML with ``system``, ``user`` and ``completion`` templates replacing the
        built-in ones (placeholders ``{query}``, ``{response_a}``, ``{response_b}``).
    top_logprobs
        Alternatives to request for the answer token.
    """

    def __init__(self, client: LLMClient, model: str, *, name: str | None = None,
                 mode: str = "auto", endpoint: str = "chat", prompt_file: str | None = None,
                 top_logprobs: int = 10):
        if mode not in MODES:
            raise UsageError(f"--mode {mode}: unknown; use one of {', '.join(MODES)}")
        if endpoint not in ENDPOINTS:
            raise UsageError(f"--endpoint {endpoint}: unknown; use one of "
                             f"{', '.join(ENDPOINTS)}")
        self.client = client
        self.model = model
        self.name = name or model
        self.mode = mode
        self.endpoint = endpoint
        self.top_logprobs = top_logprobs
        self.prompts, self.version = prompts.load("judge", prompt_file)
        needed = ("system", "user") if endpoint == "chat" else ("completion",)
        prompts.check(self.prompts, needed, ("query", "response_a", "response_b"),
                      prompt_file or "judge.yaml", "--prompt")

    def _request(self, pair: Pair, swapped: bool) -> Request:
        a, b = (pair.response_b, pair.response_a) if swapped else (pair.response_a,
                                                                    pair.response_b)
        values = {"query": pair.prompt_text(), "response_a": a, "response_b": b}
        logprobs = self.mode != "verdict"
        body: dict[str, Any] = {"model": self.model, "temperature": 0,
                                "max_tokens": 1 if logprobs else 8}
        if self.endpoint == "chat":
            body["messages"] = [
                {"role": "system", "content": self.prompts["system"]},
                {"role": "user", "content": prompts.render(self.prompts["user"], **values)}]
            if logprobs:
                body.update(logprobs=True, top_logprobs=self.top_logprobs)
        else:
            body["prompt"] = prompts.render(self.prompts["completion"], **values)
            if logprobs:
                body["logprobs"] = self.top_logprobs
        return Request(self.endpoint, body)

    def requests(self, pairs: pd.DataFrame) -> list[Request]:
        """Both orders' requests for every pair."""
        return [self._request(p, s) for p in frame_to_pairs(pairs) for s in (False, True)]

    def plan(self, pairs: pd.DataFrame) -> Plan:
        """Count what :meth:`judge` would send now (the dry run)."""
        return self.client.plan(self.requests(pairs))

    def _read(self, exchange: Exchange | None) -> OrderResult:
        if exchange is None:
            return OrderResult(None, "no answer")
        if exchange.status != "ok":
            return OrderResult(None, f"request failed: {exchange.error}")
        choice = first_choice(exchange.response)
        text = answer_text(exchange.response)
        if self.mode == "verdict":
            return read_verdict(text)
        result = read_logprobs(choice)
        if result.p_first is None and self.mode == "auto" and _top_logprobs(choice) is None:
            fallback = read_verdict(text)
            if fallback.p_first is not None:
                return OrderResult(fallback.p_first, "verdict (server gave no log-probabilities)")
        return result

    def judge(self, pairs: pd.DataFrame, progress=None) -> JudgeRun:
        """Ask about every pair in both orders; combine into judgments."""
        records = frame_to_pairs(pairs)
        requests = {(p.id, s): self._request(p, s) for p in records for s in (False, True)}
        outcomes = self.client.run(list(requests.values()), progress)
        run = JudgeRun()
        extra = {"model": self.model, "mode": self.mode, "endpoint": self.endpoint,
                 "prompt_version": self.version}
        for pair in records:
            first = self._read(outcomes.get(requests[(pair.id, False)].key))
            swapped = self._read(outcomes.get(requests[(pair.id, True)].key))
            run.add(combine(pair.id, self.name, first, swapped, extra))
        return run
