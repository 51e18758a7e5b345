"""Batch transport: the same requests as a provider batch file, and its results back.

The file format is OpenAI's Batch API JSONL (also read by vLLM's batch runner):
one line per request, ``{"custom_id", "method": "POST", "url", "body"}``; a
results file has one line per request, ``{"custom_id", "response": {"status_code",
"body"}, "error"}``. ``custom_id`` is the request's cache key, so importing a
results file fills the exchange log and the next run finds every answer there.
:func:`run_batch_file` executes a batch file against any OpenAI-compatible
server through the normal client (for self-hosted servers and tests).
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import InputError
from ..readers import iter_jsonl
from .answers import unusable
from .cache import Exchange, ExchangeLog
from .client import ENDPOINTS, LLMClient, Request

_PATHS = {f"/v1{path}": name for name, path in ENDPOINTS.items()}


def export_batch(requests: list[Request], path: str | Path, log: ExchangeLog | None = None
                 ) -> int:
    """Write the requests not yet answered in ``log`` as a batch file; return how many."""
    unique = {r.key: r for r in requests}
    done = log.cached_keys(list(unique)) if log is not None else set()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8") as handle:
        for key, request in unique.items():
            if key in done:
                continue
            line = {"custom_id": key, "method": "POST",
                    "url": f"/v1{ENDPOINTS[request.endpoint]}", "body": request.body}
            handle.write(json.dumps(line, ensure_ascii=False) + "\n")
            count += 1
    return count


def read_batch(path: str | Path) -> list[Request]:
    """Read the requests of a batch file (checking each line's custom_id)."""
    requests = []
    for number, line in iter_jsonl(path):
        endpoint = _PATHS.get(str(line.get("url")))
        if endpoint is None or not isinstance(line.get("body"), dict):
            raise InputError(path, f"has an unsupported url {line.get('url')!r} or no body",
                             f"use one of {', '.join(_PATHS)} with a JSON body", line=number)
        request = Request(endpoint, line["body"])
        if line.get("custom_id") != request.key:
            raise InputError(path, "has a custom_id that does not match its body",
                             "export the file with prefdissect and do not edit it",
                             line=number, field="custom_id")
        requests.append(request)
    return requests


def import_results(results: str | Path, batch: str | Path, log: ExchangeLog) -> tuple[int, int]:
    """Store a results file's answers in the log; returns (stored, failed).

    ``batch`` is the exported request file: it supplies each request body, which
    results files do not repeat.
    """
    by_key = {r.key: r for r in read_batch(batch)}
    stored = failed = 0
    for number, line in iter_jsonl(results):
        key = line.get("custom_id")
        request = by_key.get(key)
        if request is None:
            raise InputError(results, f"has custom_id {key!r} that the batch file lacks",
                             "import the results together with the batch file they answer",
                             line=number, field="custom_id")
        response = line.get("response") if isinstance(line.get("response"), dict) else {}
        body = response.get("body")
        if line.get("error") or response.get("status_code") != 200 or not isinstance(body, dict):
            reason = line.get("error") or f"status {response.get('status_code')}"
            log.put(key, request.endpoint, request.body,
                    Exchange(key, "error", None, f"batch: {reason}"), 1, source="batch")
            failed += 1
            continue
        problem = unusable(request.endpoint, body)
        if problem:
            log.put(key, request.endpoint, request.body,
                    Exchange(key, "error", None, f"batch: unusable answer: {problem}"), 1,
                    source="batch")
            failed += 1
            continue
        usage = body.get("usage") if isinstance(body.get("usage"), dict) else {}
        log.put(key, request.endpoint, request.body,
                Exchange(key, "ok", body, None, usage.get("prompt_tokens"),
                         usage.get("completion_tokens")), 1, source="batch")
        if log.get(key) is not None:  # the log may refuse it (e.g. NaN in the body)
            stored += 1
        else:
            failed += 1
    return stored, failed


def run_batch_file(batch: str | Path, client: LLMClient, out: str | Path) -> tuple[int, int]:
    """Run every request of a batch file against ``client``'s server; write a results file.

    Returns (succeeded, failed).
    """
    requests = read_batch(batch)
    outcomes = client.run(requests)
    ok = failed = 0
    with Path(out).open("w", encoding="utf-8") as handle:
        for request in requests:
            result = outcomes[request.key]
            line = {"id": f"batch_req_{request.key[:16]}", "custom_id": request.key,
                    "response": None, "error": None}
            if result.status == "ok":
                line["response"] = {"status_code": 200, "request_id": request.key[:16],
                                    "body": result.response}
                ok += 1
            else:
                line["error"] = {"code": "request_failed", "message": result.error}
                failed += 1
            handle.write(json.dumps(line, ensure_ascii=False) + "\n")
    return ok, failed
