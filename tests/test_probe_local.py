"""Probes against real local models: the llama.cpp server (kill -9 and resume) and a reward model.

The server test kills a probe run with SIGKILL at a known point — a proxy in front
of the server answers the first N requests and holds the next one — and checks that
the re-run sends exactly the requests that were never answered. The model is a
small base model: the tests check protocol (both orders asked, answers read, the
cache), never whether its verdicts are right.
"""

from __future__ import annotations

import json
import math
import re
import signal
import subprocess
import sys
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pandas as pd
import pytest
from test_local_llm import MODEL, SERVER, start_server
from test_reward_judge import WORDS as REWARD_WORDS
from test_reward_judge import direct_rewards, tiny_reward_model  # noqa: F401 (a fixture)

from prefdissect.llm.client import Request

needs_server = pytest.mark.skipif(
    not (SERVER.exists() and MODEL.exists()),
    reason=f"no local LLM server at {SERVER} / {MODEL}; run scripts/local_llm.sh .local-llm")


class HoldingProxy:
    """Forwards requests to the server; after ``answer`` of them, holds the next one.

    Records the cache key of every request it forwarded, so a test can tell which
    requests a run paid for.
    """

    def __init__(self, target: str, answer: int | None = None):
        self.keys: list[str] = []
        self.held = threading.Event()
        self.release = threading.Event()
        outer, lock = self, threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                endpoint = "completions" if self.path.endswith("/completions") and \
                    "chat" not in self.path else "chat"
                with lock:
                    hold = answer is not None and len(outer.keys) >= answer
                    if not hold:
                        outer.keys.append(Request(endpoint, json.loads(body)).key)
                if hold:
                    outer.held.set()
                    outer.release.wait(300)  # until the test is over: the client is killed
                    return
                request = urllib.request.Request(target.removesuffix("/v1") + self.path,
                                                 data=body,
                                                 headers={"Content-Type": "application/json"})
                with urllib.request.urlopen(request, timeout=120) as response:
                    status, data = response.status, response.read()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self):
        self.release.set()
        self.server.shutdown()


def small_study(tmp_path, cli, words, n=6, sentences=3):
    rng = np.random.default_rng(3)

    def response():
        return " ".join(" ".join(rng.choice(words, size=6)).capitalize() + "."
                        for _ in range(sentences))

    rows = [{"id": f"p{i}", "query": f"Question {i}?", "response_a": response(),
             "response_b": response(), "label": "A"} for i in range(n)]
    src = tmp_path / "pairs.jsonl"
    src.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    assert cli("import", str(src), "--out", str(tmp_path / "study")).code == 0
    return tmp_path / "study"


@needs_server
def test_kill_9_mid_run_and_resume_pays_nothing_twice(tmp_path, cli):
    study = small_study(tmp_path, cli, ["good", "plan", "keeps", "costs", "low", "and", "the",
                                        "team", "works", "with", "care", "each", "day"],
                        n=3, sentences=2)
    out = tmp_path / "probes"
    # one thread: on a busy two-core machine llama.cpp's spinning threads starve each other
    process, url = start_server("-c", "4096", "-np", "1", "-t", "1")
    proxies = []
    try:
        args = ["probe", str(study), "--edit", "polite-opener", "--edit", "swap", "--model",
                "gemma", "--n", "3", "--out", str(out), "--concurrency", "1", "--timeout", "120"]
        dry = cli(*args, "--base-url", url, "--dry-run")
        assert dry.code == 0, dry.err
        planned = int(re.search(r"(\d+) requests to send", dry.text).group(1))
        answered = 5
        assert planned > answered
        first = HoldingProxy(url, answer=answered)
        proxies.append(first)
        run = subprocess.Popen([sys.executable, "-m", "prefdissect", *args, "--base-url",
                                first.url], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        while not first.held.wait(0.2):
            assert run.poll() is None, run.communicate()[1].decode()[-2000:]
        run.send_signal(signal.SIGKILL)  # kill -9 while request 6 waits for its answer
        run.wait()
        assert len(first.keys) == answered
        second = HoldingProxy(url)
        proxies.append(second)
        resumed = cli(*args, "--base-url", second.url)
        assert resumed.code in (0, 3), resumed.err  # 3: the base model's unreadable answers
        assert not set(first.keys) & set(second.keys)  # nothing paid twice ...
        assert len(first.keys) + len(second.keys) == planned  # ... and nothing left out
        assert f"{answered} from the log" in resumed.text
        third = HoldingProxy(url)
        proxies.append(third)
        assert cli(*args, "--base-url", third.url).code in (0, 3)
        assert third.keys == []  # every answer now comes from the log
    finally:
        for proxy in proxies:
            proxy.close()
        process.terminate()
        process.wait(timeout=10)
    pairs = pd.read_parquet(out / "probe_pairs.parquet")
    both = pairs["p_first_order"].notna() & pairs["p_swapped_order"].notna()
    assert both.mean() > 0.5  # both orders asked and read
    judged = pairs[pairs["status"] == "judged"]
    assert judged["p_a"].between(0, 1).all()
    assert pd.read_csv(out / "probes.csv").query("group == 'all'")["edit"].tolist() == \
        ["polite-opener", "swap"]


def test_a_reward_model_probed(tmp_path, cli, tiny_reward_model):  # noqa: F811
    study = small_study(tmp_path, cli, REWARD_WORDS[5:], n=8)
    out = tmp_path / "probes"
    result = cli("probe", str(study), "--edit", "bullets", "--edit", "polite-opener",
                 "--edit", "swap", "--reward-model", str(tiny_reward_model), "--name", "rm",
                 "--n", "8", "--out", str(out), "--device", "cpu")
    assert result.code == 0, result.err
    rows = pd.read_csv(out / "probes.csv").query("group == 'all'").set_index("edit")
    assert rows.loc["swap", "n"] == 0  # a reward model scores each response alone
    pairs = pd.read_parquet(out / "probe_pairs.parquet")
    own = pairs[(pairs["kind"] == "self") & (pairs["edit"] == "bullets")]
    records = [{"id": i, "query": q, "response_a": a, "response_b": b}
               for i, q, a, b in zip(own["id"], own["query"], own["response_a"],
                                     own["response_b"])]
    rewards = direct_rewards(tiny_reward_model, records)
    wins = [1 / (1 + math.exp(-(rewards[r["id"]][1] - rewards[r["id"]][0]))) for r in records]
    assert rows.loc["bullets", "n"] == len(wins) > 0
    assert rows.loc["bullets", "win_rate"] == pytest.approx(100 * np.mean(wins), abs=1e-3)
