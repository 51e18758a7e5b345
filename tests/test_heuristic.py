"""Each heuristic rule on small hand-written examples."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from prefdissect.annotators.heuristic import MEASURED, HeuristicAnnotator, measure
from prefdissect.properties import load_schema


def level(text: str, prop: str) -> int:
    return measure(text)[MEASURED.index(prop)]


def test_lengthy_counts_words_as_the_paper_did():
    assert level("one two  three\nfour", "lengthy") == 4
    assert level("Got it. Thanks for the clarification.", "lengthy") == 8  # periods count
    assert level("   ", "lengthy") == 0


@pytest.mark.parametrize("text, expected", [
    ("Just a plain sentence with nothing else.", 0),
    ("Options:\n- tea\n- coffee", 1),                       # a list only
    ("## Plan\n- tea\n- coffee", 2),                        # heading + list
    ("## Plan\n- a\n- b\n\n```\ncode\n```\n**bold**", 3),   # capped at 3
    ("| a | b |\n|---|---|\n| 1 | 2 |", 1),                 # a table
    ("- only one bullet", 0),                               # one item is not a list
])
def test_well_formatted(text, expected):
    assert level(text, "well_formatted") == expected


@pytest.mark.parametrize("text, expected", [
    ("Boil water and pour it.", 0),
    ("First, boil water. Then pour it.", 1),
    ("1. Boil water\n2. Pour it\n3. Wait", 0),                 # a numbered list alone
    ("1. First, boil water.\n2. Then pour it.\n3. Finally, wait.", 2),
    ("Step 1: boil. Step 2: pour. Step 3: wait. Step 4: sip. Finally, relax. Next, wash.", 3),
])
def test_step_by_step(text, expected):
    assert level(text, "step_by_step") == expected


@pytest.mark.parametrize("text, expected", [
    ("The results are reported below.", 0),
    ("That is kinda neat.", 1),
    ("Yeah, gonna work \U0001F604", 2),            # three markers
    ("lol this is awesome!! :)", 3),
])
def test_informal(text, expected):
    assert level(text, "informal") == expected


@pytest.mark.parametrize("text, expected", [
    ("Here is the answer.", 0),
    ("Would you like more detail?", 2),         # a question + an invitation
    ("Which city? What budget? Let me know.", 3),
    ("Use `x?y` in code.", 0),                   # a '?' inside code does not count
])
def test_interactive(text, expected):
    assert level(text, "interactive") == expected


@pytest.mark.parametrize("text, expected", [
    ("Paris is the capital of France.", 0),
    ("As an AI, I cannot browse the web.", 2),
    ("I\u2019m sorry, but I can\u2019t help with that. I made a mistake earlier.", 3),
    ("I am not sure about the year.", 1),
])
def test_admits_limits(text, expected):
    assert level(text, "admits_limits") == expected


def test_non_repetitive_measures_repetition():
    fresh = "The cat sat on the mat while the dog slept by the warm fire all evening long."
    looped = " ".join(["The cat sat on the mat."] * 6)
    assert level(fresh, "non_repetitive") == 0
    assert level(looped, "non_repetitive") == 3


def test_complex_wording():
    plain = "We went to the shop and got some milk and bread for the kids."
    dense = ("Comprehensive experimentation illuminates counterintuitive interdependencies "
             "among heterogeneous organizational stakeholders.")
    assert level(plain, "complex_wording") == 0
    assert level(dense, "complex_wording") == 3


@pytest.mark.parametrize("text, expected", [
    ("Drink water.", 0),
    ("According to the WHO, drink water.", 1),
    ("See https://who.int and [1]; 60% of adults (2019) agree, according to surveys.", 3),
])
def test_supporting_material(text, expected):
    assert level(text, "supporting_material") == expected


def test_polite_and_friendly():
    assert level("Please find the file. Thank you, and you're welcome.", "polite") == 2
    assert level("Here is the file.", "polite") == 0
    assert level("Hello! Happy to help. Hope this helps, good luck!", "friendly") == 3
    assert level("Here is the file.", "friendly") == 0


def test_annotator_marks_only_what_it_measures():
    pairs = pd.DataFrame({"id": ["p1", "p2"],
                          "response_a": ["Hi there! Any questions? Let me know.", ""],
                          "response_b": ["1. a\n2. b", "plain text"]})
    schema = load_schema()
    frame = HeuristicAnnotator().annotate(pairs, schema)
    assert set(frame["property"]) == set(MEASURED)
    assert len(frame) == 2 * len(MEASURED)
    assert (frame["status"] == "ok").all() and frame["annotator"].eq("heuristic").all()
    row = frame[(frame["pair_id"] == "p1") & (frame["property"] == "interactive")].iloc[0]
    assert (row["value_a"], row["value_b"]) == (2.0, 0.0)
    assert not any(math.isnan(v) for v in frame["value_a"])
    assert "harmless" not in set(frame["property"])
