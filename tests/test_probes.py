"""Probes with Python judges of known tastes: effects found where they are, nowhere else."""

from __future__ import annotations

import hashlib
import json
import math

import numpy as np
import pandas as pd
import pytest

from prefdissect.probes import PROBE_COLUMNS, observational, sample_sources

JUDGES = '''
import hashlib, math

def noise(*texts):
    """A fixed pseudo-random number in [-0.5, 0.5] per ordered pair of texts."""
    return hashlib.sha256("\\x1f".join(texts).encode()).digest()[0] / 255 - 0.5

def lists(text):
    return sum(line.startswith("- ") for line in text.splitlines()) >= 2

def likes_lists(query, a, b):
    """Rewards a bulleted list; politeness, length and position mean nothing to it."""
    return 1 / (1 + math.exp(-(1.5 * (lists(a) - lists(b)) + noise(a, b))))

def first_position(query, a, b):
    """Prefers whatever it is shown first, and nothing else."""
    return 0.7 + 0.4 * noise(a, b)

def fragile(query, a, b):
    if "Certainly" in a or "Certainly" in b:
        raise ValueError("cannot read a courtesy")
    return 0.5
'''
WORDS = ("the plan keeps costs low while the team works through each part of the system "
         "with care and checks every result before the next step begins").split()


def sentence(rng) -> str:
    words = rng.choice(WORDS, size=rng.integers(7, 12), replace=False)
    return " ".join(words).capitalize() + "."


def study_rows(n=60, seed=1):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        rows.append({"id": f"p{i}", "query": f"How should question {i} be handled?",
                     "response_a": " ".join(sentence(rng) for _ in range(rng.integers(3, 6))),
                     "response_b": " ".join(sentence(rng) for _ in range(rng.integers(3, 6))),
                     "scenario": ("Advice", "Code", "Creative Writing")[i % 3],
                     "label": "A" if i % 3 else "B"})
    return rows


@pytest.fixture(scope="module")
def probe_study(tmp_path_factory):
    from conftest import run_cli

    folder = tmp_path_factory.mktemp("probes")
    src = folder / "pairs.jsonl"
    src.write_text("\n".join(json.dumps(r) for r in study_rows()) + "\n")
    (folder / "judges.py").write_text(JUDGES)
    assert run_cli("import", str(src), "--out", str(folder / "study")).code == 0
    return folder


def load_judges(folder):
    namespace: dict = {}
    exec(compile((folder / "judges.py").read_text(), "judges.py", "exec"), namespace)
    return namespace


def both_orders(f, query, a, b) -> float:
    """P(A) asked in both orders, computed here from the function itself."""
    return (f(query, a, b) + 1 - f(query, b, a)) / 2


def rows_of(folder, judge):
    table = pd.read_csv(folder / "probes.csv")
    assert list(table.columns) == list(PROBE_COLUMNS)
    return table[(table["judge"] == judge) & (table["group"] == "all")].set_index("edit")


def test_a_judge_that_rewards_lists_and_ignores_politeness(probe_study, cli):
    out = probe_study / "lists"
    result = cli("probe", str(probe_study / "study"), "--edit", "bullets", "--edit",
                 "polite-opener", "--edit", "pad", "--python",
                 f"{probe_study / 'judges.py'}:likes_lists", "--n", "60", "--out", str(out),
                 "--group-by", "scenario")
    assert result.code == 0, result.err
    rows = rows_of(out, "likes_lists")
    assert rows.loc["bullets", "win_rate_lower"] > 50
    polite = rows.loc["polite-opener"]
    assert polite["win_rate_lower"] <= 50 <= polite["win_rate_upper"]
    assert rows.loc["pad", "win_rate_lower"] <= 50 <= rows.loc["pad", "win_rate_upper"]
    # the win rate and the shift, computed here from the judge and the probe texts
    f = load_judges(probe_study)["likes_lists"]
    pairs = pd.read_parquet(out / "probe_pairs.parquet").set_index("id")
    own = pairs[(pairs["kind"] == "self") & (pairs["edit"] == "bullets")]
    wins = np.array([1 - both_orders(f, q, a, b) for q, a, b in
                     zip(own["query"], own["response_a"], own["response_b"])])
    bullets = rows.loc["bullets"]
    assert bullets["n"] == len(wins) == 60
    assert bullets["win_rate"] == pytest.approx(100 * wins.mean())
    half = 1.96 * 100 * wins.std(ddof=1) / math.sqrt(len(wins))  # normal approximation
    assert bullets["win_rate_lower"] == pytest.approx(100 * wins.mean() - half, abs=1.0)
    assert bullets["win_rate_upper"] == pytest.approx(100 * wins.mean() + half, abs=1.0)
    shifts = []
    for probe_id, row in pairs[(pairs["kind"] == "pair") & (pairs["edit"] == "bullets")].iterrows():
        original = pairs.loc[probe_id.split("~")[0] + "~original"]
        p_edit = both_orders(f, row["query"], row["response_a"], row["response_b"])
        p_orig = both_orders(f, row["query"], original["response_a"], original["response_b"])
        shifts.append((p_edit - p_orig) * (1 if row["side"] == "A" else -1))
    assert bullets["pair_shift"] == pytest.approx(100 * np.mean(shifts))
    assert bullets["pair_shift_lower"] > 0 and bullets["kept_share"] == 1.0
    groups = pd.read_csv(out / "probes.csv").query("edit == 'bullets'")
    assert set(groups["group"]) == {"all", "Advice", "Code", "Creative Writing"}
    assert groups.set_index("group").loc[["Advice", "Code", "Creative Writing"], "n"].sum() == 60


def test_a_judge_with_only_a_first_position_bias(probe_study, cli):
    out = probe_study / "first"
    content = ["bullets", "polite-opener", "pad", "trim", "hedge", "emoji"]
    args = [x for name in [*content, "swap"] for x in ("--edit", name)]
    result = cli("probe", str(probe_study / "study"), *args, "--python",
                 f"{probe_study / 'judges.py'}:first_position", "--n", "60", "--out", str(out))
    assert result.code == 0, result.err
    rows = rows_of(out, "first_position")
    for name in content:
        row = rows.loc[name]
        assert row["n"] > 0
        assert row["win_rate_lower"] <= 50 <= row["win_rate_upper"], name
        assert row["pair_shift_lower"] <= 0 <= row["pair_shift_upper"], name
    swap = rows.loc["swap"]
    assert swap["win_rate_lower"] > 60 and swap["pair_shift_lower"] > 0
    assert swap["flip_rate"] > 0.9  # the verdict follows the order, pair after pair
    f = load_judges(probe_study)["first_position"]
    pairs = pd.read_parquet(out / "probe_pairs.parquet")
    own = pairs[(pairs["kind"] == "self") & (pairs["edit"] == "swap")]
    expected = np.mean([f(q, a, a) for q, a in zip(own["query"], own["response_a"])])
    assert swap["win_rate"] == pytest.approx(100 * expected)


def test_failures_are_kept_and_the_exit_status_says_so(probe_study, cli):
    out = probe_study / "fragile"
    result = cli("probe", str(probe_study / "study"), "--edit", "polite-opener", "--edit",
                 "bullets", "--python", f"{probe_study / 'judges.py'}:fragile", "--n", "10",
                 "--out", str(out))
    assert result.code == 3
    assert "cannot read a courtesy" in result.err
    pairs = pd.read_parquet(out / "probe_pairs.parquet")
    failed = pairs[pairs["status"] == "judge failed"]
    assert len(failed) == 20 and failed["reason"].str.contains("ValueError").all()
    rows = rows_of(out, "fragile")
    assert rows.loc["polite-opener", "n"] == 0 and rows.loc["bullets", "n"] == 10


def test_a_probe_folder_keeps_judges_apart_and_refuses_other_settings(probe_study, cli):
    out = probe_study / "two"
    base = ["probe", str(probe_study / "study"), "--edit", "bullets", "--n", "12",
            "--out", str(out)]
    judges = probe_study / "judges.py"
    assert cli(*base, "--python", f"{judges}:likes_lists").code == 0
    assert cli(*base, "--python", f"{judges}:first_position").code == 0
    table = pd.read_csv(out / "probes.csv")
    assert set(table["judge"]) == {"likes_lists", "first_position"}
    assert cli(*base, "--python", f"{judges}:likes_lists").code == 0  # replaced, not added
    assert len(pd.read_csv(out / "probes.csv")) == len(table)
    other = cli(*base[:-4], "--n", "13", "--out", str(out), "--python", f"{judges}:likes_lists")
    assert other.code == 2 and "n 12 there, 13 now" in other.err
    assert cli("probe", str(probe_study / "study"), "--edit", "bullets", "--out",
               str(out)).code == 2  # no judge
    both = cli(*base, "--python", f"{judges}:likes_lists", "--model", "m")
    assert both.code == 2 and "exactly one judge" in both.err
    unknown = cli(*base, "--edit", "bulets", "--python", f"{judges}:likes_lists")
    assert unknown.code == 2 and "did you mean 'bullets'" in unknown.err
    dry = cli(*base, "--python", f"{judges}:likes_lists", "--dry-run")
    assert dry.code == 2 and "need --model or --rewriter" in dry.err


def test_export_for_a_human_panel(probe_study, cli, tmp_path):
    out = probe_study / "panel"
    assert cli("probe", str(probe_study / "study"), "--edit", "bullets", "--edit", "swap",
               "--python", f"{probe_study / 'judges.py'}:likes_lists", "--n", "8", "--out",
               str(out)).code == 0
    target = tmp_path / "panel.jsonl"
    result = cli("probe", "export", str(out), "--out", str(target))
    assert result.code == 0, result.err
    lines = [json.loads(line) for line in target.read_text().splitlines()]
    pairs = pd.read_parquet(out / "probe_pairs.parquet").set_index("id")
    originals = (pairs["kind"] == "original").sum()
    contents = ((pairs["kind"] != "original") & (pairs["edit"] != "swap")).sum()
    assert len(lines) == 2 * originals + contents  # originals in both orders; no swap selves
    for line in lines:
        meta = line["metadata"]
        probe = pairs.loc[meta["probe"]]
        shown = (probe["response_b"], probe["response_a"]) if meta["flipped"] else \
            (probe["response_a"], probe["response_b"])
        assert (line["response_a"], line["response_b"]) == shown
    assert 0 < sum(line["metadata"]["flipped"] for line in lines) < len(lines)
    from prefdissect.importers import run_import
    assert len(run_import(target, "pairs").pairs) == len(lines)  # the project's own format
    # a panel that likes lists and, between equals, the first response it reads
    for line in lines:
        has = ["\n- " in line[k] or line[k].startswith("- ") for k in ("response_a",
                                                                        "response_b")]
        line["label"] = "B" if has[1] and not has[0] else "A"
    labelled = tmp_path / "labelled.jsonl"
    labelled.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    args = ["probe", str(probe_study / "study"), "--edit", "bullets", "--edit", "swap",
            "--labels", str(labelled), "--n", "8", "--out", str(out)]
    panel = cli(*args)
    assert panel.code == 0, panel.err  # every exported record labelled: nothing missing
    one = next(k for k, line in enumerate(lines) if line["metadata"]["kind"] != "original")
    labelled.write_text("\n".join(json.dumps(line) for k, line in enumerate(lines)
                                  if k != one) + "\n")  # one probe left unlabelled
    panel = cli(*args)
    assert panel.code == 3 and "1 probe pairs got no verdict" in panel.err
    assert "not labelled" in panel.err
    labelled.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    assert cli(*args).code == 0
    rows = rows_of(out, "panel")
    assert rows.loc["bullets", "win_rate_lower"] > 50
    assert rows.loc["swap", "n"] == 8 and rows.loc["swap", "win_rate"] > 50
    lines[0]["label"] = "maybe"
    labelled.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    bad = cli("probe", str(probe_study / "study"), "--edit", "bullets", "--labels",
              str(labelled), "--n", "8", "--out", str(out))
    assert bad.code == 2 and "line 1: field 'label' is 'maybe'" in bad.err


def test_sampling_is_stratified_and_seeded():
    rows = []
    for group, size in [("x", 10), ("y", 30), ("z", 60)]:
        rows += [{"id": f"{group}{k}", "query": "q", "response_a": "a", "response_b": "b",
                  "scenario": group, "model_a": None, "model_b": None, "reference": None,
                  "history": None, "metadata": None} for k in range(size)]
    pairs = pd.DataFrame(rows)
    sample = sample_sources(pairs, 60, seed=3, group_by=["scenario"])
    counts = sample["groups"].value_counts()
    assert counts["all|x"] == counts["all|y"] == counts["all|z"] == 20
    assert sample["source"].is_unique
    assert sample.equals(sample_sources(pairs, 60, seed=3, group_by=["scenario"]))
    assert not sample.equals(sample_sources(pairs, 60, seed=4, group_by=["scenario"]))
    small = sample_sources(pairs, 100, seed=3, group_by=["scenario"])["groups"].value_counts()
    assert small["all|x"] == 20 and small.sum() == 100  # x gives all it has; others fill
    assert len(sample_sources(pairs, 500)) == 200  # every response, once


def test_observational_beside_interventional_flags_disagreement():
    def logit(p):
        return math.log(p / (1 - p))

    profiles = pd.DataFrame([
        # property, P (mean), lower, upper
        ("well_formatted", 0.70, 0.60, 0.80), ("lengthy", 0.85, 0.80, 0.90),
        ("polite", 0.52, 0.45, 0.60), ("friendly", 0.62, 0.55, 0.70)],
        columns=["property", "p", "lo", "hi"])
    profiles = pd.DataFrame({"judge": "j", "group": "all", "property": profiles["property"],
                             "mean": profiles["p"].map(logit), "lower": profiles["lo"].map(logit),
                             "upper": profiles["hi"].map(logit)})
    probes = pd.DataFrame([
        ("bullets", "well_formatted", "up", 72.0, 65.0, 79.0),  # agrees
        ("trim", "lengthy", "down", 49.0, 46.0, 52.0),  # shorter barely loses: not causal
        ("polite-opener", "polite", "up", 48.0, 45.0, 51.0),  # both unclear: no flag
        ("pleasantry", "friendly", "up", 44.0, 38.0, 56.0),  # opposite sides, one credible
        ("swap", "position", "up", 70.0, 65.0, 75.0)],  # no profile for position
        columns=["edit", "property", "direction", "win_rate", "win_rate_lower",
                 "win_rate_upper"]).assign(judge="j", group="all")
    table = observational(probes, profiles).set_index("edit")
    assert list(table.index) == ["bullets", "trim", "polite-opener", "pleasantry"]
    assert not table.loc["bullets", "disagree"]
    trim = table.loc["trim"]  # on the property's scale: longer (the original) wins 51%
    assert trim["probe_effect"] == pytest.approx(51.0)
    assert (trim["probe_lower"], trim["probe_upper"]) == pytest.approx((48.0, 54.0))
    assert trim["disagree"] and trim["why"] == "same side, sizes differ (intervals do not overlap)"
    assert trim["profile_p"] == pytest.approx(85.0)
    assert not table.loc["polite-opener", "disagree"]
    assert table.loc["pleasantry", "why"] == "opposite sides of 50%"


def test_probe_ids_are_stable_across_runs(probe_study):
    from prefdissect.probes import ProbeConfig, prepare
    from prefdissect.study import Study

    config = ProbeConfig(edits=["bullets", "swap"], n=9, seed=5)
    first = prepare(Study(probe_study / "study"), config)
    second = prepare(Study(probe_study / "study"), config)
    assert first.pairs["id"].tolist() == second.pairs["id"].tolist()
    digest = hashlib.sha256("".join(first.pairs["response_b"]).encode()).hexdigest()
    assert digest == hashlib.sha256("".join(second.pairs["response_b"]).encode()).hexdigest()


def test_intervals_resample_queries_not_copies():
    """A source repeated within its query adds no information: the interval stays."""
    from prefdissect.probes import _bootstrap

    rng = np.random.default_rng(3)
    win = rng.random(40)
    shift = rng.normal(size=40)
    once = _bootstrap(win, shift, np.arange(40), 500, np.random.default_rng(0))
    copies = _bootstrap(np.repeat(win, 5), np.repeat(shift, 5), np.repeat(np.arange(40), 5),
                        500, np.random.default_rng(0))
    assert np.allclose(copies, once, rtol=0, atol=1e-12)
    naive = _bootstrap(np.repeat(win, 5), np.repeat(shift, 5), np.arange(200), 500,
                       np.random.default_rng(0))  # copies as if independent: too narrow
    assert naive[0][1] - naive[0][0] < 0.6 * (once[0][1] - once[0][0])
