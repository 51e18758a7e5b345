"""How fast the HTML report opens in headless Chromium, and how big it is.

Builds a report (from a study folder, or from a simulated demo study), then opens
it several times in Chromium and prints, as medians: the time until the page is
ready (first view drawn), until the sample browser lists its pairs (texts
unpacked), and a text search over every pair. The reference, timed in the same
run, is a page of the same size that only carries its bytes (inert text in a
<script type="text/plain"> element, as the report carries its data): the ratio
says what the report's own work costs beyond reading the file.

    python benchmarks/report_load.py [--study STUDY] [--pairs 4000] [--reference DIR]
        [--runs 5]
"""

from __future__ import annotations

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")  # one thread each, so runs compare across machines

import argparse  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

CHROMIUM = os.environ.get("PREFDISSECT_CHROMIUM", "/usr/bin/chromium")


def build(args, folder: Path) -> Path:
    """Write the report to ``folder``; return its path."""
    from prefdissect.cli import console, main

    console.quiet = True  # the demo's and the report's own messages
    study = args.study
    if study is None:
        study = folder / "demo"
        try:
            main(["demo", "--out", str(study), "--pairs", str(args.pairs)])
        except SystemExit as exc:
            if exc.code:
                raise
    out = folder / "report.html"
    command = ["report", str(study), "--out", str(out)]
    if args.reference:
        command += ["--reference", str(args.reference)]
    start = time.perf_counter()
    try:
        main(command)
    except SystemExit as exc:
        if exc.code:
            raise
    print(f"report written in {time.perf_counter() - start:.2f} s")
    return out


def wait_until(page, script: str, timeout: float = 60.0) -> None:
    """Poll ``script`` (the report's CSP forbids the eval wait_for_function needs)."""
    deadline = time.perf_counter() + timeout
    while not page.evaluate(script):
        if time.perf_counter() > deadline:
            raise TimeoutError(script)
        time.sleep(0.005)


def time_report(browser, path: Path, word: str) -> tuple[float, float, float]:
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    start = time.perf_counter()
    page.goto(path.resolve().as_uri())
    page.wait_for_selector("html[data-ready=true]")
    ready = time.perf_counter() - start
    start = time.perf_counter()
    page.click("#tab-samples")
    page.wait_for_selector("#samples-list tr.pair-row")
    samples = time.perf_counter() - start
    before = page.locator("#sample-count").text_content()
    start = time.perf_counter()
    page.fill("#sample-search", word)
    wait_until(page, f"document.getElementById('sample-count').textContent !== {before!r}")
    search = time.perf_counter() - start - 0.2  # less the search box's 200 ms debounce
    page.close()
    return ready, samples, search


def time_static(browser, path: Path) -> float:
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    start = time.perf_counter()
    page.goto(path.resolve().as_uri())
    page.wait_for_load_state("load")
    seconds = time.perf_counter() - start
    page.close()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", type=Path, help="study folder (default: a demo study)")
    parser.add_argument("--pairs", type=int, default=4000, help="pairs of the demo study")
    parser.add_argument("--reference", help="the paper's judges (folder, URL or 'paper')")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--search", default="the", help="word to search for")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    print("threads: " + ", ".join(f"{n}={os.environ[n]}" for n in (
        "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        report = build(args, folder)
        size = report.stat().st_size
        static = folder / "static.html"
        body = report.read_bytes().replace(b"<", b"&lt;")[: size - 80]
        static.write_bytes(b"<!DOCTYPE html><meta charset=utf-8><p>reference</p>"
                           b"<script type=text/plain>" + body + b"</script>")
        print(f"report: {size / 2**20:.2f} MiB; inert reference page: "
              f"{static.stat().st_size / 2**20:.2f} MiB")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM,
                                        args=["--no-sandbox", "--disable-gpu"])
            report_times = [time_report(browser, report, args.search) for _ in range(args.runs)]
            static_times = [time_static(browser, static) for _ in range(args.runs)]
            browser.close()
    ready, samples, search = (statistics.median(t) for t in zip(*report_times))
    reference = statistics.median(static_times)
    print(f"medians of {args.runs} runs:")
    print(f"  report ready (first view drawn):  {ready:.3f} s")
    print(f"  inert page of the same size:      {reference:.3f} s  "
          f"(report / inert: {ready / reference:.1f}x)")
    print(f"  sample browser listed (unpack):   {samples:.3f} s")
    print(f"  search for {args.search!r} over every pair: {1000 * search:.0f} ms")


if __name__ == "__main__":
    main()
