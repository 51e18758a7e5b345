"""The paper's full fitting protocol on paper-shaped simulated data: EP against NUTS.

Data: 5,240 pairs in 11 scenario groups (nine of 400, two of 820) plus the five
query-specific groups (121, 388, 401, 459 and 1,418 pairs, drawn from the same
pairs); 29 comparison features, mostly in {-1, 0, +1}, three rare error columns;
33 judges whose true weights are the paper's published ones for each scenario
(from ../shared/data when present, else Laplace(0, 0.15) draws). The protocol
fits every judge x group x fold (10 folds, each on 90% of the group): 5,280 fits.

As in `prefdissect fit`, the folds of a group share its design matrix and are
told apart by row weights. The protocol is timed three ways: the paper's model
with the BLAS pools capped at one thread (the default), the same with the pools
as the machine sets them (the reference), and with model terms (one strength per
model, 20 models, Bradley-Terry) beside the 29 properties.

Prints the thread settings, the fast engine's times, the time of a sample of
reference NUTS fits (4 chains, 500 warm-up, 2,000 draws) run in the same process,
their ratio, the max |difference| of posterior means on that sample (with and
without model terms), NUTS's own seed-to-seed spread on one problem, and the time
of one fit on 500,000 pairs.

    python benchmarks/protocol.py [--nuts 6] [--reference PATH] [--busy]

``--busy`` keeps one other process spinning on a core while the two thread settings
are timed, as on a shared machine.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_info

from prefdissect.engines import TERM_PRIOR_SD, Problem, fit_problems
from prefdissect.quality import fold_slices

SCENARIO_SIZES = [400] * 9 + [820] * 2
TRAIT_SIZES = [121, 388, 401, 459, 1418]
D, JUDGES, FOLDS, MODELS = 29, 33, 10, 20
DEFAULT_REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "data" / \
    "preference-dissection"


def true_weights(rng: np.random.Generator, reference: Path) -> tuple[np.ndarray, str]:
    """Weights (judges, scenarios, 29): the paper's where available."""
    if reference.exists():
        from prefdissect.reference import SCENARIOS, load_reference_profiles

        table = load_reference_profiles(reference)
        judges = list(dict.fromkeys(table["judge"]))[:JUDGES]
        wide = table.set_index(["judge", "group"])
        weights = np.stack([np.stack([wide.loc[(j, g), "mean"].to_numpy() for g in SCENARIOS])
                            for j in judges])
        return weights, "the paper's published weights"
    return rng.laplace(0, 0.15, (JUDGES, len(SCENARIO_SIZES), D)), "Laplace(0, 0.15) draws"


def simulate(seed: int, reference: Path, with_models: bool = False):
    rng = np.random.default_rng(seed)
    n = sum(SCENARIO_SIZES)
    p_nonzero = rng.uniform(0.25, 0.75, D)
    p_nonzero[20:23] = [0.06, 0.08, 0.10]  # rare error columns
    X = (rng.random((n, D)) < p_nonzero) * rng.choice([-1.0, 1.0], size=(n, D))
    scenario = np.repeat(np.arange(len(SCENARIO_SIZES)), SCENARIO_SIZES)
    weights, source = true_weights(rng, reference)
    logits = np.einsum("nd,jnd->jn", X, weights[:, scenario, :])
    if with_models:  # 20 models of spread strength, random sides; anchor: model 0
        a = rng.integers(0, MODELS, n)
        b = (a + rng.integers(1, MODELS, n)) % MODELS
        terms = np.zeros((n, MODELS))
        terms[np.arange(n), a] += 1.0
        terms[np.arange(n), b] -= 1.0
        strength = np.linspace(-1.0, 1.0, MODELS)
        logits = logits + (terms @ strength)[None, :]
        X = np.hstack([X, terms[:, 1:]])
    Y = (rng.random(logits.shape) < 1 / (1 + np.exp(-logits))).astype(float)
    groups = [np.flatnonzero(scenario == s) for s in range(len(SCENARIO_SIZES))]
    groups += [np.sort(rng.choice(n, size, replace=False)) for size in TRAIT_SIZES]
    return X, Y, groups, source


def protocol_problems(X, Y, groups, seed: int = 0) -> list[Problem]:
    """Every judge x group x fold; a group's folds share its design (row weights)."""
    gaussian = None
    if X.shape[1] > D:
        gaussian = np.r_[np.full(D, np.nan), np.full(X.shape[1] - D, TERM_PRIOR_SD)]
    problems = []
    for rows in groups:
        X_group = X[rows]  # one design shared by all judges and folds of this group
        for held in fold_slices(len(rows), FOLDS, seed):
            weight = np.ones(len(rows))
            weight[held] = 0.0
            problems += [Problem(X_group, Y[j, rows], weight, gaussian) for j in range(len(Y))]
    return problems


def timed(problems: list[Problem], threads: int | None) -> tuple[float, list]:
    fit_problems(problems[:JUDGES], threads=threads)  # warm caches and imports
    start = time.perf_counter()
    fits = fit_problems(problems, threads=threads)
    return time.perf_counter() - start, fits


def nuts_check(problems, fast, picks, label: str) -> float:
    from prefdissect.engines.nuts import fit_nuts

    start = time.perf_counter()
    reference = fit_nuts([problems[i] for i in picks])
    t_nuts = time.perf_counter() - start
    delta = max(float(np.abs(fast[i].mean - r.mean).max()) for i, r in zip(picks, reference))
    delta_sd = max(float(np.abs(fast[i].sd - r.sd).max()) for i, r in zip(picks, reference))
    sizes = sorted(int(problems[i].weight.sum()) for i in picks)
    print(f"NUTS {label}, {len(picks)} sampled fits (n = {', '.join(map(str, sizes))}): "
          f"{t_nuts:.1f} s, {t_nuts / len(picks):.2f} s per fit; max |posterior mean EP - "
          f"NUTS| {delta:.4f} (max |sd difference| {delta_sd:.4f})")
    return t_nuts / len(picks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nuts", type=int, default=6, help="reference NUTS fits to run")
    parser.add_argument("--reference", type=Path, default=DEFAULT_REFERENCE)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--busy", action="store_true",
                        help="time the thread settings beside one busy process")
    args = parser.parse_args()

    pools = ", ".join(f"{p['internal_api']} {p['num_threads']} threads"
                      for p in threadpool_info()) or "none found"
    print(f"thread pools as the machine sets them: {pools}; the fits below cap them at 1 "
          "unless said otherwise")
    X, Y, groups, source = simulate(args.seed, args.reference)
    problems = protocol_problems(X, Y, groups, args.seed)
    rows = sum(int(p.weight.sum()) for p in problems)
    print(f"protocol: {len(problems):,} fits ({JUDGES} judges x {len(groups)} groups x "
          f"{FOLDS} folds), {rows:,} rows, {D} features; true weights: {source}")
    burner = None
    if args.busy:
        burner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        print("one other process is spinning on a core while the next two are timed")
    t_fast, fast = timed(problems, threads=1)
    converged = sum(p.diagnostics["converged"] for p in fast)
    print(f"EP, whole protocol, 1 BLAS thread: {t_fast:.1f} s ({t_fast / len(problems) * 1e3:.2f}"
          f" ms per fit; {converged}/{len(problems)} converged)")
    t_pools, _ = timed(problems, threads=None)
    print(f"EP, whole protocol, pools as set by the machine: {t_pools:.1f} s "
          f"(ratio to 1 thread: {t_pools / t_fast:.2f}x)")
    if burner is not None:
        burner.kill()
        burner.wait()
    X_b = np.hstack([X, np.ones((len(X), 1))])  # a fixed baseline's term (auto's choice)
    t_base, fast_base = timed(protocol_problems(X_b, Y, groups, args.seed), threads=1)
    converged = sum(p.diagnostics["converged"] for p in fast_base)
    print(f"EP, whole protocol with a baseline term (1 + {D} columns), 1 BLAS thread: "
          f"{t_base:.1f} s ({converged}/{len(fast_base)} converged)")
    X_m, Y_m, groups_m, _ = simulate(args.seed, args.reference, with_models=True)
    with_terms = protocol_problems(X_m, Y_m, groups_m, args.seed)
    t_terms, fast_terms = timed(with_terms, threads=1)
    converged = sum(p.diagnostics["converged"] for p in fast_terms)
    print(f"EP, whole protocol with model terms ({MODELS - 1} strengths + {D} properties), "
          f"1 BLAS thread: {t_terms:.1f} s ({t_terms / len(with_terms) * 1e3:.2f} ms per fit; "
          f"{converged}/{len(with_terms)} converged)")

    if args.nuts:
        try:
            from prefdissect.engines.nuts import fit_nuts
        except ImportError:
            print("NUTS reference skipped: install prefdissect[reference]")
            return
        rng = np.random.default_rng(args.seed)
        picks = rng.choice(len(problems), args.nuts, replace=False)
        fit_nuts([problems[picks[0]]], draws=50, warmup=50)  # compile once, untimed
        per_nuts = nuts_check(problems, fast, picks, "(paper's model)")
        print(f"per-fit ratio NUTS / EP: {per_nuts / (t_fast / len(problems)):,.0f}x; "
              f"whole protocol by NUTS would take about {per_nuts * len(problems) / 3600:.1f} h")
        picks_terms = rng.choice(len(with_terms), max(1, args.nuts // 2), replace=False)
        nuts_check(with_terms, fast_terms, picks_terms, "(with model terms)")
        again = fit_nuts([problems[picks[0]]], seed=1)[0]
        first = fit_nuts([problems[picks[0]]], seed=0)[0]
        print(f"NUTS seed-to-seed spread of posterior means on one problem: "
              f"{float(np.abs(again.mean - first.mean).max()):.4f}")

    rng = np.random.default_rng(args.seed + 1)
    n = 500_000
    w = rng.uniform(-0.6, 0.6, D)
    X_big = (rng.random((n, D)) < 0.5) * rng.choice([-1.0, 1.0], size=(n, D))
    y_big = (rng.random(n) < 1 / (1 + np.exp(-X_big @ w))).astype(float)
    start = time.perf_counter()
    (big,) = fit_problems([Problem(X_big, y_big)], threads=1)
    print(f"one fit on {n:,} pairs: {time.perf_counter() - start:.2f} s "
          f"(converged: {big.diagnostics['converged']}, max |mean - truth| "
          f"{float(np.abs(big.mean - w).max()):.3f})")


if __name__ == "__main__":
    main()
