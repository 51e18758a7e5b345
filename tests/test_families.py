"""One definition of a model family, shared by `scores` and `exploit replay --family`."""

from __future__ import annotations

import pytest

from prefdissect.errors import UsageError
from prefdissect.exploits.replay import candidate_models
from prefdissect.families import family_members, family_names, read_family_map
from prefdissect.importers import ImportResult
from prefdissect.pairs import Pair
from prefdissect.study import Study

MODELS = ["gpt4", "gpt4_concise", "gpt4_verbose", "gpt4o", "claude", "claude_verbose"]


@pytest.fixture
def study(tmp_path):
    """Every model judged against the baseline gpt4_1106_preview (side A)."""
    pairs = [Pair(f"{m}:{i}", f"q{i}", "base", f"{m} says {i}", model_a="gpt4_1106_preview",
                  model_b=m) for m in MODELS for i in range(3)]
    target = Study(tmp_path / "s")
    target.save_import(ImportResult(source="x", format="pairs", pairs=pairs))
    return target


def test_a_family_is_a_model_and_its_style_variants_not_a_name_prefix(study):
    assert candidate_models(study, family="gpt4") == ["gpt4", "gpt4_concise", "gpt4_verbose"]
    # the baseline shares the prefix but is neither a variant nor a candidate
    with pytest.raises(UsageError, match="families here: claude, gpt4"):
        candidate_models(study, family="gpt4_1106")
    names = family_names([*MODELS, "gpt4_1106_preview"])
    for family in set(names.values()):  # scores' families are replay's families
        assert family_members(family, MODELS) == [m for m in MODELS if names.get(m) == family]


def test_a_family_map_decides_for_both(study, tmp_path):
    path = tmp_path / "families.csv"
    path.write_text("model,family\ngpt4,openai\ngpt4o,openai\n", encoding="utf-8")
    mapping = read_family_map(path)
    assert candidate_models(study, family="openai", family_map=mapping) == ["gpt4", "gpt4o"]
    assert family_names(MODELS, mapping)["gpt4o"] == "openai"
    with pytest.raises(UsageError, match="exactly one of --family, --candidate"):
        candidate_models(study, family="gpt4", all_models=True)
    assert "gpt4_1106_preview" not in candidate_models(study, all_models=True)
