"""`dissect --folds 0` on a million preference pairs with distinct texts, beside 100k.

Builds preference pairs (TRL's standard format with an explicit prompt, as Parquet
shards of 100k rows) from the shared AlpacaEval data: pair k copies AlpacaEval
judged pair k mod 11,232 (its instruction; the judge's chosen and rejected
outputs) and ends each response with a marker naming k and its side, so that
every response text is distinct while the texts stay real answers. Then runs

    python -m prefdissect dissect SHARDS --format preference --folds 0 --out STUDY

on the first 100k pairs and on all of them, in the same run, and prints for each
the wall time, the CPU time and the peak resident memory of the whole process
tree (the CLI and its annotation workers, sampled every 0.1 s), with the ratios
between the two runs: linear time is a ratio equal to the size ratio, flat memory
a ratio near 1. CPU time does not depend on what else the machine runs.
BLAS/OpenMP pools are pinned to one thread. Needs psutil (pip install
'prefdissect[bench]'); the data (a few GB) is built in a temporary folder and
removed at the end.

    nice -n 10 python benchmarks/scale.py [--sizes 100000,1000000] [--alpaca PATH]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from prefdissect.importers import run_import
from prefdissect.measurements import available_cores

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "alpaca_eval"
SHARD = 100_000


def base_pairs(source: Path) -> list[tuple[str, str, str, str]]:
    """(instruction, chosen, rejected, dataset) of every decided AlpacaEval pair."""
    result = run_import(source, "alpaca-eval")
    labels = {j.pair_id: j.label for j in result.judgments}
    out = []
    for pair in result.pairs:
        label = labels.get(pair.id)
        if label not in ("A", "B"):
            continue
        good, bad = ((pair.response_a, pair.response_b) if label == "A"
                     else (pair.response_b, pair.response_a))
        out.append((pair.query, good, bad, str(pair.metadata.get("dataset", ""))))
    return out


def write_shards(base, total: int, folder: Path) -> list[Path]:
    """Write ``total`` pairs as Parquet shards of :data:`SHARD` rows; return the shards."""
    folder.mkdir(parents=True)
    shards = []
    for first in range(0, total, SHARD):
        rows = range(first, min(first + SHARD, total))
        picked = [base[k % len(base)] for k in rows]
        table = pa.table({
            "prompt": [p[0] for p in picked],
            "chosen": [f"{p[1]}\n\n(v{k}c)" for k, p in zip(rows, picked)],
            "rejected": [f"{p[2]}\n\n(v{k}r)" for k, p in zip(rows, picked)],
            "source": [p[3] for p in picked],
        })
        path = folder / f"train-{len(shards):05d}.parquet"
        pq.write_table(table, path)
        shards.append(path)
    return shards


def tree_rss(process) -> int:
    """Resident memory of a process and all its descendants, in bytes."""
    import psutil

    total = 0
    for member in [process, *process.children(recursive=True)]:
        try:
            total += member.memory_info().rss
        except psutil.Error:  # ended between listing and reading
            pass
    return total


def run(source: Path, out: Path) -> tuple[float, int, float, str]:
    """Run dissect on ``source``: (wall seconds, peak tree RSS, tree CPU seconds, output)."""
    import psutil

    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               MKL_NUM_THREADS="1")
    command = [sys.executable, "-m", "prefdissect", "dissect", str(source), "--format",
               "preference", "--folds", "0", "--out", str(out)]
    start = time.perf_counter()
    child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True)
    watched = psutil.Process(child.pid)
    peak = 0
    cpu: dict[int, float] = {}  # per process of the tree, the CPU time last seen
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            try:
                peak = max(peak, tree_rss(watched))
                for member in [watched, *watched.children(recursive=True)]:
                    times = member.cpu_times()
                    cpu[member.pid] = max(cpu.get(member.pid, 0.0), times.user + times.system)
            except psutil.Error:
                pass
            if child.poll() is not None:
                return
            done.wait(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output = child.communicate()[0]
    elapsed = time.perf_counter() - start
    done.set()
    sampler.join()
    if child.returncode != 0:
        sys.exit(f"dissect failed ({child.returncode}):\n{output[-3000:]}")
    return elapsed, peak, sum(cpu.values()), output


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000",
                        help="pair counts to run, comma-separated (multiples of 100000)")
    parser.add_argument("--alpaca", type=Path, default=DEFAULT)
    parser.add_argument("--workdir", type=Path, default=None,
                        help="where to build the data (default: a temporary folder)")
    args = parser.parse_args()
    try:
        import psutil  # noqa: F401
    except ImportError:
        sys.exit("this benchmark needs psutil: pip install 'prefdissect[bench]'")
    if not args.alpaca.exists():
        sys.exit(f"AlpacaEval data not found at {args.alpaca}; pass --alpaca PATH")
    sizes = sorted(int(s) for s in args.sizes.split(","))
    base = base_pairs(args.alpaca)
    work = Path(tempfile.mkdtemp(prefix="prefdissect-scale-", dir=args.workdir))
    try:
        start = time.perf_counter()
        shards = write_shards(base, sizes[-1], work / "all")
        print(f"built {sizes[-1]:,} pairs ({2 * sizes[-1]:,} distinct responses, from "
              f"{len(base):,} AlpacaEval pairs) as {len(shards)} Parquet shards in "
              f"{time.perf_counter() - start:.0f} s; {available_cores()} cores available")
        results = []
        for size in sizes:
            folder = work / f"n{size}"
            folder.mkdir()
            for shard in shards[:-(-size // SHARD)]:
                (folder / shard.name).symlink_to(shard)
            elapsed, peak, cpu, output = run(folder, work / f"study{size}")
            used = next((line.strip() for line in output.splitlines()
                         if "usable pairs" in line), "")
            print(f"{size:>9,} pairs: wall {elapsed:7.1f} s ({size / elapsed:,.0f} pairs/s), "
                  f"CPU {cpu:7.1f} s, peak RSS of the process tree {peak / 2**30:.2f} GiB; "
                  f"{used}", flush=True)
            results.append((size, elapsed, peak, cpu))
            shutil.rmtree(work / f"study{size}")
        (small, t_small, m_small, c_small), (large, t_large, m_large, c_large) = (
            results[0], results[-1])
        if large > small:
            print(f"ratios {large:,} / {small:,} pairs: size {large / small:.1f}x, "
                  f"wall time {t_large / t_small:.2f}x, CPU time {c_large / c_small:.2f}x, "
                  f"peak memory {m_large / m_small:.2f}x")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
