"""The CLI is a thin shell: the library does the work, a notebook can do what a command does.

The README's "From Python" example runs as written; `pipeline.dissect` is the `dissect`
command without the printing; options a run would ignore are refused before any work.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from prefdissect import pipeline
from prefdissect.errors import UsageError
from prefdissect.profiles import FitConfig
from prefdissect.study import Study

README = Path(__file__).resolve().parents[1] / "README.md"


def _pairs_file(path: Path, n: int = 40) -> Path:
    path.write_text("".join(json.dumps({
        "query": f"Question {i}?", "response_a": "Short.",
        "response_b": "A longer answer with a list:\n\n1. one\n2. two " + "word " * i,
        "label": "B" if i % 3 else "A", "judge": "human", "metadata": {"split": i % 2}})
        + "\n" for i in range(n)), encoding="utf-8")
    return path


def test_the_readme_from_python_example_runs(tmp_path, monkeypatch):
    block = re.search(r"## From Python\n.*?```python\n(.*?)```", README.read_text(), re.S)
    monkeypatch.chdir(tmp_path)
    exec(compile(block.group(1), "README.md", "exec"), {})  # noqa: S102 - the README's code
    profiles = Study(tmp_path / "out/notebook/study").profiles()
    assert set(profiles["judge"]) == {"demo-judge"}


def test_dissect_in_python_is_the_command_without_printing(tmp_path, cli):
    source = _pairs_file(tmp_path / "pairs.jsonl")
    config = FitConfig(folds=0, min_pairs=5, group_by=["split"])
    with Study(tmp_path / "lib").lock("test") as study:
        done = pipeline.dissect(source, "pairs", study, config=config)
    assert [(r.annotator, r.pairs) for r in done.annotated] == [("heuristic", 40)]
    assert done.fit.used == {"human": 40} and done.judged == {}
    result = cli("dissect", str(source), "--out", str(tmp_path / "cli"), "--folds", "0",
                 "--min-pairs", "5", "--group-by", "split")
    assert result.code == 0, result.err
    assert (tmp_path / "cli/profiles.csv").read_text() == \
        (tmp_path / "lib/profiles.csv").read_text()
    assert json.loads((tmp_path / "cli/summary.json").read_text())["judges"] == \
        done.summary["judges"]
    # a judge or group the data lacks is refused before the study is written
    with Study(tmp_path / "bad").lock("test") as study, \
            pytest.raises(UsageError, match="--judge gpt: not in this data"):
        pipeline.dissect(source, "pairs", study, config=FitConfig(judges=["gpt"]))
    assert not (tmp_path / "bad/pairs.parquet").exists()


@pytest.mark.parametrize("args", [["--model", "gpt-x"], ["--reference-model", "y"],
                                  ["--max-tokens", "free=10"],
                                  ["--model", "m", "--llm-judge", "j", "--base-url",
                                   "http://127.0.0.1:9/v1"]])
def test_llm_annotator_options_without_the_llm_annotator_are_refused(tmp_path, cli, args):
    source = _pairs_file(tmp_path / "pairs.jsonl", n=3)
    result = cli("dissect", str(source), "--out", str(tmp_path / "out"), *args)
    assert result.code == 2 and "add --annotator llm" in " ".join(result.err.split())
    assert args[0] in result.err and not (tmp_path / "out").exists()


def test_a_generate_dry_run_writes_nothing(tmp_path, cli):
    questions = tmp_path / "q.json"
    questions.write_text(json.dumps([{"instruction": f"Say {i}."} for i in range(3)]))
    out = tmp_path / "runs" / "new"
    result = cli("exploit", "generate", str(questions), "--out", str(out), "--model", "m",
                 "--base-url", "http://127.0.0.1:9/v1", "--samples", "2", "--temperature",
                 "0.7", "--dry-run")
    assert result.code == 0, result.err
    assert "6 requests to send (0 already in the log)" in result.text
    assert not (tmp_path / "runs").exists()  # no run folder, no log, no lock


def test_the_cli_reads_and_writes_no_data_files_itself():
    """Files are read and written by the library; a command parses, checks, calls, prints."""
    cli_dir = Path(__file__).resolve().parents[1] / "src" / "prefdissect" / "cli"
    data_io = re.compile(r"\.(?:write_frame|write_json|write_text|to_csv|to_parquet|to_json|"
                         r"savefig|read_text|read_bytes)\(|\bpd\.read_\w+\(|\bjson\.loads?\(|"
                         r"\bopen\(")
    found = [(path.name, line.strip()) for path in sorted(cli_dir.glob("*.py"))
             for line in path.read_text(encoding="utf-8").splitlines()
             if data_io.search(line) and not line.strip().startswith("#")]
    assert found == []


def test_dissect_with_the_llm_annotator_and_an_llm_judge(tmp_path, cli):
    """The whole LLM route of `dissect` (the fake server answers every step)."""
    from fake_llm import FakeLLM, schema_reply

    source = _pairs_file(tmp_path / "pairs.jsonl", n=8)
    out = tmp_path / "study"
    with FakeLLM(schema_reply) as server:
        result = cli("dissect", str(source), "--out", str(out), "--annotator", "heuristic",
                     "--annotator", "llm", "--model", "m", "--base-url", server.url,
                     "--llm-judge", "j", "--min-pairs", "2", "--folds", "0")
        sent = len(server.requests)
    assert result.code == 0, result.err
    assert "annotated 8 pairs with 'heuristic'" in result.text
    assert re.search(r"annotated 8 pairs with m: \d+ values, 0 failed", result.text)
    assert "j: judged 8 of 8 pairs" in result.text and "position consistency" in result.text
    assert f"LLM requests in this run: {sent} ({sent} answered by the server" in result.text
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["judges"]) == {"human", "j"}
