"""An LLM judge over any OpenAI-compatible API, asked in both orders.

In ``logprobs`` mode the judge answers with one token and P(first is better) is
read from that token's log-probabilities, P(A) / (P(A) + P(B)), summing the
variants of each letter (" A", "A"); a letter missing from the top list counts
as probability 0 (log-probability -inf), not as an error. The chat endpoint's
``top_logprobs`` and the completions endpoint's ``logprobs`` are both read, in
the standard shapes and in llama.cpp's chat-style shape. In ``verdict`` mode (for
servers without log-probabilities) the answer text is parsed: A -> 1, B -> 0,
a tie -> 0.5, where the answer states one (``[[C]]``, "Tie", "it's a tie"); text
that states no verdict ("both are fine") is a failure with its reason, never a
tie. ``auto`` asks for log-probabilities and falls back to the text where none
come back. The two orders are averaged into P(A), as in the paper.

An answer that yields no verdict is handed back to the client
(:meth:`~prefdissect.llm.client.LLMClient.reject`): it counts as failed, and the
next run asks it again, except where the same request would give the same
log-probabilities (no letter among them, or none at all), which only a changed
prompt, model or ``--mode`` can cure.
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
from . import JudgeRun, OrderResult

MODES = ("auto", "logprobs", "verdict")
REQUIRED = {"user": ("response_a", "response_b"), "completion": ("response_a", "response_b")}
"""Placeholders each judge prompt text must use (both responses, or every pair is one)."""
_BRACKETS = re.compile(r"\[\[\s*([ABC]|tie)\s*\]\]", re.I)  # [[C]] is MT-Bench's tie
_NAMED = r"(?i:response|output|answer|assistant)\s*(?:\(([ABab])\)|([AB])(?![A-Za-z]))"
_VERDICTS = (re.compile(r"^\W*([AB])\W*$"), re.compile(r"^\W*" + _NAMED + r"\W*$"),
             re.compile(r"^\W*([AB])(?:[.:)\]]|\s*\n|\s+(?i:is|was|wins)\b)"))
"""The answer is the letter or a named response, or opens with the letter ("B is better")."""
_STATED = (
    re.compile(r"\b" + _NAMED + r"(?:'s|\s+(?i:is|was|seems|appears))?\s+(?i:clearly\s+|"
               r"slightly\s+|much\s+|the\s+)?(?i:better|best|preferred|preferable|superior|"
               r"stronger|winner|wins|more\s+helpful)\b"),
    re.compile(r"\b(?i:prefer|choose|chose|pick|select|recommend|go\s+with|"
               r"(?:verdict|winner|choice|preference|better\s+(?:response|one|answer))"
               r"\s*(?:is|:))\s*(?i:the\s+)?(?:" + _NAMED + r"|\[?([AB])\]?(?![A-Za-z]))"))
"""A response named in a stated verdict: "Response A is better", "I prefer Output (b)"."""
_TIE = re.compile(r"^\W*(?:tie|draw)\W*$"
                  r"|\b(?:it|this|that)(?:'s|\s+is)\s+a\s+(?:tie|draw)\b"
                  r"|\b(?:verdict|winner|result|answer)\s*(?:is|:)\s*(?:a\s+)?(?:tie|draw)\b",
                  re.I)
"""A tie stated as the verdict: the whole answer, "it's a tie", "verdict: tie"."""


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
    letters = min(1.0, mass["A"] + mass["B"])
    if mass["A"] + mass["B"] == 0.0:
        shown = ", ".join(repr(t) for t, _ in top[:5])
        return OrderResult(None, f"neither A nor B among the top tokens ({shown})", 0.0)
    return OrderResult(mass["A"] / (mass["A"] + mass["B"]), "logprobs", letters)


def read_verdict(text: str | None) -> OrderResult:
    """P(first is better) from a written verdict: A -> 1, B -> 0, a stated tie -> 0.5.

    Text that states none of them is a failure with its reason (never a tie).
    """
    if not text or not text.strip():
        return OrderResult(None, "empty answer", 0.0)
    text = text.strip()
    bracket = _BRACKETS.search(text)
    if bracket:
        letter = bracket.group(1).upper()
        if letter in "AB":
            return OrderResult(1.0 if letter == "A" else 0.0, "verdict", 1.0)
        return OrderResult(0.5, "verdict (tie)", 1.0)
    if _TIE.search(text):
        return OrderResult(0.5, "verdict (tie)", 1.0)
    for pattern in _VERDICTS:
        match = pattern.search(text)
        if match:
            letter = next(g for g in match.groups() if g).upper()
            return OrderResult(1.0 if letter == "A" else 0.0, "verdict", 1.0)
    # a response only named ("I cannot compare Response A and Response B") is no verdict;
    # one named in a stated verdict is, unless the answer states both
    stated = {next(g for g in m.groups() if g).upper()
              for pattern in _STATED for m in pattern.finditer(text)}
    if len(stated) == 1:
        return OrderResult(1.0 if stated == {"A"} else 0.0, "verdict", 1.0)
    if stated:
        return OrderResult(None, f"the answer states both A and B as the verdict "
                           f"{text[:60]!r}", 0.0)
    return OrderResult(None, f"no verdict in the answer {text[:60]!r}", 0.0)


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
                      prompt_file or "judge.yaml", "--prompt", REQUIRED)

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

    def _read(self, exchange: Exchange | None) -> tuple[OrderResult, bool]:
        """Read one order's answer; also whether asking again could give another one.

        (A well-formed answer without a verdict read from log-probabilities would come
        back the same: the same request gives the same log-probabilities.)
        """
        if exchange is None:
            return OrderResult(None, "no answer"), True
        if exchange.status != "ok":
            return OrderResult(None, f"request failed: {exchange.error}"), True
        choice = first_choice(exchange.response)
        text = answer_text(exchange.response)
        if self.mode == "verdict":
            return read_verdict(text), True
        result = read_logprobs(choice)
        if result.p_first is None and self.mode == "auto" and _top_logprobs(choice) is None:
            fallback = read_verdict(text)
            if fallback.p_first is None:
                return OrderResult(None, f"no log-probabilities, and {fallback.detail}",
                                   fallback.letters), True
            return OrderResult(fallback.p_first, "verdict (server gave no log-probabilities)",
                               fallback.letters), True
        if result.p_first is None and _top_logprobs(choice) is None:
            return OrderResult(None, f"{result.detail}; use --mode verdict for a server "
                               "without log-probabilities"), False
        return result, result.letters != 0.0

    def judge(self, pairs: pd.DataFrame, progress=None) -> JudgeRun:
        """Ask about every pair in both orders; combine into judgments.

        Answers that yield no verdict are handed back to the client as unusable
        (failed now; asked again by the next run where that can help).
        """
        records = frame_to_pairs(pairs)
        requests = {(p.id, s): self._request(p, s) for p in records for s in (False, True)}
        outcomes = self.client.run(list(requests.values()), progress)
        run = JudgeRun()
        extra = {"model": self.model, "mode": self.mode, "endpoint": self.endpoint,
                 "prompt_version": self.version}
        for pair in records:
            orders = []
            for swapped in (False, True):
                key = requests[(pair.id, swapped)].key
                exchange = outcomes.get(key)
                result, again = self._read(exchange)
                if result.p_first is None and exchange is not None and exchange.status == "ok":
                    reason = f"no verdict: {result.detail}"
                    if not again:
                        reason += (" (asking the same request again would give the same "
                                   "answer; change the prompt, the model or --mode)")
                    self.client.reject(key, reason, final=not again)
                orders.append(result)
            run.add_pair(pair.id, self.name, *orders, extra)
        return run
