"""A small OpenAI-compatible server on 127.0.0.1 for tests, with fault injection.

It answers /v1/chat/completions and /v1/completions. ``respond(body)`` decides
the answer for a request (default: a fixed short text with log-probabilities);
``faults`` is a queue of behaviours applied to the next requests in order:
``429`` (with Retry-After), ``500``, ``malformed`` (a body that is not JSON),
``truncated`` (JSON cut off mid-way), ``hang`` (no answer until the client gives
up). Every request body is recorded.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


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


class FakeLLM:
    """Start with ``with FakeLLM() as server:``; ``server.url`` is the API root."""

    def __init__(self, respond: Callable[[str, dict], dict] | None = None):
        self.respond = respond or (lambda path, body: chat_reply("A", logprobs=[("A", -0.1),
                                                                               ("B", -2.4)]))
        self.faults: deque[str] = deque()
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.hang_seconds = 5.0
        self.reject_response_format = False  # answer 400 to structured-output requests
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("content-length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                with outer._lock:
                    outer.requests.append(body)
                    outer.headers.append(dict(self.headers))
                    fault = outer.faults.popleft() if outer.faults else None
                if outer.reject_response_format and "response_format" in body:
                    self._send(400, {"error": {"message": "response_format is not supported"}})
                elif fault == "429":
                    self._send(429, {"error": {"message": "slow down"}},
                               {"Retry-After": "0.05"})
                elif fault == "500":
                    self._send(500, {"error": {"message": "boom"}})
                elif fault == "malformed":
                    self._raw(200, b"<html>not json</html>")
                elif fault == "truncated":
                    text = json.dumps(outer.respond(self.path, body)).encode()
                    self._raw(200, text[: len(text) // 2])
                elif fault == "hang":
                    time.sleep(outer.hang_seconds)
                    try:
                        self._send(200, outer.respond(self.path, body))
                    except OSError:
                        pass
                else:
                    self._send(200, outer.respond(self.path, body))

            def _send(self, status, payload, headers=None):
                self._raw(status, json.dumps(payload).encode(), headers)

            def _raw(self, status, data, headers=None):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> FakeLLM:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()


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
