"""A small OpenAI-compatible server on 127.0.0.1 for tests, with fault injection.

It answers /v1/chat/completions and /v1/completions. ``respond(path, body)``
decides the answer for a request (default: a fixed short text with
log-probabilities). Faults come from the queue ``faults`` (applied to the next
requests in order) or, with :meth:`FakeLLM.random_faults`, at random with a
given rate. The kinds (:data:`FAULTS`):

- ``429`` / ``429-date``: Retry-After in seconds / as an HTTP date; ``500``;
  ``401`` (not retried by clients);
- ``malformed``: a body that is not JSON; ``truncated``: JSON cut off mid-way;
- ``hang``: no answer for ``hang_seconds``; ``trickle``: the answer's bytes sent
  one small piece at a time over ``trickle_seconds``; ``reset``: the connection
  closed without an answer;
- unusable 200s: ``empty-choices`` (``[]``), ``null-choice`` (``[null]``),
  ``no-message`` (a choice without its message or text), ``no-content`` (a
  message without content);
- ``echo-401`` / ``echo-500`` / ``echo-200``: the request's Authorization header
  echoed back inside the error body or inside a good answer; ``echo-401-slash``,
  ``echo-200-slash``, ``echo-200-u002f`` and ``echo-200-plus`` do the same in JSON
  that escapes every ``/`` (as ``\\/`` or ``\\u002f``, as PHP and some proxies
  write it) or every ``+`` (as ``\\u002B``, as .NET does): valid JSON, the same value.

Every good answer also has :data:`AUTH` replaced by the Authorization header, so a
``respond`` function can put the key anywhere (an answer's text, a JSON field), and
``escape`` (a key of :data:`ESCAPES`) escapes every answer that way.

Every request body and header set is recorded; ``paid`` counts, per request key
(the client's cache key), the good answers delivered in full, and ``events``
lists ``(time.monotonic(), key, kind)`` for every request, so tests can check
that no request is answered twice and measure waits on the server's clock.
"""

from __future__ import annotations

import json
import random
import socket
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prefdissect.llm.client import Request

FAULTS = ("429", "429-date", "500", "401", "malformed", "truncated", "hang", "trickle",
          "reset", "empty-choices", "null-choice", "no-message", "no-content", "echo-401",
          "echo-500", "echo-200", "echo-401-slash", "echo-200-slash", "echo-200-u002f",
          "echo-200-plus")
AUTH = "<<authorization>>"
"""Replaced by the request's Authorization header in every good answer."""
ESCAPES = {"slash": (b"/", b"\\/"), "u002f": (b"/", b"\\u002f"), "plus": (b"+", b"\\u002B")}
"""How ``escape`` writes answers: each character replaced by a JSON escape of it (PHP
escapes '/' as '\\/'; .NET's default encoder writes '+' as '\\u002B')."""
UNUSABLE = ("empty-choices", "null-choice", "no-message", "no-content")


def chat_reply(content: str, *, logprobs: list[tuple[str, float]] | None = None,
               model: str = "fake", prompt_tokens: int = 10,
               finish_reason: str = "stop") -> dict[str, Any]:
    """A chat completion body; ``logprobs`` gives the first token's top alternatives."""
    choice: dict[str, Any] = {"index": 0, "finish_reason": finish_reason,
                              "message": {"role": "assistant", "content": content}}
    if logprobs is not None:
        top = [{"token": t, "logprob": lp, "bytes": list(t.encode())} for t, lp in logprobs]
        choice["logprobs"] = {"content": [{"token": logprobs[0][0], "logprob": logprobs[0][1],
                                           "bytes": None, "top_logprobs": top}]}
    return {"id": "x", "object": "chat.completion", "created": 0, "model": model,
            "choices": [choice], "usage": {"prompt_tokens": prompt_tokens,
                                           "completion_tokens": max(1, len(content) // 4),
                                           "total_tokens": prompt_tokens + 1}}


def unusable_reply(kind: str, good: dict[str, Any]) -> dict[str, Any]:
    """A 200 body of the given unusable ``kind``, built from a good one."""
    bad = json.loads(json.dumps(good))
    if kind == "empty-choices":
        bad["choices"] = []
    elif kind == "null-choice":
        bad["choices"] = [None]
    elif kind == "no-message":
        bad["choices"] = [{"index": 0, "finish_reason": "stop"}]
    elif kind == "no-content":
        choice = bad["choices"][0]
        if "message" in choice:
            choice["message"] = {"role": "assistant"}
        else:
            choice.pop("text", None)
    return bad


def request_key(path: str, body: dict[str, Any]) -> str:
    """The client's cache key of a request to ``path`` (the same canonical hash)."""
    endpoint = "completions" if path.rstrip("/").endswith("/v1/completions") else "chat"
    return Request(endpoint, body).key


class FakeLLM:
    """Start with ``with FakeLLM() as server:``; ``server.url`` is the API root."""

    def __init__(self, respond: Callable[[str, dict], dict] | None = None):
        self.respond = respond or (lambda path, body: chat_reply("A", logprobs=[("A", -0.1),
                                                                               ("B", -2.4)]))
        self.faults: deque[str] = deque()
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.paid: Counter[str] = Counter()
        self.events: list[tuple[float, str, str]] = []
        self.hang_seconds = 5.0
        self.trickle_seconds = 2.0
        self.retry_after = 0.05
        self.reject_response_format = False  # answer 400 to structured-output requests
        self.escape: str | None = None  # a key of ESCAPES: how every answer is escaped
        self._changed = threading.Condition()  # a request came in, or an answer went out
        self._random: tuple[float, tuple[str, ...], random.Random] | None = None
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("content-length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                key = request_key(self.path, body)
                with outer._lock:
                    outer.requests.append(body)
                    outer.headers.append(dict(self.headers))
                    fault = outer._next_fault()
                    outer.events.append((time.monotonic(), key, fault or "ok"))
                outer._notify()
                auth = self.headers.get("Authorization", "")
                try:
                    self._answer(fault, body, key, auth)
                except OSError:
                    pass  # the client gave up (a timeout) or was killed

            def _answer(self, fault, body, key, auth):
                if outer.reject_response_format and "response_format" in body:
                    return self._send(400, {"error": {"message": "response_format is not "
                                                                 "supported"}})
                if fault in ("429", "429-date"):
                    wait = (formatdate(time.time() + outer.retry_after, usegmt=True)
                            if fault == "429-date" else str(outer.retry_after))
                    return self._send(429, {"error": {"message": "slow down"}},
                                      {"Retry-After": wait})
                if fault in ("500", "401"):
                    return self._send(int(fault), {"error": {"message": "boom"}})
                if fault in ("echo-401", "echo-500", "echo-401-slash"):
                    return self._send(int(fault[5:8]), {"error": {
                        "message": f"rejected credentials: {auth}"}},
                        escape="slash" if fault.endswith("slash") else None)
                if fault == "malformed":
                    return self._raw(200, b"<html>not json</html>")
                if fault == "reset":
                    self.close_connection = True
                    self.request.shutdown(socket.SHUT_RDWR)
                    return None
                good = outer.respond(self.path, body)
                if fault == "truncated":
                    text = json.dumps(good).encode()
                    return self._raw(200, text[: len(text) // 2])
                if fault in UNUSABLE:
                    return self._send(200, unusable_reply(fault, good))
                escape = outer.escape
                if fault and fault.startswith("echo-200"):
                    good = {**good, "system_fingerprint": f"seen {auth}"}
                    escape = fault[9:] or escape
                if fault == "hang":
                    time.sleep(outer.hang_seconds)
                data = _escaped(json.dumps(good).replace(AUTH, auth).encode(), escape)
                if fault == "trickle":
                    self._trickle(data)
                else:
                    self._raw(200, data)
                with outer._lock:
                    outer.paid[key] += 1
                outer._notify()
                return None

            def _trickle(self, data):
                self._head(200, len(data))
                pieces = max(1, min(len(data), 40))
                step = -(-len(data) // pieces)
                for start in range(0, len(data), step):
                    self.wfile.write(data[start:start + step])
                    self.wfile.flush()
                    time.sleep(outer.trickle_seconds / pieces)

            def _send(self, status, payload, headers=None, escape=None):
                self._raw(status, _escaped(json.dumps(payload).encode(), escape), headers)

            def _head(self, status, length, headers=None):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(length))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()

            def _raw(self, status, data, headers=None):
                self._head(status, len(data), headers)
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def random_faults(self, rate: float, kinds: tuple[str, ...] = FAULTS, seed: int = 0) -> None:
        """From now on, give each request a fault with probability ``rate``."""
        self._random = (rate, tuple(kinds), random.Random(seed))

    def _next_fault(self) -> str | None:
        if self.faults:
            return self.faults.popleft()
        if self._random is not None:
            rate, kinds, rng = self._random
            if rng.random() < rate:
                return rng.choice(kinds)
        return None

    def _notify(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def wait_until(self, condition: Callable[[], bool], timeout: float = 120.0) -> bool:
        """Wait (on the server's events, not a sleep loop) until ``condition()`` holds.

        Returns False when ``timeout`` seconds pass first.
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            while not condition():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(min(left, 1.0))
        return True

    def wait_requests(self, count: int, timeout: float = 120.0) -> bool:
        """Wait until ``count`` requests came in; False on timeout."""
        return self.wait_until(lambda: len(self.requests) >= count, timeout)

    def wait_paid(self, count: int, timeout: float = 120.0) -> bool:
        """Wait until ``count`` good answers were delivered in full; False on timeout."""
        return self.wait_until(lambda: sum(self.paid.values()) >= count, timeout)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> FakeLLM:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()


def _escaped(data: bytes, escape: str | None) -> bytes:
    """Write one character of a JSON text escaped everywhere (still the same JSON value)."""
    return data.replace(*ESCAPES[escape]) if escape else data


def instance(schema: dict[str, Any], seed: int = 0) -> Any:
    """A value that satisfies a (simple) JSON schema, varied by ``seed``."""
    kind = schema.get("type")
    if "enum" in schema:
        return schema["enum"][seed % len(schema["enum"])]
    if kind == "object":
        return {k: instance(v, seed + i) for i, (k, v) in
                enumerate(schema.get("properties", {}).items())}
    if kind == "array":
        size = max(schema.get("minItems", 0), seed % 2)
        return [instance(schema["items"], seed + i) for i in range(size)]
    if kind == "integer":
        low, high = schema.get("minimum", 0), schema.get("maximum", 3)
        return low + seed % (high - low + 1)
    if kind == "boolean":
        return seed % 2 == 0
    if kind == "string":
        return f"item {seed}"
    raise ValueError(f"unsupported schema {schema}")


def schema_reply(path: str, body: dict[str, Any]) -> dict[str, Any]:
    """Answer like a model with structured output: JSON following the request's schema.

    Requests without a schema (reference answers, judge calls) get a short text
    with log-probabilities that prefer the letter A.
    """
    fmt = body.get("response_format")
    if fmt and fmt.get("type") == "json_schema":
        seed = sum(map(ord, json.dumps(body["messages"][-1]["content"])[-40:]))
        return chat_reply(json.dumps(instance(fmt["json_schema"]["schema"], seed)))
    if path.endswith("/completions") and "prompt" in body:
        return {"id": "c", "object": "text_completion", "created": 0, "model": "fake",
                "choices": [{"index": 0, "text": " A", "finish_reason": "length",
                             "logprobs": {"content": [{"token": " A", "logprob": -0.2,
                                                       "top_logprobs": [
                                                           {"token": " A", "logprob": -0.2},
                                                           {"token": " B", "logprob": -1.8}]}]}}],
                "usage": {"prompt_tokens": 20, "completion_tokens": 1, "total_tokens": 21}}
    if body.get("logprobs"):
        return chat_reply("A", logprobs=[("A", -0.3), ("B", -1.5), (" A", -4.0)])
    return chat_reply("This is a careful reference answer.")
