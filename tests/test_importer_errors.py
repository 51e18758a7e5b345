"""Malformed dataset files give one-line errors naming the file, record and field."""

from __future__ import annotations

import json

import pytest

from prefdissect.errors import InputError, UsageError
from prefdissect.importers import run_import

ALPACA = {"instruction": "q", "output_1": "a", "output_2": "b", "generator_2": "m",
          "preference": 1.5}
LLMBAR = {"input": "q", "output_1": "a", "output_2": "b", "label": 1}
PANDA = {"idx": 0, "instruction": "q", "response1": "a", "response2": "b", "annotator1": 1,
         "annotator2": 1, "annotator3": 2}
AUTOJ = {"prompt": "q", "response 1": "a", "response 2": "b", "label": 0}
ANN = "results/m/ann/annotations.json"
OUTS = "results/m/model_outputs.json"
DATA = "Dataset/X/dataset.json"
RESULT = "Dataset/X/evaluators/GPT-4/p/result.json"

CASES = [
    ("alpaca-eval", {ANN: {"a": 1}}, "annotations.json: is not a JSON list"),
    ("alpaca-eval", {ANN: [1]}, "annotations.json line 1: is not a JSON object"),
    ("alpaca-eval", {ANN: [{"instruction": "q"}]},
     "annotations.json line 1: field 'output_1' is missing"),
    ("alpaca-eval", {ANN: [ALPACA], OUTS: [{"instruction": ["q"]}]},
     "model_outputs.json line 1: field 'instruction' must be text"),
    ("alpaca-eval", {ANN: [ALPACA], OUTS: [{"instruction": "q", "output": 5}]},
     "model_outputs.json line 1: field 'output' must be text"),
    ("alpaca-eval", {ANN: '[{"instruction": "q"'}, "annotations.json line 1: is not valid JSON"),
    ("llmbar", {DATA: [1]}, "dataset.json line 1: is not a JSON object"),
    ("llmbar", {DATA: [{**LLMBAR, "label": [1]}]},
     "dataset.json line 1: field 'label' has unknown label [1]"),
    ("llmbar", {DATA: [LLMBAR], RESULT: [1]},
     "result.json line 1: is not an object with a 'results' list"),
    ("llmbar", {DATA: [LLMBAR], RESULT: [{"input": "q", "results": "x"}]},
     "result.json line 1: is not an object with a 'results' list"),
    ("llmbar", {DATA: [LLMBAR], RESULT: {"a": 1}}, "result.json: has no rows"),
    ("llmbar", {DATA: [LLMBAR, LLMBAR], RESULT: [{"input": "other", "results": []}] * 2},
     "result.json line 1: field 'input' does not match dataset.json"),
    ("pandalm", {"testset-v1.json": {"a": 1}}, "testset-v1.json: is not a JSON list"),
    ("pandalm", {"testset-v1.json": [{**PANDA, "idx": "x"}]},
     "testset-v1.json line 1: field 'idx' must be a whole number, got 'x'"),
    ("pandalm", {"testset-v1.json": [{**PANDA, "input": 5}]},
     "testset-v1.json line 1: field 'input' must be text"),
    ("pandalm", {"testset-v1.json": [{**PANDA, "annotator2": "maybe"}]},
     "testset-v1.json line 1: field 'annotator2' has unknown label 'maybe'"),
    ("pandalm", {"testset-v1.json": [PANDA], "gpt-3.5-turbo-testset-v1.json": [1]},
     "gpt-3.5-turbo-testset-v1.json line 1: is not a JSON object"),
    ("pandalm", {"testset-v1.json": [PANDA], "gpt-3.5-turbo-testset-v1.json": [{"idx": 7}]},
     "gpt-3.5-turbo-testset-v1.json line 1: field 'idx' has idx 7 that the test set lacks"),
    ("auto-j", {"testdata_pairwise.jsonl": json.dumps({**AUTOJ, "label": [0]})},
     "testdata_pairwise.jsonl line 1: field 'label' has unknown label [0]"),
    ("auto-j", {"testdata_pairwise.jsonl": json.dumps({**AUTOJ, "scenario": ["x"]})},
     "testdata_pairwise.jsonl line 1: field 'scenario' must be text"),
    ("auto-j", {"testdata_pairwise.jsonl": json.dumps(AUTOJ) + "\n{oops"},
     "testdata_pairwise.jsonl line 2: is not valid JSON"),
    ("auto-j", {"data/testdata_pairwise.jsonl": json.dumps(AUTOJ),
                "data/outputs/pairwise_example_output.jsonl": json.dumps({"output": 0}),
                "data/outputs/pairwise_exchange_example_output.jsonl": ""},
     "pairwise_exchange_example_output.jsonl: is empty"),
    ("evalbiasbench", {"biasbench.json": [1]}, "biasbench.json: is not a JSON object"),
    ("evalbiasbench", {"biasbench.json": {"length": {"a": 1}}},
     "biasbench.json: category 'length' is not a list of rows"),
    ("evalbiasbench", {"biasbench.json": {"length": [1]}},
     "biasbench.json line 1: is not a JSON object"),
    ("evalbiasbench", {"biasbench.json": {"length": [{"instruction": "q", "response1": "a",
                                                      "response2": "b", "label": 3}]}},
     "biasbench.json line 1: field 'label' has unknown label '3'"),
]


@pytest.mark.parametrize("format, files, needle", CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_malformed_files(tmp_path, format, files, needle):
    for name, content in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content if isinstance(content, str) else json.dumps(content),
                        encoding="utf-8")
    with pytest.raises((InputError, UsageError)) as caught:
        run_import(tmp_path, format)
    assert needle in str(caught.value)


@pytest.mark.parametrize("format", ["alpaca-eval", "llmbar", "pandalm", "auto-j",
                                    "evalbiasbench"])
def test_a_folder_without_the_datasets_files(tmp_path, format):
    with pytest.raises(UsageError, match="found below this folder"):
        run_import(tmp_path, format)


def test_the_last_line_is_read(tmp_path):
    """Every importer keeps the last record, with or without a final newline."""
    rows = [dict(AUTOJ, prompt=f"q{i}") for i in range(3)]
    folder = tmp_path / "autoj" / "data"  # Auto-J looks for outputs beside data/
    folder.mkdir(parents=True)
    (folder / "testdata_pairwise.jsonl").write_text(
        "\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    assert [p.query for p in run_import(folder, "auto-j").pairs] == ["q0", "q1", "q2"]
    native = tmp_path / "pairs.jsonl"
    native.write_text("\n".join(json.dumps({"query": f"q{i}", "response_a": "a",
                                            "response_b": "b"}) for i in range(3)),
                      encoding="utf-8")
    assert [p.query for p in run_import(native, "pairs").pairs] == ["q0", "q1", "q2"]
    csv = tmp_path / "pairs.csv"
    csv.write_text("query,response_a,response_b\nq0,a,b\nq1,a,b\nq2,a,b", encoding="utf-8")
    assert run_import(csv, "pairs").rows_read == 3


def test_an_llmbar_row_the_evaluator_left_without_results_is_left_out(tmp_path):
    """A run with no 'results' is a verdict that does not exist, not a malformed file."""
    for name, content in {DATA: [LLMBAR, {**LLMBAR, "input": "q2"}],
                          RESULT: [{"input": "q"}, {"input": "q2", "results": [
                              {"swap = False": {"winner": 1}, "swap = True": {"winner": 2}}]}]
                          }.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(content), encoding="utf-8")
    result = run_import(tmp_path, "llmbar")
    mine = [j for j in result.judgments if j.judge == "GPT-4"]
    assert [j.pair_id for j in mine] == ["llmbar:X:2"]
    left = [x for x in result.exclusions if x.judge == "GPT-4"]
    assert len(left) == 1 and left[0].detail == "no parseable verdict in either order"
