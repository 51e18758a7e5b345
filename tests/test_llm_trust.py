"""What a server sends is not trusted: keys echoed back in any spelling, answers a step
cannot use, verdicts that are not verdicts, refused credentials, and Ctrl-C mid-request.

Every test talks to the project's fake server (tests/fake_llm.py) on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import threading
import time

import pytest
from fake_llm import AUTH, FakeLLM, chat_reply

from prefdissect.errors import CredentialsRefused
from prefdissect.llm.cache import ExchangeLog
from prefdissect.llm.client import AUTH_FAILURES_TO_STOP, STOP_GRACE, LLMClient, Request

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
