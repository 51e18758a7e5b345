"""Discovery on the shared AlpacaEval texts: planted traits, random labels, the commands.

The planted-trait runs take the texts of 120 AlpacaEval instructions (1,679 pairs;
the test half about 840) and draw labels from a synthetic judge that rewards length,
the fixed baseline, and one hidden trait outside the schema, defined here with this
file's own patterns (never the feature library's); they check the ranking, so 5 folds
and 19 label shuffles do. The random-label runs take 60 instructions and the default
threshold (99 shuffles, level 0.01) with 3 folds: the 20 runs stay cheap.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from prefdissect.comparisons import resolve
from prefdissect.discovery.discoveries import SelectionConfig
from prefdissect.discovery.features import load_library, measure_properties
from prefdissect.discovery.run import DiscoverConfig, discover_pairs
from prefdissect.study import Study

BETA = 1.5
"""The synthetic judge's weight on its hidden trait (P(preferred) 82%)."""


def _sample(study_folder, queries: int):
    study = Study(study_folder)
    schema = study.schema()
    pairs = study.pairs()
    rng = np.random.default_rng(0)
    chosen = set(rng.choice(pairs["query"].unique(), queries, replace=False))
    pairs = pairs[pairs["query"].isin(chosen)].reset_index(drop=True)
    comparisons = resolve(study.annotations(), pairs["id"], schema)
    features = measure_properties(list(load_library().properties), pairs)
    labels = study.judgments().drop_duplicates("pair_id").set_index("pair_id")["label"]
    return pairs, comparisons, schema, features, pairs["id"].map(labels)


@pytest.fixture(scope="module")
def sample(alpaca_study):
    """120 instructions, 1,679 pairs."""
    return _sample(alpaca_study, 120)


@pytest.fixture(scope="module")
def small_sample(alpaca_study):
    """60 instructions: random labels need no power, only the default threshold."""
    return _sample(alpaca_study, 60)


def _count(pattern: str, flags: int = 0):
    rx = re.compile(pattern, flags)
    return lambda text: len(rx.findall(text))


def _overlap(query: str, text: str) -> float:
    asked = {w for w in re.findall(r"[a-z]+", query.lower()) if len(w) > 3}
    return len(asked & set(re.findall(r"[a-z]+", text.lower()))) / max(1, len(asked))


TRAITS = {  # each: a function of (query, response); the judge rewards the higher value
    "opener (phrase)": lambda q, t: len(re.findall(r"^\s*(?:Certainly|Sure|Of course|Absolutely)\b",
                                                   t)),
    "bold (markdown)": lambda q, t: int("**" in t),
    "headings (markdown)": lambda q, t: _count(r"(?m)^#+ ")(t),
    "paragraphs (structure)": lambda q, t: len([b for b in re.split(r"\n\s*\n", t) if b.strip()]),
    "echoes the query (query relation)": lambda q, t: round(_overlap(q, t), 1),
    "numbers": lambda q, t: _count(r"\d+")(t),
    "exclamation (punctuation)": lambda q, t: int("!" in t),
    "'however' (word)": lambda q, t: _count(r"\bhowever\b", re.I)(t),
    "parentheses": lambda q, t: _count(r"\([^)]*\)")(t),
    "addresses 'you'": lambda q, t: _count(r"\byou\b", re.I)(t),
}


def _judge(pairs: pd.DataFrame, logit: np.ndarray, seed: int) -> pd.DataFrame:
    won = np.random.default_rng(seed).random(len(pairs)) < 1 / (1 + np.exp(-logit))
    return pd.DataFrame({"pair_id": pairs["id"], "judge": "synthetic",
                         "label": np.where(won, "A", "B"), "p_a": np.nan})


def _run(sample, judgments, selection):
    pairs, comparisons, schema, features, _ = sample
    return discover_pairs(pairs, judgments, comparisons, schema,
                          DiscoverConfig(selection=selection), features=features)


def test_a_planted_trait_ranks_in_the_top_three(sample, alpaca_study):
    pairs = sample[0]
    length = sample[1].values["lengthy"].to_numpy()
    found = {}
    for seed, (name, trait) in enumerate(TRAITS.items()):
        a = np.array([trait(q, t) for q, t in zip(pairs["query"], pairs["response_a"])])
        b = np.array([trait(q, t) for q, t in zip(pairs["query"], pairs["response_b"])])
        planted = np.sign(a - b)
        # the ranking is by gain (kept ones first): 19 shuffles at level 0.05 are enough
        selection = SelectionConfig(folds=5, permutations=19, level=0.05, seed=seed)
        result = _run(sample, _judge(pairs, 0.8 + length + BETA * planted, 100 + seed),
                      selection)
        where = pd.Series(np.arange(len(pairs)), index=pairs["id"])[result.test_ids].to_numpy()
        columns = {c.property.name: c.comparison for c in result.candidates}
        top = result.result.table["candidate"].head(3)
        # the planted trait, or a feature measuring it: a top-3 candidate that moves with it
        found[name] = max(abs(np.corrcoef(columns[c], planted[where])[0, 1]) for c in top)
    hits = [name for name, r in found.items() if r >= 0.5]
    assert len(hits) >= 9, found


def test_random_labels_rarely_yield_a_discovery(small_sample, alpaca_study):
    pairs = small_sample[0]
    selected = []
    for seed in range(20):
        won = np.random.default_rng(1000 + seed).random(len(pairs)) < 0.8
        judgments = pd.DataFrame({"pair_id": pairs["id"], "judge": "synthetic",
                                  "label": np.where(won, "A", "B"), "p_a": np.nan})
        # the default threshold (99 shuffles, level 0.01); 3 folds to keep 20 runs cheap
        selection = SelectionConfig(folds=3, seed=seed)
        selected.append(_run(small_sample, judgments, selection).result.selected)
    assert sum(bool(s) for s in selected) <= 1, selected


def test_discover_end_to_end_and_the_kept_set_round_trips(sample, alpaca_study, cli, tmp_path):
    """120 AlpacaEval instructions through the commands, judged by a synthetic judge that
    rewards addressing the reader beside length (so that something is there to keep);
    GPT-4-Turbo's own verdicts on all 11,266 pairs are benchmarks/discover_speed.py's."""
    pairs = sample[0]
    trait = TRAITS["addresses 'you'"]
    planted = np.sign(np.array([trait(q, a) - trait(q, b) for q, a, b in
                                zip(pairs["query"], pairs["response_a"], pairs["response_b"])]))
    length = sample[1].values["lengthy"].to_numpy()
    label = _judge(pairs, 0.8 + length + 2.0 * planted, 7)["label"].to_numpy()
    source = tmp_path / "pairs.jsonl"
    frame = pairs[["id", "query", "response_a", "response_b", "model_a", "model_b"]].assign(
        label=label, judge="synthetic")
    frame.to_json(source, orient="records", lines=True)
    first, second, out = tmp_path / "first", tmp_path / "second", tmp_path / "found"
    for study in (first, second):
        assert cli("import", str(source), "--format", "pairs", "--out", str(study)).code == 0
        assert cli("annotate", str(study)).code == 0
    result = cli("discover", str(first), "--out", str(out), "--folds", "5")
    assert result.code == 0, result.err
    assert "kept set, fitted jointly" in result.text and "threshold" in result.text
    table = pd.read_csv(out / "discoveries.csv")
    assert list(table.columns) == ["candidate", "proposer", "description", "coverage", "mean",
                                   "lower", "upper", "p_preferred", "gain", "gain_lower",
                                   "gain_upper", "nearest_property", "nearest_correlation",
                                   "selected"]
    summary = json.loads((out / "discovery.json").read_text())
    kept = summary["selected"]
    assert "second_person" in kept and summary["set_gain"]["gain_lower"] > 0
    assert summary["model_terms"]["kind"] == "models"  # beyond schema and model strength
    assert (first / "discoveries.csv").exists()  # the study keeps a copy for its report

    # a new study annotated with discovered.yaml gets the values discover measured
    done = cli("annotate", str(second), "--schema", str(out / "discovered.yaml"),
               "--annotator", "features")
    assert done.code == 0, done.err
    mine = pd.read_parquet(second / "annotations.parquet").query("annotator == 'features'")
    assert set(mine["property"]) == set(kept)
    measured = pd.read_parquet(out / "discovered_annotations.parquet")
    measured = measured[measured["property"].isin(kept)]
    both = measured.merge(mine, on=["pair_id", "property"], suffixes=("", "_new"))
    assert len(both) == len(measured) > 0
    np.testing.assert_array_equal(both["value_a"], both["value_a_new"])
    np.testing.assert_array_equal(both["value_b"], both["value_b_new"])
    fitted = cli("fit", str(second), "--schema", str(out / "discovered.yaml"), "--folds", "0")
    assert fitted.code == 0, fitted.err
    profile = pd.read_csv(second / "profiles.csv")
    assert set(kept) <= set(profile["property"])
