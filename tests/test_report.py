"""The HTML report (headless Chromium, driven by Playwright), the figures, and judge panels.

One hostile study serves every browser test: its texts carry HTML and Markdown
injection payloads, one judge's name is a payload, one judge is named ``human``
and one ``gpt-4-1106-preview`` like two of the paper's judges, and a hand-written
folder in the paper's format stands in for the paper's published weights.
Screenshots of every view at 1440x900 and 390x844 go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import math
import os
import re
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from prefdissect.properties import load_schema

CHROMIUM = Path(os.environ.get("PREFDISSECT_CHROMIUM", "/usr/bin/chromium"))
SHOTS = Path(os.environ.get("PREFDISSECT_SCREENSHOTS", "test-artifacts/screenshots"))
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
HTML_PAYLOADS = {
    "script": "<script>document.title = 'xss-script'</script>",
    "img": "<img src=x onerror=\"document.title = 'xss-img'\">",
    "link": "<a href=\"javascript:document.title = 'xss-link'\">click me</a>",
    "broken": "</pre></td></tr></table><div style=\"position:fixed\">unclosed <b>html",
    "svg": "<svg onload=\"document.title = 'xss-svg'\"></svg>",
    "iframe": "<iframe src=\"javascript:document.title = 'xss-frame'\"></iframe>",
}
FENCE = "```html\n<script>document.title = 'xss-fence'</script>\n<b>in a fence</b>\n```"
MD_LINK = "[<img src=x onerror=alert(1)>](javascript:alert('md-link'))"
MD_IMAGE = "![<svg onload=alert(2)>](http://127.0.0.1:9/tracker.png)"
MD_TABLE = "| side | text |\n|---|---|\n| <script>alert('cell')</script> | <b>bold cell</b> |"
MD_PAYLOADS = [FENCE, MD_LINK, MD_IMAGE, MD_TABLE]
JUDGE_PAYLOAD = "<img src=x onerror=\"document.title='xss-judge'\">"
RICH = ("## Plan\n\nUse **bold**, *italic*, `code` and snake_case_name.\n\n"
        "1. First step\n2. Second step\n   - nested *point*\n   - another\n\n"
        "   ```python\n   def f(x):\n       return x\n   ```\n\n"
        "> quoted line\n\n| a | b |\n|:--|--:|\n| 1 | 2 |\n| 3 | 4 |\n\n---\n"
        "See [the docs](https://example.org/a_(b)) and 2 * 3 * 4.")
STUDY_JUDGES = ["human", "gpt-4-1106-preview", JUDGE_PAYLOAD]
PAPER_JUDGES = ["human", "gpt-4-1106-preview", "llama-2-7b"]
PAPER_GROUPS = ["Code", "Advice", "Creative Writing", "intent_unclear"]
INJECTED = "img, a, b, iframe, object, embed, form, link, base, video, audio, input"
HTML_API = re.compile(r"\b(innerHTML|outerHTML|insertAdjacentHTML|document\.write(ln)?|"
                      r"createContextualFragment|DOMParser|srcdoc)\b")


# -- fixtures -------------------------------------------------------------------------------
def paper_weight(judge: int, group: int, prop: int) -> float:
    """A made-up published weight, distinct per judge, group and property."""
    return round(0.06 * ((judge * 7 + group * 3 + prop * 5) % 13 - 6) + 0.01 * judge, 4)


def write_paper_folder(folder: Path) -> Path:
    """Write a stand-in for the paper's fitted_paras_comparison folder (29 weights per line)."""
    folder.mkdir(parents=True, exist_ok=True)
    for g, group in enumerate(PAPER_GROUPS):
        lines = [json.dumps({"model_name": name,
                             "parameters": [paper_weight(j, g, p) for p in range(29)]})
                 for j, name in enumerate(PAPER_JUDGES)]
        (folder / f"model_{group}_fitted_paras.jsonl").write_text("\n".join(lines) + "\n")
    return folder


def hostile_pairs(n: int = 120) -> list[dict]:
    rows = []
    payloads = list(HTML_PAYLOADS.values())
    for i in range(n):
        payload = payloads[i % len(payloads)]
        markdown = MD_PAYLOADS[i % len(MD_PAYLOADS)]
        long_a = i % 2 == 0
        rows.append({
            "id": f"pair-{i}",
            # "İ" lower-cases to two characters: offsets found in lower case would shift
            "query": ("İİİİ " if i == 118 else "") + f"Question {i} {payload}",
            "response_a": ("Sure! Here is a detailed answer. " * (8 if long_a else 1))
            + payload + "\n\n" + markdown,
            "response_b": ("Here you go. " * (1 if long_a else 8)) + payload
            + ("\n\n" + RICH if i == n - 1 else ""),
            "model_a": f"model-{i % 3}",
            "model_b": "baseline-model",
            "scenario": "Code" if i % 3 else "Advice",
            "label:human": "tie" if i % 11 == 0 else
            "A" if (long_a and i % 5) or (not long_a and i % 5 == 0) else "B",
            "label:gpt-4-1106-preview": "A" if long_a == bool(i % 7) else "B",
            f"label:{JUDGE_PAYLOAD}": "tie" if i % 13 == 0 else "B" if i % 4 else "A",
        })
    return rows


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """The hostile study, fitted, with hand-written agreement and terms files."""
    from conftest import run_cli

    folder = tmp_path_factory.mktemp("report")
    src = folder / "pairs.jsonl"
    src.write_text("\n".join(json.dumps(r) for r in hostile_pairs()) + "\n", encoding="utf-8")
    study = folder / "study"
    result = run_cli("dissect", str(src), "--out", str(study), "--min-pairs", "10")
    assert result.code == 0, result.err
    # fit_quality.csv's columns change between versions: the report reads them by name
    # and shows what is there (here: a terms column with a value, a log-loss column gone).
    quality = pd.read_csv(study / "fit_quality.csv")
    quality = quality.drop(columns=[c for c in ("always_a_log_loss", "majority_log_loss",
                                                "terms_log_loss") if c in quality])
    quality = quality.assign(terms_accuracy=0.5432, base_rate_log_loss=0.6931)
    quality.to_csv(study / "fit_quality.csv", index=False)
    pd.DataFrame([
        {"kind": "annotators", "first": "heuristic", "second": "llm", "property": "lengthy",
         "pairs": 120, "both": 118, "agreement": 0.9237, "kappa": 0.8123,
         "kappa_lower": 0.7011, "kappa_upper": 0.9042},
        {"kind": "judges", "first": "human", "second": JUDGE_PAYLOAD, "property": None,
         "pairs": 120, "both": 120, "agreement": 0.55, "kappa": 0.1034,
         "kappa_lower": -0.05, "kappa_upper": 0.26},
    ]).to_csv(study / "agreement.csv", index=False)
    pd.DataFrame([{"judge": "human", "group": "all", "term": "model-1", "kind": "model",
                   "anchor": "model-0", "mean": 0.3, "sd": 0.1, "lower": 0.1, "upper": 0.5,
                   "n_pairs": 40}]).to_csv(study / "terms.csv", index=False)
    paper = write_paper_folder(folder / "paper")
    out = folder / "report.html"
    result = run_cli("report", str(study), "--out", str(out), "--reference", str(paper))
    assert result.code == 0, result.err
    return {"study": study, "html": out, "paper": paper, "folder": folder}


def browser_or_skip():
    playwright = pytest.importorskip("playwright.sync_api",
                                     reason="browser tests need playwright (test extra)")
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM}; install Debian's chromium "
                    "(apt-get install chromium) or set PREFDISSECT_CHROMIUM")
    return playwright


@pytest.fixture(scope="module")
def browser():
    pw = browser_or_skip()
    with pw.sync_playwright() as p:
        instance = p.chromium.launch(executable_path=str(CHROMIUM), args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        yield instance
        instance.close()


class Page:
    """A report opened in Chromium, recording console errors and every request."""

    def __init__(self, browser, path: Path, viewport: dict):
        self.page = browser.new_page(viewport=viewport)
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error"
                     else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.url = path.resolve().as_uri()
        self.page.goto(self.url)
        self.page.wait_for_selector("html[data-ready=true]")

    def show(self, view: str) -> None:
        self.page.click(f"#tab-{view}")
        assert self.page.locator(f"#view-{view}").is_visible()
        if view == "samples":  # the texts are unpacked first
            self.page.wait_for_selector("#samples-list tr.pair-row")

    def shot(self, name: str) -> Path:
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def horizontal_overflow(self) -> int:
        return self.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")

    def wait_text(self, selector: str, prefix: str, seconds: float = 5.0) -> None:
        """Poll (the page's CSP forbids the eval that wait_for_function needs)."""
        deadline = time.time() + seconds
        while time.time() < deadline:
            if (self.page.locator(selector).text_content() or "").startswith(prefix):
                return
            time.sleep(0.05)
        raise AssertionError(f"{selector} reads {self.page.locator(selector).text_content()!r}")

    def clean(self) -> None:
        """No script error, and no request but the file itself."""
        assert self.errors == []
        assert self.requests == [self.url]

    def close(self) -> None:
        self.page.close()


@pytest.fixture
def desktop(browser, hostile):
    page = Page(browser, hostile["html"], DESKTOP)
    yield page
    page.close()


@pytest.fixture
def phone(browser, hostile):
    page = Page(browser, hostile["html"], PHONE)
    yield page
    page.close()


def data_block(html: str) -> str:
    """The text of the report's JSON data element."""
    return re.search(r'<script type="application/json" id="report-data">(.*?)</script>',
                     html, re.S).group(1)


def decode_report(html: str) -> tuple[dict, list[str]]:
    """The report's data and its texts, decoded here independently of the library."""
    data = data_block(html)
    packed = re.search(r'<script type="text/plain" id="report-texts">(.*?)</script>',
                       html, re.S).group(1)
    texts = json.loads(gzip.decompress(base64.b64decode(packed.strip())).decode("utf-8"))
    return json.loads(data), texts


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def plotted(view, judge: str) -> dict[str, float]:
    """The dissection chart's probability per property for one judge, read from the DOM."""
    marks = view.locator(f"#dissection-svg g.mark-group[data-judge='{judge}']")
    return {marks.nth(k).get_attribute("data-property"):
            float(marks.nth(k).get_attribute("data-p")) for k in range(marks.count())}


# -- the file: one page, no network, every text carried literally ------------------------------
def test_report_file_carries_every_text_and_name_literally(hostile):
    html = hostile["html"].read_text(encoding="utf-8")
    data, texts = decode_report(html)
    pairs = hostile_pairs()
    for pair in pairs:  # each query and response is there, character for character
        for key in ("query", "response_a", "response_b"):
            assert pair[key] in texts, (pair["id"], key)
    assert {j["key"] for j in data["judges"] if j["source"] == "study"} == set(STUDY_JUDGES)
    assert JUDGE_PAYLOAD in data["choices"]
    assert data["pairs"]["id"] == [p["id"] for p in pairs]
    assert set(data["pairs"]["models"]) == {"model-0", "model-1", "model-2", "baseline-model"}
    # outside the packed data, no payload appears as markup anywhere in the file
    for payload in [*HTML_PAYLOADS.values(), JUDGE_PAYLOAD, "<b>bold cell</b>"]:
        assert payload not in html and json.dumps(payload)[1:-1] not in html
    assert "<" not in data_block(html)  # names in the JSON data cannot open or close a tag
    assert html.count("</script>") == 3


def test_report_script_never_parses_html():
    from prefdissect.report import SCRIPTS, page_script

    folder = Path(__file__).resolve().parents[1] / "src" / "prefdissect" / "report_assets"
    sources = {name: (folder / name).read_text(encoding="utf-8") for name in SCRIPTS}
    assert sorted(sources) == sorted(p.name for p in folder.glob("*.js"))
    for name, text in sources.items():
        found = HTML_API.findall(text)
        assert not found, f"{name} uses {found[0][0]}: build nodes with createElement/textContent"
        assert not re.search(r"setAttribute\(\s*[\"']on", text), name
        assert "eval(" not in text and "new Function" not in text, name
    assert all(text in page_script() for text in sources.values())


def test_report_is_one_file_without_network(hostile):
    from prefdissect.report import page_script

    html = hostile["html"].read_text(encoding="utf-8")
    assert "<script src" not in html and "<link" not in html and "<img" not in html
    assert "connect-src 'none'" in html and "default-src 'none'" in html
    digest = base64.b64encode(hashlib.sha256(page_script().encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in html  # only the report's own script may run


# -- judges in their own namespace -------------------------------------------------------------
def test_panel_keeps_study_and_paper_judges_apart():
    from prefdissect.errors import UsageError
    from prefdissect.panel import build_panel

    def profiles(judges, mean):
        return pd.DataFrame([{"judge": j, "group": "all", "property": p, "mean": mean,
                              "sd": 0.1, "lower": mean - 0.2, "upper": mean + 0.2,
                              "n_pairs": 50} for j in judges for p in ("a", "b", "c")])

    paper = profiles(["human", "gpt-4"], 0.5).assign(sd=np.nan, lower=np.nan, upper=np.nan)
    panel = build_panel([("pandalm", profiles(["human", "pandalm-7b"], 1.0)),
                         ("llmbar", profiles(["human"], 2.0))], paper)
    assert panel.keys("study") == ["pandalm:human", "pandalm-7b", "llmbar:human"]
    assert panel.keys("reference") == ["paper:human", "gpt-4"]
    means = panel.profiles.groupby("judge")["mean"].unique()
    assert list(means["pandalm:human"]) == [1.0] and list(means["llmbar:human"]) == [2.0]
    assert list(means["paper:human"]) == [0.5]
    assert len(panel.profiles) == 5 * 3  # nothing merged, nothing dropped
    assert panel.resolve(["gpt-4", "pandalm-7b", "paper:human"]) == [
        "gpt-4", "pandalm-7b", "paper:human"]
    with pytest.raises(UsageError, match="ambiguous"):
        panel.resolve(["human"])
    single = build_panel([("pandalm", profiles(["human"], 1.0))], paper)
    assert single.resolve(["human"]) == ["human"]  # a study's judge keeps its own name


def test_compare_and_plot_keep_a_study_human_apart_from_the_papers(hostile, cli, tmp_path):
    pytest.importorskip("matplotlib", reason="figures need matplotlib (the plot extra)")
    study, paper = hostile["study"], hostile["paper"]
    out = tmp_path / "cmp"
    result = cli("compare", "--study", str(study), "--reference", str(paper), "--out", str(out))
    assert result.code == 0, result.err
    judges = pd.read_csv(out / "judges.csv").set_index("key")
    assert judges.loc["human", "source"] == "study"
    assert judges.loc["paper:human", "name"] == "human"
    assert judges.loc["paper:human", "source"] == "reference"
    matrix = pd.read_csv(out / "similarity.csv", index_col="judge")
    # an independent Pearson correlation over the properties both have, averaged over groups
    mine = pd.read_csv(study / "profiles.csv")
    schema = load_schema().names
    scenarios = mine[mine["group"].isin(["Code", "Advice"])]
    # similarity uses the properties every judge has in every group compared
    shared = sorted(set.intersection(*(set(rows["property"]) for _, rows in
                                       scenarios.groupby(["judge", "group"]))))
    expect = []
    for g, group in ((0, "Code"), (1, "Advice")):
        a = scenarios[(scenarios["judge"] == "human") & (scenarios["group"] == group)]
        a = a.set_index("property").loc[shared, "mean"]
        b = [paper_weight(0, g, schema.index(prop)) for prop in shared]
        expect.append(np.corrcoef(a, b)[0, 1])
    assert matrix.loc["human", "paper:human"] == pytest.approx(np.mean(expect), abs=1e-9)
    for figure in ("similarity", "dissection"):
        png = tmp_path / f"{figure}.png"
        result = cli("plot", str(study), "--figure", figure, "--reference", str(paper),
                     "--out", str(png))
        assert result.code == 0, result.err
        assert png.stat().st_size > 10_000
    result = cli("plot", str(study), "--figure", "dissection", "--reference", str(paper),
                 "--judge", "human", "--judge", "paper:human", "--out", str(tmp_path / "d.svg"))
    assert result.code == 0, result.err


def test_study_judge_named_like_a_paper_judge_is_drawn_with_its_own_values(desktop, hostile):
    view = desktop.page
    profiles = pd.read_csv(hostile["study"] / "profiles.csv")
    for judge in ("human", "gpt-4-1106-preview"):
        mine = profiles[(profiles["judge"] == judge) & (profiles["group"] == "all")]
        drawn = plotted(view, judge)
        assert set(drawn) == set(mine["property"])
        for row in mine.itertuples():
            assert drawn[row.property] == pytest.approx(sigmoid(row.mean), abs=2e-6)
        assert view.locator(f"g.mark-group[data-judge='{judge}'] line.interval").count() > 0
    # the paper's human is a separate judge with the paper's values
    view.click("#reference-judges summary")
    view.check("#reference-checks input[value='paper:human']")
    drawn = plotted(view, "paper:human")
    assert drawn and set(drawn) <= set(profiles["property"])  # the study's properties only
    schema = load_schema().names
    for prop, p in drawn.items():  # the paper's "all": the mean of its scenario fits
        mean = np.mean([paper_weight(0, g, schema.index(prop)) for g in (0, 1, 2)])
        assert p == pytest.approx(sigmoid(mean), abs=2e-6)
    assert view.locator("g.mark-group[data-judge='paper:human'] line.interval").count() == 0
    assert view.locator("g.mark-group[data-judge='paper:human'] .reference-mark").count() == len(
        drawn)
    assert plotted(view, "human") != drawn
    legend = view.locator("#dissection-plot .legend").text_content()
    assert "published posterior mean" in legend and "no interval" in legend
    view.check("#all-properties")
    assert len(plotted(view, "paper:human")) == 29
    # the explain menu holds the study's judges only, each once
    desktop.show("samples")
    options = view.locator("#explain-judge option").all_text_contents()
    assert sorted(options) == sorted(STUDY_JUDGES)
    desktop.clean()


def test_choosing_a_paper_scenario_shows_the_papers_judges(desktop, hostile):
    view = desktop.page
    groups = view.locator("#group-select option").all_text_contents()
    assert any(g.startswith("all (120 pairs; the paper's all: mean of its 11 scenario fits")
               for g in groups), groups
    labels = view.locator("#group-select optgroup").evaluate_all(
        "nodes => nodes.map(n => n.label)")
    assert labels == ["This study", "The paper's groups (Chatbot Arena; published means)"]
    view.select_option("#group-select", "Code")
    schema = load_schema().names
    for j, name in ((0, "paper:human"), (1, "paper:gpt-4-1106-preview")):
        drawn = plotted(view, name)
        assert drawn, name
        for prop, p in drawn.items():
            assert p == pytest.approx(sigmoid(paper_weight(j, 0, schema.index(prop))), abs=2e-6)
    assert plotted(view, "human")  # the study's own Code group beside them
    colours = view.locator("#dissection-svg g.mark-group .mark").evaluate_all(
        "nodes => nodes.map(n => [n.parentNode.getAttribute('data-judge'),"
        " n.getAttribute(n.tagName === 'circle' ? 'fill' : 'stroke')])")
    hue = dict(colours)
    assert len(hue) == 5 and len(set(hue.values())) == 5  # a hue per judge, none shared
    view.select_option("#group-select", "Creative Writing")  # the paper's alone
    assert len(plotted(view, "paper:human")) == 29
    assert plotted(view, "human") == {}
    assert "This study has no group" in view.locator("#dissection-below").text_content()
    view.select_option("#group-select", "intent_unclear")
    assert len(plotted(view, "llama-2-7b")) == 0 and len(plotted(view, "paper:human")) == 29
    desktop.clean()


# -- desktop views, controls and screenshots ---------------------------------------------------
def test_every_view_on_a_desktop(desktop):
    view = desktop.page
    assert view.locator("#dissection-svg").get_attribute("aria-label").startswith("Forest plot")
    explains = view.locator("#dissection-explains").text_content()
    assert "held-out accuracy" in explains and "length alone" in explains
    assert "model terms alone 54.3%" in explains and "base rate" in explains
    assert "left out:" in explains
    marks = view.locator("#dissection-svg g.mark-group")
    before = marks.count()
    view.locator("#judge-checks input").nth(1).uncheck()
    assert 0 < marks.count() < before
    view.locator("#judge-checks input").nth(1).check()
    view.select_option("#sort-select", "schema")
    in_order = view.locator("#dissection-svg text.row-label").all_text_contents()
    assert in_order[:3] == ["friendly", "polite", "interactive"]
    view.select_option("#sort-select", "weight")
    by_weight = view.locator("#dissection-svg text.row-label").all_text_contents()
    assert sorted(by_weight) == sorted(in_order) and by_weight != in_order
    ticks = view.locator("#dissection-svg text.tick").all_text_contents()
    assert ticks[0] == "0%" and "100%" in ticks
    view.click("#dissection-below details.disclosure >> nth=1")  # what the properties mean
    about = view.locator("#dissection-below").text_content()
    assert "rated as repetitiveness" in about and "lower wins" in about
    desktop.shot("dissection-desktop")

    desktop.show("judges")
    assert view.locator("#similarity-svg rect.cell").count() == 9
    assert view.locator("#similarity-svg text.cell-value").count() == 9  # values on the cells
    assert "11 of 29 properties" in view.locator("#similarity-properties").text_content()
    view.check("#with-reference")
    assert view.locator("#similarity-svg rect.cell").count() == 36
    heat = view.locator("#similarity-svg text.judge-label").all_text_contents()
    assert "paper:human" in heat and "human" in heat and JUDGE_PAYLOAD in heat
    desktop.shot("judges-desktop")

    desktop.show("samples")
    desktop.wait_text("#sample-count", "120 pairs match")
    assert view.locator("#sample-count").get_attribute("aria-live") == "polite"
    view.fill("#sample-search", "Question 7 ")
    desktop.wait_text("#sample-count", "1 pair matches")
    view.fill("#sample-search", "")
    view.select_option("#sample-group", "Advice")
    desktop.wait_text("#sample-count", "40 pairs match")
    view.check("#sample-disagree")
    count = int(view.locator("#sample-count").text_content().split()[0])
    assert 0 < count < 40
    view.uncheck("#sample-disagree")
    view.select_option("#sample-group", "all")
    desktop.wait_text("#sample-count", "120 pairs")
    header = view.locator("#samples-list th").all_text_contents()
    assert header == ["pair", "query", *STUDY_JUDGES]  # every judge, not the first four only
    view.locator("#samples-list tr.pair-row").nth(3).click()
    detail = view.locator("#samples-detail")
    assert detail.locator("#pair-title").text_content() == "Pair pair-3"
    assert "A: model-0" in detail.text_content() and "B: baseline-model" in detail.text_content()
    assert detail.locator("#waterfall-svg").count() == 1
    pills = view.locator("#samples-detail .pill").evaluate_all(
        "nodes => nodes.map(n => getComputedStyle(n).backgroundColor)")
    for color in pills:  # neutral badges: neither green nor red
        r, g, b = (int(x) for x in re.findall(r"\d+", color)[:3])
        assert not (g > r + 30 and g > b + 30) and not (r > g + 60 and r > b + 60), color
    compared = detail.locator("#pair-annotations").text_content()
    assert "word counts" in compared and "rated as repetitiveness" in compared
    desktop.shot("samples-desktop")

    desktop.show("diagnostics")
    body = view.locator("#view-diagnostics")
    assert body.locator("#diagnostics-agreement").count() == 1
    agreement = body.locator("#diagnostics-agreement").text_content()
    assert "0.812 [0.701, 0.904]" in agreement and "92.4%" in agreement
    left = body.locator("#diagnostics-left-out th").all_text_contents()
    assert left == ["stage", "reason", "human", JUDGE_PAYLOAD]
    ties = body.locator("#diagnostics-left-out tbody tr", has_text="tie")
    assert ties.locator("td").all_text_contents() == ["fit", "tie", "11", "10"]  # never 21
    quality = body.locator("#diagnostics-quality th").all_text_contents()
    assert "model terms alone" in quality and "base rate log-loss" in quality
    assert "majority log-loss" not in quality  # the column the fit no longer writes
    desktop.shot("diagnostics-desktop")
    desktop.clean()


def test_hostile_texts_render_as_inert_literal_text(desktop):
    view = desktop.page
    desktop.show("samples")
    desktop.wait_text("#sample-count", "120 pairs")
    payloads = list(HTML_PAYLOADS.values())
    for i in range(12):  # every HTML payload, every Markdown payload
        view.fill("#sample-search", f"Question {i} ")
        desktop.wait_text("#sample-count", "1 pair matches")
        view.locator(f"#samples-list tr[data-pair='{i}']").click()
        view.wait_for_selector(f"#pair-title:has-text('pair-{i}')")
        detail = view.locator("#samples-detail")
        assert payloads[i % len(payloads)] in detail.locator(".query").text_content()
        assert payloads[i % len(payloads)] in detail.locator(".response-b").text_content()
        assert detail.locator(INJECTED).count() == 0
        assert detail.locator("svg:not(.chart)").count() == 0
        markdown = MD_PAYLOADS[i % len(MD_PAYLOADS)]
        response = detail.locator(".response-a")
        if markdown == FENCE:
            assert response.locator("pre.md-code code").text_content() == (
                "<script>document.title = 'xss-fence'</script>\n<b>in a fence</b>")
        elif markdown == MD_LINK:
            assert response.locator(".md-link").text_content() == (
                "<img src=x onerror=alert(1)> (javascript:alert('md-link'))")
        elif markdown == MD_IMAGE:
            assert response.locator(".md-image").text_content() == (
                "[image: <svg onload=alert(2)>] (http://127.0.0.1:9/tracker.png)")
        else:
            cells = response.locator(".md-table td").all_text_contents()
            assert cells == ["<script>alert('cell')</script>", "<b>bold cell</b>"]
    assert view.locator("#samples-detail mark.hit").count() >= 1  # the search is highlighted
    page_state = view.evaluate("""() => ({
        scripts: document.scripts.length,
        handlers: Array.from(document.querySelectorAll('*')).flatMap(
            e => Array.from(e.attributes).map(a => a.name)).filter(n => n.startsWith('on')),
        title: document.title})""")
    assert page_state == {"scripts": 3, "handlers": [], "title": page_state["title"]}
    assert not page_state["title"].startswith("xss")
    desktop.clean()  # the remote image was never requested


def test_the_search_highlights_exactly_what_was_searched(desktop):
    view = desktop.page
    desktop.show("samples")
    view.fill("#sample-search", "question 118 ")
    desktop.wait_text("#sample-count", "1 pair matches")
    view.locator("#samples-list tr.pair-row").first.click()
    view.wait_for_selector("#pair-title:has-text('pair-118')")
    marks = view.locator("#samples-detail .query mark.hit").all_text_contents()
    assert marks == ["Question 118 "]
    desktop.clean()


def test_markdown_is_rendered_with_its_structure(desktop):
    view = desktop.page
    desktop.show("samples")
    view.fill("#sample-search", "Question 119 ")
    desktop.wait_text("#sample-count", "1 pair matches")
    view.locator("#samples-list tr.pair-row").first.click()
    text = view.locator("#samples-detail .response-b")
    assert text.locator(".md-h2").text_content() == "Plan"
    assert text.locator("strong").all_text_contents() == ["bold"]
    assert text.locator("em").all_text_contents() == ["italic", "point"]
    assert text.locator("code.md-inline-code").text_content() == "code"
    assert "snake_case_name" in text.text_content()  # underscores inside words stay
    assert text.locator("ol.md-list > li").count() == 2
    assert text.locator("ol.md-list ul.md-list > li").all_text_contents() == [
        "nested point", "another"]
    assert text.locator("ol pre.md-code code").text_content() == "def f(x):\n    return x"
    assert text.locator("blockquote").text_content().strip() == "quoted line"
    assert text.locator(".md-table td").all_text_contents() == ["1", "2", "3", "4"]
    assert text.locator(".md-table td.md-right").count() == 2
    assert text.locator("hr").count() == 1
    assert text.locator(".md-link").text_content() == "the docs (https://example.org/a_(b))"
    assert "2 * 3 * 4." in text.text_content()
    view.check("#sample-plain")  # the exact characters, on demand
    assert RICH in view.locator("#samples-detail .response-b pre.plain").text_content()
    desktop.clean()


# -- phone -------------------------------------------------------------------------------------
def test_every_view_on_a_phone(phone):
    view = phone.page
    assert phone.horizontal_overflow() == 0
    ticks = view.locator("#dissection-svg text.tick")
    edges = {}
    for k in range(ticks.count()):
        box = ticks.nth(k).bounding_box()
        edges.setdefault(ticks.nth(k).text_content(), box)
    assert "0%" in edges and "100%" in edges  # the whole axis is on screen
    assert edges["0%"]["x"] >= 0 and edges["100%"]["x"] + edges["100%"]["width"] <= PHONE["width"]
    assert view.locator("#dissection-svg").bounding_box()["width"] <= PHONE["width"]
    phone.shot("dissection-phone")
    phone.show("judges")
    view.check("#with-reference")
    assert phone.horizontal_overflow() == 0
    phone.shot("judges-phone")
    phone.show("samples")
    phone.wait_text("#sample-count", "120 pairs")
    assert phone.horizontal_overflow() == 0
    row = view.locator("#samples-list tr.pair-row").nth(5)
    row.click()
    title = view.locator("#pair-title")
    assert title.text_content() == "Pair pair-5"
    top = title.bounding_box()["y"]
    assert 0 <= top < 120  # the newly opened pair scrolled to its top
    query = view.locator("#samples-detail .query")
    assert "Question 5" in query.text_content() and query.bounding_box()["width"] <= 390
    assert phone.horizontal_overflow() == 0
    phone.shot("samples-phone")
    view.screenshot(path=str(SHOTS / "samples-phone-open-pair.png"))  # what the reader sees
    view.locator("#samples-list tr.pair-row").nth(6).click()
    assert 0 <= view.locator("#pair-title").bounding_box()["y"] < 120
    phone.show("diagnostics")
    assert phone.horizontal_overflow() == 0
    phone.shot("diagnostics-phone")
    phone.clean()


# -- keyboard ----------------------------------------------------------------------------------
def test_keyboard_only(desktop):
    view = desktop.page
    tabs = view.locator("[role=tab]")
    for k in range(tabs.count()):
        panel = tabs.nth(k).get_attribute("aria-controls")
        assert view.locator(f"#{panel}").get_attribute("role") == "tabpanel"
        labelled = view.locator(f"#{panel}").get_attribute("aria-labelledby")
        assert labelled == tabs.nth(k).get_attribute("id")
    active = lambda: view.evaluate("document.activeElement.id || document.activeElement.className")  # noqa: E731
    view.keyboard.press("Tab")
    assert active() == "tab-dissection"
    view.keyboard.press("ArrowRight")
    assert active() == "tab-judges" and view.locator("#view-judges").is_visible()
    view.keyboard.press("ArrowRight")
    assert active() == "tab-samples" and view.locator("#tab-samples").get_attribute(
        "aria-selected") == "true"
    desktop.wait_text("#sample-count", "120 pairs")
    for _ in range(40):
        view.keyboard.press("Tab")
        if "pair-row" in active():
            break
    else:
        raise AssertionError("no sample row is reachable with Tab")
    pair = view.evaluate("document.activeElement.getAttribute('data-pair')")
    view.keyboard.press("ArrowDown")
    second = view.evaluate("document.activeElement.getAttribute('data-pair')")
    assert second != pair
    view.keyboard.press("Enter")
    assert active() == "pair-title"
    assert view.locator("#pair-title").text_content() == f"Pair pair-{second}"
    view.locator("#tab-samples").focus()
    view.keyboard.press("End")
    assert active() == "tab-diagnostics" and view.locator("#view-diagnostics").is_visible()
    view.keyboard.press("Home")
    assert active() == "tab-dissection"
    values = view.locator("#dissection-below summary").first
    values.focus()
    view.keyboard.press("Enter")  # every plotted value is in a table, no hover needed
    table = view.locator("#dissection-below details table").first
    assert table.is_visible() and "95% interval" in table.text_content()
    desktop.clean()


def test_similarity_view_says_why_it_is_empty(browser, cli, tmp_path):
    study = tmp_path / "one-judge"
    assert cli("demo", "--out", str(study), "--pairs", "300").code == 0
    out = tmp_path / "one.html"
    assert cli("report", str(study), "--out", str(out)).code == 0
    page = Page(browser, out, DESKTOP)
    try:
        page.show("judges")
        assert "at least two judges" in page.page.locator("#similarity-error").text_content()
        page.clean()
    finally:
        page.close()


def test_one_judge_with_the_reference_on_a_phone(browser, cli, tmp_path):
    """Judges open on the paper's; the header names the source, not a path of this machine;
    a long judge name in the sample list stays whole at 390 px."""
    from prefdissect.demo import simulate

    judge = "weighted_alpaca_eval_gpt4_turbo"
    pairs = simulate(200, seed=2).pairs.rename(columns={"label:demo-judge": f"label:{judge}"})
    source = tmp_path / "my-data" / "pairs.jsonl"
    source.parent.mkdir()
    pairs.to_json(source, orient="records", lines=True)
    study = tmp_path / "study"
    assert cli("dissect", str(source), "--out", str(study), "--folds", "0").code == 0
    out = tmp_path / "one-judge.html"
    paper = write_paper_folder(tmp_path / "paper")
    assert cli("report", str(study), "--out", str(out), "--reference", str(paper)).code == 0
    assert str(tmp_path) not in data_block(out.read_text(encoding="utf-8"))
    page = Page(browser, out, PHONE)
    try:
        view = page.page
        assert view.locator("#subtitle").text_content().startswith("200 pairs from pairs.jsonl")
        page.show("judges")
        assert view.locator("#with-reference").is_checked()
        assert view.locator("#similarity-svg").is_visible()
        assert view.locator("#similarity-error").count() == 0
        assert "Nearest of the paper's judges to " + judge in view.locator(
            "#judges-below").text_content()
        page.show("samples")
        cells = view.locator(f"#samples-list td[data-label='{judge}']")
        assert cells.count() > 3
        for k in range(4):  # the ::before label and the pill on one line, not cut mid-word
            cell, pill = cells.nth(k).bounding_box(), cells.nth(k).locator(".pill")
            assert cell["height"] < 1.5 * pill.bounding_box()["height"], cell
        assert page.horizontal_overflow() == 0
        page.shot("one-judge-samples-phone")
        page.clean()
    finally:
        page.close()


def test_similarity_failure_is_reported_not_dropped():
    from prefdissect.report import _similarity_block

    rows = [{"judge": j, "group": g, "property": "p", "mean": 0.1, "sd": 0.1, "lower": 0.0,
             "upper": 0.2, "n_pairs": 10} for j, g in (("a", "x"), ("b", "y"))]
    block = _similarity_block(pd.DataFrame(rows), ["a", "b"], 29)
    assert block == {"error": "the judges share no group to compare them on"}


@pytest.mark.slow
def test_full_alpaca_eval_report(shared_data, browser, tmp_path):
    from conftest import run_cli

    study = tmp_path / "alpaca"
    assert run_cli("dissect", str(shared_data / "alpaca_eval"), "--format", "alpaca-eval",
                   "--out", str(study), "--folds", "0").code == 0
    out = tmp_path / "alpaca.html"
    assert run_cli("report", str(study), "--out", str(out), "--reference",
                   str(shared_data / "preference-dissection")).code == 0
    assert out.stat().st_size < 15 * 2**20
    page = Page(browser, out, DESKTOP)
    try:
        page.show("samples")
        page.wait_text("#sample-count", "11266 pairs", seconds=30)
        page.show("judges")
        page.page.check("#with-reference")
        assert page.page.locator("#similarity-svg rect.cell").count() == 34 * 34
        page.clean()
    finally:
        page.close()


# -- figures -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def figure_study(tmp_path_factory):
    from conftest import run_cli

    study = tmp_path_factory.mktemp("figure") / "study"
    assert run_cli("demo", "--out", str(study), "--pairs", "600").code == 0
    text = (study / "profiles.csv").read_text()
    (study / "profiles.csv").write_text(text + "\n".join(
        line.replace("demo-judge", "twin") for line in text.splitlines()[1:]) + "\n")
    return study


@pytest.mark.parametrize("figure, extra", [("dissection", []), ("similarity", []),
                                           ("waterfall", ["--pair", "demo:3"])])
@pytest.mark.parametrize("suffix", [".png", ".svg", ".pdf"])
def test_figure_files(cli, figure_study, tmp_path, figure, extra, suffix):
    pytest.importorskip("matplotlib", reason="figures need matplotlib (the plot extra)")
    out = tmp_path / f"{figure}{suffix}"
    result = cli("plot", str(figure_study), "--figure", figure, "--out", str(out), *extra)
    assert result.code == 0, result.err
    head = out.read_bytes()[:8]
    assert {".png": head.startswith(b"\x89PNG"), ".pdf": head.startswith(b"%PDF"),
            ".svg": b"<svg" in out.read_bytes()[:2000]}[suffix]


def test_figures_draw_the_values_they_are_given(figure_study):
    pytest.importorskip("matplotlib", reason="figures need matplotlib (the plot extra)")
    from prefdissect import figures
    from prefdissect.panel import build_panel
    from prefdissect.similarity import similarity

    profiles = pd.read_csv(figure_study / "profiles.csv")
    paper = profiles[profiles["judge"] == "twin"].assign(
        judge="demo-judge", mean=lambda f: f["mean"] / 2, sd=np.nan, lower=np.nan, upper=np.nan)
    panel = build_panel([("study", profiles[profiles["judge"] == "demo-judge"])], paper)
    fig = figures.dissection_figure(panel.profiles, ["demo-judge", "paper:demo-judge"], "all",
                                    reference=["paper:demo-judge"], sort=False)
    ax = fig.axes[0]
    dots, diamonds = ax.collections[1], ax.collections[2]  # intervals, study dots, paper
    mine = profiles[(profiles["judge"] == "demo-judge") & (profiles["group"] == "all")]
    assert np.allclose(dots.get_offsets()[:, 0], 100 / (1 + np.exp(-mine["mean"].to_numpy())))
    assert np.allclose(diamonds.get_offsets()[:, 0],
                       100 / (1 + np.exp(-mine["mean"].to_numpy() / 2)))
    sim = similarity(profiles, ["demo-judge", "twin"]).ordered()
    heat = figures.similarity_figure(sim, schema_size=29)
    assert np.allclose(heat.axes[0].images[0].get_array(), sim.matrix.to_numpy())
    assert "on 11 of 29 properties" in heat.axes[0].get_title(loc="left")
    colors = figures.diverging_colors(np.linspace(-1, 1, 21))
    lightness = colors @ np.array([0.2126, 0.7152, 0.0722])
    assert np.all(np.diff(lightness[10:]) < 0) and np.all(np.diff(lightness[:11]) > 0)
    assert np.allclose(lightness[:10], lightness[20:10:-1], atol=0.08)  # symmetric arms
