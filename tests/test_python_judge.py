"""A Python function as judge: loading by path, both orders, bad answers kept as failures."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from prefdissect.errors import UsageError
from prefdissect.judges.python import PythonJudge, load_function, read_answer
from prefdissect.pairs import Pair, pairs_to_frame

JUDGES = '''
import math

def longer(query, a, b):
    return 1 / (1 + math.exp(-(len(a.split()) - len(b.split()))))

def first(query, a, b):
    return 0.8

def hard(query, a, b):
    return "A" if "good" in a else "B" if "good" in b else "tie"

def moody(query, a, b):
    if "boom" in a:
        raise RuntimeError("cannot judge " + a)
    return {"none": None, "big": 1.7, "nan": math.nan, "yes": True, "word": "maybe"}.get(a, 0.25)

NOT_A_FUNCTION = 3
'''


@pytest.fixture
def judge_file(tmp_path):
    path = tmp_path / "judges.py"
    path.write_text(JUDGES, encoding="utf-8")
    return path


def frame(*rows):
    return pairs_to_frame([Pair(f"p{i}", "q", a, b) for i, (a, b) in enumerate(rows)])


@pytest.mark.parametrize("spec, message", [
    ("judges.py", "FILE.py:FUNCTION"),
    ("missing.py:f", "does not exist"),
    (".:f", "is a folder"),
    ("{file}:absent", "has no 'absent'; it defines first, hard, longer, moody"),
    ("{file}:NOT_A_FUNCTION", "is a int, not a function"),
    ("{broken}:f", "running"),
])
def test_loading_says_what_is_wrong(judge_file, tmp_path, spec, message):
    broken = tmp_path / "broken.py"
    broken.write_text("import not_a_module_anywhere\n")
    with pytest.raises(UsageError, match=message):
        load_function(spec.format(file=judge_file, broken=broken))


def test_answers_are_read_or_refused_with_a_reason():
    assert read_answer(0.3).p_first == 0.3
    assert read_answer(" a ").p_first == 1.0 and read_answer("B").p_first == 0.0
    assert read_answer("Tie").p_first == 0.5
    for bad, reason in [(None, "NoneType"), (1.7, "not a probability"), (math.nan, "nan"),
                        (True, "bool"), ("maybe", "'maybe'"), (-0.1, "not a probability")]:
        result = read_answer(bad)
        assert result.p_first is None and reason in result.detail


def test_both_orders_are_asked_and_combined(judge_file):
    judge = PythonJudge(f"{judge_file}:longer")
    assert judge.name == "longer"
    run = judge.judge(frame(("one two three", "one"), ("x", "x y")))
    first, second = run.judgments
    # independent: P(A) = mean(sigmoid(3 - 1), 1 - sigmoid(1 - 3)) = sigmoid(2)
    assert first.p_a == pytest.approx(1 / (1 + math.exp(-2)))
    assert first.details["p_first_order"] == pytest.approx(first.details["p_swapped_order"])
    assert second.label == "B"


def test_a_first_position_bias_is_measured_and_cancels(judge_file):
    run = PythonJudge(f"{judge_file}:first", name="biased").judge(frame(("a", "b"), ("c", "d")))
    assert all(j.p_a == pytest.approx(0.5) and j.label == "tie" for j in run.judgments)
    stats = run.stats("biased")
    assert stats["first_position_rate"] == 1.0 and stats["position_consistency"] == 0.0
    assert stats["mean_order_gap"] == pytest.approx(0.6)


def test_failures_become_exclusions_with_reasons(judge_file):
    judge = PythonJudge(f"{judge_file}:moody")
    run = judge.judge(frame(("boom", "boom"), ("none", "big"), ("nan", "yes"), ("word", "ok"),
                            ("fine", "ok")))
    excluded = {x.pair_id: x.detail for x in run.exclusions}
    assert set(excluded) == {"p0", "p1", "p2"}
    assert "RuntimeError: cannot judge boom" in excluded["p0"]
    assert "NoneType" in excluded["p1"] and "1.7" in excluded["p1"]
    assert "nan" in excluded["p2"] and "bool" in excluded["p2"]
    judged = {j.pair_id: j for j in run.judgments}
    # one order failed ('maybe'), the other (swapped: 0.25 for 'ok' first) is used alone
    assert judged["p3"].p_a == pytest.approx(0.75)
    assert "'maybe'" in judged["p3"].details["first_detail"]
    assert judged["p4"].p_a == pytest.approx(0.5)


def test_a_function_passed_directly(tmp_path):
    judge = PythonJudge(lambda q, a, b: "A" if a < b else "B", name="alphabet")
    run = judge.judge(frame(("a", "b")))
    assert run.judgments[0].p_a == 1.0


def test_judge_command(judge_file, tmp_path, cli):
    src = tmp_path / "pairs.jsonl"
    rows = [{"id": f"r{i}", "query": "q", "response_a": "good " * (i % 3 + 1),
             "response_b": "bad " * 2, "label": "A"} for i in range(6)]
    rows.append({"id": "boom", "query": "q", "response_a": "boom", "response_b": "boom x",
                 "label": "B"})
    rows.append({"id": "half", "query": "q", "response_a": "word", "response_b": "ok",
                 "label": "B"})  # 'maybe' shown first: judged in the swapped order only
    src.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    study = tmp_path / "study"
    assert cli("import", str(src), "--out", str(study)).code == 0
    result = cli("judge", str(study), "--python", f"{judge_file}:moody", "--name", "moody")
    assert result.code == 3, result.err  # finished, with failures kept
    assert "1 pairs got no usable answer" in result.err and "boom" in result.err
    said = " ".join(result.text.split())
    assert "judged 7 of 8 pairs (6 in both orders, 1 in one order only, 1 failed" in said
    # always 0.25 for the first shown: its verdict follows the order, not the responses
    assert "warning: moody: its position consistency (0 of 6 pairs" in said
    stats = pd.read_csv(study / "judge_stats.csv").set_index("judge").loc["moody"]
    assert (stats["single_order"], stats["both_orders"], stats["consistent"]) == (1, 6, 0)
    judgments = pd.read_parquet(study / "judgments.parquet")
    assert (judgments["judge"] == "moody").sum() == 7
    half = judgments.query("judge == 'moody' and pair_id == 'half'")["details"].iloc[0]
    assert json.loads(half)["single_order"]
    exclusions = pd.read_csv(study / "exclusions.csv")
    assert "cannot judge boom" in exclusions.loc[exclusions["judge"] == "moody", "detail"].iloc[0]
    result = cli("judge", str(study), "--python", f"{judge_file}:hard")
    assert result.code == 0 and "judged 8 of 8 pairs (8 in both orders" in result.text
    assert "warning" not in result.text
    wrong = cli("judge", str(study), "--python", f"{judge_file}:hard", "--model", "m")
    assert wrong.code == 2 and "does not combine" in wrong.err
    missing = cli("judge", str(study), "--python", f"{judge_file}:nope")
    assert missing.code == 2 and "has no 'nope'" in missing.err


def test_dissect_with_python_judges(judge_file, tmp_path, cli):
    src = tmp_path / "pairs.jsonl"
    rows = [{"id": f"r{i}", "query": f"q{i}", "response_a": "good " * (i % 3 + 1),
             "response_b": "bad " * (i % 4 + 1), "label": "AB"[i % 2]} for i in range(30)]
    rows.append({"id": "boom", "query": "q", "response_a": "boom", "response_b": "boom x",
                 "label": "B"})
    src.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    out = tmp_path / "study"
    result = cli("dissect", str(src), "--out", str(out), "--python", f"{judge_file}:hard",
                 "--python", f"{judge_file}:moody", "--folds", "0", "--min-pairs", "5")
    assert result.code == 3, result.err  # moody could not judge 'boom': kept, and said
    assert "Python judges with pairs that got no usable answer" in result.err
    assert "moody 1" in result.err
    judged = pd.read_parquet(out / "judgments.parquet")
    assert {"labels", "hard", "moody"} <= set(judged["judge"])
    assert (judged["judge"] == "hard").sum() == 31
    assert {"hard", "labels"} <= set(pd.read_csv(out / "profiles.csv")["judge"])
    bad = cli("dissect", str(src), "--out", str(tmp_path / "x"), "--python", "nope.py:f")
    assert bad.code == 2 and "does not exist" in bad.err
