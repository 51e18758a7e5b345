"""The one-call plan's answers turned into annotations, checked by hand (fake server)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from fake_llm import FakeLLM, chat_reply

from prefdissect.annotators.llm_onecall import OneCallAnnotator
from prefdissect.llm.client import LLMClient
from prefdissect.properties import load_schema

ANSWER = {  # pair 1: intent unclear, no feelings, two constraints, one mistake, errors
    "ratings": {name: [3, 1] for name in load_schema().names},
    "query": {"intent_clear": False, "expresses_feelings": False,
              "constraints": [{"item": "short", "a": 3, "b": 1},
                              {"item": "polite", "a": 1, "b": 1}],
              "stances": [],
              "mistakes": [{"item": "wrong date", "a": "pointed out and corrected",
                            "b": "neither"}],
              "scenario": "Advice"},
    "specific": {"clarifies_intent": [2, 0], "empathetic": [3, 3]},
    "errors": {"checkable_a": True, "checkable_b": True,
               "errors_a": [{"error": "x", "kind": "factual", "severity": "minor"},
                            {"error": "y", "kind": "math", "severity": "severe"}],
               "errors_b": []}}


def respond(path, body):
    user = body["messages"][1]["content"]
    if "Second question" in user:  # pair 2: never a usable answer, repair included
        return chat_reply("no JSON here, sorry")
    answer = json.loads(json.dumps(ANSWER))
    names = body["response_format"]["json_schema"]["schema"]["properties"]["ratings"][
        "required"]
    answer["ratings"] = {name: [3, 1] for name in names}
    return chat_reply(json.dumps(answer))


def test_one_request_per_pair_gives_every_property_as_the_five_steps_would(tmp_path):
    pairs = pd.DataFrame({"id": ["p1", "p2"], "query": ["First question?", "Second question?"],
                          "response_a": ["Answer one.", "Answer two."],
                          "response_b": ["Reply one.", "Reply two."], "model_a": None,
                          "model_b": None, "scenario": None, "reference": None,
                          "history": None, "metadata": None})
    schema = load_schema()
    with FakeLLM(respond) as server:
        client = LLMClient(server.url, tmp_path / "log.sqlite", backoff=0.01)
        worker = OneCallAnnotator(client, "fake")
        frame = worker.annotate(pairs, schema).set_index(["pair_id", "property"])
        sent = list(server.requests)
    first = [r for r in sent if "First question" in r["messages"][1]["content"]]
    assert len(first) == 1  # every property of a pair in one request
    assert len(sent) == 3  # pair 2: its request and one repair request
    assert set(worker.measures(schema)) == set(schema.names)
    one = frame.loc["p1"]
    assert (one.loc["harmless", ["value_a", "value_b"]] == [3, 1]).all()
    assert one.loc["clarifies_intent", "status"] == "ok"  # the intent was unclear
    assert (one.loc["clarifies_intent", ["value_a", "value_b"]] == [2, 0]).all()
    assert one.loc["empathetic", "status"] == "not_applicable"  # no feelings expressed
    assert (one.loc["satisfies_constraints", ["value_a", "value_b"]] == [2.0, 1.0]).all()
    assert one.loc["supports_stances", "status"] == "not_applicable"
    assert (one.loc["corrects_mistakes", ["value_a", "value_b"]] == [3.0, 0.0]).all()
    assert (one.loc["no_minor_errors", ["value_a", "value_b"]] == [1, 0]).all()
    assert (one.loc["no_moderate_errors", ["value_a", "value_b"]] == [0, 0]).all()
    assert (one.loc["no_severe_errors", ["value_a", "value_b"]] == [1, 0]).all()
    assert set(one["annotator"]) == {"llm-onecall"}
    # word counts as the paper counted them (the full stop is a token): "Answer one." is 3
    assert (one.loc["lengthy", ["value_a", "value_b"]] == [3, 3]).all()
    two = frame.loc["p2"].drop("lengthy")
    assert (two["status"] == "failed").all() and len(two) == 28
    assert two["reason"].str.startswith("unusable answer after one repair request").all()
    info = worker.query_info_.set_index("pair_id")
    assert info.loc["p1", "intent_unclear"] and info.loc["p1", "contains_mistakes"]
    assert info.loc["p1", "scenario"] == "Advice" and info.loc["p2", "status"] == "failed"



def test_an_unusable_answer_is_asked_again_by_the_next_run(tmp_path):
    pairs = pd.DataFrame({"id": ["p1", "p2"], "query": ["First question?", "Second question?"],
                          "response_a": ["Answer one.", "Answer two."],
                          "response_b": ["Reply one.", "Reply two."], "reference": None,
                          "history": None, "metadata": None})
    with FakeLLM(respond) as server:
        for _ in range(2):
            client = LLMClient(server.url, tmp_path / "log.sqlite", backoff=0.01)
            frame = OneCallAnnotator(client, "fake").annotate(pairs, load_schema())
        second = server.requests[3:]
    # pair 1's answer comes from the log; pair 2's unusable one (and its repair) is re-sent
    assert len(second) == 2
    assert all("Second question" in r["messages"][1]["content"] for r in second)
    assert (frame[frame["pair_id"] == "p1"]["status"] != "failed").all()
    assert (frame[(frame["pair_id"] == "p2") & (frame["property"] != "lengthy")]["status"]
            == "failed").all()

def test_a_property_of_ones_own_is_asked_its_question_alone(tmp_path):
    from prefdissect.properties import Property, PropertySchema

    schema = PropertySchema("mine", (Property("warmth", "warmth", "a warm tone",
                                              "higher_better", question="how warm it is"),))
    pairs = pd.DataFrame({"id": ["p1"], "query": ["Hi"], "response_a": ["Hello!"],
                          "response_b": ["Yes."], "reference": None, "history": None,
                          "metadata": None})
    with FakeLLM(lambda path, body: chat_reply(json.dumps({"ratings": {"warmth": [3, 0]}}))) \
            as server:
        worker = OneCallAnnotator(LLMClient(server.url, tmp_path / "log.sqlite"), "fake")
        frame = worker.annotate(pairs, schema)
        body = server.requests[0]
    assert "- warmth: how warm it is" in body["messages"][1]["content"]
    assert set(body["response_format"]["json_schema"]["schema"]["properties"]) == {"ratings"}
    assert body["max_tokens"] == 40 + 12  # sized to one rating
    assert frame[["value_a", "value_b"]].values.tolist() == [[3.0, 0.0]]
    assert worker.query_info_ is None


@pytest.mark.parametrize(("args", "message"), [
    (["--plan", "three-step"], "--plan three-step: use five-step or one-call"),
    (["--plan", "one-call", "--swap-check"], "belong to the five-step plan"),
    (["--plan", "one-call", "--max-tokens", "free=10"], "the one-call plan takes onecall=N"),
])
def test_the_plan_option_is_checked(cli, tmp_path, args, message):
    source = tmp_path / "pairs.jsonl"
    source.write_text(json.dumps({"query": "q", "response_a": "a", "response_b": "b"}) + "\n")
    assert cli("import", str(source), "--out", str(tmp_path / "s")).code == 0
    result = cli("annotate", str(tmp_path / "s"), "--annotator", "llm", "--model", "m",
                 "--base-url", "http://127.0.0.1:9/v1", *args)
    assert result.code == 2 and message in " ".join(result.err.split()), result.err
