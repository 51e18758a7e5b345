"""The JSON schemas and value scales of the LLM annotator's answers.

Ratings come back compactly as ``{"property": [value for A, value for B]}``; the
schemas use only keywords that OpenAI's strict structured output, vLLM and
llama.cpp all accept (types, enums, required keys, no extra keys, item counts,
numeric bounds). The answers are checked against them again on arrival.
"""

from __future__ import annotations

from typing import Any

from ..reference import SCENARIOS

# query-specific property -> the query trait it needs
TRAIT_OF = {"clarifies_intent": "intent_unclear", "empathetic": "expresses_feelings",
            "satisfies_constraints": "explicit_constraints",
            "supports_stances": "explicit_stances", "corrects_mistakes": "contains_mistakes"}
STANCE_LEVELS = {"strongly supports": 2, "weakly supports": 1, "neutral": 0,
                 "weakly opposes": -1, "strongly opposes": -2}
MISTAKE_LEVELS = {"pointed out and corrected": 3, "corrected without pointing out": 2,
                  "pointed out without correcting": 1, "neither": 0}
ERROR_PROPS = {"minor": "no_minor_errors", "moderate": "no_moderate_errors",
               "severe": "no_severe_errors"}


def rating(low: int = 0, high: int = 3) -> dict[str, Any]:
    """Return the schema of an integer rating from ``low`` to ``high``."""
    return {"type": "integer", "minimum": low, "maximum": high}


def pair_schema(keys: list[str], value: dict[str, Any]) -> dict[str, Any]:
    """Return the schema of ``{key: [value for A, value for B]}`` (compact, fewer tokens)."""
    item = {"type": "array", "items": value, "minItems": 2, "maxItems": 2}
    return {"type": "object", "properties": {k: item for k in keys}, "required": list(keys),
            "additionalProperties": False}


LIST_CAPS = {"explicit_constraints": 20, "explicit_stances": 10, "mistakes_or_biases": 10}
"""Most items the query step lists (a guard against runaway repetition, not a selection)."""

QUERY_SCHEMA = {
    "type": "object",
    "properties": {
        "intent_clear": {"type": "boolean"},
        "expresses_feelings": {"type": "boolean"},
        # The paper listed every item; a request rarely has more than a handful. The
        # caps sit far above that and only stop a model that repeats one item until its
        # token budget runs out (a small model does: the answer is then cut off, lost).
        "explicit_constraints": {"type": "array", "items": {"type": "string"},
                                 "maxItems": LIST_CAPS["explicit_constraints"]},
        "explicit_stances": {"type": "array", "items": {"type": "string"},
                             "maxItems": LIST_CAPS["explicit_stances"]},
        "mistakes_or_biases": {"type": "array", "items": {"type": "string"},
                               "maxItems": LIST_CAPS["mistakes_or_biases"]},
        "scenario": {"type": "string", "enum": list(SCENARIOS)},
    },
    "required": ["intent_clear", "expresses_feelings", "explicit_constraints",
                 "explicit_stances", "mistakes_or_biases", "scenario"],
    "additionalProperties": False,
}


ERROR_KINDS = ("factual", "contradicts_request", "math", "code")
"""The kinds of error the error step looks for (the paper's four)."""

_ERROR_LIST = {"type": "array", "items": {
    "type": "object", "properties": {"error": {"type": "string"},
                                     "kind": {"type": "string", "enum": list(ERROR_KINDS)},
                                     "severity": {"type": "string",
                                                  "enum": list(ERROR_PROPS)}},
    "required": ["error", "kind", "severity"], "additionalProperties": False}}


# Whether each response could be checked is asked per response, as the paper did: an
# answer with nothing to get wrong is checkable and has no errors.
ERRORS_SCHEMA = {"type": "object", "properties": {"checkable_a": {"type": "boolean"},
                                                  "checkable_b": {"type": "boolean"},
                                                  "errors_a": _ERROR_LIST,
                                                  "errors_b": _ERROR_LIST},
                 "required": ["checkable_a", "checkable_b", "errors_a", "errors_b"],
                 "additionalProperties": False}
