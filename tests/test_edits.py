"""Edits: each moves its target as the heuristic measures it, and nothing else; code is kept."""

from __future__ import annotations

import re

import numpy as np
import pytest

from prefdissect.annotators.heuristic import MEASURED, measure
from prefdissect.comparisons import length_comparison
from prefdissect.edits import (
    FAILED_CHECK,
    KEPT,
    NOT_APPLICABLE,
    POSITION,
    Checker,
    all_edits,
    apply_edit,
    check_summary,
    edit,
    get_edit,
    outcomes,
)
from prefdissect.edits.text import blocks, sentence_texts
from prefdissect.errors import UsageError
from prefdissect.properties import load_schema

NAMES = {"bullets", "strip-markdown", "headers", "bold", "numbered-steps", "pad", "trim",
         "polite-opener", "pleasantry", "question-back", "hedge", "emoji", "repeat-sentence",
         "reference", "swap"}
PROSE = (
    "Water boils at a lower temperature on a mountain because the air pressure there is "
    "lower than at sea level. The molecules need less energy to escape into the air, so "
    "the boiling point drops by roughly one degree for every three hundred metres of height. "
    "Cooking takes longer as a result, since the water around the food is cooler.\n\n"
    "Pressure cookers solve this by sealing the pot. The trapped steam raises the pressure "
    "inside, and the water then boils well above the usual point. Food cooks faster, and "
    "beans or tough cuts of meat soften in a fraction of the time.\n\n"
    "At home you can test this with a thermometer in a pan of water. Write down the reading "
    "when the bubbles rise steadily, and compare it with the value for your altitude.")
FORMATTED = (
    "## Steps\n\nHere is how to set it up. Follow the order below.\n\n"
    "1. **Install** the package with pip.\n2. Create a configuration file in the project "
    "folder.\n3. Run the command and read its output.\n\n"
    "```python\nprint('hello')  # a comment? yes!\n```\n\n"
    "- one more thing to check\n- and a last one to remember\n\n"
    "The setup takes a few minutes in all, and most of that is the download.")
CODE = "```python\ndef f(x):\n    return x * 2  # really? yes!\n```"
LENGTH = load_schema().rules["length_thresholds"]


def levels(text: str) -> dict[str, int]:
    return dict(zip(MEASURED, measure(text)))


def moved_as_stated(spec, before: str, after: str) -> bool:
    """Independent of the Checker: raw levels, the length rule called directly."""
    if spec.target == "lengthy":
        sign = length_comparison(np.array([len(after.split())]), np.array([len(before.split())]),
                                 LENGTH["short_table"], LENGTH["ratio_steps"])[0]
        return sign == spec.direction
    change = np.sign(levels(after)[spec.target] - levels(before)[spec.target])
    # non_repetitive is measured as repetitiveness: worse means more repetitive
    return change == (-spec.direction if spec.target == "non_repetitive" else spec.direction)


def test_every_named_edit_is_registered_with_a_target_and_a_summary(cli):
    specs = {e.name: e for e in all_edits()}
    assert NAMES <= set(specs)
    for spec in specs.values():
        assert spec.target in (*MEASURED, POSITION) and spec.direction in (-1, 1)
        assert spec.summary
    listed = cli("probe", "--list-edits")
    assert listed.code == 0 and all(name in listed.text for name in NAMES)


@pytest.mark.parametrize("name", sorted(NAMES - {"swap"}))
def test_each_edit_moves_its_target_and_nothing_else(name):
    spec, checker = get_edit(name), Checker()
    results = [apply_edit(spec, text, checker) for text in (PROSE, FORMATTED)]
    kept = [(text, r) for text, r in zip((PROSE, FORMATTED), results) if r.status == KEPT]
    assert kept, [r.reason for r in results]
    for original, result in kept:
        assert moved_as_stated(spec, original, result.text)
        before, after = levels(original), levels(result.text)
        for prop in MEASURED:
            if prop not in (spec.target, "lengthy"):
                assert before[prop] == after[prop], prop
        if spec.target != "lengthy":  # longer or shorter, but not by the schema's thresholds
            assert length_comparison(np.array([after["lengthy"]]), np.array([before["lengthy"]]),
                                     LENGTH["short_table"], LENGTH["ratio_steps"])[0] == 0
        if "```" in original:  # code is never edited
            assert re.search(r"```.*?```", original, re.S).group(0) in result.text


def test_edits_keep_the_words_they_do_not_change():
    checker = Checker()
    bulleted = apply_edit(get_edit("bullets"), PROSE, checker).text
    items = [line[2:] for line in bulleted.splitlines() if line.startswith("- ")]
    assert items == sentence_texts(PROSE.split("\n\n")[0])  # the longest paragraph, listed
    padded = apply_edit(get_edit("pad"), PROSE, checker).text
    assert padded.startswith(PROSE) and len(padded.split()) > len(PROSE.split())
    trimmed = apply_edit(get_edit("trim"), PROSE, checker).text
    kept = [s for p in trimmed.split("\n\n") for s in sentence_texts(p)]
    assert all(s in PROSE for s in kept) and 2 * len(trimmed.split()) >= len(PROSE.split())
    assert len(kept) < len([s for p in PROSE.split("\n\n") for s in sentence_texts(p)])
    repeated = apply_edit(get_edit("repeat-sentence"), PROSE, checker).text
    assert any(repeated.count(s) == 2 for s in sentence_texts(PROSE.replace("\n\n", " ")))
    for name in ("polite-opener", "pleasantry", "question-back", "hedge", "reference"):
        assert PROSE in apply_edit(get_edit(name), PROSE, checker).text
    stripped = apply_edit(get_edit("strip-markdown"), FORMATTED, checker).text
    assert "**" not in stripped and "## " not in stripped and "- one" not in stripped
    assert "```python\nprint('hello')  # a comment? yes!\n```" in stripped


def test_edits_say_why_they_do_not_apply():
    checker = Checker()
    listed = "Some intro. More of it.\n\n- first item here\n- second item here"
    assert apply_edit(get_edit("bullets"), listed, checker).reason == "already has a list"
    assert apply_edit(get_edit("headers"), "## Title\n\nText. More.", checker).reason == \
        "already has a heading"
    assert apply_edit(get_edit("trim"), "One sentence only.", checker).status == NOT_APPLICABLE
    assert apply_edit(get_edit("pad"), "  ", checker).reason == "empty response"
    plain = apply_edit(get_edit("strip-markdown"), PROSE, checker)
    assert plain.status == NOT_APPLICABLE and "bottom of its scale" in plain.reason
    assert apply_edit(get_edit("bold"), CODE, checker).status == NOT_APPLICABLE
    heavy = "Step 1 then step 2. " + " ".join(f"Step {k}: go." for k in range(3, 12))
    assert "top of its scale" in apply_edit(get_edit("numbered-steps"), heavy, checker).reason


def test_a_failed_check_names_what_else_moved():
    @edit("shout-test", "informal", +1, "test edit: appends 'lol' and a question")
    def shout(text):
        yield text + " lol, right?"

    result = apply_edit(get_edit("shout-test"), PROSE, Checker())
    assert result.status == FAILED_CHECK and result.target_moved
    assert result.reason == "also moved: interactive (+)"


def test_targets_the_heuristic_cannot_see_are_refused():
    with pytest.raises(UsageError, match="does not measure"):
        Checker().check_target("funny")
    with pytest.raises(UsageError, match="did you mean 'bullets'"):
        get_edit("bulets")


def test_blocks_and_sentences():
    kinds = [b.kind for b in blocks(FORMATTED)]
    assert kinds == ["heading", "prose", "list", "code", "list", "prose"]
    assert sentence_texts("Dr. Smith came at 5 p.m. today. He left.\nThen he came back!") == \
        ["Dr. Smith came at 5 p.m. today.", "He left.", "Then he came back!"]


def test_outcomes_and_the_summary_count_each_response_once_per_edit():
    specs = [get_edit("bullets"), get_edit("headers")]
    table = outcomes([PROSE, FORMATTED, PROSE], specs, Checker())
    assert len(table) == 6
    summary = check_summary(table).set_index("edit")
    assert summary.loc["bullets", "applied"] == pytest.approx(2 / 3)
    assert summary.loc["headers", "kept"] == pytest.approx(2 / 3)
