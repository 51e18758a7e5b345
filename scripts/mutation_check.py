"""Plant known bugs in a copy of the repository and check that the tests catch each one.

Each mutation is a list of exact (file, old snippet, new snippet) edits and the
tests that guard the behaviour it breaks. For every mutation the script makes a
fresh copy of the repository (tracked and untracked, not ignored, files), applies
the edits, runs those tests against the copy, and prints whether they failed
(caught) or passed (missed). The tests first run once on an unmutated copy: a
guard that fails without any mutation proves nothing.

    python scripts/mutation_check.py            # every mutation
    python scripts/mutation_check.py --list     # names only
    python scripts/mutation_check.py redact-noop retry-after-ignored

An edit whose old snippet is not found exactly once stops the script with an
error naming the mutation and file: the code moved, so update the snippet here.
Exit status: 0 every mutation caught, 1 some missed, 2 a snippet or baseline problem.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Mutation:
    """One planted bug: its edits and the tests that must fail because of it."""

    name: str
    what: str
    edits: list[tuple[str, str, str]]
    tests: list[str]


MUTATIONS = [
    Mutation("redact-noop", "`redact` leaves the API key in place",
             [("src/prefdissect/llm/client.py",
               'text = text.replace(variant, "***")', "text = text")],
             ["tests/test_llm_faults.py::test_a_key_echoed_in_any_body_never_reaches_the_log",
              "tests/test_promises.py::test_a_key_from_any_source_is_never_written"]),
    Mutation("report-html", "report texts inserted as HTML (textContent -> innerHTML)",
             [("src/prefdissect/report_assets/util.js",
               'if (key === "text") { node.textContent = attrs[key]; }',
               'if (key === "text") { node.innerHTML = attrs[key]; }'),
              ("src/prefdissect/report_assets/util.js",
               "if (text !== undefined) { node.textContent = text; }",
               "if (text !== undefined) { node.innerHTML = text; }")],
             ["tests/test_report.py"]),
    Mutation("log-lookup-disabled", "the exchange log never answers from the cache",
             [("src/prefdissect/llm/cache.py",
               "        if row is None:\n            return None\n        return Exchange(",
               "        if True:\n            return None\n        return Exchange(")],
             ["tests/test_llm.py::test_faults_are_retried_and_logged",
              "tests/test_cli_hardening.py::test_a_clean_run_exits_0_and_counts_only_its_own"
              "_requests"]),
    # every look at the log before sending goes (the second look after the claim too),
    # and the guard kills a run at a known point: once 5 answers are in
    Mutation("resume-resends", "a re-run sends finished requests again",
             [("src/prefdissect/llm/client.py", "            hit = self.log.get(key)\n",
               "            hit = None\n"),
              ("src/prefdissect/llm/client.py",
               "                    outcome = self.log.get(request.key)\n",
               "                    outcome = None\n"),
              ("src/prefdissect/llm/client.py",
               "outcome = self.log.get(request.key) or await self._with_retries(",
               "outcome = await self._with_retries(")],
             ["tests/test_llm.py::test_persistent_failure_is_kept_and_only_it_is_retried",
              "tests/test_llm_trust.py::test_a_run_killed_after_n_answers_pays_for_none_of_"
              "them_again"]),
    Mutation("key-escaped-slash", "the key is redacted in the raw text only, before parsing "
             "(a key the server's JSON escapes, sk-AB\\/CD, is stored)",
             [("src/prefdissect/llm/client.py",
               "        return self.redact_body(json.loads(self.redact(text),\n"
               "                                           parse_constant=_finite_or_missing))",
               "        return json.loads(self.redact(text), parse_constant=_finite_or_missing)"),
              ("src/prefdissect/llm/client.py",
               "    variants = {key, escaped, escaped.replace(",
               "    variants = {key}\n    _ = {key, escaped, escaped.replace(")],
             ["tests/test_llm_trust.py::test_a_key_the_server_escapes_never_reaches_the_log",
              "tests/test_llm_rerun.py::test_no_key_reaches_a_file_or_a_message_however_the_"
              "server_escapes_it"]),
    Mutation("garbage-verdict-tie", "an answer that states no verdict is read as a tie",
             [("src/prefdissect/judges/llm.py",
               'return OrderResult(None, f"no verdict in the answer {text[:60]!r}", 0.0)',
               'return OrderResult(0.5, "verdict (tie)", 1.0)')],
             ["tests/test_llm_trust.py::test_only_a_stated_verdict_is_read",
              "tests/test_llm_rerun.py::test_garbage_verdicts_fail_and_single_orders_are_"
              "counted"]),
    Mutation("single-order-as-both", "a verdict from one order is counted as both orders",
             [("src/prefdissect/judges/__init__.py",
               "    p_a = sum(usable) / len(usable)\n",
               "    p_a = sum(usable) / len(usable)\n"
               "    p1, p2 = (p_a if p1 is None else p1), (p_a if p2 is None else p2)\n")],
             ["tests/test_llm_rerun.py::test_garbage_verdicts_fail_and_single_orders_are_"
              "counted"]),
    Mutation("retry-after-ignored", "the server's Retry-After is ignored",
             [("src/prefdissect/llm/client.py",
               "wait = retry_after(exc.response.headers) if retryable else None",
               "wait = None")],
             ["tests/test_llm_faults.py::test_waits_follow_retry_after_and_back_off",
              "tests/test_llm_faults.py::test_a_retry_after_longer_than_max_wait_fails_the_"
              "request"]),
    Mutation("repair-after-cutoff", "an answer cut off at max_tokens gets a repair request",
             [("src/prefdissect/annotators/llm.py",
               'if finish_reason(exchange.response) == "length":', "if False:")],
             ["tests/test_promises.py::test_a_cut_off_answer_gets_no_repair_request"]),
    Mutation("laplace-scale-10pc", "the EP engine's Laplace prior scale is 10% too large",
             [("src/prefdissect/engines/ep.py",
               "    X = design.X\n    n_problems, d = len(Y), X.shape[1]\n",
               "    X = design.X\n    b = 1.1 * b\n    n_problems, d = len(Y), X.shape[1]\n")],
             ["tests/test_engine_ep.py"]),
    Mutation("intervals-15pc-narrow", "credible intervals 15% too narrow",
             [("src/prefdissect/engines/ep.py",
               "    out = []\n    for k in range(n_problems):\n",
               "    lower, upper = mean - 0.85 * (mean - lower), mean + 0.85 * (upper - mean)\n"
               "    out = []\n    for k in range(n_problems):\n")],
             ["tests/test_engine_ep.py::test_matches_exact_grid_posterior",
              "tests/test_engine_accuracy.py::test_intervals_are_calibrated_when_truth_comes_"
              "from_the_prior"]),
    Mutation("importer-drops-last-line", "JSON Lines readers drop the last line",
             [("src/prefdissect/readers.py",
               "for number, raw in enumerate(handle, start=1):",
               "for number, raw in enumerate(list(handle)[:-1], start=1):")],
             ["tests/test_importer_errors.py::test_the_last_line_is_read",
              "tests/test_importers.py"]),
    Mutation("exclusions-not-written", "exclusions.csv is not written by later stages",
             [("src/prefdissect/study.py",
               '        frame = pd.concat([old[~stale], exclusions_to_frame(items)], '
               'ignore_index=True)\n        self.write_frame("exclusions.csv", frame)',
               '        frame = pd.concat([old[~stale], exclusions_to_frame(items)], '
               'ignore_index=True)\n        frame = frame')],
             ["tests/test_pipeline.py::test_dissect_groups_and_exclusions",
              "tests/test_cli_hardening.py::test_every_request_failing_exits_3_and_says_so"]),
    Mutation("controlled-interval-80pc", "the controlled win rate's interval is an 80% one",
             [("src/prefdissect/scores.py",
               "    alpha = (1 - config.interval) / 2\n    lower, upper = np.quantile(sampled,",
               "    alpha = (1 - 0.80) / 2\n    lower, upper = np.quantile(sampled,")],
             ["tests/test_scores.py::test_the_controlled_interval_is_the_posteriors_own"]),
]


class SnippetError(Exception):
    """An edit's old snippet is not in its file exactly once."""


def copy_repository(target: Path) -> None:
    """Copy the files git knows or would add (tracked, untracked, not ignored)."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


def apply(mutation: Mutation, tree: Path) -> None:
    """Make the mutation's edits in ``tree``; each old snippet must occur exactly once."""
    for file, old, new in mutation.edits:
        path = tree / file
        if not path.exists():
            raise SnippetError(f"{mutation.name}: {file} does not exist")
        text = path.read_text(encoding="utf-8")
        count = text.count(old)
        if count != 1:
            raise SnippetError(f"{mutation.name}: the snippet {old[:60]!r}... occurs {count} "
                               f"times in {file} (expected once); update it in "
                               "scripts/mutation_check.py")
        path.write_text(text.replace(old, new), encoding="utf-8")


def run_tests(tree: Path, tests: list[str]) -> tuple[int, float, str]:
    """Run ``tests`` against the code in ``tree``; return pytest's status, seconds, output."""
    env = {**os.environ, "PYTHONPATH": str(tree / "src"), "PYTHONDONTWRITEBYTECODE": "1"}
    shared = ROOT.parent / "shared" / "data"
    if "PREFDISSECT_SHARED_DATA" not in env and shared.is_dir():
        env["PREFDISSECT_SHARED_DATA"] = str(shared)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                           *tests], cwd=tree, env=env, capture_output=True, text=True)
    return done.returncode, time.perf_counter() - started, done.stdout[-1500:]


def main() -> int:
    """Check the chosen mutations; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="mutations to run (default: all)")
    parser.add_argument("--list", action="store_true", help="list the mutations and exit")
    args = parser.parse_args()
    if args.list:
        for m in MUTATIONS:
            print(f"{m.name:26} {m.what}")
        return 0
    chosen = [m for m in MUTATIONS if not args.names or m.name in args.names]
    unknown = set(args.names) - {m.name for m in MUTATIONS}
    if unknown:
        print(f"unknown mutation(s): {', '.join(sorted(unknown))}; see --list", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="prefdissect-mutants-") as tmp:
        base = Path(tmp) / "base"
        copy_repository(base)
        for mutation in chosen:  # every snippet must match before anything runs
            try:
                probe = Path(tmp) / "probe"
                shutil.copytree(base, probe)
                apply(mutation, probe)
                shutil.rmtree(probe)
            except SnippetError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
        guards = sorted({t for m in chosen for t in m.tests})
        code, seconds, output = run_tests(base, guards)
        if code != 0:
            print(f"error: the guarding tests fail without any mutation ({seconds:.0f} s):\n"
                  f"{output}", file=sys.stderr)
            return 2
        print(f"baseline: the {len(guards)} guarding test targets pass unmutated "
              f"({seconds:.0f} s)")
        missed = 0
        print(f"{'mutation':26} {'result':8} {'time':>6}  tests")
        for mutation in chosen:
            tree = Path(tmp) / mutation.name
            shutil.copytree(base, tree)
            apply(mutation, tree)
            code, seconds, output = run_tests(tree, mutation.tests)
            result = "caught" if code == 1 else "missed" if code == 0 else f"error {code}"
            missed += result != "caught"
            print(f"{mutation.name:26} {result:8} {seconds:5.0f}s  {', '.join(mutation.tests)}")
            if result.startswith("error"):
                print(output)
            shutil.rmtree(tree)
    print(f"{len(chosen) - missed} of {len(chosen)} mutations caught")
    return 0 if missed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
