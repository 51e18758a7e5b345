"""What counts as a usable answer, and reading one without trusting its shape.

A server may answer 200 with a body that holds no answer at all: an empty
``choices`` list, ``[null]``, a choice without its ``message``, a message whose
``content`` is missing or null, or (completions) a choice without ``text``.
:func:`unusable` names the problem; the client treats such a body like a
malformed one (retried, never stored as ``ok``), and :data:`USABLE_SQL` is the
same test in SQL, so that an answer stored as ``ok`` by an older version is
re-checked on every read. :func:`answer_text` and :func:`finish_reason` read a
stored answer defensively: they return None instead of raising on any shape.
"""

from __future__ import annotations

from typing import Any

USABLE_SQL = (
    "(CASE WHEN response IS NULL OR NOT json_valid(response) THEN 0 "
    "WHEN endpoint = 'completions' THEN json_type(response, '$.choices[0].text') = 'text' "
    "ELSE json_type(response, '$.choices[0].message.content') = 'text' END)")
"""SQL condition over an exchanges row: its response holds an answer text."""


def _first_choice(body: Any) -> tuple[dict[str, Any] | None, str | None]:
    if not isinstance(body, dict):
        return None, f"the body is a JSON {type(body).__name__}, not an object"
    choices = body.get("choices")
    if not isinstance(choices, list):
        return None, "the body has no 'choices' list"
    if not choices:
        return None, "'choices' is empty"
    if not isinstance(choices[0], dict):
        return None, f"choices[0] is {'null' if choices[0] is None else 'not an object'}"
    return choices[0], None


def unusable(endpoint: str, body: Any) -> str | None:
    """Return why a 200 response ``body`` holds no usable answer, or None when it does."""
    choice, problem = _first_choice(body)
    if choice is None:
        return problem
    if endpoint == "completions":
        if not isinstance(choice.get("text"), str):
            return "choices[0] has no 'text'"
        return None
    message = choice.get("message")
    if not isinstance(message, dict):
        return "choices[0] has no 'message'"
    if not isinstance(message.get("content"), str):
        return "choices[0].message has no 'content'"
    return None


def first_choice(body: Any) -> dict[str, Any]:
    """Return the first choice of a response body, or an empty dict for any other shape."""
    return _first_choice(body)[0] or {}


def answer_text(body: Any) -> str | None:
    """Return the answer text of a chat or completions body (None when there is none)."""
    choice = first_choice(body)
    message = choice.get("message")
    text = message.get("content") if isinstance(message, dict) else choice.get("text")
    return text if isinstance(text, str) else None


def finish_reason(body: Any) -> str | None:
    """Return why the server stopped generating ('stop', 'length', ...), if it says."""
    reason = first_choice(body).get("finish_reason")
    return reason if isinstance(reason, str) else None
