"""The HTML report in headless Chromium (Debian's, driven by Playwright) and the figures."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("PREFDISSECT_CHROMIUM", "/usr/bin/chromium"))
SHOTS = Path(os.environ.get("PREFDISSECT_SCREENSHOTS", "test-artifacts/screenshots"))
XSS = {
    "script": "<script>window.__xss = 'script'</script>",
    "img": "<img src=x onerror=\"window.__xss = 'img'\">",
    "link": "<a href=\"javascript:window.__xss = 'link'\">click me</a>",
    "broken": "</pre></td></tr></table><div style=\"position:fixed\">unclosed <b>html",
    "svg": "<svg onload=\"window.__xss = 'svg'\"></svg>",
}


def browser_or_skip():
    playwright = pytest.importorskip("playwright.sync_api",
                                     reason="browser tests need playwright (test extra)")
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM}; install Debian's chromium "
                    "(apt-get install chromium) or set PREFDISSECT_CHROMIUM")
    return playwright


def wait_count(view, prefix: str, seconds: float = 5.0) -> None:
    """Wait until the sample count starts with ``prefix`` (the page's CSP forbids eval)."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        if view.locator("#sample-count").text_content().startswith(prefix):
            return
        time.sleep(0.05)
    raise AssertionError(f"sample count is {view.locator('#sample-count').text_content()!r}")


class Page:
    """A report opened in headless Chromium, recording console errors and requests."""

    def __init__(self, pw, path: Path):
        self.browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        self.page = self.browser.new_page(viewport={"width": 1400, "height": 1000})
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error"
                     else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.url = path.resolve().as_uri()
        start = time.perf_counter()
        self.page.goto(self.url)
        self.page.wait_for_selector("html[data-ready=true]")
        self.load_seconds = time.perf_counter() - start

    def shot(self, name: str) -> Path:
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def close(self):
        self.browser.close()


@pytest.fixture(scope="module")
def hostile_report(tmp_path_factory):
    """A study whose texts and judge names carry XSS payloads, fitted and reported."""
    from conftest import run_cli

    folder = tmp_path_factory.mktemp("report")
    rows = []
    for i in range(120):
        payload = list(XSS.values())[i % len(XSS)]
        long_a = i % 2 == 0
        rows.append({
            "id": f"pair-{i}",
            "query": f"Question {i} {payload}",
            "response_a": ("Sure! Here is a detailed answer. " * (8 if long_a else 1)) + payload,
            "response_b": ("Here you go. " * (1 if long_a else 8)) + payload,
            "scenario": "Code" if i % 3 else "Advice",
            "label:human": "A" if (long_a and i % 5) or (not long_a and i % 5 == 0) else "B",
            "label:<img src=x onerror=\"window.__xss='judge'\">": "B" if i % 4 else "A",
        })
    src = folder / "pairs.jsonl"
    src.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    study = folder / "study"
    assert run_cli("dissect", str(src), "--out", str(study), "--min-pairs", "10").code == 0
    out = folder / "report.html"
    result = run_cli("report", str(study), "--out", str(out))
    assert result.code == 0, result.err
    return out


def test_report_is_one_file_without_network(hostile_report):
    html = hostile_report.read_text(encoding="utf-8")
    assert "<script src" not in html and "<link" not in html
    assert "http://" not in html.split("<script type=\"application/json\"")[0]
    assert "connect-src 'none'" in html and "script-src 'sha256-" in html
    # no payload appears as markup anywhere in the file
    for payload in XSS.values():
        assert payload not in html


def test_report_in_chromium(hostile_report):
    pw = browser_or_skip()
    with pw.sync_playwright() as p:
        page = Page(p, hostile_report)
        try:
            view = page.page
            assert page.errors == []
            assert page.requests == [page.url]  # nothing but the file itself
            page.shot("dissection")
            # controls change what is shown
            dots = view.locator("#dissection-svg circle.dot")
            both = dots.count()
            view.locator("#judge-checks input").nth(1).uncheck()
            assert 0 < dots.count() < both
            title = view.locator("#dissection-svg text").filter(has_text="group:")
            view.select_option("#group-select", "Code")
            assert "group: Code" in title.text_content()
            def labels():
                return view.evaluate("Array.from(document.querySelectorAll("
                                     "'#dissection-svg > text[text-anchor=end]'))"
                                     ".map(t => t.firstChild.nodeValue)")

            view.select_option("#sort-select", "schema")
            in_schema_order = labels()
            assert in_schema_order[:3] == ["friendly", "polite", "interactive"]
            view.select_option("#sort-select", "weight")
            assert sorted(labels()) == sorted(in_schema_order)
            assert labels() != in_schema_order
            view.click("button[data-view=judges]")
            assert view.locator("#similarity-svg rect.cell").count() == 4
            page.shot("judges")
            view.click("button[data-view=samples]")
            view.wait_for_selector("#sample-count")
            assert view.locator("#sample-count").text_content().startswith("120 pairs")
            view.fill("#sample-search", "Question 7 ")
            wait_count(view, "1 pairs")
            view.fill("#sample-search", "")
            view.select_option("#sample-group", "Advice")
            wait_count(view, "40 pairs")
            view.check("#sample-disagree")
            count = int(view.locator("#sample-count").text_content().split()[0])
            assert 0 < count < 40
            # open every payload's pair: each renders as inert text
            view.uncheck("#sample-disagree")
            view.select_option("#sample-group", "all")
            for i in range(len(XSS)):
                view.fill("#sample-search", f"Question {i} ")
                row = view.locator(f"#samples-list tbody tr[data-pair='{i}']")
                row.wait_for()
                wait_count(view, "1 pairs")
                row.click()
                view.wait_for_selector("#waterfall-svg")
                payload = list(XSS.values())[i]
                assert payload in view.locator("#samples-detail pre.query").text_content()
                assert payload in view.locator("#samples-detail pre.response-a").text_content()
                detail = view.locator("#samples-detail")
                assert detail.locator("img, script, a, b, svg[onload]").count() == 0
            page.shot("samples")
            view.click("button[data-view=diagnostics]")
            assert view.locator("#diagnostics-body table").count() >= 2
            headings = view.locator("#diagnostics-body h2").all_text_contents()
            assert "How much the dissection explains" in headings and "Left out" in headings
            page.shot("diagnostics")
            assert view.evaluate("window.__xss") is None
            assert page.errors == []
            assert page.requests == [page.url]
        finally:
            page.close()


def test_full_alpaca_eval_report_size_and_speed(shared_data, tmp_path):
    pw = browser_or_skip()
    from conftest import run_cli

    study = tmp_path / "alpaca"
    assert run_cli("dissect", str(shared_data / "alpaca_eval"), "--format", "alpaca-eval",
                   "--out", str(study), "--folds", "0").code == 0
    out = tmp_path / "alpaca.html"
    assert run_cli("report", str(study), "--out", str(out), "--reference",
                   str(shared_data / "preference-dissection")).code == 0
    assert out.stat().st_size < 15 * 2**20
    with pw.sync_playwright() as p:
        page = Page(p, out)
        try:
            assert page.load_seconds < 3.0, page.load_seconds
            assert page.errors == [] and page.requests == [page.url]
            page.page.click("button[data-view=samples]")
            page.page.wait_for_selector("#sample-count")
            assert page.page.locator("#sample-count").text_content().startswith("11266 pairs")
            page.shot("alpaca-samples")
            page.page.click("button[data-view=judges]")
            page.page.click("#with-reference")
            assert page.page.locator("#similarity-svg rect.cell").count() == 34 * 34
            page.shot("alpaca-judges")
        finally:
            page.close()


@pytest.mark.parametrize("figure, extra", [("dissection", []), ("similarity", []),
                                           ("waterfall", ["--pair", "demo:3"])])
@pytest.mark.parametrize("suffix", [".png", ".svg", ".pdf"])
def test_figures(cli, tmp_path_factory, figure, extra, suffix):
    pytest.importorskip("matplotlib", reason="figures need matplotlib (the plot extra)")
    study = tmp_path_factory.getbasetemp() / "figure-study"
    if not (study / "profiles.csv").exists():
        assert cli("demo", "--out", str(study), "--pairs", "600").code == 0
        (study / "profiles.csv").write_text(
            (study / "profiles.csv").read_text() + "\n".join(
                line.replace("demo-judge", "twin") for line in
                (study / "profiles.csv").read_text().splitlines()[1:]) + "\n")
    out = tmp_path_factory.mktemp("fig") / f"{figure}{suffix}"
    result = cli("plot", str(study), "--figure", figure, "--out", str(out), *extra)
    assert result.code == 0, result.err
    head = out.read_bytes()[:8]
    assert {".png": head.startswith(b"\x89PNG"), ".pdf": head.startswith(b"%PDF"),
            ".svg": b"<svg" in out.read_bytes()[:2000]}[suffix]
