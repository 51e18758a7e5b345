"""Probing server judges through the cached client: dry run, batch file, cache, LLM rewrites.

Against the fault-injecting fake server (tests/fake_llm.py) on 127.0.0.1; the real
llama.cpp server is in test_probe_local.py.
"""

from __future__ import annotations

import hashlib
import json
import math
import re

import numpy as np
import pandas as pd
import pytest
from fake_llm import FakeLLM, chat_reply

from prefdissect.llm.batch import read_batch

WORDS = ("the plan keeps costs low while the team works through each part of the system "
         "with care and checks every result before the next step begins").split()


def text_of(body: dict) -> str:
    return body["messages"][-1]["content"]


EMPTY_ONCE: set[str] = set()
"""Texts whose rewrite came back empty once (the next ask gets a polite rewrite)."""


def respond(path: str, body: dict) -> dict:
    """A judge that likes the first response shown; a rewriter of mixed reliability."""
    if body["messages"][0]["content"].startswith("You edit texts"):
        original = re.search(r"<text>\n(.*)\n</text>", text_of(body), re.S).group(1)
        kind = hashlib.sha256(original.encode()).digest()[0] % 4
        if kind == 0:
            return chat_reply("Thank you for asking. " + original)
        if kind == 1:
            if original in EMPTY_ONCE:
                return chat_reply("Thank you for asking. " + original)
            EMPTY_ONCE.add(original)
            return chat_reply("  ")
        if kind == 2:
            return chat_reply(original[:20], finish_reason="length")
        return chat_reply(original + " Cool, right?")
    return chat_reply("A", logprobs=[("A", math.log(0.7)), ("B", math.log(0.3))])


@pytest.fixture
def study(tmp_path, cli):
    rng = np.random.default_rng(7)

    def response():
        return " ".join(" ".join(rng.choice(WORDS, size=8, replace=False)).capitalize() + "."
                        for _ in range(3))

    rows = [{"id": f"p{i}", "query": f"Question {i}?", "response_a": response(),
             "response_b": response(), "label": "A"} for i in range(12)]
    src = tmp_path / "pairs.jsonl"
    src.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    assert cli("import", str(src), "--out", str(tmp_path / "study")).code == 0
    return tmp_path / "study"


def probe_args(study, out, url, *extra, attempts=1):
    return ["probe", str(study), "--model", "fake", "--base-url", url, "--n", "8",
            "--out", str(out), "--concurrency", "1", "--max-attempts", str(attempts), *extra]


def test_dry_run_batch_file_live_run_and_rerun_agree(study, tmp_path, cli):
    out = tmp_path / "probes"
    edits = ["--edit", "bullets", "--edit", "swap"]
    with FakeLLM(respond) as server:
        dry = cli(*probe_args(study, out, server.url, *edits, "--dry-run"))
        assert dry.code == 0, dry.err
        planned = int(re.search(r"(\d+) requests to send", dry.text).group(1))
        assert "probe pairs (every one asked in both orders)" in dry.text
        assert not server.requests
        assert not out.exists()  # a dry run writes nothing, not even the folder
        batch = tmp_path / "batch.jsonl"
        assert cli(*probe_args(study, out, server.url, *edits, "--batch-export",
                               str(batch))).code == 0
        assert len(read_batch(batch)) == planned and not server.requests
        live = cli(*probe_args(study, out, server.url, *edits))
        assert live.code == 0, live.err
        assert len(server.requests) == planned
        assert f"LLM requests in this run: {planned} ({planned} answered" in live.text
        again = cli(*probe_args(study, out, server.url, *edits))
        assert again.code == 0 and len(server.requests) == planned  # all from the log
    pairs = pd.read_parquet(out / "probe_pairs.parquet")
    assert pairs["p_first_order"].notna().all() and pairs["p_swapped_order"].notna().all()
    rows = pd.read_csv(out / "probes.csv").query("group == 'all'").set_index("edit")
    assert rows.loc["swap", "win_rate"] == pytest.approx(70.0)  # P(first) read from logprobs
    assert rows.loc["bullets", "win_rate"] == pytest.approx(50.0)


def test_rewrites_are_cached_checked_and_their_failures_retried(study, tmp_path, cli):
    out = tmp_path / "probes"
    args = ["--edit", "rewrite:polite:up", "--rewriter", "fake"]
    EMPTY_ONCE.clear()
    with FakeLLM(respond) as server:
        dry = cli(*probe_args(study, out, server.url, *args, "--dry-run"))
        assert dry.code == 0, dry.err
        rewrites = int(re.search(r"(\d+) requests to send", dry.text).group(1))
        assert rewrites == 8 and "more requests depend on these answers" in dry.text
        server.faults.extend(["500", "500"])  # the first rewrite request fails twice
        first = cli(*probe_args(study, out, server.url, *args, attempts=2))
        assert first.code == 3, first.err
        edits = pd.read_csv(out / "probe_edits.csv")
        reasons = edits.set_index("source")["reason"].fillna("")
        empty = int(reasons.str.startswith("the rewrite is empty").sum())
        assert empty >= 1 and len(EMPTY_ONCE) == empty  # an empty rewrite is a failure ...
        assert f"{1 + empty} rewrites failed" in first.err
        assert edits["status"].value_counts()["rewrite failed"] == 1 + empty
        kept = edits[edits["status"] == "kept"]
        assert len(kept) >= 1 and (edits["status"] == "failed check").sum() >= 1
        assert reasons.str.contains("cut off|also moved|did not move").sum() + \
            len(kept) + 1 + empty == 8
        sent = len(server.requests)
        second = cli(*probe_args(study, out, server.url, *args, attempts=2))
        assert second.code == 0, second.err
        resent = [b for b in server.requests[sent:]
                  if b["messages"][0]["content"].startswith("You edit texts")]
        # ... asked again with the failed request; the others come from the log
        assert len(resent) == 1 + empty
        again = pd.read_csv(out / "probe_edits.csv")
        assert not again["reason"].fillna("").str.contains("empty").any()
    pairs = pd.read_parquet(out / "probe_pairs.parquet")
    own = pairs[pairs["kind"] == "self"]
    assert own["response_b"].str.startswith("Thank you for asking.").all()


def test_rewrite_edits_need_a_rewriter_and_a_measurable_target(study, tmp_path, cli):
    base = ["probe", str(study), "--python", "x.py:f", "--out", str(tmp_path / "o")]
    result = cli(*base, "--edit", "rewrite:funny:up")
    assert result.code == 2
    (tmp_path / "x.py").write_text("def f(q, a, b):\n    return 0.5\n")
    base[3] = f"{tmp_path / 'x.py'}:f"
    funny = cli(*base, "--edit", "rewrite:funny:up", "--rewriter", "m", "--base-url",
                "http://127.0.0.1:9/v1")
    assert funny.code == 2 and "does not measure" in funny.err
    bare = cli(*base, "--edit", "rewrite:polite:up")
    assert bare.code == 2 and "need --rewriter" in bare.err
    wrong = cli(*base, "--edit", "rewrite:polite", "--rewriter", "m", "--base-url",
                "http://127.0.0.1:9/v1")
    assert wrong.code == 2 and "rewrite:PROPERTY:up" in wrong.err


def test_unusable_verdicts_while_probing_fail_and_are_asked_again(study, tmp_path, cli):
    """Probes go through the judge's own judge(pairs): a no-verdict answer is rejected,
    counted (exit 3, single-order verdicts noted) and asked again by the next run."""
    out = tmp_path / "probes"
    garbage: set[str] = set()

    def reply(path, body):
        text = text_of(body)
        if hashlib.sha256(text.encode()).digest()[0] % 4 == 0 and text not in garbage:
            garbage.add(text)
            return chat_reply("Sorry, I think both are fine!!")
        return chat_reply("A")

    args = ["--edit", "bullets", "--edit", "swap", "--mode", "verdict"]
    with FakeLLM(reply) as server:
        first = cli(*probe_args(study, out, server.url, *args, attempts=2))
        assert first.code == 3, first.err
        said = " ".join((first.out + first.err).split())
        unusable = len(garbage)
        assert unusable >= 2 and len(server.requests) > unusable
        assert f"{unusable} of " in said and "could not be used (e.g. no verdict" in said
        judged = pd.read_parquet(out / "probe_pairs.parquet")
        one_order = int((judged["p_first_order"].isna() != judged["p_swapped_order"].isna())
                        .sum())
        assert one_order >= 1  # a pair with one garbage order keeps the other's verdict ...
        assert f"note: {one_order} of the " in said and "one presentation order only" in said
        sent = len(server.requests)
        second = cli(*probe_args(study, out, server.url, *args, attempts=2))
        assert second.code == 0, second.err
        assert len(server.requests) - sent == unusable  # ... and only they are asked again
        assert "one presentation order only" not in second.out + second.err
    judged = pd.read_parquet(out / "probe_pairs.parquet")
    assert judged["p_first_order"].notna().all() and judged["p_swapped_order"].notna().all()
