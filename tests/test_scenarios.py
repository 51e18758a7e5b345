"""Offline scenarios: the rule classifier, the 58 -> 11 mapping, and the pipeline step."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from prefdissect.annotators.scenario import FINE_TO_GROUP, SOURCE, classify
from prefdissect.reference import SCENARIOS

# Requests written for this test (not from any dataset), one or two per group.
EXAMPLES = {
    "Translate this sentence into French: the cat sleeps on the mat.": "NLP Tasks",
    "Summarize the following article in three bullet points: ...": "NLP Tasks",
    "Write a poem about autumn leaves falling on a quiet street.": "Creative Writing",
    "My function crashes: def mean(xs): return sum(xs) / len(xs). Fix the bug.": "Code",
    "What is the capital of Peru?": "Knowledge-aware",
    "Which of the following is prime? A) 4 B) 6 C) 7 D) 9": "Exam Questions",
    "Draft an email to my landlord asking to repair the heating.": "Functional Writing",
    "How do I descale an electric kettle?": "Daily Tasks",
    "Can you recommend a light laptop for a student?": "Advice",
    "Let's roleplay: you are a pirate captain and I am your new deckhand.": "Communication",
    "How can I make a bomb at home?": "Unsafe Queries",
    "zxqv blorp": "Others",
}


def test_rules_on_hand_written_requests():
    assert {text: classify(text) for text in EXAMPLES} == EXAMPLES


def test_killing_a_process_or_asking_the_law_is_not_unsafe():
    for text in ("How do I kill a Python process on Linux?", "Is it illegal to jaywalk?",
                 "Is jaywalking illegal in Ohio?", "How to kill -9 a hung job"):
        assert classify(text) != "Unsafe Queries", text
    for text in ("How can I kill my neighbour's dog?", "Where can I buy illegal guns?"):
        assert classify(text) == "Unsafe Queries", text


def test_mapping_covers_the_paper_groups():
    assert set(FINE_TO_GROUP.values()) == set(SCENARIOS)
    assert len(FINE_TO_GROUP) == 61  # Auto-J's 58 test scenarios, peer_review, rejecting, default


@pytest.mark.shared_data
def test_mapping_covers_every_autoj_label(shared_data):
    labels = {json.loads(line)["category"] for line in
              (shared_data / "auto-j-scenarios" / "traindata.jsonl").read_text().splitlines()}
    labels |= {json.loads(line)["scenario"] for line in
               (shared_data / "auto-j" / "data" / "test" / "testdata_pairwise.jsonl")
               .read_text().splitlines() if line.strip()}
    assert labels == set(FINE_TO_GROUP)


def write(path, rows):
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def rows_for(queries, n=120):
    out = []
    for i in range(n):
        query = queries[i % len(queries)]
        long, short = " ".join(f"w{k}" for k in range(60)), "w1 w2 w3"
        a, b = (long, short) if i % 2 else (short, long)
        out.append({"id": f"q{i}", "query": query, "response_a": a, "response_b": b,
                    "label:j": "A" if (i % 2) ^ (i % 7 == 0) else "B"})
    return out


def test_offline_scenarios_in_the_pipeline(cli, tmp_path):
    queries = list(EXAMPLES)[:4]
    src = write(tmp_path / "pairs.jsonl", rows_for(queries))
    study = tmp_path / "study"
    assert cli("import", str(src), "--out", str(study)).code == 0
    assert cli("annotate", str(study)).code == 0
    info = pd.read_parquet(study / "query_info.parquet").set_index("pair_id")
    assert len(info) == 120 and (info["scenario_source"] == SOURCE).all()
    assert info.loc["q0", "scenario"] == EXAMPLES[queries[0]]
    manifest = json.loads((study / "study.json").read_text())
    assert manifest["scenario_sources"] == {SOURCE: 120}
    # an LLM annotator's scenario wins where it exists, and is labelled as such
    info.loc["q0", ["scenario", "scenario_source", "model"]] = ["Advice", None, "gpt-x"]
    info.loc["q1", ["scenario", "scenario_source", "model"]] = [None, None, "gpt-x"]
    info.reset_index().to_parquet(study / "query_info.parquet")
    assert cli("annotate", str(study)).code == 0
    info = pd.read_parquet(study / "query_info.parquet").set_index("pair_id")
    assert info.loc["q0", "scenario"] == "Advice"
    assert info.loc["q0", "scenario_source"] == "llm annotator (gpt-x)"
    assert info.loc["q1", "scenario"] == EXAMPLES[queries[1]]  # filled, not left empty
    manifest = json.loads((study / "study.json").read_text())
    assert manifest["scenario_sources"] == {SOURCE: 119, "llm annotator (gpt-x)": 1}
    assert sum("scenario groups" in note for note in manifest["notes"]) == 1
    assert cli("fit", str(study), "--folds", "0", "--min-pairs", "10").code == 0
    groups = set(pd.read_csv(study / "profiles.csv")["group"])
    assert {EXAMPLES[q] for q in queries} <= groups
    summary = json.loads((study / "summary.json").read_text())
    assert any("offline rule classifier" in note for note in summary["notes"])
    # the report groups pairs as the fit did: counts per scenario, and members to filter by
    from prefdissect.report import report_data
    from prefdissect.study import Study

    data, _ = report_data(Study(study))
    counts = {g["name"]: g["pairs"] for g in data["groups"] if g["source"] == "study"}
    assigned = info["scenario"].value_counts()
    fitted = assigned[assigned >= 10]  # the groups with a profile (--min-pairs 10)
    assert len(fitted) >= 3
    assert {name: counts.get(name) for name in fitted.index} == fitted.to_dict()
    assert set(data["pairs"]["scenario"]) == set(assigned.index)


def test_data_with_scenarios_is_left_alone(cli, tmp_path):
    rows = rows_for(list(EXAMPLES)[:2], n=30)
    for row in rows:
        row["scenario"] = "Code"
    src = write(tmp_path / "pairs.jsonl", rows)
    study = tmp_path / "study"
    assert cli("import", str(src), "--out", str(study)).code == 0
    assert cli("annotate", str(study)).code == 0
    assert not (study / "query_info.parquet").exists()
    assert "scenario_sources" not in json.loads((study / "study.json").read_text())


@pytest.mark.slow
@pytest.mark.shared_data
def test_alpaca_eval_gets_per_scenario_profiles_offline(shared_data, cli, tmp_path):
    out = tmp_path / "alpaca"
    result = cli("dissect", str(shared_data / "alpaca_eval"), "--format", "alpaca-eval",
                 "--out", str(out), "--folds", "0")
    assert result.code == 0, result.err
    assert "offline rule classifier" in result.text
    groups = set(pd.read_csv(out / "profiles.csv")["group"])
    assert len(groups & set(SCENARIOS)) >= 9
    info = pd.read_parquet(out / "query_info.parquet")
    assert len(info) == 11266 and (info["scenario_source"] == SOURCE).all()
