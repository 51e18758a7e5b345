"""AnnotatedPairs both ways: principle votes in as properties, a study out for Feedback
Forensics (checked with its own loader and metrics when it is installed)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from prefdissect.comparisons import resolve
from prefdissect.importers import run_import
from prefdissect.properties import load_schema
from prefdissect.study import Study


def principle_file(path, n=160, seed=0):
    """Principles p1 (tracks the human vote), p2 (random, sometimes n/a) and p3 (always
    invalid but once): a human judge and the ICAI default annotator."""
    rng = np.random.default_rng(seed)
    annotators = {
        "d0": {"name": "preferred_text", "type": "unknown", "description": "original"},
        "h1": {"name": "human", "type": "human"},
        "p1": {"description": "Select the response that is more concise.", "type": "principle"},
        "p2": {"description": "Select the response that uses more lists", "type": "principle"},
        "p3": {"description": "Select the response that is funnier", "type": "principle"},
        "n1": {"description": "Is it long?", "type": "non_preference_principle"},
    }
    comparisons = []
    for i in range(n):
        human = "a" if rng.random() < 0.5 else "b"
        p1 = human if rng.random() < 0.85 else ("b" if human == "a" else "a")
        p2 = rng.choice(["a", "b", "na", "both", "neither"])
        votes = {"d0": {"pref": human}, "h1": {"pref": human}, "p1": {"pref": p1},
                 "p2": {"pref": p2} if p2 in "ab" else {"pref": None, "no_pref_reason":
                                                         "not_applicable" if p2 == "na"
                                                         else p2},
                 "p3": {"pref": "a"} if i == 0 else {"pref": None, "no_pref_reason":
                                                     "invalid"},
                 "n1": {"pref": None, "no_pref_reason": "non_preference_annotation"}}
        if i == 1:
            del votes["p1"]  # no vote at all
        comparisons.append({"id": f"c{i}", "prompt": f"question {i}",
                            "response_a": {"text": f"answer a {i}", "model": "m1"},
                            "response_b": {"text": f"answer b {i} " + "x " * (i % 7),
                                           "model": "m2"},
                            "annotations": votes, "metadata": {"topic": f"t{i % 3}"}})
    data = {"metadata": {"version": "2.0", "default_annotator": "d0"},
            "annotators": annotators, "comparisons": comparisons}
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_principle_votes_become_properties_in_profiles(cli, tmp_path):
    src = principle_file(tmp_path / "ap.json")
    result = run_import(src, "annotated-pairs")
    assert [p["name"] for p in result.properties] == ["is_more_concise", "uses_more_lists",
                                                      "is_funnier"]
    votes = result.annotations.set_index(["pair_id", "property"])
    assert votes.loc[("c1", "is_more_concise"), "status"] == "failed"
    assert votes.loc[("c1", "is_more_concise"), "reason"] == "no vote"
    assert votes.loc[("c2", "is_funnier"), ["status", "reason"]].tolist() == ["failed",
                                                                             "invalid"]
    p2 = votes.xs("uses_more_lists", level="property")
    raw = json.loads(src.read_text())["comparisons"]
    for pair_id, row in p2.iterrows():
        vote = raw[int(pair_id[1:])]["annotations"]["p2"]
        expected = {"a": ("ok", 1, 0), "b": ("ok", 0, 1)}.get(vote["pref"]) or {
            "not_applicable": ("not_applicable", None, None), "both": ("ok", 1, 1),
            "neither": ("ok", 0, 0)}[vote["no_pref_reason"]]
        got = (row["status"], row["value_a"], row["value_b"])
        assert got[0] == expected[0] and (expected[1] is None or got[1:] == expected[1:])
    study = tmp_path / "study"
    out = cli("dissect", str(src), "--format", "annotated-pairs", "--out", str(study),
              "--folds", "0")
    assert out.code == 0, out.err
    assert "is_more_concise" in (study / "schema.yaml").read_text()
    schema = Study(study).schema()
    assert len(schema.names) == 32 and schema.get("is_funnier").label == "is funnier"
    profiles = pd.read_csv(study / "profiles.csv")
    human = profiles[(profiles["judge"] == "human") & (profiles["group"] == "all")]
    weights = human.set_index("property")["mean"]
    assert "is_more_concise" in weights and "uses_more_lists" in weights
    assert weights["is_more_concise"] > 1.0  # 85% of the votes follow the human
    assert "is_funnier" not in weights  # failed on 159 of 160 pairs: left out, not the pairs
    assert any("is_funnier" in note for note in json.loads(
        (study / "summary.json").read_text())["notes"])
    assert set(profiles["judge"]) == {"human", "preferred_text"}


def test_export_then_import_gives_the_same_study(cli, tmp_path):
    src = principle_file(tmp_path / "ap.json", n=40)
    study = tmp_path / "study"
    assert cli("import", str(src), "--format", "annotated-pairs", "--out", str(study)).code == 0
    assert cli("annotate", str(study)).code == 0
    out = tmp_path / "export.json"
    result = cli("export", str(study), "--out", str(out))
    assert result.code == 2 and "--judge" in result.err  # two judges: say which is reference
    result = cli("export", str(study), "--format", "annotated-pairs", "--out", str(out),
                 "--judge", "human")
    assert result.code == 0, result.err
    document = json.loads(out.read_text())
    assert document["metadata"]["version"] == "2.0"
    reference = document["metadata"]["default_annotator"]
    assert document["annotators"][reference]["name"] == "human"
    again = tmp_path / "again"
    assert cli("import", str(out), "--format", "annotated-pairs", "--out",
               str(again)).code == 0
    first, second = Study(study), Study(again)
    assert first.pairs()[["id", "query", "response_a", "response_b", "model_a"]].equals(
        second.pairs()[["id", "query", "response_a", "response_b", "model_a"]])
    assert first.judgments().drop(columns="details").sort_values(["judge", "pair_id"]) \
        .reset_index(drop=True).equals(second.judgments().drop(columns="details")
                                       .sort_values(["judge", "pair_id"]).reset_index(drop=True))
    ids = first.pairs()["id"]
    before = resolve(first.annotations(), ids, first.schema())
    after = resolve(second.annotations(), ids, second.schema())
    # the heuristic's properties come back as principle votes beside the default ones
    default = set(load_schema().names)
    renamed = {p: f"{p}_vote" if p in default else p for p in before.values.columns}
    assert sorted(after.values.columns) == sorted(renamed.values())
    for prop, name in renamed.items():
        np.testing.assert_array_equal(before.values[prop].fillna(9), after.values[name]
                                      .fillna(9), err_msg=prop)


def feedback_forensics_python() -> str:
    """The Python that has feedback-forensics: this one, or $PREFDISSECT_FF_PYTHON."""
    if find_spec("feedback_forensics") is not None:
        return sys.executable
    other = os.environ.get("PREFDISSECT_FF_PYTHON")
    if other and Path(other).exists():
        return other
    pytest.skip("feedback-forensics is not installed (pip install feedback-forensics, or "
                "point PREFDISSECT_FF_PYTHON at a Python that has it; .ci/run does)")


FF_SCRIPT = """
import json, pathlib, sys
from feedback_forensics.data.loader import get_votes_dict_from_annotated_pairs_json
from feedback_forensics.app.metrics import compute_annotator_metrics
votes = get_votes_dict_from_annotated_pairs_json(pathlib.Path(sys.argv[1]))
principles = votes["shown_annotator_rows"]
found = compute_annotator_metrics(votes["df"], votes["annotator_metadata"], principles,
                                  votes["reference_annotator_col"])
names = {votes["annotator_metadata"][c]["annotator_in_row_name"]:
         votes["annotator_metadata"][c]["principle_text"] for c in principles}
def plain(x):
    return {k: plain(v) for k, v in x.items()} if isinstance(x, dict) else float(x)
print(json.dumps({"rows": len(votes["df"]), "names": names,
                  "metrics": plain(found["metrics"])}))
"""


def feedback_forensics_metrics(path: Path) -> dict:
    env = dict(os.environ, FF_AVAIL_METRICS=json.dumps(
        ["agreed", "disagreed", "not_applicable", "relevance", "strength"]),
        LOGURU_LEVEL="ERROR")
    run = subprocess.run([feedback_forensics_python(), "-c", FF_SCRIPT, str(path)],
                         capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def expected_votes(study: Study, judge: str) -> dict[str, tuple[int, int, int]]:
    """Per property: pairs where its comparison agrees / disagrees with the judge's A or
    B, and pairs where it takes no side, computed from the study's own tables."""
    judged = study.judgments()
    labels = judged[judged["judge"] == judge].set_index("pair_id")["label"]
    labels = labels[labels.isin(["A", "B"])]
    values = resolve(study.annotations(), study.pairs()["id"], study.schema()).values
    values = values.reindex(labels.index)
    side = np.where(labels == "A", 1.0, -1.0)[:, None]
    agree = (values.to_numpy() == side).sum(axis=0)
    disagree = (values.to_numpy() == -side).sum(axis=0)
    return {p: (int(a), int(d), len(labels) - int(a) - int(d))
            for p, a, d in zip(values.columns, agree, disagree)}


def check_against_feedback_forensics(study: Study, judge: str, exported: Path) -> None:
    found = feedback_forensics_metrics(exported)
    schema = study.schema()
    wanted = expected_votes(study, judge)
    by_text = {text: name for name, text in found["names"].items()}
    assert len(by_text) == len(wanted)
    for prop, (agree, disagree, none) in wanted.items():
        name = next(n for text, n in by_text.items() if f"'{schema.get(prop).label}'" in text)
        metrics = {k: v[name] for k, v in found["metrics"].items()}
        assert (metrics["agreed"], metrics["disagreed"], metrics["not_applicable"]) == \
            (agree, disagree, none), prop
        total = agree + disagree + none
        strength = 2 * (agree / (agree + disagree) - 0.5) * (agree + disagree) / total \
            if agree + disagree else 0.0
        assert metrics["strength"]["strength"] == pytest.approx(strength), prop


@pytest.mark.slow
def test_feedback_forensics_reads_an_export(cli, tmp_path):
    src = principle_file(tmp_path / "ap.json", n=60)
    study = tmp_path / "study"
    assert cli("import", str(src), "--format", "annotated-pairs", "--out", str(study)).code == 0
    assert cli("annotate", str(study)).code == 0
    out = tmp_path / "export.json"
    assert cli("export", str(study), "--out", str(out), "--judge", "human").code == 0
    check_against_feedback_forensics(Study(study), "human", out)


@pytest.mark.slow
@pytest.mark.shared_data
def test_alpaca_eval_export_loads_in_feedback_forensics(shared_data, cli, tmp_path):
    feedback_forensics_python()  # skip early when it is missing
    study = tmp_path / "alpaca"
    assert cli("import", str(shared_data / "alpaca_eval"), "--format", "alpaca-eval",
               "--out", str(study)).code == 0
    assert cli("annotate", str(study)).code == 0
    out = tmp_path / "alpaca.json"
    result = cli("export", str(study), "--out", str(out))
    assert result.code == 0, result.err
    assert json.loads(out.read_text())["metadata"]["default_annotator"] == "ba751e7b"
    check_against_feedback_forensics(Study(study), "weighted_alpaca_eval_gpt4_turbo", out)
    shutil.rmtree(study)
