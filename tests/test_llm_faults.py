"""The LLM client and its log under faults: unusable answers, deadlines, waits, sharing.

Every test talks to the project's fake server (tests/fake_llm.py) on 127.0.0.1.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest
from fake_llm import UNUSABLE, FakeLLM, chat_reply, unusable_reply

from prefdissect.llm.answers import answer_text, unusable
from prefdissect.llm.cache import LATEST, MIGRATIONS, Exchange, ExchangeLog
from prefdissect.llm.client import LLMClient, Request, retry_after


def chat(i: int) -> Request:
    return Request("chat", {"model": "m", "max_tokens": 1,
                            "messages": [{"role": "user", "content": f"question {i}"}]})


def completion(i: int) -> Request:
    return Request("completions", {"model": "m", "max_tokens": 1, "prompt": f"text {i}"})


def text_reply(path, body):
    if path.endswith("/v1/completions"):
        return {"choices": [{"index": 0, "text": " A", "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 3, "completion_tokens": 1}}
    return chat_reply("A")


# -- unusable 200s -----------------------------------------------------------------------

@pytest.mark.parametrize("kind", UNUSABLE)
def test_an_unusable_200_is_retried_and_never_cached(tmp_path, kind):
    with FakeLLM(text_reply) as server:
        client = LLMClient(server.url, tmp_path / "log.sqlite", backoff=0.001)
        server.faults.extend([kind, kind])
        (outcome,) = client.run([chat(0)]).values()
        assert outcome.status == "ok" and answer_text(outcome.response) == "A"
        assert len(server.requests) == 3  # two unusable answers, then a good one
        client.max_attempts = 1
        server.faults.append(kind)
        (failed,) = client.run([chat(1)]).values()
    assert failed.status == "error" and "unusable answer" in failed.error
    db = sqlite3.connect(tmp_path / "log.sqlite")
    rows = dict(db.execute("SELECT key, status FROM exchanges"))
    assert rows == {chat(0).key: "ok", chat(1).key: "error"}
    assert [o for (o,) in db.execute("SELECT outcome FROM attempts ORDER BY id")] == \
        ["malformed", "malformed", "ok", "malformed"]


def test_unusable_answers_are_paid_for_in_the_tally_and_the_log(tmp_path):
    """chat_reply reports 10 prompt + 1 completion tokens for every answer, usable or not."""
    with FakeLLM(text_reply) as server:
        client = LLMClient(server.url, tmp_path / "log.sqlite", backoff=0.001, max_attempts=2)
        server.faults.extend(["no-content", "empty-choices", "empty-choices"])
        outcomes = client.run([chat(0), chat(1)])
    tally = client.tally
    assert (tally.sent, tally.prompt_tokens, tally.completion_tokens) == (4, 40, 4)
    assert sorted(o.status for o in outcomes.values()) == ["error", "ok"]
    failed = next(o for o in outcomes.values() if o.status == "error")
    assert failed.error.startswith("unusable answer: ")
    stored = dict(sqlite3.connect(tmp_path / "log.sqlite").execute(
        "SELECT status, prompt_tokens FROM exchanges"))
    assert stored == {"ok": 20, "error": 20}  # two answers each, one of them unusable


def test_non_finite_numbers_are_never_cached_as_text_the_log_refuses(tmp_path):
    """-Infinity (a log-probability of 0) reads as null; NaN makes the body malformed."""
    def reply(path, body):
        question = body["messages"][0]["content"]
        value = float("nan") if question.endswith("1") else float("-inf")
        return chat_reply("A", logprobs=[("A", 0.0), ("B", value)])

    with FakeLLM(reply) as server:
        client = LLMClient(server.url, tmp_path / "log.sqlite", backoff=0.001, max_attempts=2)
        first = client.run([chat(0), chat(1)])
        assert len(server.requests) == 3  # chat(1) was asked twice, chat(0) once
        again = LLMClient(server.url, tmp_path / "log.sqlite", backoff=0.001, max_attempts=1)
        second = again.run([chat(0)])
        assert len(server.requests) == 3  # the -Infinity answer came from the log
    assert first[chat(0).key].status == "ok" and second[chat(0).key].cached
    top = first[chat(0).key].response["choices"][0]["logprobs"]["content"][0]["top_logprobs"]
    assert top[1]["logprob"] is None
    assert first[chat(1).key].status == "error" and "NaN" in first[chat(1).key].error


def test_a_completions_choice_without_text_is_unusable(tmp_path):
    with FakeLLM(text_reply) as server:
        client = LLMClient(server.url, tmp_path / "log.sqlite", backoff=0.001)
        server.faults.append("no-content")  # the completions shape: a choice with no text
        (outcome,) = client.run([completion(0)]).values()
        assert outcome.status == "ok" and len(server.requests) == 2


def test_the_python_and_sql_checks_agree_on_every_shape(tmp_path):
    log = ExchangeLog(tmp_path / "log.sqlite")
    good = {"chat": chat_reply("x"), "completions": text_reply("/v1/completions", {})}
    shapes = []
    for endpoint, body in good.items():
        shapes.append((endpoint, body))
        shapes += [(endpoint, unusable_reply(kind, body)) for kind in UNUSABLE]
        shapes += [(endpoint, {"choices": [{"message": {"content": None}}]}),
                   (endpoint, {"choices": [{"message": {"content": 3}, "text": 3}]}),
                   (endpoint, {"choices": "none"}), (endpoint, {"id": "x"})]
    for i, (endpoint, body) in enumerate(shapes):
        # bypass put's own check: write the row as an older version would have
        log._db.execute("INSERT INTO exchanges (key, endpoint, request, response, status, "
                        "updated) VALUES (?,?,?,?,?,?)",
                        (f"k{i}", endpoint, "{}", json.dumps(body), "ok", "now"))
    cached = log.cached_keys([f"k{i}" for i in range(len(shapes))])
    for i, (endpoint, body) in enumerate(shapes):
        assert (f"k{i}" in cached) == (unusable(endpoint, body) is None), (endpoint, body)
        assert (log.get(f"k{i}") is not None) == (f"k{i}" in cached)
    assert len(cached) == 2  # only the two good bodies


def test_a_cached_unusable_answer_is_migrated_and_asked_again(tmp_path):
    """A log written by version 1 holds an 'ok' with empty choices; it is asked again."""
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.executescript(";".join(MIGRATIONS[0][1]) + "; PRAGMA user_version = 1;")
    for request, body in ((chat(0), {"choices": []}), (chat(1), chat_reply("kept"))):
        db.execute("INSERT INTO exchanges VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                   (request.key, "chat", "m", json.dumps(request.body), json.dumps(body), "ok",
                    None, 1, 1, None, 0.1, 1, "live", "2024-01-01"))
    db.commit()
    db.close()
    with FakeLLM(text_reply) as server:
        client = LLMClient(server.url, path)
        assert client.log.version == LATEST
        outcomes = client.run([chat(0), chat(1)])
        assert len(server.requests) == 1  # only the unusable one went out again
    assert answer_text(outcomes[chat(0).key].response) == "A"
    assert answer_text(outcomes[chat(1).key].response) == "kept"
    rows = sqlite3.connect(path).execute("SELECT status FROM exchanges").fetchall()
    assert rows == [("ok",), ("ok",)]


def test_a_log_from_a_newer_version_is_refused(tmp_path):
    from prefdissect.errors import UsageError

    path = tmp_path / "new.sqlite"
    sqlite3.connect(path).execute(f"PRAGMA user_version = {LATEST + 1}")
    with pytest.raises(UsageError, match="newer prefdissect"):
        ExchangeLog(path)


def test_the_annotator_and_judge_survive_any_stored_answer(tmp_path):
    """Answers stored by anyone (a batch import, an old version) never crash the readers."""
    from prefdissect.annotators.llm import LLMAnnotator
    from prefdissect.judges.llm import LLMJudge, read_logprobs
    from prefdissect.pairs import Pair, pairs_to_frame
    from prefdissect.properties import load_schema

    pairs = pairs_to_frame([Pair("p0", "q?", "a", "b")])
    weird = [{"choices": [{"message": {"content": "{}"}, "logprobs": {"content": ["x"]}}]},
             {"choices": [{"message": {"content": "A"}, "logprobs": {"content": [
                 {"token": "A", "logprob": None, "top_logprobs": [{"token": "B"}]}]}}]},
             {"choices": [{"message": {"content": "A"}, "logprobs": {"content": [
                 {"token": "A", "logprob": 5000.0, "top_logprobs": []}]}}]},
             {"choices": [{"message": {"content": "A"}, "logprobs": {"top_logprobs": [
                 {"A": "x"}]}}]},
             {"choices": [{"message": {"content": "A"}, "logprobs": "none"}]}]
    for body in weird:
        read_logprobs(body["choices"][0])  # never raises
    with FakeLLM(lambda path, body: weird[len(server.requests) % len(weird)]) as server:
        client = LLMClient(server.url, tmp_path / "log.sqlite", max_attempts=1)
        run = LLMJudge(client, "m", mode="auto").judge(pairs)
        assert len(run.judgments) + len(run.exclusions) == 1
        frame = LLMAnnotator(client, "m", steps=("query", "free", "specific")).annotate(
            pairs, load_schema())
    frame = frame[frame["property"] != "lengthy"]  # counted, not asked
    assert set(frame["status"]) <= {"failed", "not_applicable"}
    assert frame.loc[frame["status"] == "failed", "reason"].str.len().gt(0).all()


# -- the log shared by several writers ---------------------------------------------------------

def test_an_ok_is_never_replaced(tmp_path):
    log = ExchangeLog(tmp_path / "log.sqlite")
    request = chat(0)
    good = Exchange(request.key, "ok", chat_reply("first"), None, 1, 1)
    assert log.put(request.key, "chat", request.body, good, 1)
    assert not log.put(request.key, "chat", request.body,
                       Exchange(request.key, "error", None, "HTTP 500"), 5)
    assert not log.put(request.key, "chat", request.body,
                       Exchange(request.key, "ok", chat_reply("second"), None), 1)
    assert answer_text(log.get(request.key).response) == "first"
    failed = Exchange(chat(1).key, "error", None, "timeout")
    assert log.put(chat(1).key, "chat", chat(1).body, failed, 5)
    assert log.put(chat(1).key, "chat", chat(1).body,  # an error is replaced by an answer
                   Exchange(chat(1).key, "ok", chat_reply("late"), None), 1)
    assert answer_text(log.get(chat(1).key).response) == "late"
    # an 'ok' without an answer is stored as the error it is
    assert log.put(chat(2).key, "chat", chat(2).body,
                   Exchange(chat(2).key, "ok", {"choices": [None]}, None), 1)
    assert log.get(chat(2).key) is None


OPEN_MANY = """
import sys, time
from prefdissect.llm.cache import ExchangeLog, Exchange
start = float(sys.argv[2])
while time.time() < start:
    pass
log = ExchangeLog(sys.argv[1])
log.put("k" + sys.argv[3], "chat", {"model": "m"}, Exchange("k", "error", None, "x"), 1)
print(log.version)
"""


def test_processes_opening_a_new_log_at_once_do_not_race(tmp_path):
    """Eight processes open the same new log at the same instant; all migrate cleanly."""
    import time

    for trial in range(2):
        path = tmp_path / f"log{trial}.sqlite"
        start = time.time() + 1.5
        procs = [subprocess.Popen([sys.executable, "-c", OPEN_MANY, str(path), str(start),
                                   str(i)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                 for i in range(8)]
        results = [p.communicate(timeout=60) for p in procs]
        assert [p.returncode for p in procs] == [0] * 8, [r[1].decode()[-300:] for r in results]
        assert {r[0].decode().strip() for r in results} == {str(LATEST)}
        db = sqlite3.connect(path)
        assert db.execute("SELECT count(*) FROM exchanges").fetchone()[0] == 8


def test_two_clients_on_one_log_pay_once(tmp_path):
    """Two clients share a log and ask the same requests at once: each is paid once."""
    import threading

    requests = [chat(i) for i in range(24)]
    with FakeLLM(text_reply) as server:
        clients = [LLMClient(server.url, tmp_path / "shared.sqlite", concurrency=4)
                   for _ in range(2)]
        for client in clients:
            client.poll = 0.02
        server.hang_seconds = 0.0  # unused
        results = [None, None]

        def run(i):
            results[i] = clients[i].run(requests)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert max(server.paid.values()) == 1 and len(server.paid) == 24
    for result in results:
        assert all(o.status == "ok" for o in result.values()) and len(result) == 24
    assert clients[0].tally.answered + clients[1].tally.answered == 24


def test_an_answer_stored_between_look_and_claim_is_not_paid_again(tmp_path):
    """The window the shared-log test once hit by chance, made to happen every time.

    Another process stores its answer and releases its claim after this client looked
    in the log and before it claims: the client must use that answer, not ask again.
    """
    with FakeLLM(text_reply) as server:
        client = LLMClient(server.url, tmp_path / "shared.sqlite")
        other = ExchangeLog(tmp_path / "shared.sqlite")
        request = chat(0)
        answer = Exchange(request.key, "ok", chat_reply("B"), None, 3, 1, None, 0.1)
        claim = client.log.claim

        def claim_after_the_other_finished(key, owner, lease):
            other.put(key, request.endpoint, request.body, answer, 1)
            return claim(key, owner, lease)

        client.log.claim = claim_after_the_other_finished
        (outcome,) = client.run([request]).values()
        assert server.requests == []
    assert outcome.status == "ok" and answer_text(outcome.response) == "B"
    assert outcome.cached and client.tally.cached == 1 and client.tally.sent == 0


def test_a_dead_processes_claim_does_not_block(tmp_path):
    log = ExchangeLog(tmp_path / "log.sqlite")
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    log._db.execute("INSERT INTO claims VALUES (?,?,?,?,?)",
                    (chat(0).key, "gone", __import__("socket").gethostname(), process.pid,
                     1e12))
    assert log.claim(chat(0).key, "me", 10.0)  # its process has ended
    log._db.execute("UPDATE claims SET owner = 'other', pid = ?", (__import__("os").getpid(),))
    assert not log.claim(chat(0).key, "me", 10.0)  # a live owner keeps it


# -- deadlines and waits -----------------------------------------------------------------------

def test_a_trickled_answer_is_cut_off_at_the_deadline(tmp_path):
    """Bytes keep arriving (no read waits long), but the whole answer takes too long."""
    with FakeLLM(text_reply) as server:
        server.trickle_seconds = 6.0  # 40 pieces, 0.15 s apart: each read is quick
        server.faults.append("trickle")
        client = LLMClient(server.url, tmp_path / "log.sqlite", timeout=1.0, max_attempts=1)
        (outcome,) = client.run([chat(0)]).values()
    assert outcome.status == "error" and "timed out" in outcome.error
    db = sqlite3.connect(tmp_path / "log.sqlite")
    assert db.execute("SELECT outcome FROM attempts").fetchall() == [("timeout",)]


def test_retry_after_in_seconds_and_as_a_date():
    now = datetime(2025, 5, 1, 12, 0, 0, tzinfo=timezone.utc)
    assert retry_after({"retry-after": "2.5"}, now) == 2.5
    assert retry_after({"retry-after-ms": "1500"}, now) == 1.5
    date = format_datetime(now + timedelta(seconds=7), usegmt=True)
    assert retry_after({"retry-after": date}, now) == 7.0
    assert retry_after({"retry-after": format_datetime(now - timedelta(seconds=9),
                                                       usegmt=True)}, now) == 0.0
    assert retry_after({"retry-after": "soon"}, now) is None
    assert retry_after({}, now) is None


def waits_of(client):
    waits = []

    async def record(seconds):
        waits.append(seconds)

    client._sleep = record
    return waits


def test_waits_follow_retry_after_and_back_off(tmp_path):
    with FakeLLM(text_reply) as server:
        server.retry_after = 4.0
        client = LLMClient(server.url, tmp_path / "log.sqlite", backoff=1.0, max_wait=30,
                           max_attempts=6)
        waits = waits_of(client)
        server.faults.extend(["429", "429-date", "500", "500", "malformed"])
        (outcome,) = client.run([chat(0)]).values()
    assert outcome.status == "ok" and len(waits) == 5
    assert waits[0] == 4.0  # Retry-After in seconds, exactly
    assert 2.0 <= waits[1] <= 4.0  # the HTTP date (whole seconds) a moment ago
    # then exponential back-off with jitter: 1 * 2**k * [0.5, 1.5)
    for k, wait in zip((2, 3, 4), waits[2:]):
        assert 0.5 * 2 ** k <= wait < 1.5 * 2 ** k


def test_a_retry_after_longer_than_max_wait_fails_the_request(tmp_path):
    with FakeLLM(text_reply) as server:
        server.retry_after = 120
        client = LLMClient(server.url, tmp_path / "log.sqlite", max_wait=10)
        waits = waits_of(client)
        server.faults.append("429")
        (outcome,) = client.run([chat(0)]).values()
        assert len(server.requests) == 1 and waits == []
    assert outcome.status == "error"
    assert "asked to wait 120 s, longer than --max-wait 10 s" in outcome.error
    with FakeLLM(text_reply) as server:  # back-off itself stops growing at max_wait
        client = LLMClient(server.url, tmp_path / "log2.sqlite", backoff=8, max_wait=10)
        waits = waits_of(client)
        server.faults.extend(["500"] * 4)
        client.run([chat(0)])
    assert max(waits) <= 10 and waits[-1] >= 5


def test_waits_are_real_on_the_servers_clock(tmp_path):
    with FakeLLM(text_reply) as server:
        server.retry_after = 0.3
        client = LLMClient(server.url, tmp_path / "log.sqlite")
        server.faults.append("429")
        client.run([chat(0)])
        (first, _, _), (second, _, _) = server.events
    assert second - first >= 0.3  # the client waited at least what the server asked


# -- keys --------------------------------------------------------------------------------------

KEY = "sk-proj-Zq81mK2hT7vW0xY3cL5nB9dF4gH6jP8r"


def test_a_key_echoed_in_any_body_never_reaches_the_log(tmp_path):
    with FakeLLM(text_reply) as server:
        client = LLMClient(server.url, tmp_path / "log.sqlite", api_key=KEY, backoff=0.001)
        server.faults.extend(["echo-500", "echo-200", "echo-401"])
        first, second = client.run([chat(0)]), client.run([chat(1)])
        sent = {k.lower(): v for k, v in server.headers[0].items()}
        assert sent["authorization"] == f"Bearer {KEY}"
    assert first[chat(0).key].status == "ok"
    assert "seen Bearer ***" in json.dumps(first[chat(0).key].response)
    assert second[chat(1).key].status == "error" and "***" in second[chat(1).key].error
    assert KEY.encode() not in (tmp_path / "log.sqlite").read_bytes()
    for extra in tmp_path.glob("log.sqlite-*"):  # the WAL too
        assert KEY.encode() not in extra.read_bytes()
    assert KEY not in repr(client) and client.redact(f"x{KEY}y") == "x***y"


def test_a_batch_answer_the_log_refuses_is_counted_as_failed(tmp_path):
    from prefdissect.llm.batch import export_batch, import_results

    export_batch([chat(0), chat(1)], tmp_path / "batch.jsonl")
    good = chat_reply("A", logprobs=[("A", 0.0), ("B", -1.0)])
    bad = chat_reply("A", logprobs=[("A", 0.0), ("B", float("nan"))])
    lines = [{"custom_id": r.key, "response": {"status_code": 200, "body": body}}
             for r, body in ((chat(0), good), (chat(1), bad))]
    (tmp_path / "results.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    log = ExchangeLog(tmp_path / "log.sqlite")
    assert import_results(tmp_path / "results.jsonl", tmp_path / "batch.jsonl", log) == (1, 1)
    assert log.get(chat(0).key) is not None and log.get(chat(1).key) is None
