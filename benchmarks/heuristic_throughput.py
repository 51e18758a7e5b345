"""Heuristic-annotation throughput on the AlpacaEval pairs (one core).

Prints pairs per second for the annotator as the pipeline runs it (identical
texts, e.g. the baseline's answer repeated across models, are measured once),
for every text measured from scratch, and a floor reference (only splitting each
text into words) timed in the same run, with the ratios between them.

    python benchmarks/heuristic_throughput.py [PATH_TO_ALPACA_EVAL]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from prefdissect.annotators.heuristic import HeuristicAnnotator, measure
from prefdissect.importers import run_import
from prefdissect.pairs import pairs_to_frame
from prefdissect.properties import load_schema

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "alpaca_eval"


def best_of(runs: int, work) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    if not source.exists():
        sys.exit(f"AlpacaEval data not found at {source}; pass its path")
    pairs = pairs_to_frame(run_import(source, "alpaca-eval").pairs)
    schema = load_schema()
    texts = pairs["response_a"].tolist() + pairs["response_b"].tolist()
    n = len(pairs)
    unique = len(set(texts))

    def pipeline_run():
        measure.cache_clear()
        HeuristicAnnotator().annotate(pairs, schema)

    def uncached():
        for text in texts:
            measure.__wrapped__(text)

    def floor():
        for text in texts:
            text.split()

    t_pipeline = best_of(3, pipeline_run)
    t_uncached = best_of(3, uncached)
    t_floor = best_of(3, floor)
    print(f"AlpacaEval pairs: {n:,} ({len(texts):,} responses, {unique:,} distinct texts)")
    print(f"annotate (as the pipeline runs it): {n / t_pipeline:,.0f} pairs/s "
          f"({t_pipeline:.2f} s, incl. building the annotation table)")
    print(f"every text measured from scratch:   {n / t_uncached:,.0f} pairs/s "
          f"({t_uncached:.2f} s; {t_uncached / len(texts) * 1e6:.0f} us per response)")
    print(f"reference, str.split only:          {n / t_floor:,.0f} pairs/s ({t_floor:.3f} s)")
    print(f"ratios: pipeline / from-scratch = {t_uncached / t_pipeline:.2f}x faster; "
          f"from-scratch costs {t_uncached / t_floor:.0f}x the split floor")


if __name__ == "__main__":
    main()
