"""Anthropic HH-RLHF: ``chosen`` / ``rejected`` dialogues judged by crowdworkers.

Each row holds two whole dialogues that share their beginning and differ in the
last assistant turn. The shared part becomes the query (its last human turn) and
history (earlier turns); the two last assistant turns become the responses. The
split point is the last ``Assistant:`` marker inside the text both dialogues
share, which also copes with responses that themselves contain turn markers. The
preferred (chosen) response is put at A or B by a seeded coin per pair.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import UsageError
from ..exclusions import Exclusion
from ..judgments import A, B, Judgment
from ..pairs import Pair
from ..readers import iter_jsonl, require_text
from ..registry import register
from . import ImportResult, seeded_swap

HUMAN, ASSISTANT = "\n\nHuman:", "\n\nAssistant:"
FIX = "HH-RLHF rows need 'chosen' and 'rejected' dialogue texts"
_TURN = re.compile(r"\n\n(Human|Assistant):")


def _files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    files = sorted([*path.glob("**/*.jsonl.gz"), *path.glob("**/*.jsonl")])
    if not files:
        raise UsageError(f"{path}: no HH-RLHF .jsonl(.gz) files found below this folder")
    return files


def split_dialogue(prefix: str) -> tuple[list[dict[str, str]], str]:
    """Split a ``Human:/Assistant:`` transcript into (earlier turns, last human turn)."""
    text = prefix if prefix.startswith("\n\n") else "\n\n" + prefix
    parts = _TURN.split(text)[1:]  # [role, content, role, content, ...]
    turns = [{"role": "user" if role == "Human" else "assistant", "content": content.strip()}
             for role, content in zip(parts[::2], parts[1::2])]
    if not turns:
        return [], prefix.strip()
    last = turns.pop()
    return turns, last["content"]


def split_pair(chosen: str, rejected: str) -> tuple[str, str, str] | None:
    """Return (shared prefix, chosen reply, rejected reply), or None if no shared turn."""
    limit = 0
    for x, y in zip(chosen, rejected):
        if x != y:
            break
        limit += 1
    cut = chosen.rfind(ASSISTANT, 0, limit)  # the marker must lie in the shared text
    if cut < 0:
        return None
    start = cut + len(ASSISTANT)
    return chosen[:cut], chosen[start:].strip(), rejected[start:].strip()


@register("importer", "hh-rlhf", "Anthropic HH-RLHF chosen/rejected dialogues (judge: human)")
def load(path: Path, *, seed: int = 0) -> ImportResult:
    """Import HH-RLHF JSON Lines files (plain or gzip)."""
    result = ImportResult(source=str(path), format="hh-rlhf")
    root = path if path.is_dir() else path.parent
    for file in _files(path):
        subset = file.parent.name if file.parent != root or path.is_file() else file.stem
        for number, row in iter_jsonl(file):
            result.rows_read += 1
            chosen = require_text(row, "chosen", file, number, FIX)
            rejected = require_text(row, "rejected", file, number, FIX)
            pair_id = f"hh-rlhf:{subset}:{number}"
            split = split_pair(chosen, rejected)
            if split is None:
                result.exclusions.append(Exclusion(
                    "import", "no shared dialogue prefix", source=str(file), line=number,
                    detail="chosen and rejected do not share a turn before the last reply"))
                continue
            prefix, good, bad = split
            history, query = split_dialogue(prefix)
            swap = seeded_swap(pair_id, seed)
            response_a, response_b = (bad, good) if swap else (good, bad)
            result.pairs.append(Pair(
                id=pair_id, query=query, response_a=response_a, response_b=response_b,
                history=history, metadata={"subset": subset, "line": number},
            ))
            result.judgments.append(Judgment(pair_id, "human", B if swap else A, None,
                                             {"chosen": "B" if swap else "A"}))
    result.notes.append(f"chosen response placed at A or B by a seeded coin (seed {seed})")
    return result
