"""Requests and tokens per pair: the paper's five-step plan against the one-call plan.

Runs both LLM annotation plans for real, on the same AlpacaEval pairs and the paper's
29 properties, against a llama.cpp server started here on 127.0.0.1 (Gemma 3 270M,
2 threads, 2 slots; as in dry_run_tokens.py), each plan with its own empty exchange
log so that nothing is served from a cache. Every request counts (reference answers
and repair requests included); tokens are the server's own counts (``usage``). Prints, per pair and
plan, the requests, prompt tokens and completion tokens, and the one-call plan's
share of each; then the values both plans gave (agreement per property is what
``prefdissect agreement --annotators llm llm-onecall`` reports on a study).

The model is a small base model: completion tokens mostly run to each request's
cap, so the prompt tokens and the request counts are the figures that carry over
to real models.

    python benchmarks/annotation_plans.py [ALPACA_EVAL_FOLDER] [N_PAIRS]

Needs PREFDISSECT_LLAMA_SERVER and PREFDISSECT_GGUF (or .local-llm/ built by
scripts/local_llm.sh) and the shared AlpacaEval data.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from dry_run_tokens import MODEL, SERVER, alpaca_pairs, start_server  # the same server

from prefdissect.annotators.llm import LLMAnnotator
from prefdissect.annotators.llm_onecall import OneCallAnnotator
from prefdissect.llm.client import LLMClient
from prefdissect.properties import load_schema

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "alpaca_eval"


def main() -> None:
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else DATA
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    if not (SERVER.exists() and MODEL.exists() and source.exists()):
        sys.exit(f"needs {SERVER}, {MODEL} and {source}")
    pairs, size = alpaca_pairs(source)
    typical = pairs[(size > 1200) & (size < 3000)]  # ordinary pairs that fit a small context
    pairs = typical.sample(n, random_state=0)
    schema = load_schema()
    print(f"server: llama.cpp ({MODEL.name}, 2 threads); {n} AlpacaEval pairs "
          f"({int(size[pairs.index].mean())} characters of query and responses on average); "
          "the paper's 29 properties", flush=True)
    print(f"{'plan':<11}{'requests':>10}{'prompt tok':>12}{'completion tok':>16}"
          f"{'seconds':>9}{'values ok':>11}   (per pair, seconds in all)", flush=True)
    process, url = start_server()
    figures = {}
    try:
        for plan, make in (("one-call", lambda c: OneCallAnnotator(c, "gemma")),
                           ("five-step", lambda c: LLMAnnotator(c, "gemma"))):
            with tempfile.TemporaryDirectory() as tmp:
                client = LLMClient(url, Path(tmp) / "log.sqlite", concurrency=2, timeout=1800)
                start = time.perf_counter()
                frame = make(client).annotate(pairs, schema)
                seconds = time.perf_counter() - start
                tally = client.tally
                figures[plan] = (len(tally.keys), tally.prompt_tokens, tally.completion_tokens,
                                 seconds, frame)
            ok = (frame["status"] == "ok").sum()
            print(f"{plan:<11}{len(tally.keys) / n:>10.2f}{tally.prompt_tokens / n:>12.0f}"
                  f"{tally.completion_tokens / n:>16.0f}{seconds:>9.0f}{ok:>6} / {len(frame)}",
                  flush=True)
    finally:
        process.terminate()
        process.wait(timeout=10)
    five, one = figures["five-step"], figures["one-call"]
    print(f"one-call / five-step: requests {one[0] / five[0]:.2f}, prompt tokens "
          f"{one[1] / five[1]:.2f}, completion tokens {one[2] / five[2]:.2f}")
    both = five[4].merge(one[4], on=["pair_id", "property"], suffixes=("_five", "_one"))
    both = both[(both["status_five"] == "ok") & (both["status_one"] == "ok")]
    same = np.sign(both["value_a_five"] - both["value_b_five"]) == np.sign(
        both["value_a_one"] - both["value_b_one"])
    print(f"values both plans gave: {len(both)}; same A-vs-B direction in "
          f"{100 * same.mean() if len(both) else float('nan'):.0f}% (a base model: near chance "
          "is expected)")


if __name__ == "__main__":
    main()
