"""The command line tells the truth: exit codes, refusals before work, clear messages."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from fake_llm import FakeLLM, chat_reply, schema_reply

ROOT = Path(__file__).resolve().parents[1]


def write_pairs(path, n=6, **extra):
    rows = [{"id": f"p{i}", "query": f"How do I do thing {i}? I feel lost.",
             "response_a": f"Answer A{i}: do it step by step, then check it twice.",
             "response_b": f"B{i}. No.", "label:human": "A" if i % 3 else "B",
             "metadata": {"split": "x" if i % 2 else "y"}, **extra} for i in range(n)]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def imported(cli, tmp_path, n=6):
    study = tmp_path / "study"
    result = cli("import", str(write_pairs(tmp_path / "pairs.jsonl", n)), "--out", str(study))
    assert result.code == 0, result.err
    return study


def message(result) -> str:
    assert "Traceback" not in result.err + result.out, result.err
    return " ".join(result.err.split())


# -- exit codes -----------------------------------------------------------------------------

def test_every_request_failing_exits_3_and_says_so(cli, tmp_path):
    study = imported(cli, tmp_path)
    with FakeLLM(schema_reply) as server:
        server.faults.extend(["500"] * 200)  # (401s stop the run: see test_llm_trust.py)
        judged = cli("judge", str(study), "--model", "m", "--base-url", server.url,
                     "--max-attempts", "1")
        annotated = cli("annotate", str(study), "--annotator", "llm", "--model", "m",
                        "--base-url", server.url, "--steps", "free", "--max-attempts", "1")
    assert judged.code == 3 and annotated.code == 3
    assert "no pair was judged" in judged.text
    text = message(judged)
    assert text.startswith("finished with failures: 12 of 12 LLM requests failed")
    assert "HTTP 500" in text and "run the same command again" in text
    assert "6 of 6 LLM requests failed" in message(annotated)
    failures = pd.read_csv(study / "exclusions.csv").query("judge == 'm'")
    assert len(failures) == 6 and failures["detail"].str.contains("HTTP 500").all()


def test_a_clean_run_exits_0_and_counts_only_its_own_requests(cli, tmp_path):
    study = imported(cli, tmp_path)
    with FakeLLM() as server:
        first = cli("judge", str(study), "--model", "m1", "--base-url", server.url)
        second = cli("judge", str(study), "--model", "m2", "--base-url", server.url)
        again = cli("judge", str(study), "--model", "m2", "--base-url", server.url)
    assert (first.code, second.code, again.code) == (0, 0, 0)
    # the log holds 24 exchanges by now; each run reports its own 12
    assert "LLM requests in this run: 12 (12 answered by the server, 0 from the log, " \
           "0 failed)" in second.text
    assert "LLM requests in this run: 12 (0 answered by the server, 12 from the log" in \
        again.text


def test_batch_run_with_failures_exits_3(cli, tmp_path):
    from prefdissect.llm.batch import export_batch
    from prefdissect.llm.client import Request

    requests = [Request("chat", {"model": "m", "messages": [{"role": "user",
                                                              "content": f"q{i}"}]})
                for i in range(3)]
    export_batch(requests, tmp_path / "batch.jsonl")
    with FakeLLM() as server:
        server.faults.append("401")
        result = cli("batch", "run", str(tmp_path / "batch.jsonl"), "--out",
                     str(tmp_path / "results.jsonl"), "--base-url", server.url)
    assert result.code == 3 and "1 of 3 requests failed" in message(result)
    assert (tmp_path / "results.jsonl.log.sqlite").exists()  # beside --out, not in the cwd
    assert not Path("batch_log.sqlite").exists()


CTRL_C = """
import sys
from prefdissect.cli import main
main(sys.argv[1:])
"""


def test_ctrl_c_says_what_was_kept(tmp_path):
    study = tmp_path / "study"
    src = write_pairs(tmp_path / "pairs.jsonl", 8)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    subprocess.run([sys.executable, "-m", "prefdissect", "import", str(src), "--out",
                    str(study)], check=True, env=env, capture_output=True)
    with FakeLLM() as server:
        server.hang_seconds = 60
        server.faults.extend(["ok"] * 4 + ["hang"] * 40)  # 4 answers, then nothing
        process = subprocess.Popen(
            [sys.executable, "-c", CTRL_C, "judge", str(study), "--model", "m", "--base-url",
             server.url, "--concurrency", "1", "--timeout", "120"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        assert server.wait_requests(5, timeout=120)  # the 5th request hangs: Ctrl-C now
        process.send_signal(signal.SIGINT)
        sent = time.monotonic()
        out, err = process.communicate(timeout=60)
        took = time.monotonic() - sent
    text = " ".join(err.decode().split())
    assert process.returncode == 130, text
    assert took < 30  # not the hung request's 60 s (a few seconds; generous for busy cores)
    assert "interrupted;" in text and "none is half-written" in text
    assert f"4 LLM answers received in this run are kept in {study / 'llm_log.sqlite'}" in text
    ok = sqlite3.connect(study / "llm_log.sqlite").execute(
        "SELECT count(*) FROM exchanges WHERE status = 'ok'").fetchone()[0]
    assert ok == 4


# -- silent acceptance ----------------------------------------------------------------------

def test_a_null_label_is_counted_as_left_out(cli, tmp_path):
    rows = [{"id": "a", "query": "q", "response_a": "x", "response_b": "y", "label": "A"},
            {"id": "b", "query": "q", "response_a": "x", "response_b": "z", "label": None},
            {"id": "c", "query": "q", "response_a": "x", "response_b": "w",
             "label:gpt": None, "label:human": "B"}]
    src = tmp_path / "p.jsonl"
    src.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    result = cli("import", str(src), "--out", str(tmp_path / "s"))
    assert result.code == 0 and "2 items left out" in result.text
    left = pd.read_csv(tmp_path / "s" / "exclusions.csv")
    assert list(zip(left["pair_id"], left["judge"], left["reason"], left["line"])) == [
        ("b", "labels", "no usable label", 2), ("c", "gpt", "no usable label", 3)]


def test_an_empty_query_is_refused(cli, tmp_path):
    src = tmp_path / "p.jsonl"
    src.write_text(json.dumps({"query": "  ", "response_a": "x", "response_b": "y"}) + "\n",
                   encoding="utf-8")
    result = cli("import", str(src), "--out", str(tmp_path / "s"))
    assert result.code == 2
    assert "p.jsonl line 1: field 'query' is empty" in message(result)


@pytest.mark.parametrize("rows, needles", [
    ([{"pair_id": "p0", "property": "claer", "value_a": 1, "value_b": 2}],
     ["line 2: field 'property' names the unknown property 'claer'", "did you mean 'clear'"]),
    ([{"pair_id": "p0", "property": "clear", "value_a": 1, "value_b": 2},
      {"pair_id": "nope", "property": "clear", "value_a": 1, "value_b": 2}],
     ["line 3: field 'pair_id' names pair 'nope', which the study lacks"]),
    ([{"pair_id": "p0", "property": "clear", "value_a": "high", "value_b": 2}],
     ["line 2: field 'value_a' must be a number, got 'high'"]),
    ([{"pair_id": "p0", "property": "clear", "value_a": 1, "value_b": 2},
      {"pair_id": "p0", "property": "clear", "value_a": 3, "value_b": 2}],
     ["line 3: repeats pair 'p0' and property 'clear' (first on line 2)"]),
    ([{"pair_id": "p0", "property": "clear", "value_a": 1, "value_b": None,
       "status": "ok"}], ["line 2: field 'value_b' has status 'ok' but a missing value"]),
    ([{"pair_id": "p0", "property": "clear", "value_a": 1, "value_b": 1, "status": "fine"}],
     ["line 2: field 'status' has unknown status 'fine'"]),
])
def test_bad_annotation_tables_are_refused(cli, tmp_path, rows, needles):
    study = imported(cli, tmp_path)
    table = tmp_path / "mine.csv"
    pd.DataFrame(rows).to_csv(table, index=False)
    result = cli("annotate", str(study), "--from", str(table))
    assert result.code == 2
    text = message(result)
    for needle in needles:
        assert needle in text, text
    assert not (study / "annotations.parquet").exists()


def test_a_jsonl_annotation_table_names_its_own_lines(cli, tmp_path):
    study = imported(cli, tmp_path)
    table = tmp_path / "mine.jsonl"
    table.write_text("\n".join(json.dumps(r) for r in [
        {"pair_id": "p0", "property": "clear", "value_a": 1, "value_b": 2}, {},
        {"pair_id": "p1", "property": "clear", "value_a": [1], "value_b": 2}]),
        encoding="utf-8")
    # line 2 is blank-ish ({}) -> missing pair_id; the reader names the file's own lines
    result = cli("annotate", str(study), "--from", str(table))
    assert result.code == 2 and "mine.jsonl" in message(result)


def test_a_misspelt_schema_property_is_refused_before_work(cli, tmp_path):
    schema = yaml.safe_load((ROOT / "src/prefdissect/schemas/paper29.yaml").read_text())
    for prop in schema["properties"]:
        if prop["name"] == "lengthy":
            prop["name"] = "lenghty"
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(schema), encoding="utf-8")
    out = tmp_path / "s"
    result = cli("dissect", str(write_pairs(tmp_path / "p.jsonl")), "--out", str(out),
                 "--schema", str(path))
    assert result.code == 2
    assert "no annotator measures the property 'lenghty'; did you mean 'lengthy'?" in \
        message(result)
    assert not out.exists()
    # a property of one's own, given with --from first, is fine
    study = imported(cli, tmp_path)
    table = tmp_path / "own.csv"
    pd.DataFrame({"pair_id": [f"p{i}" for i in range(6)], "property": "lenghty",
                  "value_a": 1, "value_b": 0}).to_csv(table, index=False)
    assert cli("annotate", str(study), "--from", str(table), "--schema", str(path)).code == 0
    assert cli("annotate", str(study), "--schema", str(path)).code == 0


def test_an_existing_study_is_not_replaced_by_other_data(cli, tmp_path):
    first = write_pairs(tmp_path / "first.jsonl")
    second = write_pairs(tmp_path / "second.jsonl", n=8)
    out = tmp_path / "s"
    assert cli("dissect", str(first), "--out", str(out), "--min-pairs", "2",
               "--folds", "0").code == 0
    for command in ("import", "dissect"):
        refused = cli(command, str(second), "--out", str(out))
        assert refused.code == 2
        assert f"{out} already holds a study of {first} (pairs)" in message(refused)
        assert "--overwrite" in message(refused)
        assert len(pd.read_parquet(out / "pairs.parquet")) == 6
    # the same source again is a resume, and --overwrite replaces
    assert cli("import", str(first), "--out", str(out)).code == 0
    assert cli("import", str(second), "--out", str(out), "--overwrite").code == 0
    assert len(pd.read_parquet(out / "pairs.parquet")) == 8


def test_out_paths_that_cannot_be_written_are_one_line_errors(cli, tmp_path, monkeypatch):
    src = write_pairs(tmp_path / "p.jsonl")
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    for args in (["dissect", str(src), "--out", str(a_file)],
                 ["dissect", str(src), "--out", str(a_file / "inside")],
                 ["compare", "--study", str(tmp_path), "--out", str(a_file)]):
        result = cli(*args)
        assert result.code == 2, (args, result.err)
        assert "is a file" in message(result) or "part of this path is a file" in \
            message(result)
    real_mkdir = Path.mkdir

    def refuse(self, *args, **kwargs):
        if "locked" in str(self):
            raise PermissionError(13, "Permission denied", str(self))
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", refuse)
    for args in (["dissect", str(src), "--out", str(tmp_path / "locked" / "s")],
                 ["compare", "--study", str(tmp_path), "--out", str(tmp_path / "locked")]):
        result = cli(*args)
        assert result.code == 2 and "permission denied" in message(result), result.err


# -- messages -----------------------------------------------------------------------------

def test_messages_name_the_real_problem(cli, tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    text = message(cli("import", str(folder), "--out", str(tmp_path / "s")))
    assert "is a folder" in text and "unknown file type" not in text
    jsonl = tmp_path / "annotations.jsonl"
    jsonl.write_text('{"a": 1}\n{"a": 2}\n', encoding="utf-8")
    text = message(cli("import", str(jsonl), "--format", "alpaca-eval", "--out",
                       str(tmp_path / "s")))
    assert "not JSON Lines; check --format" in text and "needs the .jsonl extension" not in text
    text = message(cli("fit", str(tmp_path / "no-such-study")))
    assert "no-such-study does not exist" in text and "study.json" not in text
    assert not (tmp_path / "no-such-study").exists()
    text = message(cli("explain", str(tmp_path / "no-such-study"), "p0"))
    assert "does not exist" in text


def test_no_reference_answer_says_why(tmp_path):
    from prefdissect.annotators.llm import LLMAnnotator
    from prefdissect.llm.client import LLMClient
    from prefdissect.pairs import Pair, pairs_to_frame
    from prefdissect.properties import load_schema

    def reply(path, body):
        if "response_format" not in body:
            return chat_reply("")  # the reference writer says nothing
        return schema_reply(path, body)

    with FakeLLM(reply) as server:
        annotator = LLMAnnotator(LLMClient(server.url, tmp_path / "log.sqlite"), "m",
                                 steps=("errors",))
        frame = annotator.annotate(pairs_to_frame([Pair("p0", "q?", "a", "b")]), load_schema())
    assert set(frame["reason"]) == {"no reference answer: the model's reference answer was "
                                    "empty"}


def test_judge_options_are_checked_before_any_request(cli, tmp_path):
    study = imported(cli, tmp_path)
    prompt = tmp_path / "prompt.yaml"
    prompt.write_text("system: be fair\nuser: 'Compare {response_a} with {answer_b}'\n")
    with FakeLLM() as server:
        cases = [(["--mode", "vibes"], "--mode vibes: unknown; use one of auto, logprobs, "
                  "verdict"),
                 (["--endpoint", "embeddings"], "--endpoint embeddings: unknown"),
                 (["--prompt", str(prompt)], "uses the unknown placeholder {answer_b}"),
                 (["--prompt", str(tmp_path / "none.yaml")], "none.yaml: does not exist")]
        for args, needle in cases:
            result = cli("judge", str(study), "--model", "m", "--base-url", server.url, *args)
            assert result.code == 2 and needle in message(result), (args, result.err)
        bad = cli("judge", str(study), "--model", "m", "--base-url", "localhost:8080")
        assert bad.code == 2 and "with its scheme" in message(bad)
        zero = cli("judge", str(study), "--model", "m", "--base-url", server.url,
                   "--concurrency", "0")
        assert zero.code == 2
        assert server.requests == []
    assert not (study / "llm_log.sqlite").exists()


def test_judge_and_group_by_mistakes_stop_dissect_before_annotation(cli, tmp_path):
    src = write_pairs(tmp_path / "p.jsonl")
    with FakeLLM(schema_reply) as server:
        for args, needle in ((["--judge", "humna"], "--judge humna: not in this data; judges "
                              "found: human"),
                             (["--group-by", "splt"], "--group-by splt: no pair has a column "
                              "or metadata key 'splt'; metadata keys in this data: split")):
            out = tmp_path / args[1]
            result = cli("dissect", str(src), "--out", str(out), "--annotator", "llm",
                         "--model", "m", "--base-url", server.url, *args)
            assert result.code == 2 and needle in message(result)
            assert not (out / "pairs.parquet").exists()
        assert server.requests == []
    study = imported(cli, tmp_path)
    assert cli("annotate", str(study)).code == 0
    result = cli("fit", str(study), "--group-by", "splt")
    assert result.code == 2 and "metadata keys in this data: split" in message(result)


def test_dry_run_leaves_out_requests_that_can_never_be_built(cli, tmp_path):
    study = imported(cli, tmp_path, n=3)

    def reply(path, body):
        if "p0" not in json.dumps(body) and "thing 0" not in json.dumps(body):
            return schema_reply(path, body)
        if "intent_clear" in json.dumps(body.get("response_format", {})):
            return chat_reply("I cannot tell.")  # pair 0's query step is never usable
        return schema_reply(path, body)

    common = ["annotate", str(study), "--annotator", "llm", "--model", "m", "--steps",
              "query,specific", "--no-structured"]
    with FakeLLM(reply) as server:
        # the unusable answers count as failures, and with --max-attempts 1 are not re-asked
        once = ["--base-url", server.url, "--max-attempts", "1"]
        assert cli(*common, *once, "--steps", "query").code == 3
        dry = cli(*common, *once, "--dry-run")
    assert dry.code == 0
    assert "more requests depend" not in dry.text  # pair 0's step 4 waits for nothing


# -- first-hour friction ---------------------------------------------------------------------

def test_show_yaml_round_trips_through_a_pipe(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "COLUMNS": "80"}
    shown = subprocess.run([sys.executable, "-m", "prefdissect", "properties", "--show-yaml"],
                           capture_output=True, env=env, check=True).stdout
    path = tmp_path / "my.yaml"
    path.write_bytes(shown)
    builtin = (ROOT / "src/prefdissect/schemas/paper29.yaml").read_bytes()
    assert shown == builtin
    from prefdissect.properties import load_schema

    assert load_schema(path) == load_schema()


def test_shared_data_tests_carry_their_marker():
    """`pytest -m shared_data` selects exactly the tests that read the shared datasets."""
    import re

    wanted = set()
    for path in (ROOT / "tests").glob("test_*.py"):
        for name, params in re.findall(r"^def (test_\w+)\(([^)]*)\)", path.read_text(),
                                       re.M):
            if re.search(r"\b(shared_data|alpaca_study)\b", params):
                wanted.add(f"tests/{path.name}::{name}")
    assert len(wanted) >= 10
    listed = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-m", "shared_data",
         "-p", "no:cacheprovider", "tests"], cwd=ROOT, capture_output=True, text=True).stdout
    selected = {line.split("[")[0] for line in listed.splitlines() if "::" in line}
    assert selected == wanted


def test_an_imported_judge_is_never_replaced_by_a_run_under_its_name(cli, tmp_path):
    study = imported(cli, tmp_path)
    before = pd.read_parquet(study / "judgments.parquet")
    with FakeLLM() as server:
        refused = cli("judge", str(study), "--model", "m", "--name", "human", "--base-url",
                      server.url)
        assert refused.code == 2 and "'human' is a judge imported with the data" in \
            message(refused)
        assert server.requests == []
        renamed = cli("judge", str(study), "--model", "m", "--name", "m-judge",
                      "--base-url", server.url)
    assert renamed.code == 0, renamed.err
    after = pd.read_parquet(study / "judgments.parquet")
    kept = after.query("judge == 'human'")[["pair_id", "label"]].reset_index(drop=True)
    assert kept.equals(before[["pair_id", "label"]].reset_index(drop=True))


def test_commands_on_a_mistyped_study_path_create_nothing(cli, tmp_path):
    missing = tmp_path / "no-such-study"
    model = tmp_path / "reward-model"
    model.mkdir()  # exists, but must not be loaded: the study is checked first
    for args in (["judge", str(missing), "--reward-model", str(model)],
                 ["scores", str(missing)],
                 ["agreement", str(missing), "--judges", "a", "b"]):
        result = cli(*args)
        assert result.code == 2 and "does not exist; check the study path" in message(result)
    assert not missing.exists()
    study = imported(cli, tmp_path)
    board = cli("scores", str(study), "--leaderboard", str(tmp_path / "board.csv"))
    assert board.code == 2 and "board.csv" in message(board)
    assert not (study / "scores.csv").exists()
