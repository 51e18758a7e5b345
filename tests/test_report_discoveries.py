"""The report's Discoveries view, from a study run through `discover` (headless Chromium)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from test_report import DESKTOP, HTML_PAYLOADS, PHONE, Page, browser  # noqa: F401

WORDS = "the model answers with plain words about many things in turn".split()


def planted_pairs(seed: int = 0, queries: int = 40, per_query: int = 12) -> list[dict]:
    """A judge that rewards a closing summary ('In summary, ...'), which no property names."""
    rng = np.random.default_rng(seed)
    rows = []
    for q in range(queries):
        for k in range(per_query):
            texts, summary = [], []
            for _ in range(2):
                has = rng.random() < 0.4
                body = " ".join(rng.choice(WORDS, int(rng.integers(30, 60)))) + "."
                texts.append(body + (" In summary, that is the answer." if has else ""))
                summary.append(has)
            p_a = 1 / (1 + np.exp(-2.0 * (summary[0] - summary[1])))
            rows.append({"id": f"q{q}-{k}", "query": f"Question {q}?", "response_a": texts[0],
                         "response_b": texts[1], "label": "A" if rng.random() < p_a else "B",
                         "judge": "sim"})
    return rows


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    from conftest import run_cli

    folder = tmp_path_factory.mktemp("discoveries")
    source = folder / "pairs.jsonl"
    source.write_text("\n".join(json.dumps(r) for r in planted_pairs()) + "\n")
    study = folder / "study"
    for args in (("dissect", str(source), "--out", str(study), "--folds", "0"),
                 ("discover", str(study), "--out", str(folder / "found"), "--folds", "5")):
        result = run_cli(*args)
        assert result.code == 0, result.err
    # a description that is an HTML payload (as an LLM proposal could carry) stays text
    table = pd.read_csv(study / "discoveries.csv")
    table.loc[len(table) - 1, "description"] = HTML_PAYLOADS["img"] + HTML_PAYLOADS["script"]
    table.to_csv(study / "discoveries.csv", index=False)
    result = run_cli("report", str(study), "--out", str(folder / "report.html"))
    assert result.code == 0, result.err
    return {"study": study, "html": folder / "report.html", "table": table}


def test_discoveries_view_draws_each_gain_and_the_kept_set(browser, found):  # noqa: F811
    page = Page(browser, found["html"], DESKTOP)
    view, table = page.page, found["table"]
    page.show("discoveries")
    summary = json.loads((found["study"] / "discovery.json").read_text())
    assert summary["selected"][0] == "summary_section"  # the planted trait, found and kept
    marks = view.locator("#discoveries-gains-svg g.mark-group")
    tested = table[table["gain"].notna()]
    assert marks.count() == min(20, len(tested))
    gains = tested.set_index("candidate")["gain"]
    for k in range(marks.count()):
        name = marks.nth(k).get_attribute("data-candidate")
        assert float(marks.nth(k).get_attribute("data-gain")) == pytest.approx(gains[name],
                                                                                abs=1e-6)
    kept = [marks.nth(k).get_attribute("data-candidate") for k in range(marks.count())
            if marks.nth(k).get_attribute("data-selected") == "true"]
    assert kept == summary["selected"]
    assert view.locator("#discoveries-gains-svg line.threshold").count() == 1
    text = view.locator("#discoveries-set-gain").text_content()
    assert f"{summary['set_gain']['gain']:.4f}" in text
    view.locator("#discoveries-below summary").click()  # the table of every value
    cells = view.locator("#discoveries-below tbody tr")
    assert cells.count() == len(table)
    assert HTML_PAYLOADS["img"] in view.locator("#discoveries-below").text_content()
    assert view.locator("#view-discoveries img, #view-discoveries script").count() == 0
    assert view.title() == view.title().replace("xss", "")
    page.shot("discoveries-desktop")
    page.clean()
    page.close()


def test_discoveries_view_by_keyboard_and_on_a_phone(browser, found):  # noqa: F811
    page = Page(browser, found["html"], PHONE)
    view = page.page
    view.locator("#tab-dissection").focus()
    for _ in range(6):  # arrow keys move along the tabs
        if view.locator("#tab-discoveries").get_attribute("aria-selected") == "true":
            break
        view.keyboard.press("ArrowRight")
    assert view.locator("#view-discoveries").is_visible()
    assert page.horizontal_overflow() <= 0
    before = view.locator("#discoveries-gains-svg g.mark-group").count()
    view.locator("#discoveries-show").focus()
    view.keyboard.press("End")  # the last option: the kept ones
    view.locator("#discoveries-show").dispatch_event("change")
    kept = json.loads((found["study"] / "discovery.json").read_text())["selected"]
    assert view.locator("#discoveries-gains-svg g.mark-group").count() == len(kept) < before
    assert page.horizontal_overflow() <= 0
    page.shot("discoveries-phone")
    page.clean()
    page.close()
