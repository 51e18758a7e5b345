"""How long `prefdissect --help` takes to start, beside a bare `python -c pass`.

Runs each command several times in fresh processes and prints the median and the
fastest wall time, and the difference (what prefdissect itself costs). The CLI
imports the library inside each command, so `--help` should stay far below the
0.8 s budget whatever the library grows into.

    python benchmarks/cli_startup.py [RUNS]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

BUDGET = 0.8
THREADS = {k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}


def timed(command: list[str], runs: int) -> list[float]:
    env = {**os.environ, **THREADS}
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=env)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    print(f"threads pinned: {', '.join(f'{k}={v}' for k, v in THREADS.items())}; {runs} runs")
    rows = {"python -c pass": timed([sys.executable, "-c", "pass"], runs),
            "prefdissect --help": timed([sys.executable, "-m", "prefdissect", "--help"], runs),
            "prefdissect --version": timed([sys.executable, "-m", "prefdissect", "--version"],
                                           runs)}
    print(f"{'command':24}{'median s':>10}{'fastest s':>11}")
    for name, times in rows.items():
        print(f"{name:24}{statistics.median(times):>10.3f}{min(times):>11.3f}")
    help_median = statistics.median(rows["prefdissect --help"])
    extra = help_median - statistics.median(rows["python -c pass"])
    verdict = "within" if help_median < BUDGET else "OVER"
    print(f"prefdissect --help costs {extra:.3f} s over a bare interpreter; median "
          f"{help_median:.3f} s is {verdict} the {BUDGET} s budget")


if __name__ == "__main__":
    main()
