"""Word counts: the paper's precomputed counts, each tokenizer rule, and NLTK itself."""

from __future__ import annotations

import json
import random

import pytest

from prefdissect.words import count_words, sentences

# Hand-worked counts, one or more cases per rule of NLTK 3.8.1's word_tokenize over Punkt
# sentences (the tokens are spelled out so that each count can be checked by eye).
CASES = [
    # a sentence's final period is a token; inner periods split only at sentence ends
    ("Got it. Thanks for the clarification.", 8),  # Got it . Thanks for the clarification .
    # contractions and clitics
    ("I can't do that.", 6),  # I ca n't do that .
    ("You cannot be serious, I'm gonna leave.", 12),  # You can not be serious , I 'm gon na leave .
    ("They'll say it's John's.", 8),  # They 'll say it 's John 's .
    ("'Tis the season; 'twas fun.", 9),  # 'T is the season ; 't was fun .
    # quotes become `` and ''; closing punctuation stays with its sentence
    ('He said "hi." Then he left.', 10),  # He said `` hi . '' Then he left .
    ('The end." Next one.', 7),  # The end . '' Next one .
    ("(Sent one.) Sent two.", 8),  # ( Sent one . ) Sent two .
    # runs of punctuation
    ("Wait...what?!", 5),  # Wait ... what ? !
    ("Really?! Yes!!", 6),  # Really ? ! Yes ! !
    # numbers keep their inner commas, points and colons
    # It costs $ 3.88 , or 3,36 euros ( roughly ) .
    ("It costs $3.88, or 3,36 euros (roughly).", 12),
    ("Call me at 10:30; email a@b.com & #tag 50%.", 15),
    # URLs split at the colon, ? and symbols
    ("See https://example.com/a?b=1 for details.", 9),  # See https : //example.com/a ? b=1 ...
    # code: brackets, operators, backtick runs (``` is `` and `)
    ("```python\nx = f(a, b) * 2  # [1]\n```", 19),
    ("Use `print(x)` -- not `echo`.", 13),
    # numbered lists: "1." before a capital ends a sentence, before a lower-case word not
    ("1. Go to a travel agent.\n2. Book the flight.\n3. Pack.", 18),
    ("Steps:\n1. mix the flour\n2. bake", 8),  # Steps : 1. mix the flour 2. bake
    # initials stay whole; untrained Punkt ends a sentence after "Dr." (trained: no)
    ("J. R. R. Tolkien wrote it.", 7),  # J. R. R. Tolkien wrote it .
    ("Dr. Smith arrived at 5 p.m. today.", 10),  # Dr . Smith arrived at 5 p.m . today .
    ("e.g. this, i.e. that, etc. and so on.", 14),
    # non-ASCII: curly quotes and guillemets split, a dash does not (NLTK 3.8.1)
    ("Café “naïve” — déjà vu, ‘quoted’ «guillemets».", 15),
    ("日本語のテキスト。これはテストです。", 1),
    ("", 0),
    ("   \n ", 0),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_count_follows_each_documented_rule(text, expected):
    assert count_words(text) == expected


def test_sentences_keep_closing_punctuation_and_list_numbers():
    assert sentences("(Sent one.) Sent two.") == ["(Sent one.)", "Sent two."]
    assert sentences("1. Go.\n2. Stop.") == ["1.", "Go.", "2.", "Stop."]
    assert sentences("Steps:\n1. mix\n2. bake") == ["Steps:\n1. mix\n2. bake"]
    assert sentences("Very bad acting!!! I promise.") == ["Very bad acting!!!", "I promise."]


def test_counts_equal_the_papers_precomputed_counts(shared_data):
    path = shared_data / "preference-dissection" / "raw_data" / "sample_unannotated.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    pairs = [(row[f"response_{side}"], row[f"response_{side} word"])
             for row in rows for side in "ab"] + [(row["prompt"], row["prompt word"])
                                                  for row in rows]
    assert len(pairs) == 6
    assert [count_words(text) for text, _ in pairs] == [count for _, count in pairs]
    # the code-heavy answer is where whitespace splitting goes furthest wrong
    assert max(abs(len(text.split()) - count) for text, count in pairs) > 150


def _fuzz_texts(n: int, seed: int) -> list[str]:
    pieces = list("abcXYZ019 \n\t.,:;'\"`()[]{}<>?!*-&$%@#“”‘’«»„…") + [
        "n't", "'s", "'ll", "cannot", "gonna", "wanna", "A.", "e.g.", "1.", "3.5", "Dr.",
        "word", "The", "the", "...", "--", "''", "``", " 'tis", "can't", "I'm",
        "http://x.com/a?b=1", "été", "ß", "日本語。", "x_y", "  "]
    rng = random.Random(seed)
    return ["".join(rng.choice(pieces) + (" " if rng.random() < 0.4 else "")
                    for _ in range(rng.randint(1, 25))) for _ in range(n)]


def _nltk_count():
    nltk = pytest.importorskip("nltk", reason="the cross-check needs NLTK 3.8.1 "
                               "(pip install '.[test]')")
    if nltk.__version__ != "3.8.1":
        pytest.skip(f"NLTK {nltk.__version__} installed; the paper's counts are 3.8.1's")
    from nltk.tokenize import NLTKWordTokenizer
    from nltk.tokenize.punkt import PunktSentenceTokenizer

    words, punkt = NLTKWordTokenizer(), PunktSentenceTokenizer()
    return lambda text: sum(len(words.tokenize(inner)) for outer in punkt.tokenize(text)
                            for inner in punkt.tokenize(outer))


def test_count_equals_nltk_on_adversarial_texts():
    reference = _nltk_count()
    texts = _fuzz_texts(1500, seed=7)
    assert [count_words(t) for t in texts] == [reference(t) for t in texts]


def test_count_equals_nltk_on_real_responses(shared_data):
    reference = _nltk_count()
    folder = shared_data / "alpaca_eval" / "results"
    texts = [row["output"] for path in sorted(folder.glob("*/model_outputs.json"))
             for row in json.loads(path.read_text())[:120]]
    assert len(texts) > 1000
    assert [count_words(t) for t in texts] == [reference(t) for t in texts]
