"""The fault soak: real processes against the fault server, killed, doubled and resumed.

Runs in any checkout (the project's fake server, no llama.cpp, no torch): 35% of
requests get one of 16 faults (rate limits with both Retry-After forms, 401 and
500, bodies that are not JSON, cut off, trickled past the deadline, never sent,
or 200s without an answer, and keys echoed back). Checked: a second process on
the same study is refused with the holder's PID; a kill -9 loses no finished
answer and the resume pays for none of them again; two processes sharing one
exchange log never pay twice for a request; no ``ok`` is ever replaced; every
pair ends answered or failed with its reason; and each run's exit status says
whether requests failed.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from fake_llm import FAULTS, FakeLLM, schema_reply

ROOT = Path(__file__).resolve().parents[1]
KEY = "sk-soak-4f3e2d1c0b9a8f7e6d5c4b3a"
RATE = 0.35
pytestmark = pytest.mark.slow


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("API_KEY")}
    return {**env, "PYTHONPATH": str(ROOT / "src"), "PREFDISSECT_API_KEY": KEY}


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "prefdissect", *args]


def ok_rows(log: Path) -> dict[str, tuple[str, str]]:
    """Every finished request in a log: key -> (response, when it was stored)."""
    db = sqlite3.connect(log)
    try:
        return {k: (r, u) for k, r, u in db.execute(
            "SELECT key, response, updated FROM exchanges WHERE status = 'ok'")}
    finally:
        db.close()


def run_tally(text: str) -> tuple[int, int]:
    """(requests, failed) from the 'LLM requests in this run' line."""
    match = re.search(r"LLM requests in this run: (\d+) \(\d+ answered by the server, \d+ "
                      r"from the log, (\d+) failed\)", " ".join(text.split()))
    assert match, text
    return int(match.group(1)), int(match.group(2))


def unchanged(before: dict, after: dict) -> bool:
    return all(after.get(key) == value for key, value in before.items())


def test_soak_one_study_refused_killed_and_resumed(tmp_path):
    rows = [{"id": f"p{i}", "query": f"Question {i}: how should I plan my week? I am tired.",
             "response_a": f"A{i}. Make a list.\n\n- rest\n- work", "response_b": f"B{i} no.",
             "label:human": "AB"[i % 2]} for i in range(24)]
    src = tmp_path / "pairs.jsonl"
    src.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    study, env = tmp_path / "study", environment()
    log = study / "llm_log.sqlite"
    subprocess.run(command("import", str(src), "--out", str(study)), check=True, env=env,
                   capture_output=True)
    annotate = command("annotate", str(study), "--annotator", "llm", "--model", "m",
                       "--steps", "query,free,aware,specific", "--concurrency", "4",
                       "--timeout", "1", "--max-attempts", "3", "--max-wait", "2")
    with FakeLLM(schema_reply) as server:
        server.hang_seconds = server.trickle_seconds = 3.0  # past the 1 s deadline
        server.random_faults(RATE, FAULTS, seed=7)
        first = subprocess.Popen([*annotate, "--base-url", server.url],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        deadline = time.time() + 60
        while not (study / ".prefdissect.lock").read_text().startswith(f"PID {first.pid}") \
                and time.time() < deadline:
            time.sleep(0.05)
        # a second writer on the same study is refused, naming the first one
        second = subprocess.run([*annotate, "--base-url", server.url], capture_output=True,
                                env=env, text=True)
        assert second.returncode == 2
        assert f"is in use by PID {first.pid} (prefdissect annotate)" in \
            " ".join(second.stderr.split())
        while len(server.requests) < 40 and first.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        assert first.poll() is None, first.communicate()[1].decode()[-2000:]
        first.send_signal(signal.SIGKILL)  # kill -9 in the middle of the run
        first.wait()
        killed_at = time.monotonic()
        finished = ok_rows(log)
        assert finished  # some answers were in before the kill ...
        resumed = subprocess.run([*annotate, "--base-url", server.url], capture_output=True,
                                 env=env, text=True, timeout=120)
        later = {key for at, key, _ in server.events if at > killed_at}
        assert not later & set(finished)  # ... and none of them was asked again
        assert unchanged(finished, ok_rows(log))  # no ok was replaced
        total, failed = run_tally(resumed.stdout)
        errors = sqlite3.connect(log).execute(
            "SELECT count(*) FROM exchanges WHERE status != 'ok'").fetchone()[0]
        assert failed == errors  # the run's account matches the log
        assert resumed.returncode == (3 if failed else 0), resumed.stderr
        if failed:
            assert f"{failed} of {total} LLM requests failed" in " ".join(
                resumed.stderr.split())
        faults = [kind for _, _, kind in server.events if kind != "ok"]
        assert len(faults) >= RATE * 0.7 * len(server.events) and len(set(faults)) >= 8
        # every pair answered, or failed with its reason
        annotations = pd.read_parquet(study / "annotations.parquet")
        assert set(annotations["pair_id"]) == {r["id"] for r in rows}
        counts = annotations.groupby("pair_id")["property"].nunique()
        assert counts.nunique() == 1 and counts.iloc[0] >= 20
        failures = annotations[annotations["status"] == "failed"]
        assert failures["reason"].str.len().gt(0).all()
        assert failures.empty == (failed == 0)
        # once the server behaves, a re-run finishes everything and pays only for failures
        before = ok_rows(log)
        server._random = None
        server.paid.clear()
        last = subprocess.run([*annotate, "--base-url", server.url], capture_output=True,
                              env=env, text=True, timeout=120)
        assert last.returncode == 0, last.stderr
        assert not set(server.paid) & set(before)
        assert unchanged(before, ok_rows(log))
    for path in study.iterdir():
        assert KEY.encode() not in path.read_bytes(), path.name


def test_soak_two_processes_share_one_log(tmp_path):
    from prefdissect.llm.batch import export_batch
    from prefdissect.llm.client import Request

    requests = [Request("chat", {"model": "m", "max_tokens": 1, "logprobs": True,
                                 "messages": [{"role": "user", "content": f"question {i}"}]})
                for i in range(60)]
    batch = tmp_path / "batch.jsonl"
    export_batch(requests, batch)
    env, log = environment(), tmp_path / "shared.sqlite"
    with FakeLLM(schema_reply) as server:
        server.hang_seconds = server.trickle_seconds = 3.0
        server.random_faults(RATE, FAULTS, seed=11)
        runs = [subprocess.Popen(command("batch", "run", str(batch), "--out",
                                         str(tmp_path / f"results{i}.jsonl"), "--base-url",
                                         server.url, "--log", str(log), "--concurrency", "4",
                                         "--timeout", "1", "--max-attempts", "3",
                                         "--max-wait", "2"),
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                                 text=True) for i in range(2)]
        outputs = [run.communicate(timeout=120) for run in runs]
        # a good answer was delivered at most once per request, across both processes
        delivered = {}
        for _, key, kind in server.events:
            if kind == "ok" or kind.startswith("echo-200"):  # (every escape of it too)
                delivered[key] = delivered.get(key, 0) + 1
        assert max(delivered.values()) == 1
        assert len(set(kind for _, _, kind in server.events)) >= 9
    stored = ok_rows(log)
    assert set(stored) == set(delivered)
    for i, (run, (out, err)) in enumerate(zip(runs, outputs)):
        lines = [json.loads(x) for x in (tmp_path / f"results{i}.jsonl").read_text()
                 .splitlines()]
        assert {x["custom_id"] for x in lines} == {r.key for r in requests}
        failed = [x for x in lines if x["error"]]
        assert all(x["error"]["message"] for x in failed)  # failed with the reason
        assert all(x["response"]["body"]["choices"] for x in lines if not x["error"])
        assert run.returncode == (3 if failed else 0), err
        assert f"{len(failed)} failed" in out
    assert KEY.encode() not in log.read_bytes()
