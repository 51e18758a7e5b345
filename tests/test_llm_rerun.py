"""Commands over a server that answers badly first, then well: what fails says so (exit 3),
a re-run asks only the unusable answers again, and no key reaches a file or a message.

Every test talks to the project's fake server (tests/fake_llm.py) on 127.0.0.1 and runs
the CLI in-process.
"""

from __future__ import annotations

import json
import re
import sqlite3

import pandas as pd
import pytest
from fake_llm import AUTH, FakeLLM, chat_reply, schema_reply

from prefdissect.llm.client import AUTH_FAILURES_TO_STOP

GARBAGE = "Sorry, I think both are fine!!"
KEY = "sk-SOAK/SECRET+123/Zq81mK2hT7vW0xY3"
SPELLINGS = (KEY, KEY.replace("/", "\\/"), KEY.replace("/", "\\u002f"),
             KEY.replace("+", "\\u002B"), KEY.replace("+", "\\u002b"))


def imported(cli, tmp_path, n=6):
    rows = [{"id": f"p{i}", "query": f"How do I do thing {i}? I feel lost.",
             "response_a": f"Answer A{i}: do it step by step, then check it twice.",
             "response_b": f"B{i}. No.", "label:human": "A" if i % 3 else "B",
             "model_a": "m1", "model_b": "m2"} for i in range(n)]
    source = tmp_path / "pairs.jsonl"
    source.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    study = tmp_path / "study"
    assert cli("import", str(source), "--out", str(study)).code == 0
    return study


def one_line(result) -> str:
    assert "Traceback" not in result.err + result.out, result.err
    return " ".join((result.out + result.err).split())


def pair_of(body) -> int:
    found = re.search(r"thing (\d)|B(\d)\. No\.", json.dumps(body))
    return int(found.group(1) or found.group(2))


def rejected(study) -> set[str]:
    db = sqlite3.connect(study / "llm_log.sqlite")
    try:
        return {k for (k,) in db.execute("SELECT key FROM exchanges WHERE status = 'rejected'")}
    finally:
        db.close()


# -- unusable answers ------------------------------------------------------------------------

def test_unusable_annotations_exit_3_and_only_they_are_asked_again(cli, tmp_path):
    study = imported(cli, tmp_path, n=4)
    bad = {1, 2}

    def reply(path, body):  # pairs 1 and 2 get text where JSON is needed (repairs too)
        return chat_reply(GARBAGE) if pair_of(body) in bad else schema_reply(path, body)

    annotate = ["annotate", str(study), "--annotator", "llm", "--model", "m", "--steps",
                "query,free"]
    with FakeLLM(reply) as server:
        first = cli(*annotate, "--base-url", server.url)
        paid = set(server.paid)
        assert first.code == 3, first.err
        text = one_line(first)
        assert "8 of 12 LLM requests failed or gave answers that could not be used" in text
        assert "the next run asks it again" in text
        annotations = pd.read_parquet(study / "annotations.parquet")
        failed = annotations[annotations["status"] == "failed"]
        assert set(failed["pair_id"]) == {"p1", "p2"} and failed["reason"].notna().all()
        info = pd.read_parquet(study / "query_info.parquet").set_index("pair_id")
        assert list(info["status"]) == ["ok", "failed", "failed", "ok"]
        unusable = rejected(study)
        assert len(unusable) == 8  # 2 pairs x 2 steps, the request and its repair
        bad.clear()  # the server answers well now
        before = len(server.events)
        second = cli(*annotate, "--base-url", server.url)
        asked = [key for _, key, _ in server.events[before:]]
        assert second.code == 0, second.err
        # the 4 unusable requests again (their repairs are not needed now), and no answer
        # that was used
        assert len(asked) == 4 and set(asked) <= unusable and not set(asked) & (paid - unusable)
        assert rejected(study) == unusable - set(asked)  # the unused repairs' answers
        before = len(server.events)
        third = cli(*annotate, "--base-url", server.url)
        assert third.code == 0 and len(server.events) == before  # nothing left to ask
    annotations = pd.read_parquet(study / "annotations.parquet")
    assert (annotations["status"] == "ok").all()


def test_a_cut_off_answer_asks_for_a_higher_cap_and_is_not_sent_again(cli, tmp_path):
    study = imported(cli, tmp_path, n=3)
    cut = {1}

    def reply(path, body):
        if pair_of(body) in cut:
            return chat_reply('{"harmless": [3, ', finish_reason="length")
        return schema_reply(path, body)

    annotate = ["annotate", str(study), "--annotator", "llm", "--model", "m", "--steps", "free"]
    with FakeLLM(reply) as server:
        first = cli(*annotate, "--base-url", server.url)
        assert first.code == 3 and "raise --max-tokens free=N" in one_line(first)
        cut.clear()
        sent = len(server.requests)
        again = cli(*annotate, "--base-url", server.url)  # the same request: not sent again
        assert again.code == 3 and len(server.requests) == sent
        assert "raise --max-tokens free=N" in one_line(again)
        higher = cli(*annotate, "--base-url", server.url, "--max-tokens", "free=900")
        assert higher.code == 0, higher.err
        assert len(server.requests) == sent + 3  # a new cap: three new requests


def test_garbage_verdicts_fail_and_single_orders_are_counted(cli, tmp_path):
    study = imported(cli, tmp_path)
    garbage = {(1, False), (1, True), (2, True)}  # (pair, asked with B shown first)

    def reply(path, body):
        text = body["messages"][-1]["content"]
        i = pair_of(body)
        swapped = text.index(f"B{i}. No.") < text.index(f"Answer A{i}")
        if (i, swapped) in garbage:
            return chat_reply(GARBAGE)
        return chat_reply("A" if not swapped else "B")  # A's answer, in either order

    judge = ["judge", str(study), "--model", "m", "--mode", "verdict"]
    with FakeLLM(reply) as server:
        first = cli(*judge, "--base-url", server.url)
        assert first.code == 3, first.err
        text = one_line(first)
        assert "judged 5 of 6 pairs (4 in both orders, 1 in one order only, 1 failed" in text
        stats = pd.read_csv(study / "judge_stats.csv").set_index("judge").loc["m"]
        assert (stats["single_order"], stats["both_orders"], stats["failed"]) == (1, 4, 1)
        judged = pd.read_parquet(study / "judgments.parquet").query("judge == 'm'")
        details = {r.pair_id: json.loads(r.details) for r in judged.itertuples()}
        assert "p1" not in details  # not a tie: no verdict at all
        assert details["p2"]["single_order"] and "no verdict" in details["p2"]["swapped_detail"]
        assert not any(details[p]["single_order"] for p in details if p != "p2")
        failures = pd.read_csv(study / "exclusions.csv").query("judge == 'm'")
        assert list(failures["pair_id"]) == ["p1"]
        assert GARBAGE[:20] in failures["detail"].iloc[0]
        garbage.clear()
        before = len(server.events)
        second = cli(*judge, "--base-url", server.url)
        assert second.code == 0, second.err
        assert len(server.events) - before == 3  # only the three unusable answers
    stats = pd.read_csv(study / "judge_stats.csv").set_index("judge").loc["m"]
    assert (stats["single_order"], stats["both_orders"], stats["failed"]) == (0, 6, 0)
    assert pd.isna(stats["warning"])  # consistent judge: nothing to warn about


def test_a_degenerate_judge_is_flagged(cli, tmp_path):
    study = imported(cli, tmp_path)

    def reply(path, body):  # the model wants to say "The"; "A" gets crumbs; no "B" at all
        return chat_reply("The", logprobs=[("The", -0.01), ("Sure", -5.0), ("A", -7.0)])

    with FakeLLM(reply) as server:
        result = cli("judge", str(study), "--model", "m", "--base-url", server.url)
    assert result.code == 0, result.err  # every answer was read ...
    text = one_line(result)
    assert "warning: m: 100% of its answers carry no verdict letter" in text  # ... but
    assert "is not above chance" in text  # always "first": 0 of 6 consistent
    stats = pd.read_csv(study / "judge_stats.csv").set_index("judge").loc["m"]
    assert stats["no_verdict_share"] == 1.0 and stats["position_consistency"] == 0.0
    assert "no verdict letter" in stats["warning"] and "not above chance" in stats["warning"]
    notes = json.loads((study / "study.json").read_text())["notes"]
    # the third: its verdicts come out as ties ("A" whichever response is shown first)
    assert sum(n.startswith("judge m: ") for n in notes) == 3


def test_an_empty_generated_answer_is_asked_again(cli, tmp_path):
    questions = tmp_path / "alpaca.json"
    questions.write_text(json.dumps([{"instruction": f"Explain topic {i}."} for i in range(3)]))
    empty = {"topic 1"}

    def reply(path, body):
        text = body["messages"][-1]["content"]
        return chat_reply("" if any(e in text for e in empty) else f"About {text}")

    generate = ["exploit", "generate", str(questions), "--out", str(tmp_path / "run"),
                "--model", "m"]
    with FakeLLM(reply) as server:
        first = cli(*generate, "--base-url", server.url)
        assert first.code == 3 and "answered 2 of 3 questions" in one_line(first)
        empty.clear()
        second = cli(*generate, "--base-url", server.url)
        assert second.code == 0, second.err
        assert len(server.requests) == 4  # the empty one, asked again; the others not
    outputs = json.loads((tmp_path / "run" / "model_outputs.json").read_text())
    assert [o["output"] for o in outputs] == [f"About Explain topic {i}." for i in range(3)]


# -- refused credentials and prompts ----------------------------------------------------------

def test_refused_credentials_stop_the_command(cli, tmp_path):
    study = imported(cli, tmp_path, n=20)
    with FakeLLM() as server:
        server.faults.extend(["401"] * 100)
        result = cli("judge", str(study), "--model", "m", "--base-url", server.url,
                     "--concurrency", "2")
        sent = len(server.requests)
    assert result.code == 3
    text = one_line(result)
    assert f"refused the credentials {AUTH_FAILURES_TO_STOP} times in a row (HTTP 401" in text
    assert "Check the key (--api-key, PREFDISSECT_API_KEY or OPENAI_API_KEY)" in text
    assert sent <= AUTH_FAILURES_TO_STOP + 1  # (one more may be in flight), not all 40


@pytest.mark.parametrize("kind", ["judge", "annotate"])
def test_a_prompt_without_its_placeholders_is_refused(cli, tmp_path, kind):
    from prefdissect.prompts import load

    study = imported(cli, tmp_path, n=2)
    texts = load("judge" if kind == "judge" else "annotate")[0]
    step = "user" if kind == "judge" else "free"
    texts[step] = texts[step].replace("{response_b}", "(the second one)")
    prompt = tmp_path / "mine.yaml"
    prompt.write_text(json.dumps(texts), encoding="utf-8")  # (JSON is YAML)
    with FakeLLM(schema_reply) as server:
        if kind == "judge":
            result = cli("judge", str(study), "--model", "m", "--base-url", server.url,
                         "--prompt", str(prompt))
        else:
            result = cli("annotate", str(study), "--annotator", "llm", "--model", "m",
                         "--base-url", server.url, "--prompts", str(prompt))
        assert not server.requests
    assert result.code == 2
    assert f"{prompt}: field '{step}' does not use the placeholder {{response_b}}" in \
        one_line(result)


# -- keys ------------------------------------------------------------------------------------

def key_reply(path, body):
    """Answers that carry the key (as the fake server spells the header) in every field a
    later stage keeps: query lists, references, error notes, verdict texts, grades."""
    messages = body.get("messages", [])
    text = messages[-1]["content"] if messages else ""
    schema = json.dumps(body.get("response_format", {}))
    if "intent_clear" in schema:
        return chat_reply(json.dumps({
            "intent_clear": False, "expresses_feelings": True,
            "explicit_constraints": [f"be brief {AUTH}"], "explicit_stances": [],
            "mistakes_or_biases": [f"thinks {AUTH}"], "scenario": "Advice"}))
    if "errors_a" in schema:
        return chat_reply(json.dumps({"applicable": True, "errors_a": [
            {"error": f"wrong {AUTH}", "severity": "minor"}], "errors_b": []}))
    if "response_format" in body:
        return schema_reply(path, body)
    if body.get("logprobs"):  # a judge, with no log-probabilities in its answer
        shown_first = text.split("<response_a>")[1].strip()
        swapped = shown_first.startswith(("B", "An answer")) and \
            not shown_first.startswith("Baseline")
        if "thing 1" in text or ("topic 1" in text and swapped):
            return chat_reply(f"No idea {AUTH}")
        return chat_reply(f"Response {'B' if swapped else 'A'} is better. {AUTH}")
    system = messages[0]["content"] if messages[0]["role"] == "system" else ""
    if system.startswith("You grade"):
        return chat_reply(f"No grade {AUTH}" if "topic 1" in text else f"Fine {AUTH}\n[[6]]")
    return chat_reply(f"An answer {AUTH} (seed {body.get('seed')})")  # references, answers


def everything(folder) -> str:
    """Every file under ``folder`` as text: tables read back, logs dumped, the rest raw."""
    out = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.suffix == ".parquet":
            out.append(pd.read_parquet(path).to_json())
        if path.suffix == ".sqlite":
            db = sqlite3.connect(path)
            out.append("\n".join(db.iterdump()))
            db.close()
        out.append(path.read_bytes().decode("utf-8", "replace"))
    return "\n".join(out)


def test_no_key_reaches_a_file_or_a_message_however_the_server_escapes_it(cli, tmp_path,
                                                                          monkeypatch):
    for name in ("PREFDISSECT_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PREFDISSECT_API_KEY", KEY)
    (tmp_path / "in").mkdir()
    source = tmp_path / "in" / "pairs.jsonl"
    source.write_text("\n".join(json.dumps({
        "id": f"p{i}", "query": f"How do I do thing {i}?", "response_a": f"A{i} yes",
        "response_b": f"B{i} no", "label": "AB"[i % 2]}) for i in range(6)) + "\n")
    questions = tmp_path / "in" / "alpaca.json"
    questions.write_text(json.dumps([{"instruction": f"Explain topic {i}."} for i in range(3)]))
    baseline = tmp_path / "in" / "baseline.json"
    baseline.write_text(json.dumps([{"instruction": f"Explain topic {i}.",
                                     "output": f"Baseline {i}.", "generator": "base"}
                                    for i in range(3)]))
    results, out = [], tmp_path / "out"
    with FakeLLM(key_reply) as server:
        server.escape = "plus"  # every '+' written as \u002B: the raw-text pass misses it
        url = ["--base-url", server.url]
        results.append(cli("dissect", str(source), "--out", str(out / "study"),
                           "--annotator", "llm", "--model", "m", "--llm-judge", "m",
                           "--min-pairs", "3", "--folds", "0", *url))
        for name in ("plain", "steered"):
            results.append(cli("exploit", "generate", str(questions), "--out",
                               str(out / name), "--model", "m", *url))
            results.append(cli("exploit", "judge", str(out / name), "--baseline",
                               str(baseline), "--grade", "--model", "j", *url))
        results.append(cli("exploit", "compare", str(out / "plain"), str(out / "steered")))
        sent = {h.get("Authorization") or h.get("authorization") for h in server.headers}
        assert sent == {f"Bearer {KEY}"}  # the key was sent ...
    assert [r.code for r in results] == [3, 0, 3, 0, 3, 0], [r.err for r in results]
    text = one_line(results[2])
    assert "2 judged in both orders and 1 in one order only" in text  # topic 1, one order
    assert "2 graded, 1 failed -> grades.csv" in text
    assert "plain: 1 of its 3 pairwise verdicts rest on one presentation order only" in \
        one_line(results[-1])
    info = pd.read_parquet(out / "study" / "query_info.parquet")
    assert info["details"].str.contains("be brief Bearer \\*\\*\\*").all()  # ... and came back
    assert info["reference"].str.contains("Bearer \\*\\*\\*").all()
    found = everything(out) + "\n".join(r.out + r.err for r in results)
    assert [s for s in SPELLINGS if s in found] == []


# -- grades ------------------------------------------------------------------------------------

def test_a_grade_in_echoed_prompt_text_is_not_read(tmp_path):
    from prefdissect.exploits.grading import Grader, parse_grade
    from prefdissect.exploits.questions import Question, QuestionSet
    from prefdissect.llm.client import LLMClient

    questions = QuestionSet("q", "turns", [Question(str(i), [f"Question {i}?"])
                                           for i in range(4)])
    answers = {str(i): [[f"Answer {i}."]] for i in range(4)}

    def echo(path, body):  # a base model continues its prompt: the example [[6]] comes back
        return chat_reply(body["messages"][-1]["content"][-200:])

    with FakeLLM(echo) as server:
        client = LLMClient(server.url, tmp_path / "log.sqlite")
        grades = Grader(client, "m").grade(questions, answers)
    assert (grades["status"] == "failed").all() and grades["grade"].isna().all()
    assert grades["reason"].str.contains("only the 1 grade in text copied from the prompt").all()
    assert len(client.tally.failed) == 4  # handed back: asked again by the next run
    # FastChat's prompt shows "Rating: [[5]]" as its example: an echo of it is not a
    # grade, the same words written alone by the model are
    fastchat = ('Rate it by strictly following this format: "[[rating]]", for example: '
                '"Rating: [[5]]".\n\n[Question]\n{question}\n\n[Answer]\n{answer}')
    assert parse_grade('for example: "Rating: [[5]]".', "", fastchat)[0] is None
    assert parse_grade("Helpful and correct.\nRating: [[5]]", "", fastchat) == (5.0, "")
    assert parse_grade("Rating: [[5]]", "", fastchat) == (5.0, "")


def test_scores_say_how_many_verdicts_rest_on_one_order():
    from test_model_terms import simulate_models

    from prefdissect.scores import ScoreConfig, model_scores

    pairs, judgments, comparisons, _ = simulate_models(400, seed=1)
    single = judgments.index % 10 == 0
    judgments = judgments.assign(details=[json.dumps({"single_order": bool(s)})
                                          for s in single])
    result = model_scores(pairs, judgments, comparisons, "sim", ScoreConfig(draws=100))
    assert f"{int(single.sum())} of the 400 verdicts rest on one presentation order only" in \
        " ".join(result.notes)


def test_a_judge_that_always_says_tie_is_flagged(cli, tmp_path):
    study = imported(cli, tmp_path)
    with FakeLLM(lambda path, body: chat_reply("It's a tie.")) as server:
        result = cli("judge", str(study), "--model", "m", "--base-url", server.url,
                     "--mode", "verdict")
    assert result.code == 0, result.err
    # a tie in both orders counts as consistent: without its own warning, it looks steady
    assert "warning: m: 100% of its verdicts are ties" in one_line(result)
    stats = pd.read_csv(study / "judge_stats.csv").set_index("judge").loc["m"]
    assert stats["tie_share"] == 1.0 and stats["position_consistency"] == 1.0
    assert "verdicts are ties" in stats["warning"]
