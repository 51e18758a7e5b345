"""What a server sends is not trusted: keys echoed back in any spelling, answers a step
cannot use, verdicts that are not verdicts, refused credentials, and Ctrl-C mid-request.

Every test talks to the project's fake server (tests/fake_llm.py) on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from fake_llm import AUTH, FakeLLM, chat_reply

from prefdissect.errors import CredentialsRefused
from prefdissect.llm.cache import ExchangeLog
from prefdissect.llm.client import AUTH_FAILURES_TO_STOP, STOP_GRACE, LLMClient, Request

ROOT = Path(__file__).resolve().parents[1]
KEY = "sk-SOAK/SECRET+123/Zq81mK2hT7vW0xY3"
SPELLINGS = (KEY, KEY.replace("/", "\\/"), KEY.replace("/", "\\u002f"),
             KEY.replace("/", "\\u002F"), KEY.replace("+", "\\u002B"),
             KEY.replace("+", "\\u002b"))


def chat(i: int, max_tokens: int = 1) -> Request:
    return Request("chat", {"model": "m", "max_tokens": max_tokens,
                            "messages": [{"role": "user", "content": f"question {i}"}]})


def leaks(text: str) -> list[str]:
    """The spellings of the key found in a text."""
    return [s for s in SPELLINGS if s in text]


def dump(log_path) -> str:
    """Every value of every table of an exchange log, as text."""
    db = sqlite3.connect(log_path)
    try:
        return "\n".join(db.iterdump())
    finally:
        db.close()


# -- keys ------------------------------------------------------------------------------------

@pytest.mark.parametrize("escape", ["slash", "u002f", "plus"])
def test_a_key_the_server_escapes_never_reaches_the_log(tmp_path, escape):
    def respond(path, body):  # the key inside the answer text too
        return chat_reply(f"A, says {AUTH}")

    with FakeLLM(respond) as server:
        client = LLMClient(server.url, tmp_path / "log.sqlite", api_key=KEY, backoff=0.001)
        server.faults.extend([f"echo-200-{escape}", "echo-401-slash"])
        first, second = client.run([chat(0)]), client.run([chat(1)])
        raw = [k for _, _, k in server.events]
    assert raw == [f"echo-200-{escape}", "echo-401-slash"]
    answer = first[chat(0).key]
    assert answer.status == "ok" and not leaks(json.dumps(answer.response))
    assert answer.response["choices"][0]["message"]["content"] == "A, says Bearer ***"
    assert answer.response["system_fingerprint"] == "seen Bearer ***"
    assert second[chat(1).key].status == "error"
    assert "Bearer ***" in second[chat(1).key].error and not leaks(second[chat(1).key].error)
    assert not leaks(dump(tmp_path / "log.sqlite"))
    for path in tmp_path.iterdir():  # the database, its WAL and shared memory
        assert not any(s.encode() in path.read_bytes() for s in SPELLINGS), path.name


# -- answers a step cannot use ------------------------------------------------------------------

def test_a_rejected_answer_is_asked_again_at_most_max_attempts_times(tmp_path):
    with FakeLLM(lambda path, body: chat_reply("not what was asked")) as server:
        client = LLMClient(server.url, tmp_path / "log.sqlite", max_attempts=2)
        assert client.run([chat(0), chat(1)])[chat(0).key].status == "ok"
        client.reject(chat(0).key, "no verdict in the answer")
        assert set(client.tally.failed) == {chat(0).key}
        assert "the next run asks it again" in client.tally.failed[chat(0).key]
        again = LLMClient(server.url, tmp_path / "log.sqlite", max_attempts=2)
        assert again.run([chat(0), chat(1)])[chat(0).key].status == "ok"
        assert len(server.requests) == 3  # only the rejected one went out again
        again.reject(chat(0).key, "no verdict in the answer")
        last = LLMClient(server.url, tmp_path / "log.sqlite", max_attempts=2)
        outcome = last.run([chat(0), chat(1)])[chat(0).key]
        assert len(server.requests) == 3  # rejected twice: not asked a third time ...
        assert outcome.status == "error" and "--max-attempts 3 or more" in outcome.error
        assert last.tally.failed == {chat(0).key: outcome.error}
        assert last.plan([chat(0), chat(1)]).requests == 0  # ... nor counted by a dry run
        more = LLMClient(server.url, tmp_path / "log.sqlite", max_attempts=3)
        assert more.run([chat(0)])[chat(0).key].status == "ok"  # ... unless allowed more
        assert len(server.requests) == 4
    db = sqlite3.connect(tmp_path / "log.sqlite")
    kept = db.execute("SELECT reason, response FROM rejections WHERE key = ?",
                      (chat(0).key,)).fetchall()
    assert len(kept) == 2 and all("not what was asked" in r for _, r in kept)  # for audit


def test_a_final_rejection_is_not_asked_again_unchanged(tmp_path):
    with FakeLLM(lambda path, body: chat_reply("{\"cut", finish_reason="length")) as server:
        client = LLMClient(server.url, tmp_path / "log.sqlite")
        client.run([chat(0, max_tokens=5)])
        client.reject(chat(0, max_tokens=5).key, "cut off; raise --max-tokens free=N",
                      final=True)
        again = LLMClient(server.url, tmp_path / "log.sqlite")
        (outcome,) = again.run([chat(0, max_tokens=5)]).values()
        assert outcome.status == "error" and "raise --max-tokens free=N" in outcome.error
        assert len(server.requests) == 1
        again.run([chat(0, max_tokens=50)])  # a changed request is a new one
        assert len(server.requests) == 2


@pytest.mark.parametrize("text, p_first", [
    ("A", 1.0), ("[[B]]", 0.0), ("Response B is better.", 0.0), ("A.", 1.0),
    ("B\nBecause it answers.", 0.0), ("[[C]]", 0.5), ("Tie", 0.5), ("It's a tie.", 0.5),
    ("Verdict: tie", 0.5), ("It's a tie between Response A and Response B.", 0.5),
    ("Sorry, I think both are fine!!", None), ("Both are equally good.", None),
    ("I cannot answer a question like this.", None), ("A tie seems fair", None),
    ("", None), ("The", None),
    # a response merely named is no verdict; one named in a stated verdict is
    ("I cannot compare Response A and Response B.", None),
    ("Both Response A and Response B are equally good.", None),
    ("Assistant A did not follow; Assistant B is better", 0.0), ("Output (b) is better.", 0.0),
    ("I prefer Response A.", 1.0), ("The better response is B.", 0.0), ("Response B", 0.0),
    ("Response A is better. Response B is better.", None)])
def test_only_a_stated_verdict_is_read(text, p_first):
    from prefdissect.judges.llm import read_verdict

    result = read_verdict(text)
    assert result.p_first == p_first
    if p_first is None:
        assert result.detail.startswith(("no verdict in the answer", "empty answer",
                                          "the answer states both A and B"))


# -- refused credentials ---------------------------------------------------------------------------

@pytest.mark.parametrize("status", ["401", "403"])
def test_refused_credentials_stop_the_run(tmp_path, status):
    with FakeLLM() as server:
        original = server._server.RequestHandlerClass._answer

        def answer(handler, fault, body, key, auth):
            if fault == "403":
                return handler._send(403, {"error": {"message": "forbidden"}})
            return original(handler, fault, body, key, auth)

        server._server.RequestHandlerClass._answer = answer
        server.faults.extend(["ok", status, "ok"] + [status] * 200)  # one good answer, ...
        client = LLMClient(server.url, tmp_path / "log.sqlite", concurrency=1, api_key=KEY)
        with pytest.raises(CredentialsRefused) as refused:
            client.run([chat(i) for i in range(50)])
        # ... a refusal that a success ends, then AUTH_FAILURES_TO_STOP in a row: stop
        assert len(server.requests) == 3 + AUTH_FAILURES_TO_STOP
    text = str(refused.value)
    assert f"HTTP {status}" in text and f"{AUTH_FAILURES_TO_STOP} times in a row" in text
    assert f"{50 - 3 - AUTH_FAILURES_TO_STOP} requests were not sent" in text
    assert "--api-key" in text and "2 answers received in this run are kept" in text
    assert not leaks(text)
    assert ExchangeLog(tmp_path / "log.sqlite").cached_keys([chat(i).key for i in range(50)]) \
        == {chat(0).key, chat(2).key}


# -- Ctrl-C -------------------------------------------------------------------------------------

def test_ctrl_c_ends_a_run_even_when_a_request_ignores_cancellation(tmp_path):
    """A request that does not unwind when cancelled cannot hold the run past STOP_GRACE."""
    client = LLMClient("http://127.0.0.1:9/v1", tmp_path / "log.sqlite")
    started = threading.Event()

    async def stubborn(_, request):
        started.set()
        until = time.monotonic() + 30
        while time.monotonic() < until:
            try:
                await asyncio.sleep(until - time.monotonic())
            except asyncio.CancelledError:
                continue  # (an SDK or proxy that swallows the cancellation)
        return chat_reply("A")

    client._attempt = stubborn
    threading.Thread(target=lambda: started.wait(30) and signal.raise_signal(signal.SIGINT),
                     daemon=True).start()
    began = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        client.run([chat(0)])
    assert started.is_set() and time.monotonic() - began < STOP_GRACE + 5


# -- a kill at a known point ---------------------------------------------------------------------

def test_a_run_killed_after_n_answers_pays_for_none_of_them_again(cli, tmp_path):
    """Killed once the server has answered exactly 5 requests (one at a time): the resumed
    run asks the other 11 and not one of those 5 (deterministic: no race with the kill)."""
    rows = [{"id": f"p{i}", "query": f"Question {i}?", "response_a": f"A{i}",
             "response_b": f"B{i}"} for i in range(8)]
    (tmp_path / "pairs.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    study = tmp_path / "study"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    prefdissect = [sys.executable, "-m", "prefdissect"]
    assert cli("import", str(tmp_path / "pairs.jsonl"), "--out", str(study)).code == 0
    with FakeLLM() as server:
        server.hang_seconds = 60
        server.faults.extend(["ok"] * 5 + ["hang"])
        judge = [*prefdissect, "judge", str(study), "--model", "m", "--base-url", server.url,
                 "--concurrency", "1", "--timeout", "120"]
        first = subprocess.Popen(judge, env=env, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
        try:
            # one at a time: the 6th request is sent only once the 5th answer is stored
            assert server.wait_requests(6, timeout=120)
        finally:
            first.kill()
            first.wait()
        answered = [key for _, key, kind in server.events if kind == "ok"]
        assert len(answered) == 5
        server.faults.clear()
        before = len(server.events)
        resumed = cli(*judge[3:])  # the same command, in-process
        asked = [key for _, key, _ in server.events[before:]]
    assert resumed.code == 0, resumed.err
    assert len(asked) == 16 - 5 and not set(asked) & set(answered)
