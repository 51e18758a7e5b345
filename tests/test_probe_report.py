"""The report's Probes view in headless Chromium: effects beside the profile, desktop and phone."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from test_report import DESKTOP, PHONE, Page, browser  # noqa: F401 (a fixture)

PAYLOAD = "<img src=x onerror=\"document.title='xss-probe'\">"
JUDGE = '''
import math

def longer(query, a, b):
    """Prefers the longer response, and a little the first one shown."""
    return 1 / (1 + math.exp(-(0.08 * (len(a.split()) - len(b.split())) + 0.2)))
'''
WORDS = "the plan keeps costs low while the team works through each part with care".split()


@pytest.fixture(scope="module")
def probed(tmp_path_factory):
    from conftest import run_cli

    folder = tmp_path_factory.mktemp("probe-report")
    rng = np.random.default_rng(11)

    def response(k):
        return " ".join(" ".join(rng.choice(WORDS, size=8)).capitalize() + "." for _ in range(k))

    rows = [{"id": f"p{i}", "query": f"Question {i}?",
             "response_a": response(int(rng.integers(2, 9))) + (f" {PAYLOAD}" if i == 0 else ""),
             "response_b": response(int(rng.integers(2, 9))), "label": "A"} for i in range(80)]
    (folder / "pairs.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    (folder / "judges.py").write_text(JUDGE)
    study, out = folder / "study", folder / "probes"
    judge = f"{folder / 'judges.py'}:longer"
    for args in (["import", str(folder / "pairs.jsonl"), "--out", str(study)],
                 ["annotate", str(study)], ["judge", str(study), "--python", judge],
                 ["fit", str(study), "--min-pairs", "10", "--folds", "0"],
                 ["probe", str(study), "--python", judge, "--edit", "pad", "--edit", "trim",
                  "--edit", "bullets", "--edit", "swap", "--n", "30", "--out", str(out)],
                 ["report", str(study), "--out", str(folder / "report.html"), "--probes",
                  str(out)]):
        result = run_cli(*args)
        assert result.code == 0, (args[0], result.err)
    return folder


def test_probe_prints_the_profile_beside_the_probes(probed):
    beside = pd.read_csv(probed / "probes" / "probe_observational.csv").set_index("edit")
    assert {"pad", "trim", "bullets"} <= set(beside.index)
    # this judge's taste for length is causal: the padded copy wins, the trimmed one loses
    assert beside.loc["pad", "probe_effect"] > 50 and beside.loc["trim", "probe_effect"] > 50
    assert beside.loc["pad", "profile_p"] > 50


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_probes_view(browser, probed, viewport):  # noqa: F811
    page = Page(browser, probed / "report.html", viewport)
    view = page.page
    page.show("probes")
    marks = view.locator("#probes-svg g.mark-group")
    assert marks.count() == 4
    win = {marks.nth(k).get_attribute("data-edit"):
           float(marks.nth(k).get_attribute("data-win") or "nan") for k in range(4)}
    table = pd.read_csv(probed / "probes" / "probes.csv").query("group == 'all'")
    for row in table.itertuples():
        if row.n:
            assert win[row.edit] == pytest.approx(row.win_rate, abs=1e-3)
    assert view.locator("#probes-svg path.reference-mark").count() == 3  # profiles: not swap
    observed = view.locator("#probes-observational tbody tr")
    assert observed.count() == 3
    assert "lengthy" in view.locator("#probes-observational").text_content()
    assert view.locator("#probes-table tbody tr").count() == 4
    view.click("#probes-examples details >> nth=0")
    assert view.locator("#probes-examples pre.plain").nth(0).is_visible()
    assert view.locator("#view-probes img").count() == 0 and view.title() != "xss-probe"
    if viewport is PHONE:
        assert page.horizontal_overflow() == 0
        assert view.locator("#probes-svg").bounding_box()["width"] <= PHONE["width"]
        page.shot("probes-phone")
    else:
        view.focus("#tab-probes")
        view.keyboard.press("ArrowLeft")  # the tabs move with the keyboard, as every view's
        assert view.locator("#tab-probes").get_attribute("aria-selected") == "false"
        view.keyboard.press("ArrowRight")
        assert view.locator("#tab-probes").get_attribute("aria-selected") == "true"
        page.shot("probes-desktop")
    page.clean()
    page.close()
