"""The field's preference formats: TRL's, RewardBench's, per-response ratings, mapped columns.

Each fixture is written here from the format's public documentation (named in the
test), in small generated rows; nothing is copied from a dataset.
"""

from __future__ import annotations

import gzip
import json
import random
from collections import Counter

import pandas as pd
import pytest

from prefdissect.errors import InputError, UsageError
from prefdissect.importers import run_import

SKY = "What color is the sky?"


def write_jsonl(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def user(text):
    return {"role": "user", "content": text}


def bot(text):
    return {"role": "assistant", "content": text}


def chosen_text(pair, judgment):
    """The chosen response of a pair, whichever side the coin put it on."""
    return pair.response_a if judgment.label == "A" else pair.response_b


def by_id(result):
    return {p.id: (p, j) for p, j in zip(result.pairs, result.judgments)}


# -- TRL's preference type (docs: huggingface.co/docs/trl/dataset_formats) -----------------

def test_trl_standard_and_conversational_explicit_and_implicit(tmp_path):
    """The four shapes of TRL's "Preference" row in its dataset-formats table."""
    rows = [
        # standard, explicit prompt
        {"prompt": "The sky is", "chosen": " blue.", "rejected": " green."},
        # standard, implicit prompt
        {"chosen": "The sky is blue.", "rejected": "The sky is green."},
        # conversational, explicit prompt
        {"prompt": [user(SKY)], "chosen": [bot("It is blue.")],
         "rejected": [bot("It is green.")]},
        # conversational, implicit prompt, multi-turn with a system message
        {"chosen": [{"role": "system", "content": "Be brief."}, user("Hi"), bot("Hello!"),
                    user(SKY), bot("It is blue.")],
         "rejected": [{"role": "system", "content": "Be brief."}, user("Hi"), bot("Hello!"),
                      user(SKY), bot("It is green.")]},
    ]
    result = run_import(write_jsonl(tmp_path / "trl.jsonl", rows), "preference", seed=3)
    assert (result.rows_read, len(result.pairs), len(result.judgments)) == (4, 4, 4)
    assert not result.exclusions
    got = {p.id: p for p in result.pairs}
    assert (got["trl:1"].query, got["trl:2"].query) == ("The sky is", "The sky is")
    assert got["trl:3"].query == got["trl:4"].query == SKY
    assert got["trl:3"].history == []
    assert got["trl:4"].history == [{"role": "system", "content": "Be brief."}, user("Hi"),
                                    bot("Hello!")]
    pairs = by_id(result)
    assert [chosen_text(*pairs[f"trl:{i}"]) for i in (1, 2, 3, 4)] == [
        " blue.", "blue.", "It is blue.", "It is blue."]  # explicit completions as given
    assert {j.judge for j in result.judgments} == {"labels"}
    assert Counter(j.label for j in result.judgments) != Counter({"A": 4})  # the coin works
    assert "prompt explicit in 2 rows, taken from what chosen and rejected share in 2" in \
        " ".join(result.notes)


def test_trl_scores_are_kept_as_the_margin(tmp_path):
    """UltraFeedback-binarized's shape (TRL docs: a text prompt beside conversations counts
    as implicit): prompt, chosen/rejected with the user turn, messages, score_* columns."""
    rows = [{"prompt": f"q{i}", "prompt_id": f"id{i}",
             "chosen": [user(f"q{i}"), bot(f"good {i}")],
             "rejected": [user(f"q{i}"), bot(f"bad {i}")],
             "messages": [user(f"q{i}"), bot(f"good {i}")],
             "score_chosen": 8.0 + i, "score_rejected": 5.5} for i in range(3)]
    result = run_import(write_jsonl(tmp_path / "uf.jsonl", rows), "preference")
    for pair, judgment in zip(result.pairs, result.judgments):
        i = int(pair.query[1:])
        assert chosen_text(pair, judgment) == f"good {i}"
        assert judgment.details["margin"] == pytest.approx(2.5 + i)
        assert judgment.details["score_rejected"] == 5.5
        assert pair.metadata == {"prompt_id": f"id{i}"}  # the messages list is not copied
    assert any("not kept in metadata: messages" in n for n in result.notes)


def test_rows_without_a_shared_prompt_are_kept_as_exclusions(tmp_path):
    rows = [{"chosen": "Yes.", "rejected": "No."},
            {"chosen": [bot("a")], "rejected": [bot("b")]},
            {"chosen": "A B", "rejected": "A C"},
            {"chosen": "Same text here.", "rejected": "Same text here."}]
    result = run_import(write_jsonl(tmp_path / "x.jsonl", rows), "preference")
    assert [e.reason for e in result.exclusions] == ["no shared prompt", "no shared prompt",
                                                     "chosen and rejected are identical"]
    assert [e.line for e in result.exclusions] == [1, 2, 4]
    assert result.rows_read == len(result.pairs) + len(result.exclusions) == 4


def test_preference_errors_name_the_file_line_and_field(tmp_path):
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"prompt": "q", "chosen": "a",
                                                "rejected": [{"role": "x"}]}])
    with pytest.raises(InputError, match=r"bad.jsonl line 1: field 'rejected' must be text"):
        run_import(bad, "preference")
    missing = write_jsonl(tmp_path / "m.jsonl", [{"prompt": "q", "chosen": "a", "reject": "b"}])
    with pytest.raises(InputError) as caught:
        run_import(missing, "preference")
    assert "m.jsonl line 1: field 'rejected' is missing (columns here: prompt, chosen, " \
           "reject)" in str(caught.value)
    assert "did you mean 'reject'?" in str(caught.value)


# -- RewardBench (README of allenai/reward-bench: prompt, chosen, chosen_model, rejected,
#    rejected_model, subset, id) --------------------------------------------------------------

def rewardbench_rows(n=60):
    rng = random.Random(5)
    rows = []
    for i in range(n):
        subset = "alpacaeval-length" if i % 2 else "llmbar-natural"
        short, long = f"Answer {i}.", f"Answer {i}. " + "More detail here. " * rng.randint(3, 9)
        good, bad = (long, short) if subset == "alpacaeval-length" else (short, long)
        rows.append({"prompt": f"Question {i}?", "chosen": good, "chosen_model": "gpt-4",
                     "rejected": bad, "rejected_model": "llama", "subset": subset, "id": i})
    return rows


def test_rewardbench_rows_with_subsets_as_groups(tmp_path, cli):
    path = tmp_path / "rb.parquet"
    pd.DataFrame(rewardbench_rows()).to_parquet(path)
    result = run_import(path, "preference")
    assert len(result.pairs) == 60 and not result.exclusions
    pairs = by_id(result)
    pair, judgment = pairs["7"]
    chosen_model = pair.model_a if judgment.label == "A" else pair.model_b
    assert (chosen_model, pair.metadata["subset"]) == ("gpt-4", "alpacaeval-length")
    out = tmp_path / "study"
    run = cli("dissect", str(path), "--format", "preference", "--group-by", "subset",
              "--folds", "0", "--out", str(out))
    assert run.code == 0, run.err
    profiles = pd.read_csv(out / "profiles.csv")
    lengthy = profiles[profiles["property"] == "lengthy"].set_index("group")["mean"]
    # the chosen answer is the longer one in one subset and the shorter in the other
    assert lengthy["subset=alpacaeval-length"] > 0.5 > -0.5 > lengthy["subset=llmbar-natural"]


# -- HH-RLHF through the preference format (implicit prompt) ------------------------------

def test_hh_rlhf_as_implicit_preference_matches_its_own_importer(shared_data):
    folder = shared_data / "hh-rlhf"
    own = run_import(folder, "hh-rlhf")
    generic = run_import(folder, "preference")

    def keyed(result, key):
        return {key(p): (p.query, p.history, chosen_text(p, j),
                         p.response_b if chosen_text(p, j) == p.response_a else p.response_a)
                for p, j in zip(result.pairs, result.judgments)}

    mine = keyed(generic, lambda p: (p.metadata["file"].split("/")[0], int(p.id.split(":")[1])))
    theirs = keyed(own, lambda p: (p.metadata["subset"], p.metadata["line"]))
    assert len(mine) == len(theirs) == 8552
    assert mine == theirs
    assert len(generic.exclusions) == len(own.exclusions)


# -- per-response ratings ------------------------------------------------------------------

ASPECTS = ("helpfulness", "correctness", "verbosity")


def helpsteer_rows(prompts=40, per_prompt=3, seed=0):
    """HelpSteer2's card: one row per response, prompt, response and 0-4 ratings."""
    rng = random.Random(seed)
    rows = []
    for q in range(prompts):
        for r in range(per_prompt):
            words = rng.randint(3, 80)
            listed = rng.random() < 0.5
            text = (f"Reply {q}.{r}: " + "word " * words
                    + ("\n- first point\n- second point" if listed else ""))
            rows.append({"prompt": f"Prompt number {q}: explain something",
                         "response": text,
                         "helpfulness": 2 + listed + (rng.random() < 0.3),
                         "correctness": rng.choice([3, 3, 4]),
                         "verbosity": min(4, words // 20)})
    return rows


def test_ratings_three_aspects_three_judges_ties_counted_and_compared(tmp_path, cli):
    rows = helpsteer_rows()
    src = write_jsonl(tmp_path / "helpsteer.jsonl", rows)
    result = run_import(src, "ratings")
    assert len(result.pairs) == 40 * 3  # three responses per prompt: three pairs each
    assert {j.judge for j in result.judgments} == set(ASPECTS)
    # ties counted, against a count made here from the rows themselves
    for aspect in ASPECTS:
        expected = Counter()
        for q in range(40):
            mine = [r[aspect] for r in rows[3 * q:3 * q + 3]]
            for i, j in ((0, 1), (0, 2), (1, 2)):
                expected["tie" if mine[i] == mine[j] else "differ"] += 1
        got = Counter(j.label for j in result.judgments if j.judge == aspect)
        assert got["tie"] == expected["tie"] and got["A"] + got["B"] == expected["differ"]
        assert f"judge {aspect}: A {got['A']}, B {got['B']}, ties {got['tie']}" in result.notes
    # a verdict agrees with the ratings of the responses it compares
    texts = {r["response"]: r for r in rows}
    pairs = {p.id: p for p in result.pairs}
    for j in result.judgments:
        pair = pairs[j.pair_id]
        a, b = texts[pair.response_a][j.judge], texts[pair.response_b][j.judge]
        assert j.label == ("A" if a > b else "B" if a < b else "tie")
    out = tmp_path / "study"
    run = cli("dissect", str(src), "--format", "ratings", "--folds", "0", "--min-pairs", "10",
              "--out", str(out))
    assert run.code == 0, run.err
    assert set(pd.read_csv(out / "profiles.csv")["judge"]) == set(ASPECTS)
    compared = cli("compare", "--study", str(out), "--out", str(tmp_path / "cmp"))
    assert compared.code == 0, compared.err
    for aspect in ASPECTS:
        assert aspect in compared.text


def test_ultrafeedback_completions_and_pairs_per_prompt(tmp_path):
    """UltraFeedback's card ("Dataset Format"): completions with per-aspect Rating texts."""
    aspects = ("instruction_following", "honesty", "truthfulness", "helpfulness")

    def completion(model, k):
        return {"model": model, "principle": "helpfulness", "custom_system_prompt": "Be kind.",
                "response": f"{model} says {k}",
                "annotations": {a: {"Rating": "N/A" if (a == "honesty" and k == 3) else str(k),
                                    "Rationale": "because"} for a in aspects}}

    rows = [{"source": "sharegpt", "instruction": f"Plan trip {i}", "models": list("wxyz"),
             "correct_answers": ["None"], "incorrect_answers": ["None"],
             "completions": [completion(m, k) for k, m in enumerate("wxyz")]} for i in range(2)]
    src = write_jsonl(tmp_path / "uf.jsonl", rows)
    every = run_import(src, "ratings")
    assert len(every.pairs) == 2 * 6
    assert {j.judge for j in every.judgments} == set(aspects)
    honesty = [e for e in every.exclusions if e.judge == "honesty"]
    assert len(honesty) == 2 * 3  # the unrated fourth completion is in three pairs a prompt
    assert every.pairs[0].metadata == {"source": "sharegpt"}
    assert {every.pairs[0].model_a, every.pairs[0].model_b} <= set("wxyz")
    some = run_import(src, "ratings", pairs_per_prompt=2, seed=1)
    assert len(some.pairs) == 4
    assert {p.id for p in some.pairs} <= {p.id for p in every.pairs}
    assert [p.id for p in run_import(src, "ratings", pairs_per_prompt=2, seed=1).pairs] == \
        [p.id for p in some.pairs]


# -- your own column names, folders of shards, `datasets` folders ---------------------------

MAPPED = [{"instruction": f"q{i}", "output_1": f"a{i}", "output_2": f"b{i} longer",
           "winner": "A" if i % 2 else "B", "lang": "en"} for i in range(4)]
MAPPING = "query=instruction,response_a=output_1,response_b=output_2,label=winner"


@pytest.mark.parametrize("suffix", ["jsonl", "csv", "parquet"])
def test_columns_map_any_file(tmp_path, suffix):
    path = tmp_path / f"mine.{suffix}"
    frame = pd.DataFrame(MAPPED)
    if suffix == "jsonl":
        write_jsonl(path, MAPPED)
    elif suffix == "csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path)
    result = run_import(path, "pairs", columns=MAPPING)
    assert [(p.query, p.response_a, p.response_b) for p in result.pairs] == [
        (f"q{i}", f"a{i}", f"b{i} longer") for i in range(4)]
    assert [j.label for j in result.judgments] == ["B", "A", "B", "A"]
    assert result.pairs[0].metadata == {"lang": "en"}  # mapped columns are not metadata


@pytest.mark.parametrize("suffix", ["jsonl", "parquet"])
def test_a_mistyped_column_names_the_file_the_column_and_the_columns(tmp_path, suffix):
    path = tmp_path / f"mine.{suffix}"
    write_jsonl(path, MAPPED) if suffix == "jsonl" else pd.DataFrame(MAPPED).to_parquet(path)
    with pytest.raises(InputError) as caught:
        run_import(path, "pairs", columns=MAPPING.replace("=instruction", "=instrucion"))
    text = str(caught.value)
    assert f"mine.{suffix}" in text and "field 'instrucion' is missing" in text
    assert "columns here: instruction, output_1, output_2, winner, lang" in text
    assert "did you mean 'instruction'?" in text
    with pytest.raises(UsageError, match="'qurey' is not a column --format pairs reads; "
                                         "did you mean 'query'?"):
        run_import(path, "pairs", columns="qurey=instruction")
    with pytest.raises(UsageError, match="--pairs-per-prompt does not apply to --format "
                                         "pairs; it applies to: ratings"):
        run_import(path, "pairs", pairs_per_prompt=2)


def test_a_folder_of_parquet_shards(tmp_path):
    rows = rewardbench_rows(30)
    for k in range(3):
        shard = tmp_path / "data" / f"train-{k:05d}-of-00003.parquet"
        shard.parent.mkdir(exist_ok=True)
        part = [{key: v for key, v in r.items() if key != "id"} for r in rows[10 * k:10 * k + 10]]
        pd.DataFrame(part).to_parquet(shard)
    (tmp_path / "README.md").write_text("not data")
    result = run_import(tmp_path, "preference")
    assert len(result.pairs) == 30 and result.rows_read == 30
    assert result.pairs[0].id == "data/train-00000-of-00003:1"
    assert Counter(p.metadata["file"] for p in result.pairs) == Counter(
        {f"data/train-{k:05d}-of-00003": 10 for k in range(3)})


def test_a_datasets_save_to_disk_folder_is_read_without_the_hub(tmp_path, monkeypatch):
    datasets = pytest.importorskip("datasets")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    convo = [{"prompt": [user(f"q{i}")], "chosen": [bot(f"yes {i}")],
              "rejected": [bot(f"no {i}")]} for i in range(5)]
    folder = tmp_path / "saved"
    datasets.DatasetDict({"train": datasets.Dataset.from_list(convo[:3]),
                          "test": datasets.Dataset.from_list(convo[3:])}).save_to_disk(folder)
    result = run_import(folder, "preference")
    assert len(result.pairs) == 5
    assert Counter(p.metadata["split"] for p in result.pairs) == Counter(train=3, test=2)
    assert sorted(chosen_text(p, j) for p, j in zip(result.pairs, result.judgments)) == [
        f"yes {i}" for i in range(5)]


def test_hh_style_gzip_lines_stream(tmp_path):
    """JSON Lines are read a line at a time, gzip included (HH-RLHF's own files)."""
    rows = [{"chosen": f"\n\nHuman: hi {i}\n\nAssistant: hello {i}",
             "rejected": f"\n\nHuman: hi {i}\n\nAssistant: go away"} for i in range(3)]
    path = tmp_path / "sub" / "test.jsonl.gz"
    path.parent.mkdir()
    path.write_bytes(gzip.compress(("\n".join(json.dumps(r) for r in rows)).encode()))
    result = run_import(path, "preference")
    assert [p.query for p in result.pairs] == ["hi 0", "hi 1", "hi 2"]


def test_an_aspect_unrated_in_the_first_row_is_still_a_judge(tmp_path):
    rows = [{"prompt": "q1", "response": "r1", "helpfulness": None, "correctness": 3},
            {"prompt": "q1", "response": "r2", "helpfulness": 4, "correctness": 1},
            {"prompt": "q1", "response": "r3", "helpfulness": 1, "correctness": 1},
            {"prompt": "q2", "response": "alone", "helpfulness": 2, "correctness": 2}]
    result = run_import(write_jsonl(tmp_path / "r.jsonl", rows), "ratings")
    judges = Counter(j.judge for j in result.judgments)
    assert judges == {"correctness": 3, "helpfulness": 1}  # r1 has no helpfulness rating
    assert sorted(e.judge for e in result.exclusions) == ["helpfulness", "helpfulness"]
    assert "1 prompts with a single response form no pair" in result.notes
