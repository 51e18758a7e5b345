"""Promises of the README, each checked against the value it claims (issue 13)."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pandas as pd
import pytest
from fake_llm import FakeLLM, chat_reply, schema_reply

from prefdissect.llm.client import LLMClient

KEY = "sk-live-Xv93Lq0aZ7mN2bR8cT5yW1eU4oP6sD"


def write_pairs(path, n=4):
    rows = [{"id": f"p{i}", "query": f"Tell me about topic {i}.",
             "response_a": f"Answer A{i}: a careful and kind reply.",
             "response_b": f"Reply B{i}: short.", "label:human": "A" if i % 2 else "B"}
            for i in range(n)]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def imported(cli, tmp_path, n=4):
    study = tmp_path / "study"
    assert cli("import", str(write_pairs(tmp_path / "pairs.jsonl", n)), "--out",
               str(study)).code == 0
    return study


# -- markup in data prints literally ----------------------------------------------------------

PAYLOADS = ("[/]", "[red]red[/red]", "[bold", "[link=http://x]y[/link]")


def test_markup_in_data_prints_literally(cli, tmp_path):
    rows = []
    for i in range(40):
        long = i % 2 == 0
        rows.append({"id": f"m{i}", "query": f"Question {i} {PAYLOADS[i % 4]}",
                     "response_a": f"{PAYLOADS[0]} " + "word " * (40 if long else 3),
                     "response_b": f"{PAYLOADS[1]} " + "word " * (3 if long else 40),
                     "grp": "[/]" if i % 2 else "[bold",
                     "label:[red]judge[/red]": "A" if long else "B",
                     "label:[/]j2": "B" if long else "A"})
    src = tmp_path / "pairs.jsonl"
    src.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    study = tmp_path / "study"
    dissected = cli("dissect", str(src), "--out", str(study), "--group-by", "grp",
                    "--min-pairs", "5", "--folds", "0")
    assert dissected.code == 0, dissected.err
    explained = cli("explain", str(study), "m0")
    assert explained.code == 0, explained.err
    compared = cli("compare", "--study", str(study), "--group", "grp=[/]", "--group",
                   "grp=[bold")
    assert compared.code == 0, compared.err
    with FakeLLM() as server:
        judged = cli("judge", str(study), "--model", "[red]m[/red]", "--name", "[/]named",
                     "--base-url", server.url)
    assert judged.code == 0, judged.err
    for result, shown in ((dissected, ["[red]judge[/red]", "[/]j2"]),
                          (explained, ["Question 0 [/]", "[/] word", "[red]red[/red] word",
                                       "[red]judge[/red]"]),
                          (compared, ["[red]judge[/red]", "[/]j2"]),
                          (judged, ["[/]named: judged 40 of 40 pairs"])):
        assert "Traceback" not in result.err + result.out
        for text in shown:
            assert text in result.text, (text, result.text[:600])


# -- keys, from every source, echoed back by the server ----------------------------------------

@pytest.mark.parametrize("source", ["--api-key", "PREFDISSECT_API_KEY", "OPENAI_API_KEY"])
def test_a_key_from_any_source_is_never_written(cli, tmp_path, monkeypatch, source):
    for name in ("PREFDISSECT_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    study = imported(cli, tmp_path)
    option = ["--api-key", KEY] if source == "--api-key" else []
    if source != "--api-key":
        monkeypatch.setenv(source, KEY)
    texts = []
    with FakeLLM(schema_reply) as server:
        # the key comes back in a 500 body, inside a good answer, and in a 401 body
        server.faults.extend(["echo-500", "echo-200", "echo-200"])
        judged = cli("judge", str(study), "--model", "m", "--base-url", server.url, *option,
                     "--max-attempts", "2")
        server.faults.extend(["echo-401"] * 4)  # one per pair; a 401 is not retried
        annotated = cli("annotate", str(study), "--annotator", "llm", "--model", "m",
                        "--steps", "free", "--base-url", server.url, *option)
        sent = {h.get("Authorization") or h.get("authorization") for h in server.headers}
        echoed = sum("echo" in kind for _, _, kind in server.events)
    assert sent == {f"Bearer {KEY}"} and echoed == 7  # it was used and sent back ...
    assert judged.code == 0 and annotated.code == 3
    texts += [judged.out, judged.err, annotated.out, annotated.err]
    assert "rejected credentials: Bearer ***" in " ".join(annotated.err.split())
    for path in study.iterdir():  # ... and is in no file and no message
        assert KEY.encode() not in path.read_bytes(), path.name
    assert all(KEY not in text for text in texts)


# -- the annotator ------------------------------------------------------------------------------

def test_swap_check_flip_rates_match_a_hand_count(cli, tmp_path):
    """harmless flips for one pair of four (25%), polite for two (50%), others never."""
    study = imported(cli, tmp_path)
    from prefdissect.prompts import load

    free = list(load("annotate")[0]["free_properties"])

    def rate(path, body):
        text = body["messages"][-1]["content"]
        i = int(re.search(r"A(\d):", text).group(1))
        a_first = text.index(f"Answer A{i}") < text.index(f"Reply B{i}")
        content_based = [3, 1] if a_first else [1, 3]  # A's text is better
        biased = [3, 1]  # whatever is shown first wins
        values = {p: [2, 2] for p in free}
        values["harmless"] = biased if i == 0 else content_based
        values["polite"] = biased if i in (0, 1) else content_based
        return chat_reply(json.dumps(values))

    with FakeLLM(rate) as server:
        result = cli("annotate", str(study), "--annotator", "llm", "--model", "m",
                     "--base-url", server.url, "--steps", "free", "--swap-check")
    assert result.code == 0, result.err
    flips = pd.read_csv(study / "annotation_consistency.csv").set_index("property")
    # pairs 1 and 3 show A's better text first either way; pair 0 and 2 ... by hand:
    # pair 0: harmless original +1 (A first, 3 vs 1), swapped shows B first and B gets 3
    #         -> B better -> flip; polite the same -> flip
    # pair 1: polite biased: original +1, swapped: B first gets 3 -> B better -> flip
    # pairs 2, 3: content-based -> A better in both orders -> no flip
    assert flips.loc["harmless", "flip_rate"] == 0.25
    assert flips.loc["polite", "flip_rate"] == 0.5
    assert flips.drop(index=["harmless", "polite"])["flip_rate"].eq(0).all()
    assert (flips["pairs"] == 4).all()
    assert "polite 50%, harmless 25%" in result.text


def test_a_cut_off_answer_gets_no_repair_request(tmp_path):
    from prefdissect.annotators.llm import LLMAnnotator
    from prefdissect.pairs import Pair, pairs_to_frame
    from prefdissect.properties import load_schema

    def cut(path, body):
        return chat_reply('{"harmless": [3, ', finish_reason="length")

    pairs = pairs_to_frame([Pair(f"p{i}", "q?", f"a{i}", "b") for i in range(3)])
    with FakeLLM(cut) as server:
        annotator = LLMAnnotator(LLMClient(server.url, tmp_path / "log.sqlite"), "m",
                                 steps=("free",), max_tokens={"free": 9})
        frame = annotator.annotate(pairs, load_schema())
        assert len(server.requests) == 3  # one per pair; no repair
        assert all("could not be used" not in json.dumps(r) for r in server.requests)
    frame = frame[frame["property"] != "lengthy"]  # counted, not asked
    assert (frame["status"] == "failed").all()
    assert frame["reason"].str.startswith("answer cut off at max_tokens=9").all()
    assert frame["reason"].str.contains("--max-tokens free=N").all()


# -- the judge ------------------------------------------------------------------------------------

def test_verdict_mode_reads_the_written_answer(cli, tmp_path):
    study = imported(cli, tmp_path)

    def verdict(path, body):
        text = body["messages"][-1]["content"]
        i = int(re.search(r"A(\d):", text).group(1))
        a_first = text.index(f"Answer A{i}") < text.index(f"Reply B{i}")
        return chat_reply("[[A]]" if a_first else "The better one is [[B]].")

    with FakeLLM(verdict) as server:
        result = cli("judge", str(study), "--model", "m", "--base-url", server.url, "--mode",
                     "verdict", "--name", "v")
        assert result.code == 0, result.err
        assert all("logprobs" not in r and r["max_tokens"] == 8 for r in server.requests)
    mine = pd.read_parquet(study / "judgments.parquet").query("judge == 'v'")
    assert (mine["label"] == "A").all() and (mine["p_a"] == 1.0).all()
    details = [json.loads(d) for d in mine["details"]]
    assert {d["first_detail"] for d in details} == {"verdict"}
    assert {d["mode"] for d in details} == {"verdict"}


def test_a_custom_judge_prompt_is_what_gets_sent(cli, tmp_path):
    study = imported(cli, tmp_path)
    prompt = tmp_path / "strict.yaml"
    prompt.write_text("system: You grade strictly. MARK-7\n"
                      "user: 'Q: {query} | first: {response_a} | second: {response_b} | "
                      "{{braces}} stay'\n", encoding="utf-8")
    with FakeLLM() as server:
        result = cli("judge", str(study), "--model", "m", "--base-url", server.url,
                     "--prompt", str(prompt), "--name", "strict")
        assert result.code == 0, result.err
        sent = server.requests[0]["messages"]
    assert sent[0]["content"] == "You grade strictly. MARK-7"
    assert re.fullmatch(r"Q: Tell me about topic \d\. \| first: .+ \| second: .+ \| "
                        r"\{braces\} stay", sent[1]["content"])
    versions = {json.loads(d)["prompt_version"] for d in
                pd.read_parquet(study / "judgments.parquet").query("judge == 'strict'")
                ["details"]}
    assert len(versions) == 1 and versions.pop().startswith("strict-")


def test_prices_give_the_cost_of_a_run_and_of_a_dry_run(cli, tmp_path):
    study = imported(cli, tmp_path)
    prices = tmp_path / "prices.yaml"
    prices.write_text("m: {prompt: 2.5, completion: 10}\n", encoding="utf-8")
    from prefdissect.judges.llm import LLMJudge

    requests = LLMJudge(None, "m").requests(pd.read_parquet(study / "pairs.parquet"))
    estimate = sum(2.5 * r.estimated_tokens()[0] + 10 * r.estimated_tokens()[1]
                   for r in {r.key: r for r in requests}.values()) / 1e6
    with FakeLLM() as server:  # each answer: 10 prompt tokens, 1 completion token
        dry = cli("judge", str(study), "--model", "m", "--base-url", server.url, "--prices",
                  str(prices), "--dry-run")
        live = cli("judge", str(study), "--model", "m", "--base-url", server.url, "--prices",
                   str(prices))
        again = cli("judge", str(study), "--model", "m", "--base-url", server.url, "--prices",
                    str(prices))
    assert f"cost ${estimate:.4f}" in dry.text
    assert live.code == 0 and f"cost ${8 * (10 * 2.5 + 1 * 10) / 1e6:.4f}" in live.text
    assert "paid for in this run: 80 prompt + 8 completion tokens" in live.text
    # answers from the log were paid for by the first run, not by this one
    assert again.code == 0 and "8 from the log" in again.text
    assert "paid for in this run: 0 prompt + 0 completion tokens" in again.text
    assert "cost $" not in again.text
    costs = pd.read_sql("SELECT cost FROM exchanges", __import__("sqlite3").connect(
        study / "llm_log.sqlite"))["cost"]
    assert costs.tolist() == pytest.approx([(10 * 2.5 + 10) / 1e6] * 8)
    bad = tmp_path / "bad.yaml"
    bad.write_text("m: {prompt: cheap, completion: 1}\n", encoding="utf-8")
    refused = cli("judge", str(study), "--model", "m", "--base-url", "http://127.0.0.1:9/v1",
                  "--prices", str(bad))
    assert refused.code == 2 and "not a number of dollars" in refused.err


# -- the fit ------------------------------------------------------------------------------

def fitted_study(cli, tmp_path, n=120):
    rng = np.random.default_rng(0)
    rows = []
    for i in range(n):
        long_a = rng.random() < 0.5
        words = (60, 8) if long_a else (8, 60)
        rows.append({"id": f"s{i}", "query": "q",
                     "response_a": " ".join(f"w{k}" for k in range(words[0])),
                     "response_b": " ".join(f"w{k}" for k in range(words[1])),
                     "label:j": "A" if rng.random() < (0.8 if long_a else 0.2) else "B"})
    src = tmp_path / "fit.jsonl"
    src.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    study = tmp_path / "fitted"
    assert cli("import", str(src), "--out", str(study)).code == 0
    return study, rows


def test_max_missing_decides_between_the_property_and_its_pairs(cli, tmp_path):
    study, rows = fitted_study(cli, tmp_path)
    values = pd.DataFrame({"pair_id": [r["id"] for r in rows], "property": "clear",
                           "value_a": [i % 4 for i in range(len(rows))], "value_b": 1.0})
    values.loc[values.index % 3 == 0, ["value_a", "value_b"]] = None  # a third failed
    values.to_csv(tmp_path / "clear.csv", index=False)
    assert cli("annotate", str(study), "--from", str(tmp_path / "clear.csv")).code == 0
    assert cli("annotate", str(study)).code == 0
    default = cli("fit", str(study), "--folds", "0")
    assert default.code == 0, default.err
    profiles = pd.read_csv(study / "profiles.csv")
    assert "clear" not in set(profiles["property"])  # 33% > 20%: the property goes
    assert set(profiles["n_pairs"]) == {120}
    assert "clear (33%)" in default.text
    lenient = cli("fit", str(study), "--folds", "0", "--max-missing", "0.5")
    assert lenient.code == 0, lenient.err
    profiles = pd.read_csv(study / "profiles.csv")
    assert "clear" in set(profiles["property"])  # kept: its pairs go instead
    assert set(profiles["n_pairs"]) == {80}


@pytest.mark.slow
def test_the_nuts_engine_through_the_command(cli, tmp_path):
    pytest.importorskip("numpyro", reason="the nuts engine needs numpyro (reference extra)")
    study, _ = fitted_study(cli, tmp_path, n=60)
    assert cli("annotate", str(study)).code == 0
    assert cli("fit", str(study), "--folds", "0", "--min-pairs", "5").code == 0
    ep = pd.read_csv(study / "profiles.csv").query("group == 'all'").set_index("property")
    result = cli("fit", str(study), "--folds", "0", "--min-pairs", "5", "--engine", "nuts")
    assert result.code == 0, result.err
    nuts = pd.read_csv(study / "profiles.csv").query("group == 'all'").set_index("property")
    diagnostics = pd.read_csv(study / "fit_diagnostics.csv")
    assert set(diagnostics["engine"]) == {"nuts"}
    # the sampler and EP describe the same posterior: means within a fraction of an sd
    gap = (nuts["mean"] - ep.loc[nuts.index, "mean"]).abs() / nuts["sd"]
    assert gap.max() < 0.3 and nuts.loc["lengthy", "mean"] > 0.3


# -- files --------------------------------------------------------------------------------------

def test_a_crash_while_writing_leaves_the_old_file_whole(tmp_path, monkeypatch):
    from prefdissect.study import Study

    study = Study(tmp_path / "s")
    before = pd.DataFrame({"x": [1, 2, 3]})
    study.write_frame("table.parquet", before)
    study.write_json("info.json", {"a": 1})

    def half_then_crash(self, path, *args, **kwargs):
        with open(path, "wb") as handle:
            handle.write(b"PAR1 half a file")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", half_then_crash)
    with pytest.raises(OSError, match="No space left"):
        study.write_frame("table.parquet", pd.DataFrame({"x": [9]}))
    monkeypatch.undo()
    pd.testing.assert_frame_equal(pd.read_parquet(study.path("table.parquet")), before)
    assert sorted(p.name for p in study.root.iterdir()) == ["info.json", "table.parquet"]
    monkeypatch.setattr("pathlib.Path.write_text", lambda *a, **k: (_ for _ in ()).throw(
        KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        study.write_json("info.json", {"a": 2})
    monkeypatch.undo()
    assert json.loads(study.path("info.json").read_text()) == {"a": 1}
    assert sorted(p.name for p in study.root.iterdir()) == ["info.json", "table.parquet"]


def test_the_p_of_preferred_is_the_sigmoid_of_the_weight():
    from prefdissect.profiles import probability_preferred

    for w in (-2.0, -0.1, 0.0, 0.3, 1.75):
        assert probability_preferred(w) == pytest.approx(1 / (1 + math.exp(-w)))


# -- compare: the nearest judges, by their values --------------------------------------------------

def test_nearest_judges_are_the_most_correlated_ones(cli, tmp_path):
    from prefdissect.profiles import PROFILE_COLUMNS
    from prefdissect.properties import load_schema

    names = load_schema().names
    rng = np.random.default_rng(5)
    groups = ("Advice", "Code")
    mine = {g: rng.normal(0, 1, len(names)) for g in groups}
    noise = {"twin": 0.2, "cousin": 1.0, "stranger": 5.0}
    reference = {j: {g: mine[g] + rng.normal(0, s, len(names)) for g in groups}
                 for j, s in noise.items()}
    folder = tmp_path / "paper"
    folder.mkdir()
    for g in groups:
        (folder / f"model_{g}_fitted_paras.jsonl").write_text("\n".join(
            json.dumps({"model_name": j, "parameters": list(reference[j][g])})
            for j in noise) + "\n", encoding="utf-8")
    study = tmp_path / "mine"
    study.mkdir()
    pd.DataFrame([("me", g, p, mine[g][k], 0.05, mine[g][k] - 0.1, mine[g][k] + 0.1, 100)
                  for g in groups for k, p in enumerate(names)],
                 columns=list(PROFILE_COLUMNS)).to_csv(study / "profiles.csv", index=False)
    result = cli("compare", "--reference", str(folder), "--study", str(study), "--nearest", "2")
    assert result.code == 0, result.err
    expected = {j: np.mean([np.corrcoef(mine[g], reference[j][g])[0, 1] for g in groups])
                for j in noise}
    lines = result.out[result.out.index("nearest of the paper's judges to me"):].splitlines()
    shown = [(m.group(1), float(m.group(2))) for m in
             (re.match(r"\s*(\w+)\s+(-?\d\.\d{3})\s+\[", line) for line in lines) if m]
    assert [j for j, _ in shown] == ["twin", "cousin"]  # the two closest, in order
    for judge, value in shown:
        assert value == pytest.approx(expected[judge], abs=5e-4)
