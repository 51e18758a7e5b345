"""TRL's preference format: ``prompt``, ``chosen``, ``rejected`` (and RewardBench's).

Read as documented in TRL's "Dataset formats" guide (preference type):

- *standard*: ``chosen`` and ``rejected`` are texts; *conversational*: they are
  lists of ``{"role", "content"}`` messages;
- *explicit prompt*: a ``prompt`` column (text, or messages ending with the user's
  turn) and the two completions; *implicit prompt*: no ``prompt``, and the
  conversation both completions share is the prompt. As in TRL, a text prompt
  beside conversational completions (UltraFeedback-binarized) counts as implicit.

The prompt's last user turn becomes the pair's query and the turns before it its
history (multi-turn conversations keep every turn). Implicit text prompts are
split at the last ``Assistant:`` turn marker inside the text both share when the texts
are ``Human:/Assistant:`` dialogues (HH-RLHF: the same pairs as ``--format
hh-rlhf``), else at the last space of their common beginning (TRL's
``"The sky is blue."`` / ``"The sky is green."``). A row with no shared prompt is
left out with its reason.

The chosen completion goes to A or B by a seeded coin per pair (the judge
``labels`` says which); ``score_chosen`` / ``score_rejected`` are kept in the
judgment's details with their difference as ``margin``. RewardBench's columns
(``prompt, chosen, chosen_model, rejected, rejected_model, subset, id``) read
the same way: the models become ``model_a`` / ``model_b`` and ``subset``, like
any other scalar column, lands in the pair's metadata for ``--group-by``.
Columns holding lists or objects (a duplicate ``messages`` conversation, say) are
not copied into metadata; a note names them.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..exclusions import Exclusion
from ..judgments import A, B, Judgment
from ..pairs import Pair
from ..registry import register
from ..sources import parse_columns, records, tables
from . import ImportResult, seeded_swap, spooled_result
from .hh_rlhf import HUMAN, split_dialogue, split_pair

JUDGE = "labels"
COLUMNS = ("prompt", "chosen", "rejected", "score_chosen", "score_rejected", "id",
           "chosen_model", "rejected_model", "scenario", "reference")
"""The columns this format reads; any other scalar column goes to metadata."""
FIX = ("preference rows need chosen and rejected (texts or lists of {role, content} "
       "messages), and optionally prompt; map other names with --columns")
NO_PROMPT = "no shared prompt"
IDENTICAL = "chosen and rejected are identical"


def messages(value: Any, file: Path, line: int, field: str) -> list[dict[str, str]] | None:
    """Return ``value`` as a list of messages, None when it is text; raise when it is neither."""
    if isinstance(value, str):
        return None
    if isinstance(value, list) and value and all(
            isinstance(m, dict) and isinstance(m.get("role"), str)
            and isinstance(m.get("content"), str) for m in value):
        return [{"role": m["role"], "content": m["content"]} for m in value]
    raise InputError(file, f"must be text or a non-empty list of {{role, content}} messages, "
                     f"got {type(value).__name__} {str(value)[:40]!r}", FIX, line=line,
                     field=field)


def _shared(first: list, second: list) -> int:
    n = 0
    for x, y in zip(first, second):
        if x != y:
            break
        n += 1
    return n


def _joined(turns: list[dict[str, str]]) -> str:
    return "\n\n".join(m["content"] for m in turns)


def split_conversation(context: list[dict[str, str]]
                       ) -> tuple[list[dict[str, str]], str] | str:
    """Return (history, query) of a prompt conversation, or the reason it has none.

    The query is the last turn, which must be the user's; earlier turns (system
    messages included) are the history.
    """
    if not context:
        return NO_PROMPT
    if context[-1]["role"] != "user":
        return f"prompt ends with a '{context[-1]['role']}' turn, not the user's"
    return context[:-1], context[-1]["content"]


def split_texts(chosen: str, rejected: str) -> tuple[list[dict], str, str, str] | str:
    """Split two texts that share an implicit prompt: (history, query, chosen, rejected).

    Returns the reason when they share none.
    """
    if HUMAN in chosen or HUMAN in rejected or chosen.startswith("Human:"):
        split = split_pair(chosen, rejected)
        if split is None:
            return "no shared dialogue prefix"
        prefix, good, bad = split
        history, query = split_dialogue(prefix)
        return history, query, good, bad
    if chosen.strip() == rejected.strip():
        return IDENTICAL  # a shared prompt cannot be told from the answers
    n = _shared(chosen, rejected)
    cut = chosen.rfind(" ", 0, n + 1)
    prompt = chosen[:max(cut, 0)].strip()
    if cut <= 0 or not prompt:
        return NO_PROMPT
    return [], prompt, chosen[cut:].strip(), rejected[cut:].strip()


def _prompt(row: dict, file: Path, line: int):
    """Return (history, query, chosen text, rejected text, implicit?) or a reason."""
    chosen = messages(row["chosen"], file, line, "chosen")
    rejected = messages(row["rejected"], file, line, "rejected")
    if (chosen is None) != (rejected is None):
        raise InputError(file, "is a conversation while 'chosen' is not (or the other way)",
                         "give chosen and rejected in the same form", line=line,
                         field="rejected")
    prompt = row.get("prompt")
    if prompt is not None and not isinstance(prompt, str):
        prompt = messages(prompt, file, line, "prompt")
    if chosen is None:  # standard (text) completions
        if isinstance(prompt, str) and prompt.strip():
            query, history = prompt, []
            if HUMAN in prompt:  # a Human:/Assistant: transcript ending in "Assistant:"
                history, query = split_dialogue(prompt.rstrip().removesuffix("Assistant:"))
            return history, query, row["chosen"], row["rejected"], False
        split = split_texts(row["chosen"], row["rejected"])
        return split if isinstance(split, str) else (*split, True)
    # what both share, but never a whole completion (identical responses stay a pair)
    n = min(_shared(chosen, rejected), len(chosen) - 1, len(rejected) - 1)
    if isinstance(prompt, list):
        context, implicit = prompt + chosen[:n], False
    else:  # no prompt, or a text prompt beside conversations: TRL reads it as implicit
        context, implicit = chosen[:n], True
        if not context and isinstance(prompt, str) and prompt.strip():
            context, implicit = [{"role": "user", "content": prompt}], False
    split = split_conversation(context)
    if isinstance(split, str):
        return split
    history, query = split
    return history, query, _joined(chosen[n:]), _joined(rejected[n:]), implicit


def _score(row: dict, key: str, file: Path, line: int) -> float | None:
    value = row.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise InputError(file, f"must be a number, got {value!r:.40}", FIX, line=line, field=key)
    try:
        number = float(value)
    except ValueError:
        raise InputError(file, f"must be a number, got {value!r:.40}", FIX, line=line,
                         field=key) from None
    return None if math.isnan(number) else number


def _text(row: dict, key: str, file: Path, line: int) -> str | None:
    value = row.get(key)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise InputError(file, f"must be text, got {type(value).__name__}", FIX, line=line,
                     field=key)


@register("importer", "preference", "TRL preference datasets (prompt, chosen, rejected; text "
          "or conversations; explicit or implicit prompt; score_chosen/score_rejected) and "
          "RewardBench (subset, chosen_model, ...): a file, Parquet shards or a `datasets` "
          "folder (judge: labels)", options=("columns",))
def load(path: Path, *, seed: int = 0, columns: str | dict | None = None) -> ImportResult:
    """Import a preference dataset in TRL's format (see the module docstring)."""
    mapping = parse_columns(columns, COLUMNS, "preference")
    result = spooled_result(path, "preference")
    found = tables(path)
    several = len(found) > 1
    kinds: Counter = Counter()
    dropped: set[str] = set()
    for table, line, row in records(found, mapping, ("chosen", "rejected"), FIX, COLUMNS):
        result.rows_read += 1
        for key in ("chosen", "rejected"):
            if row.get(key) is None:
                raise InputError(table.path, "is missing", FIX, line=line, field=key)
        raw_id = row.get("id")
        pair_id = str(raw_id) if raw_id is not None else f"{table.name}:{line}"
        split = _prompt(row, table.path, line)
        if isinstance(split, str):
            result.exclusions.append(Exclusion("import", split, pair_id=pair_id,
                                               source=str(table.path), line=line))
            continue
        history, query, good, bad, implicit = split
        kinds["implicit" if implicit else "explicit"] += 1
        metadata = {"file": table.name} if several and table.split is None else {}
        if table.split is not None and several:
            metadata["split"] = table.split
        for key, value in row.items():
            if key in COLUMNS or value is None:
                continue
            if isinstance(value, (str, int, float, bool)):
                metadata[key] = value
            else:
                dropped.add(key)
        swap = seeded_swap(pair_id, seed)
        models = (_text(row, "chosen_model", table.path, line),
                  _text(row, "rejected_model", table.path, line))
        model_a, model_b = models[::-1] if swap else models
        result.pairs.append(Pair(
            id=pair_id, query=query, response_a=bad if swap else good,
            response_b=good if swap else bad, model_a=model_a, model_b=model_b,
            scenario=_text(row, "scenario", table.path, line),
            reference=_text(row, "reference", table.path, line),
            history=history, metadata=metadata))
        details: dict[str, Any] = {"chosen": B if swap else A}
        scores = (_score(row, "score_chosen", table.path, line),
                  _score(row, "score_rejected", table.path, line))
        if scores[0] is not None:
            details["score_chosen"] = scores[0]
        if scores[1] is not None:
            details["score_rejected"] = scores[1]
        if None not in scores:
            details["margin"] = scores[0] - scores[1]
        result.judgments.append(Judgment(pair_id, JUDGE, B if swap else A, None, details))
    if not result.rows_read:
        raise InputError(path, "holds no records", "add at least one preference row")
    result.notes.append(f"chosen response placed at A or B by a seeded coin (seed {seed}); "
                        f"prompt explicit in {kinds['explicit']} rows, taken from what chosen "
                        f"and rejected share in {kinds['implicit']}")
    if dropped:
        result.notes.append("columns holding lists or objects were not kept in metadata: "
                            + ", ".join(sorted(dropped)))
    return result

