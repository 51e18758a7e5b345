"""Word counts as the paper's dataset counted them.

The paper's pairs carry a precomputed word count per response (``response_a word``),
and its length comparison (*lengthy*) applies its thresholds to those counts. The
original data preparation counted with NLTK: Punkt cut the text into sentences,
``word_tokenize`` cut each sentence into tokens (NLTK 3.8.1's improved Treebank
rules), and the tokens were counted. Punctuation marks and split-off clitics are
tokens, so "Got it. Thanks for the clarification." is 8 words (``str.split`` gives 6)
and a code-heavy answer counts its brackets and operators.

:func:`count_words` gives that count without NLTK or any downloaded data, four times
faster than NLTK 3.8.1 itself (``benchmarks/word_count.py``; the heuristic annotator
counts every response of a million-pair dataset). What it reproduces, exactly:

- **sentences**: NLTK 3.8.1's ``PunktSentenceTokenizer`` with no trained parameters
  (candidate ends ``.``, ``?``, ``!``; a period ends a sentence unless it closes an
  initial or a number followed by a lower-case word or by ``;:,.!?``, or an initial
  followed by a capitalised word; a run of periods never does; closing quotes and
  brackets after the end stay with the sentence). The original used Punkt's trained
  English parameters, which NLTK downloads separately; they change the outcome only
  after the ~150 abbreviations they list ("Dr. Smith", "U.S. law": we count the period
  as a token of its own, one word more) and in rare orthographic cases;
- **tokens**: NLTK 3.8.1's ``NLTKWordTokenizer`` (the rules below), applied to each
  sentence as ``word_tokenize`` does, including its own second sentence split.
  Later NLTK releases split dashes (``—``) and handle apostrophes differently; the
  paper's counts predate them.

``tests/test_words.py`` checks the count against the paper's published counts, against
hand-worked cases of each rule, and (where NLTK 3.8.1 is installed) against NLTK itself
on thousands of real responses.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterator
from typing import Any

# -- sentences (Punkt's rules, no trained parameters) ----------------------------------
# Characters that may not occur inside a Punkt word and that can follow a sentence end.
_NON_WORD = r"[)\";}\]*:@'({\[?!]"
_MULTI = r"(?:-{2,}|\.{2,}|(?:\.\s){2,}\.)"
# A candidate sentence end, what follows it, and the next token when space comes first.
_END = re.compile(rf"[.?!](?=(?P<after>{_NON_WORD}|\s+(?P<next>\S+)))")
# Punkt's own word split of a context: multi-character punctuation, a word (which may
# not start with some marks, and ends before space, punctuation or a word-final comma),
# or any other single character.
_PUNKT_WORD = re.compile(
    rf"{_MULTI}"
    rf"|(?=[^(\"`{{\[:;&#*@)}}\]\-,])\S+?"
    rf"(?=\s|$|{_NON_WORD}|{_MULTI}|,(?=$|\s|{_NON_WORD}|{_MULTI}))"
    r"|\S")
_NUMERIC = re.compile(r"^-?[.,]?\d[\d,.-]*\.?$")
_INITIAL = re.compile(r"[^\W\d]\.$")
_ALL_PERIODS = re.compile(r"\.\.+$")
_REALIGN = re.compile(r"[\"')\]}]+?(?:\s+|(?=--)|$)", re.M)
_PUNCT_TOKENS = (";", ":", ",", ".", "!", "?")


def _ends_sentence(token: str, following: str) -> bool:
    """Whether untrained Punkt marks ``token`` (followed by ``following``) as a sentence end."""
    if token in (".", "?", "!"):
        return True
    if not token.endswith(".") or token.endswith(".."):
        return False  # no period, a run of periods, or a word ending in one
    kind = _NUMERIC.sub("##number##", token.lower())
    if len(kind) > 1 and kind.endswith("."):
        kind = kind[:-1]
    initial = _INITIAL.match(token) is not None
    if initial or kind == "##number##":
        # Without trained statistics the next token "starts a sentence" only when it is
        # not punctuation and not lower-case; an initial even keeps a capitalised one.
        if following in _PUNCT_TOKENS or following[0].islower():
            return False
        if initial and following[0].isupper():
            return False
    return True


def _context_breaks(context: str) -> bool:
    """Whether some token of ``context`` but its last ends a sentence."""
    tokens = [t for line in context.split("\n") if line.strip()
              for t in _PUNKT_WORD.findall(line)]
    return any(_ends_sentence(tokens[i], tokens[i + 1]) for i in range(len(tokens) - 1))


def _last_space(text: str) -> int:
    """Index of the last ASCII whitespace character of ``text``, or -1."""
    return max(map(text.rfind, string.whitespace))


def _contexts(text: str) -> Iterator[tuple[re.Match, str]]:
    """Yield each candidate end with its context: the word before it, itself, what follows.

    Where the words before two candidates overlap ("acting!!!"), only the later one is
    kept, as Punkt does.
    """
    start = stop = 0
    previous = None
    for match in _END.finditer(text):
        space = _last_space(text[stop:match.start()])
        begin = stop + space + 1 if space > 0 else start
        if previous is not None and stop <= begin:
            yield previous, text[start:stop] + previous.group() + previous.group("after")
        previous, start, stop = match, begin, match.start()
    if previous is not None:
        yield previous, text[start:stop] + previous.group() + previous.group("after")


def sentences(text: str) -> list[str]:
    """Split ``text`` into sentences as NLTK 3.8.1's Punkt does without trained parameters."""
    if _END.search(text) is None:  # no candidate end: one sentence
        text = text.rstrip()
        return [text] if text else []
    spans, begin = [], 0
    for match, context in _contexts(text):
        if _context_breaks(context):
            spans.append((begin, match.end()))
            begin = match.start("next") if match.group("next") else match.end()
    spans.append((begin, len(text.rstrip())))
    out, shift = [], 0
    for i, (first, last) in enumerate(spans):
        first += shift
        if i + 1 == len(spans):
            if text[first:last]:
                out.append(text[first:last])
            break
        following = spans[i + 1]
        closers = _REALIGN.match(text, following[0], following[1])
        if closers:  # closing quotes or brackets after the end belong to this sentence
            out.append(text[first:following[0] + len(closers.group().rstrip())])
            shift = closers.end() - following[0]
        else:
            shift = 0
            if text[first:last]:
                out.append(text[first:last])
    return out


# -- tokens (NLTK 3.8.1's NLTKWordTokenizer) -----------------------------------------
# The tokenizer pads characters with spaces in a fixed order and splits on whitespace.
# The opening-quote steps and the split of a sentence's final period (before any
# closing quotes, brackets and spaces) run per sentence; every later step works the
# same on the sentences joined by two spaces, which stand for the space the tokenizer
# puts around each sentence. A step is a compiled pattern with its replacement (a
# function: faster than a template), a plain string replacement, or single characters
# to pad wherever they occur (the fast path for context-free rules); each comes with
# what the text must contain for it to change anything.
_FINAL_PERIOD = re.compile(r"([^.])(\.)([\]\)}>\"'\u00bb\u201d\u2019 ]*)\s*$")


def _split_pair(match: re.Match) -> str:
    return f" {match[1]} {match[2]} "


def _split_clitic(match: re.Match) -> str:
    return f"{match[1]} {match[2]} "


def _split_period(match: re.Match) -> str:
    return f"{match[1]} {match[2]} {match[3]} "


def _pad(chars: str, into: str | None = None) -> tuple[tuple[str, str], ...]:
    return tuple((c, f" {into or c} ") for c in chars)


_STEPS_OPENING = [
    # opening quotes and runs of backticks; a double quote opening the sentence or
    # following a space or an opening bracket
    (_pad("\u00ab\u201c\u2018\u201e"), None, "\u00ab\u201c\u2018\u201e"),
    (re.compile("`+"), lambda m: f" {m[0]} ", "`"),
    (re.compile(r"^\""), "``", '"'),
    ("``", " `` ", ("``",)),
    (re.compile(r"([ (\[{<])(\"|'{2})"), lambda m: f"{m[1]} `` ", ('"', "''")),
    # an apostrophe before a one-letter word that is not a clitic
    (re.compile(r"(?i)(')(?!re|ve|ll|m|t|s|d|n)(\w)\b"), lambda m: f"{m[1]} {m[2]}", "'"),
]
_STEPS_BEFORE_PADDING = [
    # a colon or comma before anything but a digit (taking that character along), or
    # at the very end; runs of periods; ; @ # $ % & ? !; a single quote before a
    # space (before the next paddings make more of those); * and brackets; double dashes
    (re.compile(r"([:,])([^\d])"), lambda m: f" {m[1]} {m[2]}", ":,"),
    (re.compile(r"([:,])$"), lambda m: f" {m[1]} ", ":,"),
    (re.compile(r"\.{2,}"), lambda m: f" {m[0]} ", ("..",)),
    (_pad(";@#$%&?!"), None, ";@#$%&?!"),
    (re.compile(r"([^'])' "), lambda m: f"{m[1]} ' ", ("' ",)),
    (_pad("*[](){}<>"), None, "*[](){}<>"),
    ("--", " -- ", ("--",)),
]
_STEPS_AFTER_PADDING = [
    # closing quotes; two single quotes and a double quote become a closing quote
    (_pad("\u00bb\u201d\u2019"), None, "\u00bb\u201d\u2019"),
    ("''", " '' ", ("''",)),
    (_pad('"', "''"), None, '"'),
    # clitics ('s 'm 'd 'll 're 've n't) and a bare closing quote before a space
    # (the quote first, then a look back: the same matches, found ten times faster)
    (re.compile(r"'(?<=[^' ]')([sSmMdD]?) "), lambda m: f" '{m[1]} ", ("' ", "'s", "'S", "'m",
                                                                    "'M", "'d", "'D")),
    (re.compile(r"([^' ])('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) "), _split_clitic,
     ("'ll", "'LL", "'re", "'RE", "'ve", "'VE", "n't", "N'T")),
]
# Words split in two: cannot, d'ye, gimme, gonna, gotta, lemme, more'n, wanna, 'tis, 'twas
_CONTRACTIONS = [re.compile(p) for p in (
    r"(?i)\b(can)(not)\b", r"(?i)\b(d)('ye)\b", r"(?i)\b(gim)(me)\b", r"(?i)\b(gon)(na)\b",
    r"(?i)\b(got)(ta)\b", r"(?i)\b(lem)(me)\b", r"(?i)\b(more)('n)\b",
    r"(?i)\b(wan)(na)(?=\s)", r"(?i) ('t)(is)\b", r"(?i) ('t)(was)\b")]
_CONTRACTION_HINTS = ("cannot", "d'ye", "gimme", "gonna", "gotta", "lemme", "more'n", "wanna",
                      "'t")


def _run(text: str, steps: list) -> str:
    for step, replacement, needs in steps:
        if not any(c in text for c in needs):
            continue  # a step that cannot change the text is not run
        if isinstance(step, tuple):
            for char, padded in step:
                if char in text:
                    text = text.replace(char, padded)
        elif isinstance(step, str):
            text = text.replace(step, replacement)
        else:
            text = step.sub(replacement, text)
    return text


def _sentence_start(sentence: str) -> str:
    """Apply the tokenizer's first steps, which depend on where the sentence starts and ends."""
    sentence = _run(sentence, _STEPS_OPENING)
    return _FINAL_PERIOD.sub(_split_period, sentence) if "." in sentence else sentence


def _token_count(parts: list[str]) -> int:
    """Count the word tokens of sentences, as NLTK 3.8.1's ``NLTKWordTokenizer`` does."""
    if not parts:
        return 0
    text = "  ".join(_sentence_start(p) for p in parts)
    text = _run(" " + _run(text, _STEPS_BEFORE_PADDING) + " ", _STEPS_AFTER_PADDING)
    lower = text.lower()
    if any(hint in lower for hint in _CONTRACTION_HINTS):
        for pattern in _CONTRACTIONS:
            text = pattern.sub(_split_pair, text)
    return len(text.split())


def count_words(text: str) -> int:
    """Return the number of words of ``text`` as the paper's dataset counts them.

    Punctuation marks, split-off clitics (``n't``, ``'s``) and brackets count as words;
    see the module docstring for the exact tokenizer this reproduces.

    Parameters
    ----------
    text
        One response (any string; empty or blank gives 0).

    Examples
    --------
    >>> count_words("Got it. Thanks for the clarification.")
    8
    >>> count_words("I can't do that.")
    6
    """
    if not text or text.isspace():
        return 0
    # word_tokenize splits each Punkt sentence into sentences once more
    return _token_count([inner for outer in sentences(text) for inner in sentences(outer)])


PRECOMPUTED = ("words_a", "words_b")
"""Pair metadata keys holding a source's own word counts of responses A and B (the
paper's dataset carries them); where both are there, they are the counts used."""


def pair_word_counts(response_a: str, response_b: str,
                     metadata: dict[str, Any] | None = None) -> tuple[int, int]:
    """Return the word counts of a pair's two responses, for the length comparison.

    A source's own counts (metadata keys :data:`PRECOMPUTED`, both whole numbers) are
    used as given; otherwise each response is counted with :func:`count_words`.
    """
    given = [(metadata or {}).get(key) for key in PRECOMPUTED]
    if all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in given):
        return given[0], given[1]
    return count_words(response_a or ""), count_words(response_b or "")
