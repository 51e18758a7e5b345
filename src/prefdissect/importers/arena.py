"""Chatbot Arena battle records (``model_a, model_b, winner, conversation_a/_b``).

Reads JSON Lines or a JSON list. ``winner`` is ``model_a``, ``model_b``, ``tie``
or ``tie (bothbad)``; conversations are lists of ``{"role", "content"}``. A
single-turn battle becomes a pair directly. In a multi-turn battle each model
answered its own earlier turns, so no single shared history exists: the query
then lists all user turns and each response joins that model's replies, turn by
turn (``metadata.turns`` records how many). The voter id goes into the
judgment's details; the judge is ``human``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import InputError
from ..exclusions import Exclusion
from ..judgments import Judgment, normalize_label
from ..pairs import Pair, content_id
from ..readers import iter_jsonl, read_json, require
from ..registry import register
from . import ImportResult

FIX = "battle records need model_a, model_b, winner, conversation_a and conversation_b"


def _records(path: Path):
    if path.name.lower().endswith((".jsonl", ".jsonl.gz")):
        yield from iter_jsonl(path)
        return
    data = read_json(path)
    if not isinstance(data, list):
        raise InputError(path, "is not a JSON list of battles", "use JSON Lines or a JSON list")
    yield from enumerate(data, start=1)


def _turns(conversation: Any, key: str, path: Path, line: int) -> list[tuple[str, str]]:
    if not isinstance(conversation, list):
        raise InputError(path, "must be a list of messages", FIX, line=line, field=key)
    turns = []
    for message in conversation:
        if not isinstance(message, dict) or "role" not in message or "content" not in message:
            raise InputError(path, "holds a message without role and content", FIX,
                             line=line, field=key)
        turns.append((str(message["role"]), str(message["content"] or "")))
    return turns


def _replies(turns: list[tuple[str, str]]) -> list[str]:
    return [text for role, text in turns if role == "assistant"]


@register("importer", "arena", "Chatbot Arena battles (model_a, model_b, winner, "
          "conversation_a, conversation_b; judge: human)")
def load(path: Path, *, seed: int = 0) -> ImportResult:
    """Import Chatbot Arena battle records."""
    result = ImportResult(source=str(path), format="arena")
    seen: set[str] = set()
    for line, row in _records(path):
        result.rows_read += 1
        turns_a = _turns(require(row, "conversation_a", path, line, FIX), "conversation_a",
                         path, line)
        turns_b = _turns(require(row, "conversation_b", path, line, FIX), "conversation_b",
                         path, line)
        winner = require(row, "winner", path, line, FIX)
        label = normalize_label(winner)
        if label is None:
            raise InputError(path, f"has unknown winner {winner!r}",
                             "use model_a, model_b, tie or tie (bothbad)", line=line,
                             field="winner")
        questions = [text for role, text in turns_a if role == "user"]
        replies_a, replies_b = _replies(turns_a), _replies(turns_b)
        if not questions or not replies_a or not replies_b:
            result.exclusions.append(Exclusion("import", "conversation without a reply",
                                               source=str(path), line=line))
            continue
        if len(questions) == 1:
            query, response_a, response_b = questions[0], replies_a[0], replies_b[0]
        else:
            query = "\n\n".join(f"[Turn {i}] {q}" for i, q in enumerate(questions, start=1))
            response_a = "\n\n".join(f"[Turn {i}] {r}" for i, r in enumerate(replies_a, 1))
            response_b = "\n\n".join(f"[Turn {i}] {r}" for i, r in enumerate(replies_b, 1))
        pair_id = str(row.get("question_id") or content_id(query, response_a, response_b,
                                                             prefix="arena"))
        if pair_id in seen:  # a question battled more than once
            pair_id = f"{pair_id}:{line}"
        seen.add(pair_id)
        metadata = {k: row[k] for k in ("language", "turn", "anony", "tstamp") if k in row}
        metadata["turns"] = len(questions)
        result.pairs.append(Pair(
            id=pair_id, query=query, response_a=response_a, response_b=response_b,
            model_a=str(require(row, "model_a", path, line, FIX)),
            model_b=str(require(row, "model_b", path, line, FIX)), metadata=metadata,
        ))
        result.judgments.append(Judgment(pair_id, "human", label, None,
                                         {"winner": winner, "voter": row.get("judge")}))
    return result
