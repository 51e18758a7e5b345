"""The edits' manipulation check on real responses: does each edit move its target, and only it?

Usage::

    python benchmarks/edit_check.py /work/shared/data [--limit N] [--seed S]

Reads every distinct response of the shared AlpacaEval results (all models, the
baseline included), applies every built-in content edit and checks each edited
text with the heuristic annotator (see ``prefdissect.edits``). Prints, per edit,
the share of responses it applied to, the share of those where the targeted
property moved as stated (goal >= 95%), the share where no other measured
property moved (goal >= 90%), the share kept (both), and the most common reasons
for leaving a response out. ``--limit`` checks a seeded sample of that many
responses instead of all.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

from threadpoolctl import threadpool_limits

from prefdissect.edits import POSITION, Checker, all_edits, check_summary, outcomes
from prefdissect.importers import run_import
from prefdissect.pairs import pairs_to_frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="the shared data folder (holds alpaca_eval/)")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    folder = args.data / "alpaca_eval"
    if not folder.is_dir():
        sys.exit(f"{folder} not found; give the folder that holds alpaca_eval/")
    pairs = pairs_to_frame(run_import(folder, "alpaca-eval").pairs)
    texts = sorted({t for t in [*pairs["response_a"], *pairs["response_b"]] if t and t.strip()})
    if args.limit:
        texts = random.Random(args.seed).sample(texts, min(args.limit, len(texts)))
    specs = [e for e in all_edits() if e.target != POSITION]
    start = time.perf_counter()
    with threadpool_limits(1):
        table = outcomes(texts, specs, Checker())
    seconds = time.perf_counter() - start
    summary = check_summary(table)
    print(f"{len(texts)} distinct AlpacaEval responses ({len(pairs)} pairs), "
          f"{len(specs)} edits, checked in {seconds:.1f} s\n")
    print("| edit | target | applied | target moved | nothing else moved | kept |")
    print("|---|---|---:|---:|---:|---:|")
    target = {e.name: f"{e.target} {e.direction_word}" for e in specs}
    for row in summary.itertuples():
        print(f"| `{row.edit}` | {target[row.edit]} | {100 * row.applied:.1f}% | "
              f"{100 * row.target_moved:.1f}% | {100 * row.others_unchanged:.1f}% | "
              f"{100 * row.kept:.1f}% |")
    print("\nmost common reasons a response was left out, per edit:")
    left = table[table["status"] != "kept"]
    for name, group in left.groupby("edit", sort=False):
        reasons = group["reason"].value_counts().head(3)
        print(f"  {name}: " + "; ".join(f"{r} ({n})" for r, n in reasons.items()))


if __name__ == "__main__":
    main()
