"""`prefdissect discover` with the offline proposers on the 11,266-pair AlpacaEval study.

Imports the shared AlpacaEval data into a temporary study, annotates it with the
heuristic annotator (not timed), then times, in this one process with the BLAS and
OpenMP pools capped at one thread:

- the reference: ``fit`` on the same study (10 folds, the default);
- ``discover`` with the features and phrases proposers and the defaults (10 folds,
  99 label shuffles), Arrow's text kernels on every core.

Prints both times, their ratio, the machine's cores, and what the discovery found:
the kept set and its held-out gain on the test half beyond the schema's properties
and the model terms (one strength per model), with its 95% interval, and the best candidates.

    python benchmarks/discover_speed.py [ALPACA_EVAL_FOLDER]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from scipy.special import expit
from threadpoolctl import threadpool_info, threadpool_limits

from prefdissect import pipeline
from prefdissect.discovery.run import DiscoverConfig, discover
from prefdissect.profiles import FitConfig
from prefdissect.study import Study

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "alpaca_eval"


def main() -> None:
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else DATA
    if not source.exists():
        sys.exit(f"no AlpacaEval data at {source}; pass the folder")
    with tempfile.TemporaryDirectory() as folder:
        study = Study(Path(folder) / "study")
        result = pipeline.import_pairs(source, "alpaca-eval", study)
        pipeline.annotate(study, "heuristic")
        print(f"study: {len(result.pairs):,} pairs, {len(result.judgments):,} judgments "
              f"(import and heuristic annotation not timed); cores: {os.cpu_count()}")
        with threadpool_limits(limits=1):
            pools = sorted({p["num_threads"] for p in threadpool_info()})
            start = time.perf_counter()
            pipeline.fit(study, config=FitConfig())
            fit_s = time.perf_counter() - start
            start = time.perf_counter()
            found = discover(study, Path(folder) / "found", DiscoverConfig())
            discover_s = time.perf_counter() - start
        print(f"BLAS/OpenMP threads during both: {pools}")
        print(f"fit (reference, 10 folds):                      {fit_s:6.1f} s")
        print(f"discover (features + phrases, 10 folds, 99 shuffles): {discover_s:6.1f} s "
              f"= {discover_s / fit_s:.2f} x fit")
        _show(found)
        # the criterion, beyond the schema and a baseline term only (not timed)
        print("\nwith --model-terms baseline:")
        _show(discover(study, Path(folder) / "found-baseline",
                       DiscoverConfig(model_terms="baseline")))


def _show(found) -> None:
    r = found.result
    print(f"candidates: {len(found.candidates)}; proposal pairs {found.proposal_pairs:,}, "
          f"test pairs {r.pairs:,} ({r.queries} queries); threshold {r.threshold:.5f}")
    g = r.set_gain
    if g:
        print(f"kept {', '.join(r.selected)}: held-out log-loss {g['base_log_loss']:.4f} "
              f"(schema + {found.terms.kind} terms) -> {g['log_loss']:.4f}, "
              f"gain {g['gain']:.4f} [{g['gain_lower']:.4f}, {g['gain_upper']:.4f}]")
    print("best candidates (P(preferred) [95%], held-out gain [95%]):")
    for row in r.table.head(8).itertuples():
        p = 100 * expit([row.mean, row.lower, row.upper])
        print(f"  {row.candidate:22s} {row.proposer:8s} covers {100 * row.coverage:4.0f}%  "
              f"{p[0]:5.1f}% [{p[1]:4.1f}-{p[2]:4.1f}%]  "
              f"{row.gain:+.4f} [{row.gain_lower:+.4f}, {row.gain_upper:+.4f}]"
              f"{'  kept' if row.selected else ''}")

if __name__ == "__main__":
    main()
