"""Streaming at scale: spools, each distinct text measured once on a pool, and a study run
in tiny batches on every core that equals the in-memory run exactly."""

from __future__ import annotations

import json
import random

import numpy as np
import pandas as pd

from prefdissect import batches, measurements, pipeline
from prefdissect.annotators.heuristic import MEASURED, measure
from prefdissect.batches import PAIR_SCHEMA, Spool
from prefdissect.exclusions import EMPTY, IDENTICAL
from prefdissect.measurements import TextMeasures
from prefdissect.pairs import TEXT_COLUMNS, Pair, frame_to_pairs, pairs_to_frame
from prefdissect.profiles import FitConfig
from prefdissect.study import Study


def test_a_spool_moves_to_disk_and_reads_back_in_order():
    spool = Spool(pairs_to_frame, frame_to_pairs, PAIR_SCHEMA, limit=4)
    made = [Pair(f"p{i}", f"q{i}", "a", "b", metadata={"k": i} if i % 2 else {},
                 history=[{"role": "user", "content": "hi"}] if i == 3 else [])
            for i in range(10)]
    spool.extend(made[:6])
    assert spool.spilled and len(spool) == 6
    assert list(spool) == made[:6]  # reading seals the part written so far ...
    spool.extend(made[6:])  # ... and later records go on in a new part
    assert list(spool) == made and spool[7] == made[7] and spool[-1] == made[-1]
    assert [len(f) for f in spool.frames(["id"], batch_rows=3)][:2] == [3, 1]
    assert spool.frame(["id"])["id"].tolist() == [f"p{i}" for i in range(10)]
    spool.close()
    assert len(spool) == 0


def test_each_distinct_text_is_measured_once_on_a_pool_of_two():
    texts = [f"Line {i % 37}.\n- item\n- item {i % 5}" for i in range(300)]
    parts = [("first", texts[:120]), ("second", texts[120:])]
    pooled = TextMeasures(measure, len(MEASURED), workers=2, parallel_from=10)
    got = dict(pooled.measure_batches(parts))
    assert pooled.measured == len(set(texts)) == 185  # each distinct text once
    alone = TextMeasures(measure, len(MEASURED), workers=1)
    expected = dict(alone.measure_batches(parts))
    for name, values in got.items():
        np.testing.assert_array_equal(values, expected[name])
        np.testing.assert_array_equal(values, [measure(t) for t in dict(parts)[name]])


def write_pairs(path, n=150, seed=2):
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        a = "Sure! " * rng.randint(0, 2) + "word " * rng.randint(1, 60) + (
            "\n1. one\n2. two" if rng.random() < 0.4 else "")
        b = "Hmm? " * rng.randint(0, 2) + "text " * rng.randint(1, 60)
        rows.append({"id": f"x{i}", "query": f"Write a poem about item {i % 9}",
                     "response_a": a, "response_b": a if i == 5 else ("" if i == 6 else b),
                     "label": rng.choice("AB"), "subset": f"s{i % 3}"})
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def run(src, folder):
    study = Study(folder)
    pipeline.import_pairs(src, "pairs", study)
    pipeline.annotate(study, "heuristic")
    result = pipeline.fit(study, config=FitConfig(folds=0, group_by=["subset"]))
    return study, result


def test_tiny_batches_and_a_pool_give_the_in_memory_study(tmp_path, monkeypatch):
    src = write_pairs(tmp_path / "pairs.jsonl")
    plain, fitted = run(src, tmp_path / "plain")
    assert plain.annotations()["pair_id"].nunique() == 150
    monkeypatch.setattr(batches, "BATCH_ROWS", 13)  # import spools to disk
    monkeypatch.setattr(pipeline, "ANNOTATE_ROWS", 17)  # annotation in 9 batches ...
    monkeypatch.setattr(measurements, "PARALLEL_FROM", 40)  # ... on a pool of workers
    streamed, again = run(src, tmp_path / "streamed")
    pd.testing.assert_frame_equal(plain.pairs(), streamed.pairs())
    pd.testing.assert_frame_equal(plain.judgments(), streamed.judgments())
    pd.testing.assert_frame_equal(plain.annotations().astype(object),
                                  streamed.annotations().astype(object))
    pd.testing.assert_frame_equal(plain.query_info(), streamed.query_info())
    pd.testing.assert_frame_equal(fitted.profiles, again.profiles)
    assert set(fitted.profiles["group"]) >= {"all", "subset=s0", "subset=s2"}
    assert streamed.annotation_counts("heuristic") == (150 * len(MEASURED), 0)


def test_the_fit_reads_pairs_without_texts(tmp_path):
    src = write_pairs(tmp_path / "pairs.jsonl", n=30)
    study = Study(tmp_path / "s")
    pipeline.import_pairs(src, "pairs", study)
    light = study.pairs(texts=False)
    assert not set(TEXT_COLUMNS) & set(light.columns)
    problems = light.set_index("id")["text_problem"]
    assert (problems["x5"], problems["x6"]) == (IDENTICAL, EMPTY)
    assert problems.drop(["x5", "x6"]).isna().all()
    pd.testing.assert_frame_equal(light.drop(columns="text_problem"),
                                  study.pairs().drop(columns=list(TEXT_COLUMNS)))

