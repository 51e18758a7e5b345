"""The report's Leaderboard view and model-term bars, from a study run through `scores`."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from test_report import DESKTOP, PHONE, Page, browser  # noqa: F401  (the browser fixture)

MODELS = {"strong": (1.0, 60), "strong_concise": (1.0, 15), "weak": (-1.0, 30),
          "weak_verbose": (-1.0, 70)}  # strength, typical length in words


def leaderboard_pairs(seed: int = 0, per_model: int = 120) -> list[dict]:
    rng = np.random.default_rng(seed)
    rows = []
    for model, (strength, words) in MODELS.items():
        for i in range(per_model):
            n_b = max(3, int(rng.normal(words, 5)))
            n_a = max(3, int(rng.normal(45, 5)))
            x = np.sign(n_a - n_b) if abs(n_a - n_b) >= 20 else 0.0
            p_a = 1 / (1 + np.exp(-(0.3 - strength + 1.2 * x)))
            rows.append({"id": f"{model}:{i}", "query": f"Question {i}",
                         "response_a": " ".join(["base"] * n_a),
                         "response_b": " ".join([model.split("_")[0]] * n_b),
                         "model_a": "base", "model_b": model,
                         "label": "A" if rng.random() < p_a else "B", "judge": "sim"})
    return rows


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    from conftest import run_cli

    folder = tmp_path_factory.mktemp("scores")
    source = folder / "pairs.jsonl"
    source.write_text("\n".join(json.dumps(r) for r in leaderboard_pairs()) + "\n")
    study = folder / "study"
    for args in (("dissect", str(source), "--out", str(study)),
                 ("scores", str(study), "--draws", "200"),
                 ("report", str(study), "--out", str(folder / "report.html"))):
        result = run_cli(*args)
        assert result.code == 0, result.err
    return {"study": study, "html": folder / "report.html"}


def test_leaderboard_view_draws_the_scores_and_their_parts(browser, scored):  # noqa: F811
    page = Page(browser, scored["html"], DESKTOP)
    view = page.page
    scores = pd.read_csv(scored["study"] / "scores.csv").set_index("model")
    page.show("leaderboard")
    marks = view.locator("#leaderboard-rates-svg g.mark-group")
    assert marks.count() == len(scores) == 4
    for k in range(marks.count()):
        model = marks.nth(k).get_attribute("data-model")
        assert float(marks.nth(k).get_attribute("data-raw")) == pytest.approx(
            scores.loc[model, "raw"], abs=1e-3)
        assert float(marks.nth(k).get_attribute("data-controlled")) == pytest.approx(
            scores.loc[model, "controlled"], abs=1e-3)
    parts = view.locator("#leaderboard-parts-svg rect.part")
    total: dict[str, float] = {}
    for k in range(parts.count()):
        model = parts.nth(k).get_attribute("data-model")
        total[model] = total.get(model, 0.0) + float(parts.nth(k).get_attribute("data-points"))
    for model, points in total.items():  # the drawn parts add up to raw - controlled
        assert points == pytest.approx(scores.loc[model, "raw"] - scores.loc[model, "controlled"],
                                       abs=1e-3)
    assert "lengthy" in view.locator("#leaderboard-legend").text_content()
    families = view.locator("#leaderboard-below").text_content()
    assert "strong_concise" in families and "controlled spread" in families
    page.shot("leaderboard-desktop")
    page.show("dissection")
    assert "model term baseline (base)" in view.locator("#dissection-explains").text_content()
    page.show("samples")
    view.locator("#samples-list tr.pair-row").nth(0).click()
    assert "model term: baseline (base)" in view.locator("#samples-detail").text_content()
    page.clean()
    page.close()


def test_leaderboard_on_a_phone(browser, scored):  # noqa: F811
    page = Page(browser, scored["html"], PHONE)
    page.show("leaderboard")
    assert page.horizontal_overflow() == 0
    assert page.page.locator("#leaderboard-rates-svg").bounding_box()["width"] <= PHONE["width"]
    page.shot("leaderboard-phone")
    page.clean()
    page.close()


def test_a_model_without_a_controlled_score_is_drawn_raw_only(browser, scored, tmp_path):  # noqa: F811
    from conftest import run_cli

    study = tmp_path / "study"
    __import__("shutil").copytree(scored["study"], study)
    scores = pd.read_csv(study / "scores.csv")
    gone = scores["model"] == "weak"  # as model_scores leaves a model none of whose pairs fit
    scores.loc[gone, ["fitted", "controlled", "controlled_lower", "controlled_upper"]] = np.nan
    scores.to_csv(study / "scores.csv", index=False)
    parts = pd.read_csv(study / "score_components.csv")
    parts.loc[parts["model"] == "weak", "points"] = np.nan
    parts.to_csv(study / "score_components.csv", index=False)
    html = tmp_path / "report.html"
    assert run_cli("report", str(study), "--out", str(html)).code == 0
    page = Page(browser, html, DESKTOP)
    page.show("leaderboard")
    marks = page.page.locator("#leaderboard-rates-svg g.mark-group")
    assert marks.count() == 4
    last = marks.nth(3)  # ranked last
    assert last.get_attribute("data-model") == "weak" and last.get_attribute(
        "data-controlled") == ""
    assert last.locator("circle.controlled").count() == 0
    assert page.page.locator("#leaderboard-parts-svg rect.part[data-model='weak']").count() == 0
    page.clean()  # no script error
    page.close()
