"""The built-in edits: each yields candidate texts, mildest first (see :mod:`prefdissect.edits`).

The wording they add is deliberately bland, so that only the targeted property
changes: padding that restates nothing new, a courtesy with no other content, a
citation-looking line that names no real work (a probe of whether a judge rewards
the look of support, never to be shown as a real source).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from ..annotators.heuristic import MEASURED, measure
from . import POSITION, NotApplicable, edit
from .text import (
    CODE,
    HEADING,
    LIST,
    PROSE,
    TABLE,
    append_paragraph,
    blocks,
    prepend_paragraph,
    prose,
    sentence_texts,
    sentences,
    splice,
)

_HEADING_MARK = re.compile(r"^([ \t]*)#{1,6}[ \t]+", re.M)
_BOLD_LINE = re.compile(r"^([ \t]*)\*\*([^*\n]+)\*\*(:?)[ \t]*$", re.M)
_STRONG = re.compile(r"\*\*([^*\n]+)\*\*|__([^_\n]+)__")
_ITALIC = re.compile(r"(?<![*\w])[*_]([^*_\n]+)[*_](?![*\w])")
_BULLET_MARK = re.compile(r"^([ \t]*)[-*+\u2022][ \t]+(?=\S)", re.M)
_NUMBER_MARK = re.compile(r"^([ \t]*)\d{1,3}[.)][ \t]+(?=\S)", re.M)
_TABLE_RULE = re.compile(r"^[ \t]*\|?[ \t:|-]*-{3,}[ \t:|-]*\|?[ \t]*\n?", re.M)
_STEP_LABEL = re.compile(r"\bstep\s+1\b", re.I)
_LIST_START = re.compile(r"^[ \t]*(?:[-*+\u2022]|\d{1,3}[.)])[ \t]", re.M)
_LENGTH = MEASURED.index("lengthy")

# Padding that adds words and no information: plain sentences, and sentences with long
# words, mixed so that the wording's complexity can stay where the response has it.
_PLAIN = (
    "The points above are the main ones to keep in mind here.",
    "In other words, what was said above is the core of the answer.",
    "Each of these points is worth thinking about in its own right.",
    "All of this fits together to give a full view of the topic.",
    "With that in mind, the answer above should cover the main ideas.",
    "Put simply, the details above are what matter most for this.",
    "That is the gist of it, as set out in the text above.",
    "Taken as a whole, these ideas give a good sense of the matter.",
    "None of this changes the main point made at the start.",
    "So, in brief, the text above says what needs to be said.",
    "These are the key ideas, and they stand on their own.",
    "There is not much more to add beyond what is written here.",
    "It all comes back to the same few points made so far.",
    "Seen from any side, the picture stays much the same.",
    "That sums up the whole of the matter in a few words.",
    "This is, at heart, a short way to put the same thing.",
)
_LONG = (
    "Understanding these considerations thoroughly remains fundamentally important.",
    "Consequently, the explanation above addresses the essential particulars.",
    "Fundamentally, these observations summarise the underlying reasoning.",
    "Collectively, the aforementioned considerations provide comprehensive context.",
    "Additionally, the information presented accommodates straightforward interpretation.",
    "Nevertheless, the characteristics described remain consistently applicable.",
    "Correspondingly, the recommendations articulated above remain appropriate.",
    "Ultimately, the explanation encapsulates the fundamental relationships involved.",
)
_EMOJI = ("\U0001F60A", "\U0001F44D", "\U0001F642")


def _paragraphs(text: str, least: int) -> list[tuple[int, int, list[str]]]:
    """Prose paragraphs with at least ``least`` sentences: (start, end, sentences)."""
    out = []
    for block in prose(text):
        found = sentence_texts(text[block.start:block.end])
        if len(found) >= least:
            out.append((block.start, block.end, found))
    return out


def _richest(text: str) -> tuple[int, int, list[str]]:
    """Return the prose paragraph with the most sentences (two or more; the first of equals)."""
    found = _paragraphs(text, 2)
    if not found:
        raise NotApplicable("no prose paragraph of two or more sentences")
    return max(found, key=lambda p: len(p[2]))


# -- formatting ----------------------------------------------------------------------------
@edit("bullets", "well_formatted", +1, "turns the prose paragraph with the most sentences "
      "into a bulleted list, one sentence per item")
def _bullets(text: str) -> Iterator[str]:
    if any(b.kind == LIST for b in blocks(text)):
        raise NotApplicable("already has a list")
    start, end, found = _richest(text)
    yield splice(text, start, end, "\n".join(f"- {s}" for s in found))


def _strip(text: str, numbered: bool, tables: bool) -> str:
    parts, last = [], 0
    for block in blocks(text):
        if block.kind == CODE or (block.kind == TABLE and not tables):
            continue
        parts.append(text[last:block.start])
        chunk = text[block.start:block.end]
        if block.kind == HEADING:
            chunk = _BOLD_LINE.sub(r"\1\2\3", _HEADING_MARK.sub(r"\1", chunk))
            if numbered:  # a section number would read as a list item now
                chunk = _NUMBER_MARK.sub(r"\1", chunk)
        if block.kind == TABLE:
            chunk = _TABLE_RULE.sub("", chunk)
            chunk = "\n".join(", ".join(c.strip() for c in line.strip().strip("|").split("|"))
                              for line in chunk.splitlines() if line.strip())
        if block.kind == LIST:
            chunk = _BULLET_MARK.sub(r"\1", chunk)
            if numbered:
                chunk = _NUMBER_MARK.sub(r"\1", chunk)
        chunk = _ITALIC.sub(r"\1", _STRONG.sub(lambda m: m.group(1) or m.group(2), chunk))
        parts.append(chunk)
        last = block.end
    parts.append(text[last:])
    return "".join(parts)


@edit("strip-markdown", "well_formatted", -1, "removes headings, bold and italics, list "
      "markers and table rules (code blocks stay); keeps the numbers of a numbered list (or "
      "a table) where removing them would change something else the heuristic measures")
def _strip_markdown(text: str) -> Iterator[str]:
    found = [_strip(text, numbered, tables) for tables in (True, False)
             for numbered in (True, False)]
    if all(t == text for t in found):
        raise NotApplicable("no Markdown to strip")
    yield from found


@edit("headers", "well_formatted", +1, "puts a Markdown heading ('## Answer') above the "
      "response")
def _headers(text: str) -> Iterator[str]:
    if any(b.kind == HEADING for b in blocks(text)):
        raise NotApplicable("already has a heading")
    for title in ("Answer", "Explanation"):
        yield prepend_paragraph(text, f"## {title}")


@edit("bold", "well_formatted", +1, "sets the first sentence of the first prose paragraph "
      "(or its first words) in bold")
def _bold(text: str) -> Iterator[str]:
    if "**" in text or "__" in text:
        raise NotApplicable("already has bold text")
    for block in prose(text):
        chunk = text[block.start:block.end]
        spans = sentences(chunk)
        if len(spans) >= 2:
            a, b = spans[0]
        else:
            words = list(re.finditer(r"\S+", chunk))
            if len(words) < 5:
                continue
            a, b = words[0].start(), words[2].end()
        phrase = chunk[a:b]
        if re.search(r"[*_`\n]", phrase):
            continue
        core = phrase.rstrip(".!?:;,\"')")  # the mark stays outside: "**Bold**. Next"
        yield splice(text, block.start + a, block.start + a + len(core), f"**{core}**")
        return
    raise NotApplicable("no prose sentence to set in bold")


# -- steps, length, repetition ---------------------------------------------------------------
def _label(found: list[str], first: int) -> str:
    return " ".join(f"Step {first + k}: {s}" for k, s in enumerate(found))


@edit("numbered-steps", "step_by_step", +1, "labels the sentences of the prose paragraph "
      "with the most sentences 'Step 1:', 'Step 2:', ... (then of every paragraph; in a "
      "response without prose, the items of its longest bulleted list)")
def _numbered_steps(text: str) -> Iterator[str]:
    if _STEP_LABEL.search(text):
        raise NotApplicable("already numbers its steps")
    if not _paragraphs(text, 2):
        yield from _label_items(text)
        return
    start, end, found = _richest(text)
    yield splice(text, start, end, _label(found, 1))
    out, shift, number = text, 0, 1
    for start, end, found in _paragraphs(text, 2):
        labelled = _label(found, number)
        out = splice(out, start + shift, end + shift, labelled)
        shift += len(labelled) - (end - start)
        number += len(found)
    yield out


def _label_items(text: str) -> Iterator[str]:
    """'Step N:' after the markers of the longest bulleted list (items keep their bullets)."""
    lists = [b for b in blocks(text) if b.kind == LIST]
    bulleted = [b for b in lists if len(_BULLET_MARK.findall(text[b.start:b.end])) >= 2]
    if not bulleted:
        raise NotApplicable("no prose paragraph of two or more sentences, nor a bulleted list")
    block = max(bulleted, key=lambda b: len(_BULLET_MARK.findall(text[b.start:b.end])))
    chunk, count = text[block.start:block.end], iter(range(1, 1000))
    labelled = _BULLET_MARK.sub(lambda m: f"{m.group(0)}Step {next(count)}: ", chunk)
    yield splice(text, block.start, block.end, labelled)


def _spread(plain: int, long: int) -> list[str]:
    """``plain`` plain and ``long`` long sentences, the long ones spread among the plain."""
    out, spots = list(_PLAIN[:plain]), []
    for k in range(long):
        spots.append(round((k + 1) * (plain + long) / (long + 1)) - 1)
    for k, spot in enumerate(spots):
        out.insert(min(spot, len(out)), _LONG[k])
    return out


@edit("pad", "lengthy", +1, "appends a paragraph of bland sentences that restate nothing "
      "new, as few as make the response measurably longer")
def _pad(text: str) -> Iterator[str]:
    for total in range(1, len(_PLAIN) + len(_LONG) + 1):
        for long in range(0, min(total, len(_LONG)) + 1):
            if total - long <= len(_PLAIN):
                yield append_paragraph(text, " ".join(_spread(total - long, long)))


def _units(text: str, code: bool = True) -> list[tuple[int, int]]:
    """Spans of sentences (prose), items (lists) and whole other blocks (``code``: with code)."""
    out = []
    for block in blocks(text):
        chunk = text[block.start:block.end]
        if block.kind == PROSE:
            out += [(block.start + a, block.start + b) for a, b in sentences(chunk)]
        elif block.kind == LIST:
            starts = [m.start() for m in _LIST_START.finditer(chunk)] or [0]
            ends = [*starts[1:], len(chunk)]
            out += [(block.start + a, block.start + len(chunk[:b].rstrip())) for a, b in
                    zip(starts, ends)]
        elif code or block.kind != CODE:
            out.append((block.start, block.end))
    return out


@edit("trim", "lengthy", -1, "drops sentences or list items from the end (the last ones, "
      "or those before a closing line, or only those whose loss alone changes nothing else "
      "measured), as few as make the response measurably shorter, at most half its words")
def _trim(text: str) -> Iterator[str]:
    units = _units(text, code=False)[1:]  # the opening always stays
    if not units:
        raise NotApplicable("a single sentence or block; nothing to drop")
    words = len(text.split())
    fine = _later_sentences(text)
    found = []
    for series in (units, units[:-1], _harmless(text, units), fine, _harmless(text, fine)):
        out = text
        for a, b in reversed(series):
            out = _drop(out, a, b)
            if 2 * len(out.split()) < words:
                break
            found.append(out)
    for pool in (units, fine):  # greedy: from the end, drop what keeps the other readings
        found += list(_greedy_drops(text, pool, words))
    if not found:
        raise NotApplicable("no sentence or item can go without losing over half the words")
    yield from sorted(dict.fromkeys(found), key=len, reverse=True)


def _drop(text: str, a: int, b: int) -> str:
    """``text`` without ``text[a:b]``; of the white space around it, the wider break stays."""
    head, rest = text[:a], text[b:]
    body = rest.lstrip()
    if not body:
        return head.rstrip()
    before, after = head[len(head.rstrip()):], rest[:len(rest) - len(body)]
    gap = max(before, after, key=lambda g: (g.count("\n"), len(g)))
    return head.rstrip() + gap + body


def _harmless(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Return the spans whose loss alone leaves every reading of the heuristic but length."""
    before = measure(text)
    return [(a, b) for a, b in spans
            if all(x == y for k, (x, y) in enumerate(zip(before, measure(_drop(text, a, b))))
                   if k != _LENGTH)]


def _greedy_drops(text: str, spans: list[tuple[int, int]], words: int) -> Iterator[str]:
    """From the last span back, drop each one whose loss keeps every reading but length."""
    before, out = measure(text), text
    for a, b in reversed(spans):
        trial = _drop(out, a, b)
        if 2 * len(trial.split()) < words:
            return
        after = measure(trial)
        if all(x == y for k, (x, y) in enumerate(zip(before, after)) if k != _LENGTH):
            out = trial
            yield out


def _later_sentences(text: str) -> list[tuple[int, int]]:
    """Sentences after the first of each prose paragraph and each list item."""
    out = []
    for block in blocks(text):
        if block.kind not in (PROSE, LIST):
            continue
        chunk = text[block.start:block.end]
        if block.kind == PROSE:
            out += [(block.start + a, block.start + b) for a, b in sentences(chunk)[1:]]
            continue
        starts = [m.start() for m in _LIST_START.finditer(chunk)] or [0]
        for a, b in zip(starts, [*starts[1:], len(chunk)]):
            marker = _LIST_START.match(chunk, a)
            a = marker.end() if marker else a  # "1. First step." is one sentence, not two
            out += [(block.start + a + x, block.start + a + y)
                    for x, y in sentences(chunk[a:b])[1:]]
    return out


@edit("repeat-sentence", "non_repetitive", -1, "repeats a sentence (or list item) right "
      "after itself: the shortest that makes the repetition measurable, else the longest "
      "two, three or four")
def _repeat_sentence(text: str) -> Iterator[str]:
    spans = [(a, b) for a, b in _units(text, code=False) if len(text[a:b].split()) >= 5]
    if not spans:
        raise NotApplicable("no sentence or list item of five or more words")
    shortest = sorted(spans, key=lambda s: (s[1] - s[0], s[0]))
    for a, b in shortest:
        yield _repeat(text, [(a, b)])
    longest = shortest[::-1]
    for k in range(2, min(len(longest), 4) + 1):
        yield _repeat(text, longest[:k])


def _repeat(text: str, spans: list[tuple[int, int]]) -> str:
    out = text
    for a, b in sorted(spans, reverse=True):  # from the end, so earlier offsets stay valid
        unit = text[a:b]
        if _LIST_START.match(unit):  # a list item repeats as the next item
            indent = unit[:len(unit) - len(unit.lstrip())]
            out = splice(out, b, b, "\n" + indent + " ".join(unit.split()))
        else:
            out = splice(out, b, b, " " + " ".join(unit.split()))
    return out


# -- tone and register ---------------------------------------------------------------------
# Each courtesy, question, caveat or citation comes in several wordings, shortest first:
# the check keeps the first that moves its target and nothing else (a one-word courtesy
# keeps a one-word answer's length; a longer or more elaborate one keeps a long answer's
# sentence length and word choice as the heuristic sees them).
_OPENERS = ("Certainly.", "Thank you for your question.",
            "Thank you for the thoughtful question.",
            "Thank you for your question; please find my answer below.",
            "Thank you for this considerate question; please find my detailed explanation "
            "below.",
            "Thank you for your question. Certainly, please find my answer below.")
_CLOSINGS = ("Cheers.", "I hope this helps.", "I hope this helps, and good luck.",
             "I hope this helps; wishing you tremendous success with everything.",
             "I hope this helps. Good luck, and take care.",
             "I hope this helps! Good luck, and take care.")
_QUESTIONS = ("Questions?", "Is there any part of this you want me to go into in more detail?",
              "Would you like additional information or further clarification?",
              "Would you like me to go into more detail on any part of this?",
              "Would you like me to go into more detail on any part of this? Let me know.")
_CAVEATS = ("I'm not sure.", "I'm not certain of every detail.",
            "I'm not certain; independent verification is recommended.",
            "I'm not certain that every detail here is exact, so it is worth double-checking.",
            "I'm not certain everything here is completely accurate; independent "
            "verification is recommended.",
            "I'm not certain that every detail here is exact, and I don't know your full "
            "situation, so it is worth double-checking the specifics.",
            "I'm not certain that every detail here is exact. I cannot check it against your "
            "situation, and I don't know all of it, so it is worth double-checking.")
_SOURCES = ("Source: [1]", "See Smith et al. for more on this.", "Source: Smith et al. (2019).",
            "Supporting documentation: Smith et al. (2019).",
            "Sources: Smith et al. (2019); Jones and Lee (2021).")


@edit("polite-opener", "polite", +1, "opens with a courtesy ('Certainly.', 'Thank you for "
      "your question.', ...)")
def _polite_opener(text: str) -> Iterator[str]:
    for opener in _OPENERS:
        yield prepend_paragraph(text, opener)


@edit("pleasantry", "friendly", +1, "closes with a friendly wish ('I hope this helps.', "
      "'Good luck', ...)")
def _pleasantry(text: str) -> Iterator[str]:
    for closing in _CLOSINGS:
        yield append_paragraph(text, closing)


@edit("question-back", "interactive", +1, "ends by asking whether the user wants more "
      "detail")
def _question_back(text: str) -> Iterator[str]:
    for question in _QUESTIONS:
        yield append_paragraph(text, question)


@edit("hedge", "admits_limits", +1, "ends by admitting the answer may not be exact ('I'm "
      "not certain of every detail.', ...)")
def _hedge(text: str) -> Iterator[str]:
    for caveat in _CAVEATS:
        yield append_paragraph(text, caveat)


@edit("emoji", "informal", +1, "adds an emoji at the end of the last prose paragraph "
      "(then of the first ones), until informality registers")
def _emoji(text: str) -> Iterator[str]:
    ends = [b.end for b in prose(text)]
    spots = list(dict.fromkeys([*ends[-1:], *ends]))[:len(_EMOJI)] or [len(text.rstrip())]
    for k in range(1, len(spots) + 1):
        for space in (" ", ""):  # attached, a face after a full stop adds no sentence break
            out = text
            for spot, face in sorted(zip(spots[:k], _EMOJI), reverse=True):
                out = splice(out, spot, spot, space + face)
            yield out


@edit("reference", "supporting_material", +1, "adds a citation-looking source line (an "
      "invented 'Smith et al. (2019)', no real work)")
def _reference(text: str) -> Iterator[str]:
    for line in _SOURCES:
        yield append_paragraph(text, line)


@edit("swap", POSITION, +1, "moves the response to the first position; its text is "
      "unchanged (the judge's position effect)")
def _swap(text: str) -> Iterator[str]:
    yield text
