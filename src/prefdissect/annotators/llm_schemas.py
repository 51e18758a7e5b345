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


QUERY_SCHEMA = {
    "type": "object",
    "properties": {
        "intent_clear": {"type": "boolean"},
        "expresses_feelings": {"type": "boolean"},
        "explicit_constraints": {"type": "array", "items": {"type": "string"}, "maxItems": 8},
        "explicit_stances": {"type": "array", "items": {"type": "string"}, "maxItems": 5},
        "mistakes_or_biases": {"type": "array", "items": {"type": "string"}, "maxItems": 5},
        "scenario": {"type": "string", "enum": list(SCENARIOS)},
    },
    "required": ["intent_clear", "expresses_feelings", "explicit_constraints",
                 "explicit_stances", "mistakes_or_biases", "scenario"],
    "additionalProperties": False,
}


_ERROR_LIST = {"type": "array", "maxItems": 10, "items": {
    "type": "object", "properties": {"error": {"type": "string"},
                                     "severity": {"type": "string",
                                                  "enum": list(ERROR_PROPS)}},
    "required": ["error", "severity"], "additionalProperties": False}}


ERRORS_SCHEMA = {"type": "object", "properties": {"applicable": {"type": "boolean"},
                                                  "errors_a": _ERROR_LIST,
                                                  "errors_b": _ERROR_LIST},
                 "required": ["applicable", "errors_a", "errors_b"],
                 "additionalProperties": False}
