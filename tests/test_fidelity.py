"""Annotation as the paper did it: per-response error checks, the reference, word counts."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from fake_llm import FakeLLM, chat_reply, schema_reply

from prefdissect.annotators.heuristic import HeuristicAnnotator
from prefdissect.annotators.llm import LLMAnnotator
from prefdissect.comparisons import S_NOT_APPLICABLE, S_OK, resolve
from prefdissect.llm.client import LLMClient
from prefdissect.pairs import Pair, pairs_to_frame
from prefdissect.properties import load_schema

ERRORS = ["no_minor_errors", "no_moderate_errors", "no_severe_errors"]

# What the annotator answers in the error step, per pair (found by its query).
CHECKS = {
    "Hi there, how are you today?": {  # chit-chat: checked, nothing wrong on either side
        "checkable_a": True, "checkable_b": True, "errors_a": [], "errors_b": []},
    "What did the mayor say at yesterday's council meeting?": {  # A needs the news
        "checkable_a": False, "checkable_b": True, "errors_a": [],
        "errors_b": [{"error": "invents a quote", "kind": "factual", "severity": "severe"}]},
    "What is 17 times 3?": {
        "checkable_a": True, "checkable_b": True, "errors_a": [],
        "errors_b": [{"error": "17 x 3 is not 41", "kind": "math", "severity": "severe"},
                     {"error": "says 'thirty'", "kind": "math", "severity": "minor"}]},
}


def _pairs() -> pd.DataFrame:
    answers = {"Hi there, how are you today?": ("I'm well, thanks! And you?", "Fine."),
               "What did the mayor say at yesterday's council meeting?":
                   ("She announced a new park.", "She said 'taxes will fall'."),
               "What is 17 times 3?": ("17 x 3 = 51.", "It is 41, about thirty.")}
    pairs = [Pair(id=f"p{i}", query=q, response_a=a, response_b=b,
                  reference=None if i == 0 else "a reference answer")
             for i, (q, (a, b)) in enumerate(answers.items())]
    return pairs_to_frame(pairs)


def _respond(path, body):
    fmt = body.get("response_format") or {}
    if fmt.get("json_schema", {}).get("name") == "prefdissect_errors":
        user = body["messages"][-1]["content"]
        query = next(q for q in CHECKS if q in user)
        return chat_reply(json.dumps(CHECKS[query]))
    return schema_reply(path, body)


def test_error_checks_are_per_response_and_drop_only_that_pairs_comparisons(tmp_path):
    pairs, schema = _pairs(), load_schema()
    with FakeLLM(_respond) as server:
        client = LLMClient(server.url, tmp_path / "log.sqlite")
        llm = LLMAnnotator(client, "fake", steps=("query", "errors"))
        frame = llm.annotate(pairs, schema)
        sent = list(server.requests)
    annotations = pd.concat([frame, HeuristicAnnotator().annotate(pairs, schema)])
    comparisons = resolve(annotations, pairs["id"], schema)
    values, status = comparisons.values, comparisons.status

    # chit-chat is checked: no errors on either side is a tie, not a missing value
    assert (status.loc["p0", ERRORS] == S_OK).all()
    assert (values.loc["p0", ERRORS] == 0).all()
    # a response the annotator cannot check leaves out that pair's error comparisons ...
    assert (status.loc["p1", ERRORS] == S_NOT_APPLICABLE).all()
    assert values.loc["p1", ERRORS].isna().all()
    reasons = frame[(frame["pair_id"] == "p1") & frame["property"].isin(ERRORS)]["reason"]
    assert reasons.str.contains("could not reliably check response A").all()
    # ... and nothing else of it: its length and heuristic comparisons stay
    others = [p for p in values.columns if p not in ERRORS]
    assert (status.loc["p1", others] == S_OK).all()
    # a checked pair counts errors by severity (B: one severe, one minor, A none)
    assert values.loc["p2", ERRORS].tolist() == [1.0, 0.0, 1.0]

    # the reference is the model's answer to the bare request, with a large budget
    reference = [b for b in sent if "response_format" not in b]
    assert len(reference) == 1
    assert reference[0]["messages"] == [{"role": "user", "content": pairs["query"][0]}]
    assert reference[0]["max_tokens"] == 4096
    # the query step lists every constraint, stance and mistake (caps far above practice)
    query_schema = next(b["response_format"]["json_schema"]["schema"] for b in sent
                        if b.get("response_format", {}).get("json_schema", {}).get("name")
                        == "prefdissect_query")
    caps = [spec.get("maxItems") for spec in query_schema["properties"].values()
            if spec.get("type") == "array"]
    assert len(caps) == 3 and min(caps) >= 10


def test_length_is_the_same_count_on_every_path(tmp_path):
    pairs, schema = _pairs(), load_schema()
    pairs.loc[2, "metadata"] = json.dumps({"words_a": 40, "words_b": 7})  # a source's own
    with FakeLLM(schema_reply) as server:
        llm = LLMAnnotator(LLMClient(server.url, tmp_path / "log.sqlite"), "fake",
                           steps=("free",))
        frame = llm.annotate(pairs, schema)
    heuristic = HeuristicAnnotator().annotate(pairs, schema)
    by_llm = frame[frame["property"] == "lengthy"].set_index("pair_id")
    by_heuristic = heuristic[heuristic["property"] == "lengthy"].set_index("pair_id")
    # "I'm well, thanks! And you?" is I 'm well , thanks ! And you ? = 9 words
    assert by_llm.loc["p0", ["value_a", "value_b"]].tolist() == [9.0, 2.0]
    assert np.array_equal(by_llm.loc[["p0", "p1"], ["value_a", "value_b"]],
                          by_heuristic.loc[["p0", "p1"], ["value_a", "value_b"]])
    assert by_llm.loc["p2", ["value_a", "value_b"]].tolist() == [40.0, 7.0]


def test_paper_protocol_selects_the_papers_fit_and_compare_says_when_not(cli, tmp_path):
    from prefdissect.profiles import FitConfig
    from prefdissect.protocol import paper_protocol, protocol_notes

    config = paper_protocol(FitConfig())
    assert (config.average_folds, config.model_terms, config.max_missing, config.folds,
            config.soft_labels) == (True, "none", 1.0, 10, False)
    refused = cli("fit", str(tmp_path), "--paper-protocol", "--soft-labels")
    assert refused.code == 2 and "hard labels" in refused.err
    refused = cli("fit", str(tmp_path), "--paper-protocol", "--model-terms", "models")
    assert refused.code == 2 and "without model terms" in refused.err
    for name, settings in (("ours", vars(FitConfig())), ("paper", vars(config))):
        (tmp_path / name).mkdir()
        (tmp_path / name / "summary.json").write_text(json.dumps({"config": settings}))
    notes = protocol_notes([tmp_path / "ours", tmp_path / "paper"])
    assert len(notes) == 1 and notes[0].startswith("ours was not fitted as the paper's")
    assert "one fit on all pairs" in notes[0] and "model terms (auto)" in notes[0]
