"""Phrases: words and short phrases distinctive of the side the judge preferred.

Among the proposal half's pairs that the current model (the schema's properties
plus the model terms) predicts worst, each word sequence of one to
:data:`MAX_WORDS` words is counted in the pairs where it appears in the preferred
response but not in the other (``won``) and the reverse (``lost``). A sign test
ranks them: ``z = (won - lost) / sqrt(won + lost)``; sequences seen in fewer than
``min_pairs`` such pairs, made only of common words, contained in a better ranked
sequence (or containing one), or telling the same pairs apart as a better ranked
one (the cosine of their won/lost patterns over the pairs :data:`SAME` or more:
words of one stock text) are passed over.
The best ``count`` by ``|z|`` become candidates, each measured as the number of
times a response uses it.
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np
from scipy import sparse

from ..properties import Property
from .features import STOPWORDS

MAX_WORDS = 3
SAME = 0.8
"""Phrases whose won/lost patterns over the pairs align this much (cosine) are one finding."""
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")
_MORE_COMMON = STOPWORDS | frozenset("also more most such some any all each other very just "
                                     "like well here one two".split())


@lru_cache(maxsize=1 << 15)
def _grams(text: str) -> frozenset[str]:
    """Return the distinct word sequences (1 to MAX_WORDS words) of a text, lower-cased."""
    words = _WORD.findall(text.lower().replace("\u2019", "'"))
    found = set(words)
    for size in range(2, MAX_WORDS + 1):
        found.update(" ".join(words[i:i + size]) for i in range(len(words) - size + 1))
    return frozenset(found)


def _plain(gram: str) -> bool:
    """Whether a sequence is made only of common words or numbers (no use as a phrase)."""
    return all(w in _MORE_COMMON or w.isdigit() or len(w) < 2 for w in gram.split())


def _inside(small: str, big: str) -> bool:
    return f" {small} " in f" {big} "


def distinctive_phrases(winners: list[str], losers: list[str], *, count: int,
                        min_pairs: int) -> list[tuple[str, int, int, float]]:
    """Rank word sequences by how much more often the winning side uses them.

    Returns up to ``count`` tuples ``(phrase, won, lost, z)``, strongest first.
    """
    vocabulary: dict[str, int] = {}
    texts = {t: i for i, t in enumerate(dict.fromkeys(winners + losers))}
    rows, cols = [], []
    for text, row in texts.items():
        ids = [vocabulary.setdefault(g, len(vocabulary)) for g in _grams(text)]
        rows.extend([row] * len(ids))
        cols.extend(ids)
    if not vocabulary:
        return []
    present = sparse.csr_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)),
                                shape=(len(texts), len(vocabulary)))
    won_side = present[[texts[t] for t in winners]].astype(np.int16)
    lost_side = present[[texts[t] for t in losers]].astype(np.int16)
    difference = (won_side - lost_side).tocsc()
    won = np.asarray((difference > 0).sum(axis=0)).ravel()
    lost = np.asarray((difference < 0).sum(axis=0)).ravel()
    support = won + lost
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(support > 0, (won - lost) / np.sqrt(np.maximum(support, 1)), 0.0)
    names = np.array(list(vocabulary))
    order = np.argsort(-np.abs(z), kind="stable")
    chosen: list[tuple[str, int, int, float]] = []
    columns: list[np.ndarray] = []
    for j in order[support[order] >= min_pairs]:
        if len(chosen) >= count:
            break
        gram = str(names[j])
        if _plain(gram) or any(_inside(gram, c[0]) or _inside(c[0], gram) for c in chosen):
            continue
        column = difference[:, j].toarray().ravel().astype(float)
        column /= np.linalg.norm(column)
        if any(abs(column @ other) >= SAME for other in columns):
            continue  # the same pairs tell it apart: another word of one stock text
        columns.append(column)
        chosen.append((gram, int(won[j]), int(lost[j]), float(z[j])))
    return chosen


def phrase_property(phrase: str, taken: set[str]) -> Property:
    """Return the candidate property that counts ``phrase`` in a response."""
    base = "phrase_" + re.sub(r"[^a-z0-9]+", "_", phrase.lower()).strip("_")
    name, n = base, 2
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    return Property(name=name, label=f'says "{phrase}"',
                    description=f'Uses the words "{phrase}" (more often than the other '
                                "response).",
                    rule="higher_better", scale="matches",
                    measure={"kind": "phrases", "phrases": [phrase]})


def propose_phrases(winners: list[str], losers: list[str], *, count: int, min_pairs: int,
                    taken: set[str]) -> list[Property]:
    """Return candidate properties for the phrases most distinctive of the winning side."""
    found = distinctive_phrases(winners, losers, count=count, min_pairs=min_pairs)
    out = []
    for phrase, *_ in found:
        prop = phrase_property(phrase, taken)
        taken.add(prop.name)
        out.append(prop)
    return out
