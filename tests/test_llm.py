"""LLM client, annotator, judge and batch transport against a loopback test server."""

from __future__ import annotations

import json
import math
import sqlite3

import pandas as pd
import pytest
from fake_llm import FakeLLM, chat_reply, schema_reply

from prefdissect.annotators.llm import LLMAnnotator
from prefdissect.judges.llm import read_logprobs, read_verdict
from prefdissect.llm.batch import export_batch, import_results, run_batch_file
from prefdissect.llm.cache import LATEST
from prefdissect.llm.client import LLMClient, Request
from prefdissect.llm.parsing import ParseError, parse_json
from prefdissect.properties import load_schema

KEY = "sk-test-9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c"


def chat(i: int, max_tokens: int = 1) -> Request:
    return Request("chat", {"model": "m", "max_tokens": max_tokens,
                            "messages": [{"role": "user", "content": f"question {i}"}]})


def make_study(tmp_path, n=6, reference=False):
    rows = [{"id": f"p{i}", "query": f"How do I do thing {i}? I feel lost.",
             "response_a": f"Answer A{i}: do it step by step.", "response_b": f"B{i}. No.",
             "label:human": "A" if i % 3 else "B",
             **({"reference": "the right answer"} if reference else {})} for i in range(n)]
    src = tmp_path / "pairs.jsonl"
    src.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return src


# -- the client ------------------------------------------------------------------------

def test_faults_are_retried_and_logged(tmp_path):
    with FakeLLM() as server:
        client = LLMClient(server.url, tmp_path / "log.sqlite", api_key=KEY, backoff=0.01,
                           timeout=0.5)
        server.hang_seconds = 2.0
        server.faults.extend(["429", "500", "malformed", "truncated", "hang"])
        outcomes = client.run([chat(i) for i in range(6)])
        assert all(o.status == "ok" for o in outcomes.values())
        assert len(server.requests) == 11  # 6 requests + 5 failed attempts
        again = client.run([chat(i) for i in range(6)])
        assert all(o.cached for o in again.values()) and len(server.requests) == 11
    db = sqlite3.connect(tmp_path / "log.sqlite")
    outcomes = sorted(row[0] for row in db.execute("SELECT outcome FROM attempts"))
    assert outcomes.count("ok") == 6 and outcomes.count("malformed") == 2
    assert outcomes.count("timeout") == 1 and outcomes.count("error") == 2
    assert db.execute("PRAGMA user_version").fetchone()[0] == LATEST


def test_persistent_failure_is_kept_and_only_it_is_retried(tmp_path):
    with FakeLLM() as server:
        client = LLMClient(server.url, tmp_path / "log.sqlite", backoff=0.01, max_attempts=2,
                           concurrency=1)
        server.faults.extend(["500", "500"])  # the first request fails twice
        first = client.run([chat(0), chat(1), chat(2)])
        failed = [o for o in first.values() if o.status == "error"]
        assert len(failed) == 1 and "HTTP 500" in failed[0].error
        sent = len(server.requests)
        second = client.run([chat(0), chat(1), chat(2)])
        assert all(o.status == "ok" for o in second.values())
        assert len(server.requests) == sent + 1  # only the failure went out again


def test_client_error_is_not_retried(tmp_path):
    with FakeLLM() as server:
        client = LLMClient(server.url.replace("/v1", "/missing"), tmp_path / "log.sqlite",
                           backoff=0.01)
        server.respond = lambda path, body: chat_reply("x")
        original = server._server.RequestHandlerClass.do_POST

        def not_found(handler):
            if "/missing/" in handler.path:
                handler.rfile.read(int(handler.headers.get("content-length", 0)))
                server.requests.append({})
                return handler._send(404, {"error": {"message": "no such route"}})
            return original(handler)

        server._server.RequestHandlerClass.do_POST = not_found
        outcome = next(iter(client.run([chat(9)]).values()))
    assert outcome.status == "error" and "HTTP 404" in outcome.error
    assert len(server.requests) == 1  # a 4xx other than 408/429 is not retried


def test_dry_run_counts_what_a_live_run_sends(tmp_path):
    with FakeLLM(schema_reply) as server:
        client = LLMClient(server.url, tmp_path / "log.sqlite")
        requests = [chat(i, max_tokens=5) for i in range(4)] + [chat(0, max_tokens=5)]
        plan = client.plan(requests)
        assert plan.requests == 4 and plan.completion_tokens == 20
        assert plan.prompt_tokens == sum(r.estimated_tokens()[0] for r in requests[:4])
        client.run(requests)
        assert len(server.requests) == plan.requests
        assert client.plan(requests).requests == 0


# -- parsing ---------------------------------------------------------------------------

def test_tolerant_parse_and_schema_check():
    schema = {"type": "object", "properties": {"a": {"type": "integer", "maximum": 3}},
              "required": ["a"]}
    assert parse_json('Here you go:\n```json\n{"a": 2,}\n```', schema) == {"a": 2}
    with pytest.raises(ParseError, match="schema violation at a"):
        parse_json('{"a": 7}', schema)
    with pytest.raises(ParseError, match="empty"):
        parse_json("  ", schema)


# -- the judge ---------------------------------------------------------------------------

def test_logprob_reading_in_all_shapes():
    chat_choice = chat_reply("A", logprobs=[("A", -0.2), ("B", -1.8)])["choices"][0]
    assert read_logprobs(chat_choice).p_first == pytest.approx(1 / (1 + math.exp(-1.6)))
    missing_b = chat_reply("A", logprobs=[("A", -0.1), ("The", -3.0)])["choices"][0]
    assert read_logprobs(missing_b).p_first == 1.0  # a missing letter is probability 0
    neither = chat_reply("Hmm", logprobs=[("Hmm", -0.1)])["choices"][0]
    assert read_logprobs(neither).p_first is None
    legacy = {"text": " B", "logprobs": {"tokens": [" B"], "token_logprobs": [-0.1],
                                         "top_logprobs": [{" B": -0.1, " A": -2.5}]}}
    assert read_logprobs(legacy).p_first == pytest.approx(
        math.exp(-2.5) / (math.exp(-2.5) + math.exp(-0.1)))
    assert read_verdict("[[B]]").p_first == 0.0 and read_verdict("tie").p_first == 0.5


def test_judge_both_orders_and_position_bias(cli, tmp_path):
    """A judge that always prefers the first-shown response is caught by the swap."""
    src = make_study(tmp_path)
    study = tmp_path / "study"
    assert cli("import", str(src), "--out", str(study)).code == 0
    with FakeLLM() as server:  # default reply: always "A", i.e. the first shown
        result = cli("judge", str(study), "--model", "fake", "--base-url", server.url,
                     "--name", "biased")
        assert result.code == 0, result.err
        assert len(server.requests) == 12
        assert {r["messages"][1]["content"].count("Answer A") for r in server.requests} == {1}
    judgments = pd.read_parquet(study / "judgments.parquet")
    mine = judgments[judgments["judge"] == "biased"]
    assert len(mine) == 6 and (mine["label"] == "tie").all()  # the bias cancels exactly
    stats = pd.read_csv(study / "judge_stats.csv").iloc[0]
    assert stats["position_consistency"] == 0.0 and stats["first_position_rate"] == 1.0
    assert "position consistency 0.0%" in result.text


def test_judge_completions_endpoint_and_dry_run(cli, tmp_path):
    src = make_study(tmp_path, n=5)
    study = tmp_path / "study"
    cli("import", str(src), "--out", str(study))
    with FakeLLM(schema_reply) as server:
        dry = cli("judge", str(study), "--model", "base", "--base-url", server.url,
                  "--endpoint", "completions", "--dry-run")
        assert dry.code == 0 and "10 requests to send" in dry.text
        assert len(server.requests) == 0
        live = cli("judge", str(study), "--model", "base", "--base-url", server.url,
                   "--endpoint", "completions")
        assert live.code == 0, live.err
        assert len(server.requests) == 10 and all("prompt" in r for r in server.requests)
    mine = pd.read_parquet(study / "judgments.parquet").query("judge == 'base'")
    details = json.loads(mine.iloc[0]["details"])
    assert details["p_first_order"] == pytest.approx(1 / (1 + math.exp(-1.6)))


# -- the annotator -----------------------------------------------------------------------

def checkable_reply(path, body):
    """schema_reply, with every response checkable in the error step."""
    reply = schema_reply(path, body)
    if '"checkable_a"' in json.dumps(body.get("response_format") or {}):
        answer = json.loads(reply["choices"][0]["message"]["content"])
        reply["choices"][0]["message"]["content"] = json.dumps(
            {**answer, "checkable_a": True, "checkable_b": True})
    return reply


def test_llm_annotation_end_to_end(cli, tmp_path):
    src = make_study(tmp_path, n=8)
    study = tmp_path / "study"
    cli("import", str(src), "--out", str(study))
    with FakeLLM(checkable_reply) as server:
        dry = cli("annotate", str(study), "--annotator", "llm", "--model", "fake",
                  "--base-url", server.url, "--dry-run")
        assert dry.code == 0, dry.err
        # known now: query (8) + reference (8) + free (8) + aware (8); waiting: 8 + 8
        assert "32 requests to send" in dry.text
        assert "16 more requests depend" in dry.text
        live = cli("annotate", str(study), "--annotator", "llm", "--model", "fake",
                   "--base-url", server.url)
        assert live.code == 0, live.err
        sent = len(server.requests)
        again = cli("annotate", str(study), "--annotator", "llm", "--model", "fake",
                    "--base-url", server.url, "--dry-run")
        assert "0 requests to send" in again.text
        assert len(server.requests) == sent
    annotations = pd.read_parquet(study / "annotations.parquet")
    llm = annotations[annotations["annotator"] == "llm"]
    assert set(llm["property"]) == set(load_schema().names)  # lengthy needs no request
    assert set(llm["status"]) <= {"ok", "not_applicable"}
    assert llm["prompt_version"].str.startswith("annotate-").all()
    info = pd.read_parquet(study / "query_info.parquet")
    assert len(info) == 8 and info["scenario"].notna().all()
    assert info["reference"].str.contains("reference answer").all()
    assert cli("annotate", str(study)).code == 0  # the heuristic's own values beside
    fitted = cli("fit", str(study), "--min-pairs", "2", "--folds", "0")
    assert fitted.code == 0, fitted.err
    assert len(set(pd.read_csv(study / "profiles.csv")["property"])) == 29


def test_unusable_answers_get_one_repair_then_a_recorded_failure(tmp_path):
    from prefdissect.importers import run_import
    from prefdissect.pairs import pairs_to_frame

    pairs = pairs_to_frame(run_import(make_study(tmp_path, n=2), "pairs").pairs)
    calls = {"n": 0}

    def sloppy(path, body):
        calls["n"] += 1
        user = body["messages"][-1]["content"]
        if "could not be used" in user and "p0" not in json.dumps(body):
            return schema_reply(path, {**body, "messages": body["messages"][:2]})
        return chat_reply("I think both are fine.")  # never JSON

    with FakeLLM(sloppy) as server:
        client = LLMClient(server.url, tmp_path / "log.sqlite")
        annotator = LLMAnnotator(client, "fake", structured=False, steps=("free",))
        frame = annotator.annotate(pairs, load_schema())
    frame = frame[frame["property"] != "lengthy"]  # counted, not asked
    assert (frame["status"] == "failed").all()
    assert frame["reason"].str.contains("after one repair request").all()
    assert calls["n"] == 4  # 2 pairs x (first answer + one repair)


# -- batch transport -------------------------------------------------------------------------

def test_batch_roundtrip_gives_the_live_annotations(tmp_path):
    from prefdissect.importers import run_import
    from prefdissect.pairs import pairs_to_frame

    pairs = pairs_to_frame(run_import(make_study(tmp_path, n=3, reference=True), "pairs").pairs)
    schema = load_schema()
    with FakeLLM(schema_reply) as server:
        live = LLMAnnotator(LLMClient(server.url, tmp_path / "live.sqlite"), "fake")
        expected = live.annotate(pairs, schema)
        batch_client = LLMClient(server.url, tmp_path / "batch.sqlite")
        annotator = LLMAnnotator(batch_client, "fake")
        runner = LLMClient(server.url, tmp_path / "runner.sqlite")
        rounds = 0
        while True:  # export what is knowable, run it elsewhere, import, repeat
            count = export_batch(annotator.requests(pairs, schema), tmp_path / "req.jsonl",
                                 batch_client.log)
            if count == 0:
                break
            rounds += 1
            run_batch_file(tmp_path / "req.jsonl", runner, tmp_path / "res.jsonl")
            stored, failed = import_results(tmp_path / "res.jsonl", tmp_path / "req.jsonl",
                                            batch_client.log)
            assert (stored, failed) == (count, 0)
        sent = len(server.requests)
        got = annotator.annotate(pairs, schema)
        assert len(server.requests) == sent  # everything came from the imported results
    assert rounds == 2  # step 4 waits for step 1
    key = ["pair_id", "property"]
    pd.testing.assert_frame_equal(got.sort_values(key).reset_index(drop=True),
                                  expected.sort_values(key).reset_index(drop=True))


def test_server_without_structured_output_falls_back_to_plain_text(tmp_path):
    from prefdissect.annotators.llm_schemas import pair_schema, rating
    from prefdissect.importers import run_import
    from prefdissect.pairs import pairs_to_frame
    from prefdissect.prompts import load

    pairs = pairs_to_frame(run_import(make_study(tmp_path, n=3), "pairs").pairs)
    free = pair_schema(list(load("annotate")[0]["free_properties"]), rating())

    def prose(path, body):  # JSON inside prose and a code fence, as chat models write it
        reply = schema_reply(path, {**body, "response_format": {
            "type": "json_schema", "json_schema": {"schema": free}}})
        message = reply["choices"][0]["message"]
        message["content"] = "Here are my ratings:\n```json\n" + message["content"] + "\n```"
        return reply

    with FakeLLM(prose) as server:
        server.reject_response_format = True
        client = LLMClient(server.url, tmp_path / "log.sqlite", backoff=0.01)
        annotator = LLMAnnotator(client, "fake", steps=("free",))
        frame = annotator.annotate(pairs, load_schema())
        refused = sum("response_format" in r for r in server.requests)
    assert refused == 3  # one refused request per pair, not retried
    assert (frame["status"] == "ok").all() and len(frame) == 3 * (18 + 1)  # ratings, lengthy
    assert annotator.structured is False and "rejected structured output" in annotator.notes_[0]


def test_rerunning_a_judge_replaces_its_old_verdicts(cli, tmp_path):
    src = make_study(tmp_path, n=3)
    study = tmp_path / "study"
    cli("import", str(src), "--out", str(study))
    with FakeLLM() as server:
        assert cli("judge", str(study), "--model", "m1", "--base-url", server.url,
                   "--name", "j").code == 0
    assert (pd.read_parquet(study / "judgments.parquet")["judge"] == "j").sum() == 3
    down = cli("judge", str(study), "--model", "m2", "--base-url", "http://127.0.0.1:9/v1",
               "--name", "j", "--max-attempts", "1")
    assert down.code == 3  # finished with failures: every request failed
    assert (pd.read_parquet(study / "judgments.parquet")["judge"] == "j").sum() == 0
    assert (pd.read_csv(study / "exclusions.csv")["judge"] == "j").sum() == 3
