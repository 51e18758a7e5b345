"""The offline heuristic annotator: properties that text statistics can honestly measure.

Each response gets a level 0-3 per property (word count for ``lengthy``), so
comparisons follow the same rules as the paper's 0-3 ratings. The rules:

``lengthy``
    Number of words as the paper's dataset counts them (NLTK's word tokenizer over
    Punkt sentences, punctuation included; see :func:`prefdissect.words.count_words`),
    compared with the paper's thresholds.
``well_formatted``
    Number of structure kinds present, capped at 3: a list (two or more items),
    a Markdown heading or bold title line, a fenced code block, a table (two or
    more ``|`` rows), bold or italic emphasis.
``step_by_step``
    Markers of reasoning carried out in steps: "Step N" labels and sentences
    opening with First / Second / Next / Then / Finally ...; 0 markers -> 0,
    1-2 -> 1, 3-5 -> 2, 6+ -> 3. As in the paper's definition, a numbered list
    alone is not a step-by-step answer (a list of tips or items is not a
    derivation), so numbered items do not count; a numbered list whose items are
    labelled "Step 1", "Step 2" ... or open with "First", "Then" ... does.
``informal``
    Emoji and emoticons, slang and interjections (gonna, lol, yeah, awesome ...),
    runs of exclamation marks; 0 -> 0, 1 -> 1, 2-3 -> 2, 4+ -> 3.
``interactive``
    Questions put to the user (sentences ending in "?") and invitations such as
    "let me know", "would you like", "feel free to"; 0 / 1 / 2 / 3+.
``admits_limits``
    Refusals and admissions: "I cannot", "I'm unable", "as an AI", "I don't
    know", "I'm not sure", apologies, "I made a mistake"; 0 / 1 / 2 / 3+.
``non_repetitive``
    Annotated as repetitiveness (so fewer repeats win): the share of repeated
    word trigrams among all trigrams; < 5% -> 0, < 15% -> 1, < 30% -> 2, else 3.
``complex_wording``
    Share of long words (10+ letters): < 6% -> 0, < 12% -> 1, < 18% -> 2, else 3;
    one level more when sentences average over 25 words.
``supporting_material``
    Links, numbered citations ([1]), "et al.", "according to", "studies show",
    named publications, percentages and years in parentheses; 0 / 1 / 2-3 / 4+.
``polite``
    Courtesy markers: please, thank you, you're welcome, kindly, certainly,
    "I'd be happy to" ...; 0 / 1 / 2-3 / 4+.
``friendly``
    Warmth markers: greetings, "glad", "happy to help", "hope this helps",
    "good luck", "enjoy", a single exclamation; 0 / 1 / 2-3 / 4+.

Code blocks are blanked before phrase matching so that a question mark or an
exclamation inside code does not count. Everything else (harmlessness, clarity,
errors, the query-specific properties, ...) needs a reader who understands the
text; this annotator leaves those missing rather than guess.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache
from itertools import compress

import numpy as np
import pandas as pd
import pyarrow as pa

from ..annotations import Progress, values_to_frame
from ..measurements import TextMeasures
from ..properties import PropertySchema
from ..registry import register
from ..words import count_words

VERSION = "heuristic-2"
MEASURED = ("lengthy", "well_formatted", "step_by_step", "informal", "interactive",
            "admits_limits", "non_repetitive", "complex_wording", "supporting_material",
            "polite", "friendly")

_CODE_BLOCK = re.compile(r"```.*?(?:```|\Z)", re.S)
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_NUMBER_PREFIX = re.compile(r"\d{1,3}[.)][ \t]+\S")
_EMPHASIS = re.compile(r"\*\*[^*\n]+\*\*|(?<![*\w])[*_][^*_\n]+[*_](?![*\w])")
_QUESTION = re.compile(r"\?(?=\s|$|[\"')\]])")
_EXCLAIM_RUN = re.compile(r"!{2,}")
_EMOJI = re.compile("[\U0001F300-\U0001FAFF\U00002600-\U000027BF\U0001F000-\U0001F2FF]")
_EMOTICON = re.compile(r"(?<!\S)[:;=]-?[)(DPp](?!\S)")
_CITATION = re.compile(r"\[\d+\]|\((?:19|20)\d\d\)")
_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_STEP_LABEL = re.compile(r"\bstep \d+\b")
# Punctuation (but the apostrophe) becomes space, so that str.split() tokenises.
_PUNCT = str.maketrans({c: " " for c in
                        "!\"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\u2014\u2013\u201c\u201d"})
_BRACES = re.compile(r"\{([^{}]*)\}")

# Marker phrases per property, matched as whole tokens on lower-cased text with
# straight apostrophes; {a|b} lists alternatives.
_PHRASES = {
    "interactive": [
        "let me know", "feel free to", "would you like", "do you want", "shall i",
        "if you {have|need} {any|more|further}",
        "{can|could} you {tell|share|provide|clarify|specify|give}",
        "please {provide|share|specify|clarify}", "tell me more"],
    "admits": [
        "i {cannot|can't|am unable|am not able|don't know|do not know|am not sure|"
        "am not certain|apologize|apologise|was wrong|made a mistake|must correct|won't be able}",
        "i can not", "i'm {unable|not able|not sure|not certain}", "i'm sorry but",
        "i {don't|do not} have {access|the ability|personal|real-time|real time}",
        "as an ai", "as a {language|large language} model", "my {apologies|mistake}",
        "my knowledge cutoff", "sorry but i", "not {able|possible} for me",
        "beyond my {capabilities|ability|knowledge}"],
    "polite": [
        "please", "thank you", "thanks", "you're welcome", "kindly", "i appreciate",
        "excuse me", "pardon", "my pleasure", "i'd be {happy|glad|delighted} to",
        "certainly", "of course", "with all due respect"],
    "friendly": [
        "happy to help", "glad", "great question", "good question",
        "hope {this|that|it} helps", "good luck", "enjoy",
        "have a {great|nice|wonderful|good|lovely}", "hello", "hi there", "hey there",
        "cheers", "you've got this", "best wishes", "take care", "wonderful", "delighted"],
    "informal": [
        "lol", "lmao", "haha", "hahaha", "hehe", "omg", "btw", "gonna", "wanna", "gotta",
        "kinda", "sorta", "yeah", "yep", "nope", "dude", "bro", "y'all", "awesome", "cool",
        "totally", "no worries", "hey"],
    "support": [
        "according to", "studies {show|suggest}", "research {shows|suggests|indicates}",
        "research has shown", "a {study|survey|report|paper} {by|from|in|published}",
        "published in", "et al", "percent", "source", "sources", "reference", "references"],
}
_SEQUENCE = {f"{word}{mark}" for word in ("First", "Firstly", "Second", "Secondly", "Third",
                                          "Thirdly", "Next", "Then", "Finally", "Lastly",
                                          "Afterwards", "Subsequently")
             for mark in ("", ",", ":")}


def _expand(phrase: str) -> list[str]:
    match = _BRACES.search(phrase)
    if match is None:
        return [phrase]
    head, tail = phrase[:match.start()], phrase[match.end():]
    return [x for option in match.group(1).split("|") for x in _expand(head + option + tail)]


def _phrase_index() -> dict[str, list[tuple[tuple[str, ...], str]]]:
    index: dict[str, list[tuple[tuple[str, ...], str]]] = {}
    for category, phrases in _PHRASES.items():
        for phrase in phrases:
            for variant in _expand(phrase):
                first, *rest = _TOKEN.findall(variant)
                index.setdefault(first, []).append((tuple(rest), category))
    return index


_FIRST = _phrase_index()


def _count_markers(tokens: list[str]) -> dict[str, int]:
    counts = dict.fromkeys(_PHRASES, 0)
    skip_to = 0
    for i in compress(range(len(tokens)), map(_FIRST.__contains__, tokens)):
        if i < skip_to:  # inside a phrase already counted
            continue
        for rest, category in _FIRST[tokens[i]]:
            if tuple(tokens[i + 1:i + 1 + len(rest)]) == rest:
                counts[category] += 1
                skip_to = i + 1 + len(rest)
                break
    return counts


def _level(count: int, cuts: tuple[int, int, int]) -> int:
    return 0 if count < cuts[0] else 1 if count < cuts[1] else 2 if count < cuts[2] else 3


def _structure(text: str) -> tuple[int, int]:
    """Return (structure kinds present, numbered list items), scanning lines once."""
    bullets = numbered = rows = 0
    heading = False
    for line in text.splitlines():
        s = line.strip()
        if not s:
            continue
        first = s[0]
        if first in "-*+\u2022" and len(s) > 2 and s[1] in " \t" and s[1:].strip():
            bullets += 1
        elif first.isdigit() and _NUMBER_PREFIX.match(s):
            numbered += 1
        elif first == "#" and s.lstrip("#")[:1] in (" ", "\t") and len(s) - len(s.lstrip("#")) <= 6:
            heading = True
        elif first == "|" and s.endswith("|") and len(s) > 1:
            rows += 1
        elif s.startswith("**") and s.rstrip(":").endswith("**") and len(s) > 4:
            heading = True
    emphasis = ("*" in text or "_" in text) and _EMPHASIS.search(text) is not None
    kinds = ((bullets + numbered >= 2) + heading + (text.count("```") >= 2) + (rows >= 2)
             + bool(emphasis))
    return kinds, numbered


def _repetitiveness(tokens: list[str]) -> float:
    if len(tokens) < 12:
        return 0.0
    grams = list(zip(tokens, tokens[1:], tokens[2:]))
    return 1.0 - len(set(grams)) / len(grams)


@lru_cache(maxsize=65536)
def measure(text: str) -> tuple[int, ...]:
    """Return the levels of one response, in the order of :data:`MEASURED`.

    Identical texts (a benchmark's baseline answering every pair, say) are
    measured once and served from a cache.
    """
    words = text.split()
    if not words:
        return (0,) * len(MEASURED)
    kinds, _ = _structure(text)
    if "`" in text:
        prose = _INLINE_CODE.sub(" ", _CODE_BLOCK.sub(" ", text))
        words = prose.split()
    else:
        prose = text
    low = prose.lower().replace("\u2019", "'")
    tokens = low.translate(_PUNCT).split()
    counts = _count_markers(tokens)
    labels = len(_STEP_LABEL.findall(low)) if "step " in low else 0
    steps = labels + sum(map(_SEQUENCE.__contains__, words))
    informal = counts["informal"]
    if not prose.isascii():
        informal += len(_EMOJI.findall(prose))
    if ":" in prose or ";" in prose or "=" in prose:
        informal += len(_EMOTICON.findall(prose))
    if "!!" in prose:
        informal += len(_EXCLAIM_RUN.findall(prose))
    interactive = len(_QUESTION.findall(prose)) + counts["interactive"]
    repetition = _repetitiveness(tokens)
    alpha = list(filter(str.isalpha, tokens))  # words, not numbers or contractions
    long_share = sum(map((9).__lt__, map(len, alpha))) / max(len(alpha), 1)
    sentences = 1 + sum(prose.count(end) for end in (". ", ".\n", "? ", "?\n", "! ", "!\n"))
    complexity = (0 if long_share < 0.06 else 1 if long_share < 0.12 else
                  2 if long_share < 0.18 else 3)
    complexity = min(3, complexity + (len(alpha) / sentences > 25))
    support = (counts["support"] + low.count("http://") + low.count("https://")
               + low.count("www.") + prose.count("%"))
    if "[" in prose or "(1" in prose or "(2" in prose:
        support += len(_CITATION.findall(prose))
    friendly = counts["friendly"] + (prose.count("!") > prose.count("!="))
    return (
        count_words(text),
        min(3, kinds),
        _level(steps, (1, 3, 6)),
        _level(informal, (1, 2, 4)),
        _level(interactive, (1, 2, 3)),
        _level(counts["admits"], (1, 2, 3)),
        0 if repetition < 0.05 else 1 if repetition < 0.15 else 2 if repetition < 0.30 else 3,
        complexity,
        _level(support, (1, 2, 4)),
        _level(counts["polite"], (1, 2, 4)),
        _level(friendly, (1, 2, 4)),
    )


def _text_batches(batches: Iterable[pd.DataFrame]) -> Iterator[tuple[pd.DataFrame, list[str]]]:
    for batch in batches:
        texts = [*batch["response_a"].fillna(""), *batch["response_b"].fillna("")]
        yield batch, texts


def _rows(ids: Sequence[str], values: np.ndarray, wanted: list[str]) -> pd.DataFrame:
    """Return the annotation rows of a batch, given its A values stacked over its B values."""
    columns = [MEASURED.index(p) for p in wanted]
    n = len(ids)
    return values_to_frame(np.asarray(ids, dtype=object), wanted, values[:n][:, columns],
                           values[n:][:, columns], annotator=HeuristicAnnotator.name,
                           prompt_version=VERSION)


def annotate_record_batch(batch: pa.RecordBatch | pa.Table,
                          properties: Sequence[str] = MEASURED) -> pa.Table:
    """Annotate one Arrow batch of pairs: the heuristic annotator as a pure function.

    ``batch`` needs the columns ``id``, ``response_a`` and ``response_b``; the
    result is an annotation table (:data:`~prefdissect.batches.ANNOTATION_SCHEMA`)
    with one row per pair and property of ``properties`` (those of
    :data:`MEASURED`), the same rows :meth:`HeuristicAnnotator.annotate` gives.
    This is the unit a distributed engine runs (see :mod:`prefdissect.shards`).
    """
    from ..batches import ANNOTATION_SCHEMA

    frame = batch.select(["id", "response_a", "response_b"]).to_pandas()
    frame = frame.astype(object).where(frame.notna(), None)
    wanted = [p for p in MEASURED if p in set(properties)]
    texts = [*frame["response_a"].fillna(""), *frame["response_b"].fillna("")]
    values = np.array([measure(text) for text in texts], dtype=np.int64).reshape(
        len(texts), len(MEASURED))
    rows = _rows(frame["id"].tolist(), values, wanted)
    return pa.Table.from_pandas(rows, schema=ANNOTATION_SCHEMA, preserve_index=False)


@register("annotator", "heuristic", "offline text statistics for 11 properties (length, "
          "formatting, steps, informality, questions, refusals, repetition, ...)")
class HeuristicAnnotator:
    """Annotate the properties in :data:`MEASURED` from text statistics alone.

    Parameters
    ----------
    workers
        Worker processes for large inputs (None: one per available core; see
        :class:`~prefdissect.measurements.TextMeasures`, which also measures each
        distinct text once).
    """

    name = "heuristic"

    def __init__(self, workers: int | None = None):
        self.workers = workers

    def measures(self, schema: PropertySchema) -> list[str]:
        """Return the schema properties this annotator measures."""
        return [p for p in schema.names if p in MEASURED]

    def annotate_batches(self, batches: Iterable[pd.DataFrame], schema: PropertySchema,
                         progress: Progress | None = None) -> Iterator[pd.DataFrame]:
        """Annotate pairs a batch at a time: yield one annotation table per batch.

        ``batches`` yields DataFrames with ``id``, ``response_a`` and
        ``response_b``; texts are measured once each across all batches.
        """
        wanted = self.measures(schema)
        measures = TextMeasures(measure, len(MEASURED), "int32", workers=self.workers)
        for batch, values in measures.measure_batches(_text_batches(batches)):
            if progress is not None:
                progress(len(batch))
            yield _rows(batch["id"].tolist(), values, wanted)

    def annotate(self, pairs: pd.DataFrame, schema: PropertySchema,
                 progress: Progress | None = None, chunk: int = 2000) -> pd.DataFrame:
        """Return an annotation table (status ``ok`` for every measured value)."""
        chunks = (pairs.iloc[start:start + chunk] for start in range(0, len(pairs), chunk))
        frames = list(self.annotate_batches(chunks, schema, progress))
        if not frames:
            return _rows([], np.empty((0, len(MEASURED))), self.measures(schema))
        return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
