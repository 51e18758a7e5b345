"""Features: text properties measured offline, each defined as data.

A feature is a schema property (name, label, description, comparison rule) with a
``measure`` mapping that says how to get its value from one response. The library
of built-in features is ``features.yaml`` beside this module, a property schema
like any other; a schema of one's own may carry ``measure`` too, and the
``features`` annotator measures every property that has one.

Kinds of measure (``kind``):

``regex``
    ``pattern``: the number of non-overlapping matches of a regular expression in
    RE2 syntax (the engine Arrow runs; no look-around or back-references);
    ``ignore_case`` (default false).
``phrases``
    ``phrases``: a list of words or phrases, matched case-insensitively as whole
    words (any run of white space between words; straight or curly apostrophes);
    the number of matches.
``statistic``
    ``statistic``: one of :data:`STATISTICS`, computed by code (sentence length,
    type-token ratio, overlap with the query, ...).

Options of every kind: ``text`` — ``response`` (default) or ``prose`` (fenced and
inline code removed first); ``window`` — ``all`` (default), ``start`` (the first
:data:`START_CHARS` characters) or ``end`` (the last :data:`END_CHARS`);
``per_words`` — true for a rate per 100 words of the same text; ``bins`` —
ascending cut points, the value becoming the number of cuts it reaches (a level,
so that small differences compare as equal).

Measuring is vectorised over Arrow arrays (RE2 counts run in C++), and each
distinct text is measured once (each distinct query and response, for statistics
that need the query).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cache, lru_cache
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError
from ..properties import Property, PropertySchema, load_schema

KINDS = ("regex", "phrases", "statistic")
TEXTS = ("response", "prose")
WINDOWS = ("all", "start", "end")
START_CHARS = 150
"""Characters that count as a response's opening (``window: start``)."""
END_CHARS = 300
"""Characters that count as a response's closing (``window: end``)."""
LIBRARY = "features.yaml"

_CODE = r"(?s)```.*?(?:```|$)|`[^`\n]*`"
_WORD = r"\S+"
_TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)?")
_SENTENCE_END = re.compile(r"[.!?]+(?:\s|$)|\n\s*\n")
_LIST_ITEM = re.compile(r"(?m)^([ \t]*)(?:[-*+\u2022]|\d{1,3}[.)])[ \t]+\S")
_QUERY_CODE = re.compile(r"```|^\s*(?:def |class |import |#include|function |public |"
                         r"for \(|if \(|SELECT |<\w+[^>]*>)|[;{}]\s*$", re.M)
_RESPONSE_CODE = re.compile(r"```|^(?: {4}|\t)\S", re.M)
STOPWORDS = frozenset(
    "a an and are as at be been but by can could did do does for from had has have how i if "
    "in into is it its me my no not of on or our so than that the their them then there these "
    "they this to was we were what when where which who why will with would you your".split())
_LANGUAGE_WORDS = {
    "en": "the and is are you that with for this what have not",
    "es": "el la los las que es por para con una del como pero",
    "fr": "le la les des est que pour avec une dans pas vous",
    "de": "der die das und ist nicht mit ein eine ich sie für",
    "it": "il della che per con una sono non gli anche come questo",
    "pt": "os as que para com uma não por mais como são você",
    "nl": "de het een en is van dat niet met voor zijn ook",
}
_SCRIPT_PATTERNS = {name: re.compile(f"[{low}-{high}]") for name, (low, high) in {
    "cyrillic": ("\u0400", "\u04ff"), "greek": ("\u0370", "\u03ff"),
    "arabic": ("\u0600", "\u06ff"), "hebrew": ("\u0590", "\u05ff"),
    "devanagari": ("\u0900", "\u097f"), "thai": ("\u0e00", "\u0e7f"),
    "hangul": ("\uac00", "\ud7af"), "kana": ("\u3040", "\u30ff"),
    "han": ("\u4e00", "\u9fff")}.items()}
_ASCII_LETTERS = re.compile(r"[A-Za-z]")
_ASCII = re.compile(r"[\x00-\x7f]+")


# -- statistics: one function per name, over a list of texts (and their queries) -----------
@lru_cache(maxsize=1 << 16)
def _tokens(text: str) -> tuple[str, ...]:
    """Lower-case word tokens (cached: several statistics read the same response)."""
    return tuple(_TOKEN.findall(text.lower().replace("\u2019", "'")))


def _content(tokens: tuple[str, ...]) -> list[str]:
    return [t for t in tokens if len(t) > 2 and t not in STOPWORDS]


def _type_token_ratio(text: str) -> float:
    tokens = _tokens(text)[:100]  # a fixed window: the ratio falls with length otherwise
    return len(set(tokens)) / len(tokens) if tokens else 0.0


def _list_depth(text: str) -> float:
    indents = [len(m.group(1).expandtabs(4)) for m in _LIST_ITEM.finditer(text)]
    if not indents:
        return 0.0
    levels = sorted(set(indents))
    return float(len([x for x in levels if x - levels[0] < 16]))


def _repeated_lines(text: str) -> float:
    seen, repeats = set(), 0
    for line in text.splitlines():
        line = line.strip().lower()
        if len(line) >= 20:
            repeats += line in seen
            seen.add(line)
    return float(repeats)


def _repeated_ngrams(text: str) -> float:
    tokens = _tokens(text)
    grams = list(zip(tokens, tokens[1:], tokens[2:], tokens[3:]))
    return 1.0 - len(set(grams)) / len(grams) if len(grams) >= 8 else 0.0


def _ends_with_question(text: str) -> float:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return float(bool(lines) and lines[-1].rstrip("*_ )\"'").endswith("?"))


@lru_cache(maxsize=1 << 14)
def language(text: str) -> str:
    """Return a rough language or script of ``text`` ('und' when it cannot tell).

    Non-Latin scripts are told apart by their letters; Latin-script languages by
    their commonest words (English, Spanish, French, German, Italian, Portuguese,
    Dutch). Enough to see an answer in another language than the question's.
    """
    sample = text[:2000]
    if sample.isascii():
        letters, others = len(_ASCII_LETTERS.findall(sample)), ""
    else:
        others = _ASCII.sub("", sample)  # the non-ASCII characters, usually few
        letters = len(_ASCII_LETTERS.findall(sample)) + sum(map(str.isalpha, others))
    if letters < 8:
        return "und"
    if len(others) > 0.3 * letters:
        counts = {name: len(pattern.findall(others)) for name, pattern in _SCRIPT_PATTERNS.items()}
        name, count = max(counts.items(), key=lambda kv: kv[1])
        if count > 0.3 * letters:
            return "cjk" if name in ("han", "kana") else name
    words = _tokens(sample)
    votes = {lang: sum(map(_language_set(lang).__contains__, words)) for lang in _LANGUAGE_WORDS}
    lang, hits = max(votes.items(), key=lambda kv: kv[1])
    return lang if hits >= 2 else "und"


@cache
def _language_set(lang: str) -> frozenset[str]:
    return frozenset(_LANGUAGE_WORDS[lang].split())


def _query_overlap(text: str, query: str) -> float:
    wanted = set(_content(_tokens(query)))
    return len(wanted & set(_tokens(text))) / len(wanted) if wanted else 0.0


def _restates_question(text: str, query: str) -> float:
    first = _SENTENCE_END.split(text.strip(), maxsplit=1)[0]
    words = _content(_tokens(first))
    if len(words) < 4:
        return 0.0
    asked = set(_tokens(query))
    return float(sum(w in asked for w in words) / len(words) >= 0.6)


def _same_language(text: str, query: str) -> float:
    asked, answered = language(query), language(text)
    return float(asked == "und" or answered == "und" or asked == answered)


def _code_for_code_query(text: str, query: str) -> float:
    return float(bool(_QUERY_CODE.search(query)) and bool(_RESPONSE_CODE.search(text)))


_PER_TEXT: dict[str, Callable[[str], float]] = {
    "type_token_ratio": _type_token_ratio, "list_depth": _list_depth,
    "repeated_lines": _repeated_lines, "repeated_ngrams": _repeated_ngrams,
    "ends_with_question": _ends_with_question}
_WITH_QUERY: dict[str, Callable[[str, str], float]] = {
    "query_overlap": _query_overlap, "restates_question": _restates_question,
    "same_language": _same_language, "code_for_code_query": _code_for_code_query}
# Statistics that are ratios of two Arrow measurements, each ("count", pattern): the
# number of matches, or ("length", pattern): the characters left once matches are removed.
_RATIOS = {
    "sentence_words": (("count", _WORD), ("count", r"[.!?]+(?:\s|$)|\n\s*\n|\S\s*$")),
    "word_length": (("length", r"[^\p{L}]+"), ("count", r"\p{L}+")),
    "digit_share": (("count", r"\S*\d\S*"), ("count", _WORD)),
    "uppercase_share": (("count", r"\b[A-Z]{2,}\b"), ("count", r"\p{L}+")),
    "symbol_share": (("length", r"[\p{L}\p{N}\s.,;:!?'\"()\-\x{2019}\x{201C}\x{201D}]+"),
                     ("length", r"\s+")),
    "paragraphs": (("count", r"\n\s*\n|\S\s*$"), None),
}
STATISTICS = tuple(sorted([*_PER_TEXT, *_WITH_QUERY, *_RATIOS]))
"""Names a ``statistic`` measure may use."""


# -- checking ---------------------------------------------------------------------------------
def _pyarrow():
    import pyarrow as pa
    import pyarrow.compute as pc

    return pa, pc


_EDGE = r"[^\p{L}\p{N}_]"
"""A character that is not part of a word, in any script."""


def phrase_pattern(phrases: Sequence[str]) -> str:
    """Return the RE2 pattern matching any of ``phrases`` as whole words.

    RE2's word boundary knows ASCII word characters only, so a phrase that starts or ends
    with another letter ("über", "está") is bounded by a non-word character or the
    text's edge instead; that boundary is part of the match, so two such phrases
    separated by a single character count once.
    """
    parts = []
    for phrase in sorted({p.strip().lower() for p in phrases if p.strip()}, key=len,
                         reverse=True):
        words = [re.escape(w).replace("'", "['\u2019]") for w in phrase.split()]
        parts.append(_bound(phrase[0], True) + r"\s+".join(words) + _bound(phrase[-1], False))
    return "(?:" + "|".join(parts) + ")"


def _bound(edge: str, head: bool) -> str:
    if not re.match(r"\w", edge):
        return ""
    if edge.isascii():
        return r"\b"
    return f"(?:^|{_EDGE})" if head else f"(?:{_EDGE}|$)"


def check_measure(measure: Any, source: str, where: str) -> None:
    """Raise an :class:`InputError` naming the first problem of a ``measure`` mapping."""
    fix = "see the built-in feature library (prefdissect/discovery/features.yaml) for examples"
    if not isinstance(measure, dict):
        raise InputError(source, f"{where} is not a mapping", fix, field="measure")
    kind = measure.get("kind")
    if kind not in KINDS:
        raise InputError(source, f"{where} has unknown kind {kind!r}",
                         f"use one of {', '.join(KINDS)}", field="kind")
    known = {"kind", "text", "window", "per_words", "bins", "pattern", "ignore_case",
             "phrases", "statistic"}
    extra = sorted(set(measure) - known)
    if extra:
        raise InputError(source, f"{where} has the unknown key {extra[0]!r}",
                         f"use only {', '.join(sorted(known))}", field=extra[0])
    if measure.get("text", "response") not in TEXTS:
        raise InputError(source, f"{where} has unknown text {measure['text']!r}",
                         f"use one of {', '.join(TEXTS)}", field="text")
    if measure.get("window", "all") not in WINDOWS:
        raise InputError(source, f"{where} has unknown window {measure['window']!r}",
                         f"use one of {', '.join(WINDOWS)}", field="window")
    bins = measure.get("bins")
    if bins is not None and not (isinstance(bins, list) and bins
                                 and all(isinstance(b, (int, float)) for b in bins)
                                 and all(x < y for x, y in zip(bins, bins[1:]))):
        raise InputError(source, f"{where} has bins that are not ascending numbers",
                         "give bins as a list of increasing cut points, e.g. [1, 3, 6]",
                         field="bins")
    if kind == "regex":
        pattern = measure.get("pattern")
        if not isinstance(pattern, str) or not pattern:
            raise InputError(source, f"{where} lacks a pattern", fix, field="pattern")
        pa, pc = _pyarrow()
        try:
            empty = pc.count_substring_regex(pa.array(["", "x"]), pattern,
                                             ignore_case=bool(measure.get("ignore_case")))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise InputError(source, f"{where} has a pattern RE2 cannot compile ({exc})",
                             "write the pattern in RE2 syntax (no look-around or "
                             "back-references)", field="pattern") from None
        if empty.to_pylist()[0]:
            raise InputError(source, f"{where} has a pattern that matches empty text",
                             "make the pattern match at least one character", field="pattern")
    elif kind == "phrases":
        phrases = measure.get("phrases")
        if not (isinstance(phrases, list) and phrases
                and all(isinstance(p, str) and p.strip() for p in phrases)):
            raise InputError(source, f"{where} lacks a list of phrases", fix, field="phrases")
    elif measure.get("statistic") not in STATISTICS:
        raise InputError(source, f"{where} has unknown statistic "
                         f"{measure.get('statistic')!r}",
                         f"use one of {', '.join(STATISTICS)}", field="statistic")


@cache
def load_library() -> PropertySchema:
    """Return the built-in feature library (a schema whose properties all have a measure)."""
    path = resources.files("prefdissect.discovery").joinpath(LIBRARY)
    with resources.as_file(path) as file:
        return load_schema(file)


# -- measuring --------------------------------------------------------------------------------
class _Texts:
    """Distinct texts as Arrow arrays, with their prose and windows made once each."""

    def __init__(self, texts: list[str]):
        self.pa, self.pc = _pyarrow()
        self.texts = texts
        self._arrays: dict[tuple[str, str], Any] = {}
        self._words: dict[tuple[str, str], np.ndarray] = {}

    def array(self, text: str, window: str):
        key = (text, window)
        if key not in self._arrays:
            if window != "all":
                base = self.array(text, "all")
                if window == "start":
                    out = self.pc.utf8_slice_codeunits(self.pc.utf8_ltrim_whitespace(base), 0,
                                                       START_CHARS)
                else:
                    out = self.pc.utf8_slice_codeunits(self.pc.utf8_rtrim_whitespace(base),
                                                       -END_CHARS)
            elif text == "prose":
                out = self.pc.replace_substring_regex(self.array("response", "all"), _CODE, " ")
            else:
                out = self.pa.array(self.texts, type=self.pa.large_string())
            self._arrays[key] = out
        return self._arrays[key]

    def count(self, pattern: str, text: str, window: str, ignore_case: bool = False):
        found = self.pc.count_substring_regex(self.array(text, window), pattern,
                                              ignore_case=ignore_case)
        return found.to_numpy(zero_copy_only=False).astype(float)

    def length(self, removed: str, text: str, window: str) -> np.ndarray:
        """Characters left in each text once every match of ``removed`` is deleted."""
        kept = self.pc.replace_substring_regex(self.array(text, window), removed, "")
        return self.pc.utf8_length(kept).to_numpy(zero_copy_only=False).astype(float)

    def ratio_part(self, spec: tuple[str, str], text: str, window: str) -> np.ndarray:
        how, pattern = spec
        return self.count(pattern, text, window) if how == "count" else \
            self.length(pattern, text, window)

    def words(self, text: str, window: str) -> np.ndarray:
        if (text, window) not in self._words:
            self._words[(text, window)] = self.count(_WORD, text, window)
        return self._words[(text, window)]

    def strings(self, text: str, window: str) -> list[str]:
        return self.array(text, window).to_pylist()


def _raw(measure: dict[str, Any], texts: _Texts) -> np.ndarray:
    """Return the raw value of one measure (no query statistics) for every distinct text."""
    text, window = measure.get("text", "response"), measure.get("window", "all")
    kind = measure["kind"]
    if kind == "regex":
        return texts.count(measure["pattern"], text, window, bool(measure.get("ignore_case")))
    if kind == "phrases":
        return texts.count(phrase_pattern(measure["phrases"]), text, window, True)
    name = measure["statistic"]
    if name in _RATIOS:
        top, bottom = _RATIOS[name]
        numerator = texts.ratio_part(top, text, window)
        if bottom is None:
            return numerator
        denominator = texts.ratio_part(bottom, text, window)
        return np.divide(numerator, denominator, out=np.zeros_like(numerator),
                         where=denominator > 0)
    return np.fromiter(map(_PER_TEXT[name], texts.strings(text, window)), float,
                       len(texts.texts))


def _finish(measure: dict[str, Any], values: np.ndarray, words: np.ndarray | None) -> np.ndarray:
    if measure.get("per_words"):
        values = np.divide(100.0 * values, words, out=np.zeros_like(values), where=words > 0)
    bins = measure.get("bins")
    if bins:
        values = np.searchsorted(np.asarray(bins, float), values, side="right").astype(float)
    return values


def measure_texts(measures: Sequence[dict[str, Any]], queries: Sequence[str | None],
                  responses: Sequence[str | None], threads: int | None = None) -> np.ndarray:
    """Return each response's value on each measure: an (n responses x k measures) array.

    ``queries[i]`` is the query ``responses[i]`` answers (used by the statistics that
    relate a response to its query). Each distinct response (and each distinct
    query and response, for those statistics) is measured once; ``threads`` measures
    run at a time (None: one per core).
    """
    responses = pd.Series(["" if r is None else str(r) for r in responses], dtype=object)
    codes, distinct = pd.factorize(responses)
    texts = _Texts(list(distinct))
    out = np.zeros((len(responses), len(measures)))
    with_query = [j for j, m in enumerate(measures) if m.get("statistic") in _WITH_QUERY]
    alone = [j for j in range(len(measures)) if j not in with_query]
    for j in alone:  # make the shared arrays before the threads read them
        where = (measures[j].get("text", "response"), measures[j].get("window", "all"))
        texts.array(*where)
        if measures[j].get("per_words"):
            texts.words(*where)
    # Arrow's regex kernels release the GIL: measures run side by side on the cores.
    with ThreadPoolExecutor(max_workers=max(1, threads or os.cpu_count() or 1)) as pool:
        raws = list(pool.map(lambda j: _raw(measures[j], texts), alone))
    for j, raw in zip(alone, raws):
        measure = measures[j]
        words = texts.words(measure.get("text", "response"), measure.get("window", "all")) \
            if measure.get("per_words") else None
        out[:, j] = _finish(measure, raw, words)[codes]
    if with_query:
        asked = pd.Series(["" if q is None else str(q) for q in queries], dtype=object)
        pair_codes, pairs = pd.factorize(pd.MultiIndex.from_arrays([asked, responses]))
        for j in with_query:
            measure = measures[j]
            function = _WITH_QUERY[measure["statistic"]]
            clean = {}
            values = np.empty(len(pairs))
            for k, (query, response) in enumerate(pairs):
                if measure.get("text") == "prose" and response not in clean:
                    clean[response] = re.sub(r"```.*?(?:```|\Z)|`[^`\n]*`", " ", response,
                                             flags=re.S)
                values[k] = function(clean.get(response, response), query)
            out[:, j] = _finish(measure, values, None)[pair_codes]
    return out


def measure_properties(properties: Sequence[Property], pairs: pd.DataFrame,
                       threads: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Return the values of ``properties`` (each with a measure) for A and for B of ``pairs``.

    Two (pairs x properties) arrays; the query of each pair is its prompt text
    (earlier turns included).
    """
    from ..pairs import frame_to_pairs

    missing = [p.name for p in properties if p.measure is None]
    if missing:
        raise ValueError(f"properties without a measure: {', '.join(missing)}")
    measures = [p.measure for p in properties]
    queries = pairs["query"].fillna("").astype(str).tolist()
    if "history" in pairs and pairs["history"].notna().any():
        queries = [p.prompt_text() for p in frame_to_pairs(pairs)]
    n = len(pairs)
    values = measure_texts(measures, queries + queries,
                           pairs["response_a"].tolist() + pairs["response_b"].tolist(),
                           threads)
    return values[:n], values[n:]
