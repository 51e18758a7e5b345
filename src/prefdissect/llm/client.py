"""One client for all LLM work: any OpenAI-compatible server, cached, retried, accounted.

Requests go through the official ``openai`` SDK (its own retries switched off so
that every attempt is logged here) with bounded concurrency, a deadline per
attempt that covers the whole answer (a server trickling its body is cut off
too), and retries with exponential back-off and jitter that honour
``Retry-After`` (seconds or an HTTP date, up to ``max_wait``) on 429, on 5xx, on
timeouts, on dropped connections, on unparseable bodies and on 200s that hold no
answer. Every outcome lands in the :class:`ExchangeLog`; a request whose
successful outcome is already there is answered from it and never sent again,
and a request another process sharing the log is asking is waited for. API keys
come from an option or the environment, live only in the SDK client, and are
scrubbed from error texts and answers before they are stored or shown: from the
raw text (also where the server escaped characters of the key, as JSON allows
``/`` to be written escaped) and again from every string of the parsed body.

A step that gets a well-formed answer it cannot use hands it back with
:meth:`LLMClient.reject`: it counts as failed, and the next run asks it again,
at most ``max_attempts`` times in all (a rejection that asking again cannot cure,
such as an answer cut off at its token cap, is not asked again). A server that
refuses the credentials several times in a row (HTTP 401/403) stops the run:
nothing more is sent, and :class:`~prefdissect.errors.CredentialsRefused` says so.
Ctrl-C ends a run within :data:`STOP_GRACE` seconds, whatever is in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import random
import signal
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import yaml

from ..errors import CredentialsRefused, InputError, UsageError
from .answers import unusable
from .cache import HOST, Exchange, ExchangeLog

ENDPOINTS = {"chat": "/chat/completions", "completions": "/completions"}
CHARS_PER_TOKEN = 4
"""Token estimate for dry runs: characters / 4 (servers' tokenizers differ)."""
TOKENS_PER_MESSAGE = 4
"""Tokens a chat template adds per message (role name and turn markers)."""
KEY_ENV = ("PREFDISSECT_API_KEY", "OPENAI_API_KEY")
AUTH_FAILURES_TO_STOP = 5
"""Authentication failures (HTTP 401/403) in a row after which a run stops sending (a
success in between starts the count again: a proxy's odd 401 does not stop a run)."""
STOP_GRACE = 2.0
"""Seconds Ctrl-C waits for requests in flight to unwind before the run ends anyway."""


def _finite_or_missing(name: str) -> None:
    """Read a bare -Infinity as null, i.e. a log-probability that is missing.

    JSON has no infinities; a server that writes -Infinity means probability 0, which
    the judge reads from null. NaN and +Infinity can mean nothing: the body is malformed
    (and the log could not store it: its JSON checks refuse them).
    """
    if name == "-Infinity":
        return None
    raise ValueError(f"the number {name}, which JSON does not have")


def canonical(obj: Any) -> str:
    """Canonical JSON: sorted keys, no spaces, UTF-8 kept."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class Request:
    """One request to an OpenAI-compatible endpoint."""

    endpoint: str
    """'chat' or 'completions'."""
    body: dict[str, Any] = field(hash=False)
    """The JSON body, including ``model``."""

    @property
    def key(self) -> str:
        """Hash of the canonical request; the cache key."""
        return hashlib.sha256(canonical({"endpoint": self.endpoint, "body": self.body})
                              .encode("utf-8")).hexdigest()

    def estimated_tokens(self) -> tuple[int, int]:
        """(prompt, completion) tokens a dry run counts.

        Prompt: the text's length / :data:`CHARS_PER_TOKEN`, plus
        :data:`TOKENS_PER_MESSAGE` for each chat message (its role and the chat
        template's markers). A structured-output schema is not prompt text: servers
        turn it into a grammar that constrains decoding. Completion: max_tokens.
        """
        if self.endpoint == "chat":
            messages = self.body.get("messages", [])
            text = "".join(str(m.get("content", "")) for m in messages)
            overhead = TOKENS_PER_MESSAGE * len(messages)
        else:
            text, overhead = str(self.body.get("prompt", "")), 0
        completion = self.body.get("max_tokens") or self.body.get("max_completion_tokens") or 0
        return -(-len(text) // CHARS_PER_TOKEN) + overhead, int(completion)


@dataclass
class Prices:
    """US dollars per million prompt and completion tokens, per model."""

    table: dict[str, tuple[float, float]] = field(default_factory=dict)
    """model -> (prompt price, completion price)."""

    @classmethod
    def load(cls, path: str | Path | None) -> Prices:
        """Read ``model: {prompt: $, completion: $}`` entries from YAML or JSON."""
        if path is None:
            return cls()
        fix = "write model: {prompt: 2.5, completion: 10} ($ per 1M tokens)"
        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except (FileNotFoundError, IsADirectoryError):
            raise InputError(path, "does not exist", "check the --prices path") from None
        except yaml.YAMLError as exc:
            raise InputError(path, f"is not valid YAML ({exc})", fix) from None
        if not isinstance(data, dict):
            raise InputError(path, "is not a mapping of model names to prices", fix)
        table = {}
        for model, entry in data.items():
            if not isinstance(entry, dict) or not {"prompt", "completion"} <= set(entry):
                raise InputError(path, f"entry '{model}' needs prompt and completion prices",
                                 fix)
            try:
                prices = (float(entry["prompt"]), float(entry["completion"]))
            except (TypeError, ValueError):
                prices = (-1.0, -1.0)
            if not all(0.0 <= x < float("inf") for x in prices):
                raise InputError(path, f"entry '{model}' has a price that is not a number of "
                                 "dollars (0 or more)", fix)
            table[str(model)] = prices
        return cls(table)

    def cost(self, model: str | None, prompt_tokens: int, completion_tokens: int) -> float | None:
        """Cost of one exchange, or None when the model has no price."""
        if model not in self.table:
            return None
        p, c = self.table[model]
        return (prompt_tokens * p + completion_tokens * c) / 1e6


@dataclass
class Plan:
    """What a run would send: the dry-run numbers."""

    requests: int
    """Requests not yet answered in the log."""
    cached: int
    """Requests the log already answers."""
    prompt_tokens: int
    """Estimated prompt tokens of the requests to send."""
    completion_tokens: int
    """Upper bound on completion tokens (their max_tokens)."""
    cost: float | None
    """Estimated cost, when every model has a price."""


@dataclass
class Tally:
    """What a client's runs came to, request by request (cached answers included)."""

    final: dict[str, str] = field(default_factory=dict)
    """Request key -> its last outcome status ('ok' or 'error')."""
    reasons: dict[str, str] = field(default_factory=dict)
    """Request key -> why it failed, for the failures."""
    sent: int = 0
    """Attempts made over the network."""
    answered: int = 0
    """Requests answered by the server in these runs (and stored in the log)."""
    cached: int = 0
    """Requests answered from the log."""
    prompt_tokens: int = 0
    """Prompt tokens of every answer the server sent in these runs (unusable ones too)."""
    completion_tokens: int = 0
    """Completion tokens of the same answers."""
    cost: float = 0.0
    """What those answers cost, for the models that have a price."""
    priced: int = 0
    """Answers counted in ``cost``."""
    unpriced: int = 0
    """Answers sent for a model without a price (not in ``cost``)."""

    @property
    def keys(self) -> list[str]:
        """Every request asked in these runs."""
        return list(self.final)

    @property
    def failed(self) -> dict[str, str]:
        """Requests whose last outcome is a failure, with the reason."""
        return {k: self.reasons.get(k, "") for k, s in self.final.items() if s != "ok"}

    def rejected(self, key: str, reason: str) -> None:
        """Count a request whose answer its step could not use as failed."""
        self.final[key] = "error"
        self.reasons[key] = reason

    def replaced(self, keys: list[str]) -> None:
        """Forget requests the caller gave up for others (e.g. re-asked differently)."""
        for key in keys:
            self.final.pop(key, None)
            self.reasons.pop(key, None)


class LLMClient:
    """Sends requests to one OpenAI-compatible server, through the exchange log.

    Parameters
    ----------
    base_url
        The server's API root, e.g. ``http://127.0.0.1:8080/v1``.
    log
        Exchange log (a path or an open :class:`ExchangeLog`).
    api_key
        Key for the server; default: ``PREFDISSECT_API_KEY`` or ``OPENAI_API_KEY``
        from the environment (a placeholder where neither is set, for local servers).
    concurrency
        Requests in flight at once.
    timeout
        Seconds one attempt may take in all, from sending the request to the last
        byte of the answer (a server that trickles its body is cut off too).
    max_attempts
        Attempts per request before it is recorded as failed.
    backoff
        First retry delay in seconds (doubling, with jitter).
    max_wait
        The longest wait between two attempts, in seconds: back-off stops growing
        there, and a server's ``Retry-After`` longer than this ends the request's
        attempts (recorded as failed with the wait asked for) instead of being cut.
    prices
        Price table for cost accounting.
    """

    def __init__(self, base_url: str, log: ExchangeLog | str | Path, *,
                 api_key: str | None = None, concurrency: int = 8, timeout: float = 60.0,
                 max_attempts: int = 5, backoff: float = 1.0, max_wait: float = 60.0,
                 prices: Prices | None = None):
        self.base_url = base_url.rstrip("/")
        self.log = log if isinstance(log, ExchangeLog) else ExchangeLog(log)
        self._api_key = api_key or next((os.environ[k] for k in KEY_ENV if os.environ.get(k)),
                                        None)
        self.concurrency = max(1, concurrency)
        self.timeout = timeout
        self.max_attempts = max(1, max_attempts)
        self.backoff = backoff
        self.max_wait = max_wait
        self.prices = prices or Prices()
        self.tally = Tally()
        self.poll = 0.25  # seconds between looks at a request another process is asking
        self._owner = f"{HOST}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self._sleep = asyncio.sleep  # tests replace it to measure the waits
        self._auth_failures = 0  # HTTP 401/403 in a row
        self._refused: str | None = None  # why the server refused the credentials

    def __repr__(self) -> str:  # never show the key
        return f"LLMClient(base_url={self.base_url!r}, log={str(self.log.path)!r})"

    @property
    def sent(self) -> int:
        """Attempts made over the network by this client."""
        return self.tally.sent

    def redact(self, text: str) -> str:
        """Remove the API key from a text, also in the forms JSON may escape it to."""
        for variant in _key_variants(self._api_key):
            text = text.replace(variant, "***")
        return text

    def redact_body(self, value: Any) -> Any:
        """Remove the API key from every string of a parsed body (keys included)."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, list):
            return [self.redact_body(v) for v in value]
        if isinstance(value, dict):
            return {self.redact_body(k): self.redact_body(v) for k, v in value.items()}
        return value

    def reject(self, key: str, reason: str, final: bool = False) -> None:
        """Hand back an answer its step could not use: failed now, asked again next run.

        Parameters
        ----------
        key
            The request's key.
        reason
            Why the answer is unusable (stored with it, and shown as the failure).
        final
            True when asking the same request again cannot help (an answer cut off at
            its token cap): it is then not sent again, and ``reason`` should say what
            to change.
        """
        reason = self.redact(reason)
        count = self.log.reject(key, reason, final)
        if not final:
            left = self.max_attempts - count
            reason += (f" (the next run asks it again; {left} more tr"
                       f"{'y' if left == 1 else 'ies'} within --max-attempts "
                       f"{self.max_attempts})" if left > 0 else _given_up(count))
        self.tally.rejected(key, reason)

    # -- planning -------------------------------------------------------------------
    def plan(self, requests: list[Request]) -> Plan:
        """Count what :meth:`run` would send for ``requests`` (the dry run)."""
        unique = {r.key: r for r in requests}
        cached = self.log.cached_keys(list(unique))
        given_up = self._given_up(list(unique))
        todo = [r for k, r in unique.items() if k not in cached and k not in given_up]
        prompt = sum(r.estimated_tokens()[0] for r in todo)
        completion = sum(r.estimated_tokens()[1] for r in todo)
        costs = [self.prices.cost(r.body.get("model"), *r.estimated_tokens()) for r in todo]
        cost = None if any(c is None for c in costs) else sum(costs)
        return Plan(len(todo), len(cached), prompt, completion, cost)

    # -- running --------------------------------------------------------------------
    def run(self, requests: list[Request],
            progress: Callable[[int], None] | None = None) -> dict[str, Exchange]:
        """Answer every request (from the log or the server); returns outcomes by key.

        Identical requests are sent once. A request that still fails after
        ``max_attempts`` is returned (and logged) with status 'error' and its reason,
        and so is one whose answers were rejected ``max_attempts`` times (or once,
        finally), without being sent again.

        Raises
        ------
        CredentialsRefused
            When the server refused the credentials :data:`AUTH_FAILURES_TO_STOP`
            times in a row; the requests not sent by then are not sent.
        """
        unique = {r.key: r for r in requests}
        outcomes = self.lookup(requests)
        todo = [request for key, request in unique.items() if key not in outcomes]
        for hit in outcomes.values():
            self._count(hit)
        if progress and outcomes:
            progress(len(outcomes))
        if todo:
            self._refused = None
            outcomes.update(_run_to_the_end(self._run_all(todo, progress)))
            if self._refused is not None:
                raise CredentialsRefused(self._refusal(
                    sum(r.key not in outcomes for r in todo)))
        return outcomes

    def lookup(self, requests: list[Request]) -> dict[str, Exchange]:
        """Return what the log already settles, sending nothing (for dry runs, exports).

        That is the stored answers, and the requests :meth:`run` would not send again
        (their answers rejected finally, or ``max_attempts`` times) as failures.
        """
        keys = list(dict.fromkeys(r.key for r in requests))
        given_up = self._given_up(keys)
        out = {}
        for key in keys:
            hit = self.log.get(key)
            if hit is None and key in given_up:
                hit = Exchange(key, "error", None, given_up[key])
            if hit is not None:
                out[key] = hit
        return out

    def _given_up(self, keys: list[str]) -> dict[str, str]:
        """Return the requests not to send again: rejected finally, or too often, and why."""
        out = {}
        for key, (count, final, reason) in self.log.rejections(keys).items():
            if final:
                out[key] = reason
            elif count >= self.max_attempts:
                out[key] = f"{reason}{_given_up(count)}"
        return out

    def _refusal(self, unsent: int) -> str:
        answered = self.tally.answered
        return (f"the server at {self.base_url} refused the credentials "
                f"{AUTH_FAILURES_TO_STOP} times in a row ({self._refused}), so the run "
                f"stopped: {unsent} request{'s were' if unsent != 1 else ' was'} not sent. "
                "Check the key (--api-key, PREFDISSECT_API_KEY or OPENAI_API_KEY) and "
                f"--base-url, then run the same command again; the {answered} "
                f"answer{'s' if answered != 1 else ''} received in this run "
                f"{'are' if answered != 1 else 'is'} kept in {self.log.path}")

    def _count(self, outcome: Exchange) -> None:
        self.tally.final[outcome.key] = outcome.status
        if outcome.status == "ok":
            self.tally.reasons.pop(outcome.key, None)
            if outcome.cached:
                self.tally.cached += 1
            else:
                self.tally.answered += 1
        else:
            self.tally.reasons[outcome.key] = outcome.error or "unknown error"

    async def _run_all(self, todo: list[Request], progress) -> dict[str, Exchange]:
        try:
            from openai import AsyncOpenAI
        except ImportError:
            raise UsageError("LLM work needs the openai package: pip install openai") from None
        client = AsyncOpenAI(base_url=self.base_url, api_key=self._api_key or "not-needed",
                             max_retries=0, timeout=self.timeout)
        gate = asyncio.Semaphore(self.concurrency)
        lease = self.timeout + self.max_wait + 30.0

        async def one(request: Request) -> tuple[str, Exchange | None]:
            while True:
                async with gate:
                    if self._refused is not None:  # the credentials were refused: stop
                        return request.key, None
                    # Another process sharing the log may have answered it meanwhile.
                    outcome = self.log.get(request.key)
                    if outcome is None and self.log.claim(request.key, self._owner, lease):
                        try:
                            # The other process may have stored its answer and let go of
                            # its claim between our look and our claim: look once more.
                            outcome = self.log.get(request.key) or await self._with_retries(
                                client, request, lease)
                        finally:
                            self.log.release(request.key, self._owner)
                if outcome is not None:
                    break
                # another process is asking this very request: wait for its answer
                await asyncio.sleep(self.poll * (0.5 + random.random()))
            self._count(outcome)
            if progress:
                progress(1)
            return request.key, outcome

        try:
            done = await asyncio.gather(*(one(r) for r in todo))
            return {key: outcome for key, outcome in done if outcome is not None}
        finally:
            await client.close()

    async def _attempt(self, client, request: Request) -> dict[str, Any]:
        """One attempt: the whole answer within ``timeout`` seconds, parsed."""
        text = await asyncio.wait_for(
            client.post(ENDPOINTS[request.endpoint], body=request.body, cast_to=str,
                        options={"timeout": self.timeout}), self.timeout)
        # A server may echo the key back inside an answer: it never reaches the log. JSON
        # may spell it with escapes (a slash as \\/), so the parsed strings are scrubbed too.
        return self.redact_body(json.loads(self.redact(text),
                                           parse_constant=_finite_or_missing))

    async def _with_retries(self, client, request: Request, lease: float) -> Exchange:
        import openai

        error, attempt, paid = "never attempted", 0, [0, 0, None]
        for attempt in range(1, self.max_attempts + 1):
            self.log.claim(request.key, self._owner, lease)  # renew the lease
            started = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
            clock = time.perf_counter()
            status, wait = None, None
            try:
                body = await self._attempt(client, request)
                status = 200
            except openai.APIStatusError as exc:
                status = exc.status_code
                error = f"HTTP {status}: {self._short(exc.message)}"
                retryable = status == 429 or status >= 500 or status == 408
                wait = retry_after(exc.response.headers) if retryable else None
                if status in (401, 403):
                    self._auth_failures += 1
                    if self._auth_failures >= AUTH_FAILURES_TO_STOP:
                        self._refused = error
                if wait is not None and wait > self.max_wait:
                    error += (f" (the server asked to wait {wait:g} s, longer than "
                              f"--max-wait {self.max_wait:g} s)")
                    retryable = False
                self.log.log_attempt(request.key, started, time.perf_counter() - clock,
                                     "error", status, error)
                if not retryable:
                    self.tally.sent += 1
                    break
            except (openai.APITimeoutError, asyncio.TimeoutError):
                error = f"timed out: no complete answer within {self.timeout:g} s"
                self.log.log_attempt(request.key, started, time.perf_counter() - clock,
                                     "timeout", None, error)
            except openai.APIConnectionError as exc:
                error = f"connection failed: {self._short(str(exc))}"
                self.log.log_attempt(request.key, started, time.perf_counter() - clock,
                                     "error", None, error)
            except ValueError as exc:  # json.JSONDecodeError is a ValueError
                error = f"malformed response body: {self._short(str(exc))}"
                self.log.log_attempt(request.key, started, time.perf_counter() - clock,
                                     "malformed", 200, error)
            else:
                latency = time.perf_counter() - clock
                self._pay(request, body, paid)
                problem = unusable(request.endpoint, body)
                if problem is None:
                    self._auth_failures = 0
                    self.tally.sent += 1
                    outcome = Exchange(request.key, "ok", body, None, *paid, latency)
                    self.log.log_attempt(request.key, started, latency, "ok", status)
                    self.log.put(request.key, request.endpoint, request.body, outcome, attempt)
                    return outcome
                error = f"unusable answer: {self._short(problem)}"
                self.log.log_attempt(request.key, started, latency, "malformed", status, error)
                # paid for, and retried like a malformed body
            self.tally.sent += 1
            if attempt < self.max_attempts:
                delay = self.backoff * 2 ** (attempt - 1) * (0.5 + random.random())
                await self._sleep(wait if wait is not None else min(self.max_wait, delay))
        outcome = Exchange(request.key, "error", None, self.redact(error), *paid)
        self.log.put(request.key, request.endpoint, request.body, outcome, attempt)
        return outcome

    def _pay(self, request: Request, body: dict[str, Any], paid: list) -> None:
        """Add an answer's usage to the request's running total and to the tally."""
        usage = body.get("usage") if isinstance(body, dict) else None
        usage = usage if isinstance(usage, dict) else {}
        prompt, completion = _tokens(usage, "prompt_tokens"), _tokens(usage,
                                                                     "completion_tokens")
        cost = self.prices.cost(request.body.get("model"), prompt, completion)
        paid[0] += prompt
        paid[1] += completion
        self.tally.prompt_tokens += prompt
        self.tally.completion_tokens += completion
        if cost is None:
            self.tally.unpriced += 1
        else:
            paid[2] = (paid[2] or 0.0) + cost
            self.tally.cost += cost
            self.tally.priced += 1

    def _short(self, text: str, limit: int = 300) -> str:
        text = self.redact(" ".join(str(text).split()))
        return text if len(text) <= limit else text[:limit] + "..."


def _key_variants(key: str | None) -> list[str]:
    """Return the key as written, and as the JSON of most servers may spell a slash in it.

    Other escapes (JSON may write any character as a unicode escape) are caught after
    parsing, in every string of the body.
    """
    if not key or len(key) < 4:
        return []
    escaped = json.dumps(key)[1:-1]
    variants = {key, escaped, escaped.replace("/", "\\/"),
                escaped.replace("/", "\\u002f"), escaped.replace("/", "\\u002F")}
    return sorted(variants, key=len, reverse=True)


def _given_up(count: int) -> str:
    return (f" (its answers were rejected {count} time{'s' if count != 1 else ''}; run "
            f"again with --max-attempts {count + 1} or more to have it asked again)")


def _run_to_the_end(coroutine) -> Any:
    """Run ``coroutine`` on a new event loop; Ctrl-C ends it within :data:`STOP_GRACE`.

    Two things make ``asyncio.run`` slow to stop. The signal may reach another thread
    of the process (the kernel picks one), and Python's handler then only runs once
    the main thread wakes, which an event loop waiting on a hung request may not do
    for minutes; a handler added with ``add_signal_handler`` wakes the loop at once,
    whichever thread got the signal. And after Ctrl-C it waits until every task has
    unwound; here the tasks are cancelled, given :data:`STOP_GRACE` seconds, and the
    loop is closed without waiting further.
    """
    loop = asyncio.new_event_loop()
    task = loop.create_task(coroutine)
    handled = (threading.current_thread() is threading.main_thread()
               and signal.getsignal(signal.SIGINT) is signal.default_int_handler)
    if handled:
        loop.add_signal_handler(signal.SIGINT, _interrupt)
    try:
        return loop.run_until_complete(task)
    except KeyboardInterrupt:
        pending = asyncio.all_tasks(loop)
        for other in pending:
            other.cancel()
        if pending:
            with contextlib.suppress(BaseException):  # a second Ctrl-C ends the wait too
                loop.run_until_complete(asyncio.wait(pending, timeout=STOP_GRACE))
        for other in pending:  # left behind on purpose: no warning when they are dropped
            other._log_destroy_pending = False
        raise
    finally:
        if handled:
            loop.remove_signal_handler(signal.SIGINT)  # (puts Python's own handler back)
        loop.close()


def _interrupt() -> None:
    raise KeyboardInterrupt


def _tokens(usage: dict[str, Any], name: str) -> int:
    try:
        return int(usage.get(name) or 0)
    except (TypeError, ValueError):
        return 0


def retry_after(headers, now: datetime | None = None) -> float | None:
    """Seconds a server asked us to wait, if any.

    Reads ``retry-after-ms`` and ``Retry-After`` in both its forms: seconds
    (``"2.5"``) and an HTTP date (``"Wed, 21 Oct 2015 07:28:00 GMT"``).
    """
    for name, scale in (("retry-after-ms", 1e-3), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return max(0.0, float(value) * scale)
        except ValueError:
            pass
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            continue
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())
    return None
