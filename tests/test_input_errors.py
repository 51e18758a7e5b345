"""Malformed input gives one line naming the file, the line and the fix; no traceback."""

from __future__ import annotations

import json

import pytest

GOOD = {"query": "q", "response_a": "a", "response_b": "b", "label": "A"}


def write_lines(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def one_line_error(result, *needles):
    assert result.code == 2, result
    assert "Traceback" not in result.err and "Traceback" not in result.out
    message = " ".join(result.err.split())  # rich may wrap long lines
    assert message.startswith("error: ")
    for needle in needles:
        assert needle in message, message
    return message


def test_bad_json_line(cli, tmp_path):
    src = write_lines(tmp_path / "pairs.jsonl", [json.dumps(GOOD), '{"query": "q", oops}'])
    message = one_line_error(cli("import", str(src), "--out", str(tmp_path / "s")),
                             "pairs.jsonl line 2", "not valid JSON")
    assert "each line must be one complete JSON object" in message


def test_missing_field(cli, tmp_path):
    bad = dict(GOOD)
    del bad["response_b"]
    src = write_lines(tmp_path / "pairs.jsonl", [json.dumps(GOOD), json.dumps(GOOD),
                                                   json.dumps(bad)])
    one_line_error(cli("import", str(src), "--out", str(tmp_path / "s")),
                   "pairs.jsonl line 3", "field 'response_b' is missing",
                   "each record needs query, response_a and response_b")


def test_unknown_label(cli, tmp_path):
    src = write_lines(tmp_path / "pairs.jsonl", [json.dumps({**GOOD, "label": "maybe"})])
    one_line_error(cli("import", str(src), "--out", str(tmp_path / "s")),
                   "pairs.jsonl line 1", "field 'label'", "'maybe'", "use A, B or tie")


def test_unknown_label_in_csv_names_the_csv_line(cli, tmp_path):
    src = tmp_path / "pairs.csv"
    src.write_text("query,response_a,response_b,label\nq,a,b,A\nq2,a2,b2,C\n", encoding="utf-8")
    one_line_error(cli("import", str(src), "--out", str(tmp_path / "s")),
                   "pairs.csv line 3", "unknown label 'C'")


def test_empty_file(cli, tmp_path):
    src = tmp_path / "pairs.jsonl"
    src.write_text("", encoding="utf-8")
    one_line_error(cli("import", str(src), "--out", str(tmp_path / "s")),
                   "pairs.jsonl", "is empty", "at least one record")


def test_non_utf8_bytes(cli, tmp_path):
    src = tmp_path / "pairs.jsonl"
    src.write_bytes(json.dumps(GOOD).encode() + b"\n" + b'{"query": "caf\xe9", "response_a": '
                    b'"a", "response_b": "b"}\n')
    one_line_error(cli("import", str(src), "--out", str(tmp_path / "s")),
                   "pairs.jsonl line 2", "not valid UTF-8", "save the file as UTF-8")


def test_wrong_format(cli, tmp_path):
    src = write_lines(tmp_path / "pairs.jsonl", [json.dumps(GOOD)])
    message = one_line_error(cli("dissect", str(src), "--format", "alpaca_eval",
                                 "--out", str(tmp_path / "s")), "unknown importer 'alpaca_eval'")
    assert "did you mean 'alpaca-eval'" in message


def test_wrong_format_for_the_file(cli, tmp_path):
    src = write_lines(tmp_path / "pairs.jsonl", [json.dumps(GOOD)])
    one_line_error(cli("import", str(src), "--format", "hh-rlhf", "--out", str(tmp_path / "s")),
                   "pairs.jsonl line 1", "field 'chosen' is missing")


def test_missing_file(cli, tmp_path):
    one_line_error(cli("import", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "s")),
                   "nope.jsonl does not exist")


def test_fit_before_annotate(cli, tmp_path):
    src = write_lines(tmp_path / "pairs.jsonl", [json.dumps(GOOD)])
    assert cli("import", str(src), "--out", str(tmp_path / "s")).code == 0
    one_line_error(cli("fit", str(tmp_path / "s")), "no annotations.parquet yet",
                   "run `prefdissect annotate` first")


def test_bad_schema_names_the_field(cli, tmp_path):
    schema = tmp_path / "schema.yaml"
    schema.write_text("properties:\n  - name: x\n    label: x\n    description: d\n"
                      "    rule: bigger_wins\n", encoding="utf-8")
    src = write_lines(tmp_path / "pairs.jsonl", [json.dumps(GOOD)])
    one_line_error(cli("dissect", str(src), "--out", str(tmp_path / "s"), "--schema",
                       str(schema)), "schema.yaml", "unknown rule 'bigger_wins'",
                   "use one of higher_better")


@pytest.mark.parametrize("payload, needle", [
    ('{"comparisons": [{"prompt": "p", "response_a": {"text": "a"}}]}', "'response_b' is missing"),
    ('[1, 2]', "has no 'comparisons' list"),
])
def test_annotated_pairs_errors(cli, tmp_path, payload, needle):
    src = tmp_path / "ap.json"
    src.write_text(payload, encoding="utf-8")
    one_line_error(cli("import", str(src), "--format", "annotated-pairs", "--out",
                       str(tmp_path / "s")), "ap.json", needle)
