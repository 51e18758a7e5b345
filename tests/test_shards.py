"""The heuristic annotator on a local Dask cluster: the same annotations, as shards fit reads."""

from __future__ import annotations

import json
import random
import shutil

import pandas as pd
import pytest

from prefdissect import pipeline
from prefdissect.profiles import FitConfig
from prefdissect.study import Study

KEY = ["pair_id", "property"]


def varied(rng, i):
    parts = [f"Answer {i}."] + ["Some plain words here."] * rng.randint(0, 12)
    if rng.random() < 0.4:
        parts.append("\n1. First step\n2. Second step\n3. Then finish")
    if rng.random() < 0.3:
        parts.append("Let me know if you have any questions? Thanks!")
    if rng.random() < 0.2:
        parts.append("I'm sorry, but I cannot help with that.")
    return " ".join(parts)


@pytest.fixture
def two_studies(tmp_path):
    rng = random.Random(11)
    rows = [{"id": f"p{i}", "query": f"How do I do task {i % 7}?",
             "response_a": varied(rng, 2 * i), "response_b": varied(rng, 2 * i + 1),
             "label": rng.choice("AB")} for i in range(240)]
    src = tmp_path / "pairs.jsonl"
    src.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    one = Study(tmp_path / "single")
    pipeline.import_pairs(src, "pairs", one)
    other = Study(tmp_path / "dask")
    shutil.copytree(one.root, other.root)
    return one, other


def test_a_two_worker_cluster_gives_the_single_process_annotations(two_studies):
    pytest.importorskip("distributed")
    from prefdissect.shards import annotate_on_dask

    one, other = two_studies
    pipeline.annotate(one, "heuristic")
    run = annotate_on_dask(other, workers=2, rows_per_task=70)
    assert (run.tasks, run.pairs) == (4, 240)
    assert len(other.shard_files()) == 4
    assert pd.read_parquet(other.path("annotations.parquet")).empty  # rows live in shards
    single = one.annotations().sort_values(KEY).reset_index(drop=True)
    shards = other.annotations().sort_values(KEY).reset_index(drop=True)
    assert run.rows == len(single) == 240 * 11
    pd.testing.assert_frame_equal(single.astype(object), shards.astype(object))
    assert one.query_info()["scenario"].tolist() == other.query_info()["scenario"].tolist()
    config = FitConfig(folds=0)
    first = pipeline.fit(one, config=config).profiles
    second = pipeline.fit(other, config=config).profiles
    pd.testing.assert_frame_equal(first, second)
    # annotating again on one machine replaces the shards
    pipeline.annotate(other, "heuristic")
    assert other.shard_files() == []
    again = other.annotations().sort_values(KEY).reset_index(drop=True)
    pd.testing.assert_frame_equal(single.astype(object), again.astype(object))


def test_other_annotators_rows_leave_the_shards_alone(two_studies, tmp_path):
    pytest.importorskip("distributed")
    from prefdissect.shards import annotate_on_dask

    _, study = two_studies
    annotate_on_dask(study, workers=1, rows_per_task=120)
    mine = pd.DataFrame({"pair_id": ["p0", "p1"], "property": ["clear", "clear"],
                         "value_a": [3, 1], "value_b": [2, 2], "annotator": "me"})
    study.save_annotations(mine)
    table = study.annotations()
    assert len(study.shard_files()) == 2
    assert not table.duplicated(KEY + ["annotator"]).any()
    assert (table["annotator"] == "heuristic").sum() == 240 * 11
    assert (table["annotator"] == "me").sum() == 2
