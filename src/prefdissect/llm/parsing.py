"""Turning model output into validated JSON, tolerantly.

Servers with structured output return schema-valid JSON; others wrap it in prose
or code fences, add trailing commas, or stop mid-way. :func:`parse_json` finds
the first JSON object in a text, mends the common slips, and validates it
against the step's JSON schema; the caller may then send one repair request
(:func:`repair_messages`) and parse again.
"""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S)
_TRAILING_COMMA = re.compile(r",\s*([}\]])")


class ParseError(ValueError):
    """The text holds no JSON object that satisfies the schema."""


def _candidates(text: str) -> list[str]:
    found = [m.group(1) for m in _FENCE.finditer(text)]
    start = text.find("{")
    if start >= 0:
        depth, in_string, escape = 0, False, False
        for i in range(start, len(text)):
            ch = text[i]
            if in_string:
                if escape:
                    escape = False
                elif ch == "\\":
                    escape = True
                elif ch == '"':
                    in_string = False
                continue
            if ch == '"':
                in_string = True
            elif ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth == 0:
                    found.append(text[start:i + 1])
                    break
        else:
            found.append(text[start:])
    return found or [text]


def parse_json(text: str | None, schema: dict[str, Any]) -> dict[str, Any]:
    """Return the first JSON object in ``text`` that satisfies ``schema``.

    Raises :class:`ParseError` naming the first problem found.
    """
    if not text or not text.strip():
        raise ParseError("the answer is empty")
    problem = "no JSON object found"
    for candidate in _candidates(text):
        for attempt in (candidate, _TRAILING_COMMA.sub(r"\1", candidate)):
            try:
                value = json.loads(attempt)
            except json.JSONDecodeError as exc:
                problem = f"invalid JSON ({exc.msg} at character {exc.pos})"
                continue
            if not isinstance(value, dict):
                problem = f"the JSON is a {type(value).__name__}, not an object"
                continue
            try:
                jsonschema.validate(value, schema)
            except jsonschema.ValidationError as exc:
                where = "/".join(str(p) for p in exc.absolute_path) or "the object"
                problem = f"schema violation at {where}: {exc.message}"
                continue
            return value
    raise ParseError(problem)


def repair_messages(messages: list[dict[str, str]], answer: str, problem: str,
                    schema: dict[str, Any]) -> list[dict[str, str]]:
    """Build the conversation of one repair request: the failed answer and its problem."""
    return [*messages,
            {"role": "assistant", "content": answer or ""},
            {"role": "user", "content": (
                f"That answer could not be used: {problem}. Reply again with only one JSON "
                f"object that follows this JSON schema exactly, and nothing else:\n"
                f"{json.dumps(schema, separators=(',', ':'))}")}]


def strict_format(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    """Return the OpenAI ``response_format`` asking for output that follows ``schema``."""
    return {"type": "json_schema", "json_schema": {"name": name, "strict": True,
                                                   "schema": schema}}
