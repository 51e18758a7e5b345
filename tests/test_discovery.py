"""Discovery: the feature library, the statistics of the test half, and the selection."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from prefdissect.discovery.discoveries import (
    BaseDesign,
    Candidate,
    SelectionConfig,
    select_discoveries,
)
from prefdissect.discovery.features import (
    check_measure,
    language,
    load_library,
    measure_texts,
    phrase_pattern,
)
from prefdissect.discovery.gains import (
    CompressedDesign,
    cluster_interval,
    fold_fits,
    one_step_gains,
    permuted_labels,
    query_folds,
    threshold,
)
from prefdissect.discovery.phrases import distinctive_phrases
from prefdissect.discovery.run import split_by_query
from prefdissect.engines import Problem, fit_problems
from prefdissect.errors import InputError, UsageError
from prefdissect.properties import Property, load_schema


# -- the feature library ------------------------------------------------------------------------
def test_library_has_forty_features_outside_the_schema_each_measurable():
    library = load_library()
    assert len(library.properties) >= 40
    assert not set(library.names) & set(load_schema().names)
    kinds = {p.measure["kind"] for p in library.properties}
    assert kinds == {"regex", "phrases", "statistic"}
    texts = ["# Title\n\nSure! Here is **bold** text (with a note).", "", "plain words only"]
    values = measure_texts([p.measure for p in library.properties], ["a query?"] * 3, texts)
    assert values.shape == (3, len(library.properties)) and np.isfinite(values).all()
    assert (values[1] == np.array([p.measure.get("statistic") == "same_language"
                                   for p in library.properties])).all()  # empty: nothing


def _one(measure: dict, text: str, query: str = "") -> float:
    return float(measure_texts([measure], [query], [text])[0, 0])


@pytest.mark.parametrize(("measure", "text", "expected"), [
    ({"kind": "regex", "pattern": r"(?m)^#{1,6}[ \t]+\S", "text": "prose"},
     "# A\ntext\n## B\n```\n# not a heading, code\n```", 2),
    ({"kind": "regex", "pattern": r"\*\*[^*\n]+\*\*"}, "**a** and **b** but *c*", 2),
    ({"kind": "phrases", "phrases": ["hope this helps", "let me know"], "window": "end"},
     "x " * 200 + "Let me know if... I hope this   helps!", 2),
    ({"kind": "phrases", "phrases": ["hope this helps"], "window": "start"},
     "I hope this helps. " + "x " * 200, 1),
    ({"kind": "phrases", "phrases": ["hope this helps"], "window": "start"},
     "x " * 200 + "I hope this helps.", 0),
    ({"kind": "phrases", "phrases": ["I'm sorry"]}, "I\u2019m sorry, im sorry, I'm sorry", 2),
    ({"kind": "phrases", "phrases": ["you"], "per_words": True}, "you and you and me", 40.0),
    ({"kind": "regex", "pattern": r"\d+", "bins": [1, 3]}, "1 2 3 4", 2),
    ({"kind": "regex", "pattern": r"\d+", "bins": [1, 3]}, "one 2", 1),
    ({"kind": "statistic", "statistic": "sentence_words"},
     "One two three. Four five six seven!", 3.5),
    ({"kind": "statistic", "statistic": "paragraphs"}, "a\n\nb\n\n\nc\n", 3),
    ({"kind": "statistic", "statistic": "repeated_lines"},
     "the same long line of text\nother\nthe same long line of text\n", 1),
    ({"kind": "statistic", "statistic": "list_depth"}, "- a\n  - b\n    - c\n- d", 3),
    ({"kind": "statistic", "statistic": "ends_with_question"}, "Done.\nWant more?", 1),
])
def test_each_kind_of_measure_counts_by_hand(measure, text, expected):
    check_measure(measure, "inline", "measure")
    assert _one(measure, text) == pytest.approx(expected)


def test_statistics_that_relate_a_response_to_its_query():
    overlap = {"kind": "statistic", "statistic": "query_overlap"}
    # content words of the query: capital, france (the stopword 'what' and 'is' drop out)
    assert _one(overlap, "Paris is the capital.", "What is the capital of France?") == 0.5
    same = {"kind": "statistic", "statistic": "same_language"}
    query = "What is the best way to learn a new language quickly and well?"
    assert _one(same, "The best way is to practise every day with native speakers.", query) == 1
    assert _one(same, "La mejor manera es practicar todos los días con hablantes nativos "
                      "y leer mucho para que sea fácil.", query) == 0
    assert language("Это ответ на русском языке, написанный кириллицей.") == "cyrillic"
    code = {"kind": "statistic", "statistic": "code_for_code_query"}
    assert _one(code, "```python\nprint(1)\n```", "Fix this:\ndef f(x):\n    return x +") == 1
    assert _one(code, "Just add one.", "Fix this:\ndef f(x):\n    return x +") == 0
    assert _one(code, "```python\nprint(1)\n```", "Tell me about Python") == 0
    restates = {"kind": "statistic", "statistic": "restates_question"}
    query = "Why do cats purr when they are happy?"
    assert _one(restates, "Cats purr when they are happy because... It calms them.", query) == 1
    assert _one(restates, "Purring is a vibration of the larynx muscles.", query) == 0


def test_each_distinct_text_is_measured_once_and_values_follow_their_text():
    texts = ["**x**", "plain", "**x**", "**x** **y**"]
    values = measure_texts([{"kind": "regex", "pattern": r"\*\*[^*]+\*\*"}], [""] * 4, texts)
    assert values[:, 0].tolist() == [1, 0, 1, 2]


@pytest.mark.parametrize(("measure", "field"), [
    ({"kind": "grep", "pattern": "x"}, "kind"),
    ({"kind": "regex", "pattern": "(?<=a)b"}, "pattern"),      # RE2 has no look-behind
    ({"kind": "regex", "pattern": "a*"}, "pattern"),           # matches empty text
    ({"kind": "regex"}, "pattern"),
    ({"kind": "phrases", "phrases": []}, "phrases"),
    ({"kind": "statistic", "statistic": "vibes"}, "statistic"),
    ({"kind": "regex", "pattern": "x", "bins": [3, 1]}, "bins"),
    ({"kind": "regex", "pattern": "x", "window": "middle"}, "window"),
    ({"kind": "regex", "pattern": "x", "colour": "red"}, "colour"),
])
def test_a_bad_measure_names_the_field_and_the_fix(measure, field):
    with pytest.raises(InputError) as caught:
        check_measure(measure, "my.yaml", "properties[3].measure")
    assert caught.value.field == field and "my.yaml" in str(caught.value)


def test_a_schema_file_with_a_bad_measure_is_refused_on_load(tmp_path):
    path = tmp_path / "schema.yaml"
    path.write_text("properties:\n  - {name: x, label: x, description: d, rule: higher_better,\n"
                    "     measure: {kind: regex, pattern: '(?<=a)b'}}\n")
    with pytest.raises(InputError, match=r"schema.yaml: field 'pattern'.*RE2"):
        load_schema(path)


def test_phrase_pattern_matches_whole_words_only():
    import pyarrow as pa
    import pyarrow.compute as pc

    pattern = phrase_pattern(["e.g.", "sure"])
    found = pc.count_substring_regex(pa.array(["sure, e.g. this", "unsure leisure", "e.g.x"]),
                                     pattern, ignore_case=True).to_pylist()
    assert found == [2, 0, 1]
    # words that begin or end with a letter outside ASCII (RE2's boundary is ASCII-only)
    pattern = phrase_pattern(["über", "está"])
    found = pc.count_substring_regex(pa.array(["Über alles, über den Fluss; überall",
                                               "Todo está bien. Está", "estás"]),
                                     pattern, ignore_case=True).to_pylist()
    assert found == [2, 2, 0]


# -- phrases --------------------------------------------------------------------------------------
def test_distinctive_phrases_rank_by_a_sign_test_and_skip_one_text_s_other_words():
    rng = np.random.default_rng(0)
    filler = ["the cat sat", "a dog ran far", "birds sing loud", "rain falls down"]
    winners, losers = [], []
    for i in range(60):
        base = " ".join(rng.choice(filler, 3))
        good = i < 40  # 'in conclusion' in 40 winners, 0 losers: z = 40 / sqrt(40)
        winners.append(base + (" in conclusion it works" if good else ""))
        losers.append(" ".join(rng.choice(filler, 3)) + (" zebra quartz" if i >= 30 else ""))
    found = distinctive_phrases(winners, losers, count=3, min_pairs=10)
    phrases = [f[0] for f in found]
    assert phrases[0] in ("in conclusion", "conclusion", "conclusion it", "conclusion it works",
                          "in conclusion it", "it works", "works")
    won, lost, z = found[0][1:]
    assert won == 40 and lost == 0 and z == pytest.approx(40 / np.sqrt(40))
    # the losers' stock words come once (the same 30 pairs tell them apart), not twice
    assert sum(p in ("zebra", "quartz", "zebra quartz") for p in phrases) == 1
    assert found[1][3] == pytest.approx(-30 / np.sqrt(30))


# -- the split, the folds, the permutations, the threshold --------------------------------------
def test_split_and_folds_keep_each_query_on_one_side():
    keys = np.repeat([f"q{i}" for i in range(30)], 4)
    proposal = split_by_query(keys, seed=3)
    assert 14 <= proposal.reshape(30, 4)[:, 0].sum() <= 16
    assert (proposal.reshape(30, 4) == proposal.reshape(30, 4)[:, :1]).all()
    folds = query_folds(np.repeat(np.arange(30), 4), 5, seed=1)
    assert (folds.reshape(30, 4) == folds.reshape(30, 4)[:, :1]).all()
    assert np.bincount(folds).tolist() == [24] * 5


def test_permutations_shuffle_labels_within_strata_only():
    y = np.array([1, 1, 0, 0, 1, 0, 0, 0], dtype=float)
    strata = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    shuffled = permuted_labels(y, strata, 50, seed=0)
    assert (shuffled[:, :4].sum(axis=1) == 2).all() and (shuffled[:, 4:].sum(axis=1) == 1).all()
    assert len({tuple(row) for row in shuffled}) > 5


def test_the_threshold_has_the_stated_level_under_exchangeable_nulls():
    assert threshold(np.arange(19.0), 0.05) == 18.0          # 19 shuffles: beat them all
    assert threshold(np.arange(39.0), 0.05) == 37.0          # 39: beat all but one
    rng = np.random.default_rng(0)
    trials = rng.gumbel(size=(20000, 20))                    # observed + 19 permutation maxima
    beaten = np.array([t[0] > threshold(t[1:], 0.05) for t in trials])
    # exactly 1/20 by exchangeability; 20,000 trials put the rate within 0.005 of it
    assert abs(beaten.mean() - 0.05) < 0.005


def test_cluster_interval_matches_a_hand_computation():
    values = np.array([1.0, 3.0, 2.0, 6.0, 4.0])
    clusters = np.array([0, 0, 1, 1, 2])
    low, high = cluster_interval(values[:, None], clusters, 0.95)
    mean = values.mean()
    sums = np.array([1 + 3 - 2 * mean, 2 + 6 - 2 * mean, 4 - mean])
    se = np.sqrt(3 / 2 * (sums ** 2).sum()) / 5
    assert low[0] == pytest.approx(mean - 1.959964 * se) and high[0] == pytest.approx(
        mean + 1.959964 * se)


# -- the engine on a merged design, and the one-step gain ----------------------------------------
def _synthetic(n=900, seed=0):
    rng = np.random.default_rng(seed)
    X = np.column_stack([rng.integers(-1, 2, n), rng.integers(-1, 2, n), np.ones(n)]).astype(float)
    hidden = rng.integers(-1, 2, n).astype(float) * (rng.random(n) < 0.5)
    y = (rng.random(n) < expit(X @ [0.8, -0.4, 0.5] + 1.2 * hidden)).astype(float)
    return X, y, hidden, rng


def test_a_merged_design_gives_the_engine_s_own_posterior():
    X, y, _, _ = _synthetic()
    sd = np.array([np.nan, np.nan, 5.0])
    weight = (np.arange(len(y)) % 7 != 0).astype(float)
    (plain,) = fit_problems([Problem(X, y, weight, sd)])
    (merged,) = fit_problems([CompressedDesign(X).problem(y, weight, sd)])
    assert CompressedDesign(X).k <= 18  # 3 x 3 distinct rows of the two properties
    for field in ("mean", "sd", "lower", "upper"):
        np.testing.assert_allclose(getattr(merged, field), getattr(plain, field), atol=1e-7)


def test_one_step_gains_come_close_to_refitting_every_fold_with_the_candidate():
    X, y, hidden, rng = _synthetic(n=1500, seed=1)
    sd = np.array([np.nan, np.nan, 5.0])
    noise = rng.integers(-1, 2, len(y)).astype(float)
    C = np.column_stack([hidden, 0.6 * hidden + 0.4 * noise > 0.3, noise]).astype(float)
    clusters = np.arange(len(y)) // 3
    folds = query_folds(clusters, 5, seed=0)
    config = SelectionConfig(folds=5)
    means, covs = fold_fits(X, y[None], folds, 5, sd, config)
    gains, _ = one_step_gains(X, means, covs, y[None], folds, C, 0.1)
    sign = 2 * y - 1

    def held_out(design, prior):  # the plain engine, fold by fold, no merging
        loss = np.empty(len(y))
        for f in range(5):
            (post,) = fit_problems([Problem(design, y, (folds != f).astype(float), prior)])
            loss[folds == f] = np.logaddexp(0, -sign * (design @ post.mean))[folds == f]
        return loss

    before = held_out(X, sd)
    exact = [np.mean(before - held_out(np.column_stack([X, C[:, j]]), np.r_[sd, np.nan]))
             for j in range(3)]
    assert exact[0] > 0.02 and gains[0, 0] == pytest.approx(exact[0], rel=0.1)
    assert gains[0, 1] == pytest.approx(exact[1], rel=0.15)
    assert abs(gains[0, 2] - exact[2]) < 0.002  # noise: both near zero


def _design(X, y, clusters):
    return BaseDesign(X, ["p1", "p2", "side A"], 2, np.array([np.nan, np.nan, 5.0]), y,
                      clusters, np.zeros(len(y), dtype=int))


def _candidate(name, values):
    return Candidate(Property(name, name, f"{name} text", "higher_better"), "features", values)


def test_selection_keeps_the_hidden_trait_and_fits_it_jointly():
    X, y, hidden, rng = _synthetic(n=1500, seed=2)
    noise = [rng.integers(-1, 2, len(y)).astype(float) for _ in range(5)]
    candidates = [_candidate(f"noise{i}", v) for i, v in enumerate(noise)]
    candidates.insert(2, _candidate("hidden", hidden))
    candidates.append(_candidate("rare", np.r_[np.ones(5), np.zeros(len(y) - 5)]))
    result = select_discoveries(_design(X, y, np.arange(len(y)) // 3), candidates,
                                SelectionConfig(folds=5))
    table = result.table.set_index("candidate")
    assert result.selected[0] == "hidden" and table.loc["hidden", "selected"]
    assert table.loc["hidden", "gain_lower"] > 0
    # the paper's Laplace(0, 0.1) prior pulls weights toward 0: clearly positive, below 1.2
    assert 0.5 < table.loc["hidden", "lower"] and table.loc["hidden", "mean"] < 1.2
    assert np.isnan(table.loc["rare", "gain"])  # differs in 5 pairs: reported, not tested
    assert table.loc["rare", "coverage"] == pytest.approx(5 / len(y))
    joint = result.joint.set_index("column")
    assert joint.loc["hidden", "kind"] == "discovered"
    assert joint.loc["hidden", "lower"] > 0.5
    assert result.set_gain["gain_lower"] > 0
    assert list(result.table.columns) == ["candidate", "proposer", "description", "coverage",
                                          "mean", "lower", "upper", "p_preferred", "gain",
                                          "gain_lower", "gain_upper", "nearest_property",
                                          "nearest_correlation", "selected"]


def test_selection_settings_out_of_range_are_refused():
    with pytest.raises(UsageError, match="needs at least 19 permutations"):
        SelectionConfig(permutations=10, level=0.05).validate()
    with pytest.raises(UsageError, match="needs at least 99 permutations"):
        SelectionConfig(permutations=50).validate()
    with pytest.raises(UsageError, match="--folds"):
        SelectionConfig(folds=1).validate()
    with pytest.raises(UsageError, match="--level"):
        SelectionConfig(level=1.5).validate()


# -- the command ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_study(tmp_path_factory):
    import json

    from conftest import run_cli
    from test_report_discoveries import planted_pairs

    folder = tmp_path_factory.mktemp("discover-cli")
    rows = []
    for k, row in enumerate(planted_pairs(queries=30, per_query=8)):
        judge = row.pop("judge")
        row[f"label:{judge}"] = row.pop("label")
        if k < 40:  # a second judge on some pairs
            row["label:other"] = "B"
        rows.append(row)
    source = folder / "pairs.jsonl"
    source.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    assert run_cli("import", str(source), "--out", str(folder / "study")).code == 0
    assert run_cli("annotate", str(folder / "study")).code == 0
    return folder / "study"


@pytest.mark.parametrize(("args", "message"), [
    (["--judge", "nobody"], "--judge nobody: give one of this study's judges: sim, other"),
    ([], "--judge (none): give one of this study's judges: sim, other"),
    (["--judge", "sim", "--group", "Code"], "--group Code: no such group; groups: all"),
    (["--judge", "sim", "--proposer", "vibes"], "--proposer vibes: use one or more of"),
    (["--judge", "sim", "--permutations", "5"], "needs at least 99 permutations"),
    (["--judge", "sim", "--proposer", "llm"], "the llm proposer needs --model"),
    (["--judge", "sim", "--dry-run"], "--dry-run and --batch-export apply to the llm proposer"),
    (["--judge", "sim", "--proposer", "llm", "--model", "m", "--llm-pairs", "0"],
     "--llm-pairs, --llm-candidates and --llm-max-tokens: give 1 or more"),
    (["--judge", "sim", "--schema", "no-such-schema.yaml"], "no-such-schema.yaml"),
])
def test_discover_refuses_bad_options_before_any_work(small_study, cli, tmp_path, args,
                                                      message):
    result = cli("discover", str(small_study), "--out", str(tmp_path / "out"), *args)
    assert result.code == 2 and message in " ".join(result.err.split()), result.err
    assert not (tmp_path / "out" / "discoveries.csv").exists()


def test_discover_needs_annotations_and_a_study(cli, tmp_path):
    result = cli("discover", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out"))
    assert result.code == 2 and "does not exist" in result.err


def test_discover_prints_its_findings_and_writes_every_output(small_study, cli, tmp_path):
    out = tmp_path / "found"
    result = cli("discover", str(small_study), "--judge", "sim", "--out", str(out), "--folds",
                 "5", "--max-new", "2")
    assert result.code == 0, result.err
    assert "judge sim, group all: proposed on" in result.text
    assert "summary_section" in result.text and "kept set, fitted jointly" in result.text
    for name in ("discoveries.csv", "discovered.yaml", "discovered_annotations.parquet",
                 "discovery.json"):
        assert (out / name).exists()
    schema = load_schema(out / "discovered.yaml")
    kept = pd.read_csv(out / "discoveries.csv").query("selected")["candidate"].tolist()
    assert schema.names[:29] == load_schema().names and schema.names[29:] == kept
    assert len(kept) <= 2 and schema.get("summary_section").measure["kind"] == "regex"
    # one line per candidate, P(preferred) shown as every command shows it (74.8%, 70.1-79.0%)
    lines = result.out.splitlines()
    table = pd.read_csv(out / "discoveries.csv").dropna(subset=["mean"])
    for row in table.head(12).itertuples():
        cells = (f"{100 * row.p_preferred:.1f}%", f"{100 * expit(row.lower):.1f}-"
                 f"{100 * expit(row.upper):.1f}%", f"{row.gain:+.4f}")
        assert any(line.split()[0] == row.candidate and all(c in line for c in cells)
                   for line in lines if line.strip()), (row.candidate, cells)


def test_an_unusable_proposal_answer_is_asked_again_by_the_next_run(tmp_path):
    from fake_llm import FakeLLM, chat_reply

    from prefdissect.discovery.proposals import LLMProposer
    from prefdissect.llm.client import LLMClient

    shown = pd.DataFrame({"query": ["Name a colour."], "response_a": ["Blue."],
                          "response_b": ["Red, I think."]})
    with FakeLLM(lambda path, body: chat_reply("no JSON here, sorry")) as server:
        for _ in range(2):
            client = LLMClient(server.url, tmp_path / "log.sqlite", backoff=0.01)
            proposer = LLMProposer(client, "fake")
            assert proposer.propose(shown, np.array([True]), set()) == []
        sent = len(server.requests)
    assert sent == 2  # the first run's unusable answer was not served from the log
    assert "1 requests gave nothing: unusable answer" in proposer.notes[0]
    assert list(client.tally.failed.values())[0].startswith("unusable answer")  # exit 3


def test_a_style_habit_of_the_stronger_model_is_not_credited_with_its_quality():
    """The judge rewards one schema property and model quality, nothing else; the strong
    model writes asides in parentheses. Holding model quality fixed (one strength per
    model, labels shuffled within model pairs), the habit is not a discovery."""
    from prefdissect.comparisons import Comparisons
    from prefdissect.discovery.run import DiscoverConfig, discover_pairs
    from prefdissect.properties import PropertySchema

    rng = np.random.default_rng(7)
    strength = {"strong": 2.0, "middle": 0.0, "weak": -2.0}
    rows = []
    for q in range(120):
        for model in strength:
            aside = " (an aside)" if model == "strong" else ""
            rows.append({"id": f"{q}-{model}", "query": f"Question {q} about topic {q % 7}?",
                         "response_a": f"Base answer {q} about the topic.",
                         "response_b": f"An answer{aside} to question {q}.",
                         "model_a": "base", "model_b": model, "scenario": None})
    pairs = pd.DataFrame(rows)
    p1 = rng.integers(-1, 2, len(pairs)).astype(float)
    logit_b = -0.8 * p1 + pairs["model_b"].map(strength).to_numpy()
    won_b = rng.random(len(pairs)) < expit(logit_b)
    judgments = pd.DataFrame({"pair_id": pairs["id"], "judge": "j",
                              "label": np.where(won_b, "B", "A"), "p_a": np.nan})
    values = pd.DataFrame({"p1": p1}, index=pairs["id"])
    comparisons = Comparisons(values, pd.DataFrame({"p1": 0}, index=pairs["id"]),
                              sources={"p1": "test"})
    schema = PropertySchema("s", (Property("p1", "p1", "a property", "higher_better"),))
    found = discover_pairs(pairs, judgments, comparisons, schema, DiscoverConfig(
        selection=SelectionConfig(folds=3, permutations=19, level=0.05, seed=1)))
    assert found.terms.kind == "models"
    table = found.result.table.set_index("candidate")
    assert table.loc["parentheticals", "coverage"] > 0.3  # measured, tested ...
    assert "parentheticals" not in found.result.selected  # ... and not credited
    assert not found.result.selected


def test_a_dry_run_reads_an_unusable_proposal_answer_and_writes_nothing(tmp_path):
    import sqlite3

    from fake_llm import FakeLLM, chat_reply

    from prefdissect.discovery.proposals import LLMProposer
    from prefdissect.llm.client import LLMClient

    shown = pd.DataFrame({"query": ["Name a colour."], "response_a": ["Blue."],
                          "response_b": ["Red, I think."]})
    with FakeLLM(lambda path, body: chat_reply("no JSON here, sorry")) as server:
        client = LLMClient(server.url, tmp_path / "log.sqlite", backoff=0.01)
        proposer = LLMProposer(client, "fake")
        client.run(proposer.requests(shown, np.array([True]), set()))  # in the log, unread
    log = tmp_path / "log.sqlite"
    dry = LLMProposer(LLMClient("http://127.0.0.1:9/v1", log), "fake")
    assert dry.propose(shown, np.array([True]), set(), dry=True) == []
    assert "unusable answer" in dry.notes[0]
    with sqlite3.connect(log) as db:
        assert db.execute("SELECT COUNT(*) FROM rejections").fetchone()[0] == 0
