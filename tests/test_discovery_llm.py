"""The one-call plan and the LLM proposer against the real local server (llama.cpp).

The model is a small base model: these tests check protocol and format (dry runs,
the cache, one request per pair, failures kept with reasons, agreement between the
two plans), never whether its ratings or proposals make sense.
"""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pandas as pd
import pytest
from test_local_llm import MODEL, SERVER, llama  # noqa: F401  (llama: the server fixture)

pytestmark = pytest.mark.skipif(
    not (SERVER.exists() and MODEL.exists()),
    reason=f"no local LLM server at {SERVER} / {MODEL}; run scripts/local_llm.sh .local-llm")

# Two ratings only: the local server decodes a few tokens a second under a JSON grammar,
# so the answers are kept short (the query traits, the query-specific judgments and the
# error lists are checked by hand in test_onecall.py).
SCHEMA = """name: small
properties:
  - {name: harmless, label: harmless, description: safe, rule: higher_better}
  - {name: tone_warmth, label: warmth, description: a warm tone, rule: higher_better,
     question: "how warm and kind the response sounds"}
"""


def _pairs(tmp_path, n_queries: int, per_query: int = 2, seed: int = 0):
    rng = np.random.default_rng(seed)
    rows = []
    for q in range(n_queries):
        for k in range(per_query):
            rows.append({"id": f"p{q}-{k}", "query": f"Name a colour number {q}, in one word.",
                         "response_a": ["Blue.", "Red!", "Green, I think."][(q + k) % 3],
                         "response_b": ["Yellow", "Purple. Happy to help!", "Grey."][(q * k) % 3],
                         "label": "A" if rng.random() < 0.6 else "B", "judge": "people"})
    path = tmp_path / "pairs.jsonl"
    pd.DataFrame(rows).to_json(path, orient="records", lines=True)
    return path


def _requests(study, name: str) -> int:
    """Distinct first requests (not repair requests) of one kind in the study's log."""
    with sqlite3.connect(study / "llm_log.sqlite") as log:
        return log.execute("SELECT COUNT(*) FROM exchanges WHERE request LIKE ? AND request "
                           "NOT LIKE '%could not be used%'", (f"%{name}%",)).fetchone()[0]


def test_the_one_call_plan_beside_the_five_step_plan(llama, tmp_path, cli):  # noqa: F811
    study, schema = tmp_path / "study", tmp_path / "small.yaml"
    schema.write_text(SCHEMA)
    assert cli("import", str(_pairs(tmp_path, 2, per_query=1)), "--out", str(study)).code == 0
    common = ["--schema", str(schema), "--model", "gemma", "--base-url", llama,
              "--timeout", "300", "--max-attempts", "2"]
    dry = cli("annotate", str(study), "--annotator", "llm", "--plan", "one-call", *common,
              "--dry-run")
    assert dry.code == 0, dry.err
    assert "dry run: 2 requests to send (0 already in the log)" in dry.text
    live = cli("annotate", str(study), "--annotator", "llm", "--plan", "one-call", *common,
               "--max-tokens", "onecall=40")
    assert live.code in (0, 3), live.err  # 3: an answer cut off or unusable, kept as failed
    assert "LLM requests in this run: 2 (" in live.text
    table = pd.read_parquet(study / "annotations.parquet")
    mine = table[table["annotator"] == "llm-onecall"]
    assert len(mine) == 2 * 2 and set(mine["property"]) == {"harmless", "tone_warmth"}
    assert mine.loc[mine["status"] == "failed", "reason"].notna().all()
    ok = mine[mine["status"] == "ok"]
    assert ok[["value_a", "value_b"]].notna().all().all()
    again = cli("annotate", str(study), "--annotator", "llm", "--plan", "one-call", *common,
                "--max-tokens", "onecall=40")
    assert "(0 answered by the server, 2 from the log" in again.text  # the cache
    five = cli("annotate", str(study), "--annotator", "llm", *common, "--steps", "free",
               "--max-tokens", "free=30")
    assert five.code in (0, 3), five.err
    compared = cli("agreement", str(study), "--annotators", "llm", "llm-onecall",
                   "--schema", str(schema))
    assert compared.code == 0, compared.err
    rows = pd.read_csv(study / "agreement.csv")
    assert set(rows["property"]) == {"harmless"}  # both plans rate it
    assert (rows["pairs"] == 2).all()
    refused = cli("annotate", str(study), "--annotator", "heuristic", "--plan", "one-call")
    assert refused.code == 2 and "applies to the llm annotator" in refused.err


PROPOSALS = {"properties": [
    {"name": "Names a Colour", "comparison": "Response A names a colour more plainly than B",
     "question": "how plainly the response names one colour"},
    {"name": "names_a_colour!", "comparison": "A names a colour more plainly",
     "question": "the same, asked twice"},  # a near-duplicate: merged away
    {"name": "cheerful", "comparison": "Response A is more cheerful than Response B",
     "question": "how cheerful the response sounds"}]}


def test_the_llm_proposer_with_dry_run_batch_export_and_cache(llama, tmp_path, cli):  # noqa: F811
    study, out = tmp_path / "study", tmp_path / "found"
    assert cli("import", str(_pairs(tmp_path, 4, per_query=1)), "--out", str(study)).code == 0
    assert cli("annotate", str(study)).code == 0
    common = ["discover", str(study), "--out", str(out), "--proposer", "llm", "--model", "gemma",
              "--base-url", llama, "--folds", "2", "--llm-pairs", "2", "--timeout", "300",
              "--max-attempts", "2"]
    # 1. the model itself proposes (whatever a base model writes), then rates what it kept
    args = [*common, "--llm-candidates", "2", "--llm-max-tokens", "60"]
    dry = cli(*args, "--dry-run")
    assert dry.code == 0, dry.err
    assert "dry run: 1 requests to send (0 already in the log)" in dry.text
    assert "2 more requests depend on these answers" in dry.text  # one per test pair
    live = cli(*args)
    assert live.code in (0, 3), live.err
    summary = json.loads((out / "discovery.json").read_text())
    assert any(n.startswith("LLM proposer (gemma): 1 requests") for n in summary["notes"])
    proposed = summary["by_proposer"].get("llm", 0)
    assert _requests(study, "prefdissect_proposals") == 1
    assert _requests(study, "prefdissect_onecall") == (2 if proposed else 0)
    table = pd.read_csv(out / "discoveries.csv")
    assert (table["proposer"] == "llm").sum() == proposed
    again = cli(*args)
    assert again.code == live.code and "0 answered by the server" in again.text
    assert pd.read_csv(out / "discoveries.csv").equals(table)

    # 2. proposals answered through a batch file; the ratings, one request per test pair
    # for all of them at once, come from the live server
    args = [*common, "--proposer", "features", "--llm-candidates", "3"]
    batch, results = tmp_path / "batch.jsonl", tmp_path / "results.jsonl"
    assert "wrote 1 requests" in cli(*args, "--batch-export", str(batch)).text
    line = json.loads(batch.read_text())
    assert line["body"]["response_format"]["type"] == "json_schema"
    answer = {"id": "x", "object": "chat.completion", "model": "gemma", "choices": [
        {"index": 0, "finish_reason": "stop",
         "message": {"role": "assistant", "content": json.dumps(PROPOSALS)}}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 10}}
    results.write_text(json.dumps({"custom_id": line["custom_id"], "response": {
        "status_code": 200, "body": answer}, "error": None}) + "\n")
    imported = cli("batch", "import", str(study), str(results), "--requests", str(batch))
    assert imported.code == 0, imported.err
    assert "dry run: 2 requests to send (1 already in the log)" in cli(*args, "--dry-run").text
    live = cli(*args)
    assert live.code in (0, 3), live.err
    assert "(2 answered by the server, 1 from the log" in live.text
    table = pd.read_csv(out / "discoveries.csv").set_index("candidate")
    assert set(table.index[table["proposer"] == "llm"]) == {"llm_names_a_colour", "llm_cheerful"}
    assert table.loc["llm_cheerful", "description"] == PROPOSALS["properties"][2]["comparison"]
    values = pd.read_parquet(out / "discovered_annotations.parquet")
    rated = values[values["annotator"] == "llm-onecall"]
    assert set(rated["property"]) == {"llm_names_a_colour", "llm_cheerful"}
    summary = json.loads((out / "discovery.json").read_text())
    assert "3 proposals, 2 kept" in next(n for n in summary["notes"]
                                         if n.startswith("LLM proposer"))
