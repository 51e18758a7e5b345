"""A response's layout as edits need it: blocks (prose, list, code, heading, table), sentences.

Blocks are spans of the original text, so an edit replaces or inserts at exact
offsets and leaves every other character as it was. Code (fenced blocks) is
never edited.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PROSE, LIST, CODE, HEADING, TABLE = "prose", "list", "code", "heading", "table"

_LIST_ITEM = re.compile(r"[ \t]*(?:[-*+\u2022]|\d{1,3}[.)])[ \t]+\S")
_HEADING = re.compile(r"[ \t]*#{1,6}[ \t]+\S")
_BOLD_LINE = re.compile(r"[ \t]*\*\*[^*\n]+\*\*:?[ \t]*$")
# A sentence ends at . ! or ? (and any closing quote or bracket) before white space and a
# capital, digit, quote or bracket; "e.g. the" does not end one.
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[A-Z0-9\"'(\[*])")
_ABBREVIATION = re.compile(r"(?:\b(?:Mr|Mrs|Ms|Dr|Prof|St|vs|etc|e\.g|i\.e|No|Fig)\.|"
                           r"\b[A-Z]\.)$")


@dataclass(frozen=True)
class Block:
    """One block of a response: a run of lines of one kind."""

    kind: str
    """prose, list, code, heading or table."""
    start: int
    """Offset of its first character in the text."""
    end: int
    """Offset just past its last character (its final newline excluded)."""


def _line_kind(line: str) -> str:
    if _HEADING.match(line) or _BOLD_LINE.match(line):
        return HEADING
    if _LIST_ITEM.match(line):
        return LIST
    if line.lstrip().startswith("|"):
        return TABLE
    return PROSE


def blocks(text: str) -> list[Block]:
    """Split ``text`` into blocks; blank lines and changes of kind separate them.

    An indented line right after a list item continues the item (a list block);
    a fenced code block runs to its closing fence (or the end of the text).
    """
    out: list[Block] = []
    kind, start, end = None, 0, 0
    fence = False
    offset = 0
    for raw in text.splitlines(keepends=True):
        line = raw.rstrip("\r\n")
        here, offset = offset, offset + len(raw)
        stripped = line.strip()
        if fence or stripped.startswith("```"):
            closing = fence and stripped.startswith("```")
            if kind != CODE:
                if kind is not None:
                    out.append(Block(kind, start, end))
                kind, start = CODE, here
            end = here + len(line)
            fence = not closing if fence else True
            continue
        if not stripped:
            if kind is not None:
                out.append(Block(kind, start, end))
            kind = None
            continue
        this = _line_kind(line)
        if kind == LIST and this == PROSE and line[:1] in (" ", "\t"):
            this = LIST  # an item's continuation line
        if this != kind or this == HEADING:
            if kind is not None:
                out.append(Block(kind, start, end))
            kind, start = this, here
        end = here + len(line)
    if kind is not None:
        out.append(Block(kind, start, end))
    return out


def sentences(paragraph: str) -> list[tuple[int, int]]:
    """Return the (start, end) spans of the sentences of a prose paragraph."""
    spans, start = [], 0
    for match in _SENTENCE_END.finditer(paragraph):
        if _ABBREVIATION.search(paragraph[start:match.start()]):
            continue
        end = match.start() + len(match.group(0).rstrip())
        spans.append((start, end))
        start = match.end()
    if paragraph[start:].strip():
        spans.append((start, len(paragraph.rstrip())))
    return spans


def sentence_texts(paragraph: str) -> list[str]:
    """Return the sentences of a prose paragraph (line breaks inside one become spaces)."""
    return [" ".join(paragraph[a:b].split()) for a, b in sentences(paragraph)]


def prose(text: str) -> list[Block]:
    """Return the prose blocks of ``text``."""
    return [b for b in blocks(text) if b.kind == PROSE]


def splice(text: str, start: int, end: int, new: str) -> str:
    """Return ``text`` with ``text[start:end]`` replaced by ``new``."""
    return text[:start] + new + text[end:]


def append_paragraph(text: str, paragraph: str) -> str:
    """Add ``paragraph`` after the text, separated by a blank line."""
    body = text.rstrip()
    return f"{body}\n\n{paragraph}" if body else paragraph


def prepend_paragraph(text: str, paragraph: str) -> str:
    """Put ``paragraph`` before the text, separated by a blank line."""
    body = text.lstrip()
    return f"{paragraph}\n\n{body}" if body else paragraph
