"""How close the dry run's prompt-token estimate comes to what a real server counts.

Builds the LLM annotator's and the LLM judge's requests for a few AlpacaEval pairs,
sends each to a real llama.cpp server (max_tokens 1: only the prompt matters),
and prints, per step, the tokens the server reported beside the dry run's
estimate now and the earlier estimate that also counted the JSON schema of
structured output as prompt text. The server is started here on 127.0.0.1.

    python benchmarks/dry_run_tokens.py [ALPACA_EVAL_FOLDER] [N_PAIRS]

Needs PREFDISSECT_LLAMA_SERVER and PREFDISSECT_GGUF (or .local-llm/ built by
scripts/local_llm.sh) and the shared AlpacaEval data.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import defaultdict
from pathlib import Path

import numpy as np

from prefdissect.annotators.llm import LLMAnnotator
from prefdissect.importers import run_import
from prefdissect.judges.llm import LLMJudge
from prefdissect.llm.client import CHARS_PER_TOKEN, LLMClient, Request, canonical
from prefdissect.pairs import pairs_to_frame
from prefdissect.properties import load_schema

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parents[1] / "shared" / "data" / "alpaca_eval"
SERVER = Path(os.environ.get("PREFDISSECT_LLAMA_SERVER", ROOT / ".local-llm" / "llama-server"))
MODEL = Path(os.environ.get("PREFDISSECT_GGUF", ROOT / ".local-llm" /
                            "gemma3-270m-q4_k_m.gguf"))


def old_estimate(request: Request) -> int:
    """The estimate before: message text plus the JSON schema, characters / 4."""
    text = "".join(str(m.get("content", "")) for m in request.body.get("messages", [])) \
        if request.endpoint == "chat" else str(request.body.get("prompt", ""))
    if request.body.get("response_format"):
        text += canonical(request.body["response_format"])
    return -(-len(text) // CHARS_PER_TOKEN)


def start_server() -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen(
        [str(SERVER), "-m", str(MODEL), "--alias", "gemma", "--host", "127.0.0.1", "--port",
         str(port), "--no-jinja", "--chat-template", "gemma", "-c", "16384", "-np", "2",
         "-t", "2"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
                return process, f"http://127.0.0.1:{port}/v1"
        except OSError:
            time.sleep(0.3)
    process.kill()
    sys.exit("llama-server did not start")


def alpaca_pairs(source: Path):
    """Return gpt-3.5-turbo-1106's AlpacaEval pairs and each pair's characters in all."""
    pairs = pairs_to_frame(run_import(source / "results" / "gpt-3.5-turbo-1106",
                                      "alpaca-eval").pairs)
    size = pairs["query"].str.len() + pairs["response_a"].str.len() + \
        pairs["response_b"].str.len()
    return pairs, size


def main() -> None:
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else DATA
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 6
    if not (SERVER.exists() and MODEL.exists() and source.exists()):
        sys.exit(f"needs {SERVER}, {MODEL} and {source}")
    pairs, size = alpaca_pairs(source)
    pairs = pairs.loc[size.sort_values(kind="stable").index[:n]]
    process, url = start_server()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            client = LLMClient(url, Path(tmp) / "log.sqlite", concurrency=2, timeout=300)
            annotator = LLMAnnotator(client, "gemma", steps=("free", "aware", "errors"))
            judge = LLMJudge(client, "gemma")
            steps = {}
            for request in annotator.requests(pairs, load_schema()) + judge.requests(pairs):
                body = dict(request.body, max_tokens=1)
                step = ("judge" if "logprobs" in body else
                        body.get("response_format", {}).get("json_schema", {}).get(
                            "name", "reference").removeprefix("prefdissect_"))
                steps[Request(request.endpoint, body).key] = (step, request,
                                                               Request(request.endpoint, body))
            outcomes = client.run([sent for _, _, sent in steps.values()])
    finally:
        process.terminate()
        process.wait(timeout=10)
    rows = defaultdict(lambda: np.zeros(4))
    for key, (step, request, _) in steps.items():
        reported = outcomes[key].prompt_tokens
        if outcomes[key].status != "ok" or not reported:
            continue
        rows[step] += (1, reported, request.estimated_tokens()[0], old_estimate(request))
    print(f"server: llama.cpp ({MODEL.name}); {n} AlpacaEval pairs; chars per token "
          f"{CHARS_PER_TOKEN}")
    print(f"{'step':<10}{'requests':>9}{'reported':>10}{'estimate':>10}{'ratio':>7}"
          f"{'before':>9}{'ratio':>7}")
    total = np.zeros(4)
    for step, (count, reported, new, old) in sorted(rows.items()):
        total += (count, reported, new, old)
        print(f"{step:<10}{int(count):>9}{int(reported):>10}{int(new):>10}{new / reported:>7.2f}"
              f"{int(old):>9}{old / reported:>7.2f}")
    count, reported, new, old = total
    print(f"{'all':<10}{int(count):>9}{int(reported):>10}{int(new):>10}{new / reported:>7.2f}"
          f"{int(old):>9}{old / reported:>7.2f}")


if __name__ == "__main__":
    main()
