"""Word-count speed on the AlpacaEval responses (one core), beside NLTK itself.

Times :func:`prefdissect.words.count_words` over every distinct AlpacaEval model
output, and in the same run the computation it reproduces (NLTK 3.8.1:
``word_tokenize`` over untrained Punkt sentences, where NLTK is installed), the rest
of the heuristic annotator's measurements, and whitespace splitting as a floor; prints
seconds (CPU, best of three) and the ratios, and whether every count agreed.

    python benchmarks/word_count.py [PATH_TO_ALPACA_EVAL]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from threadpoolctl import threadpool_limits

from prefdissect.annotators.heuristic import measure
from prefdissect.words import count_words

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "alpaca_eval"


def best_of(runs: int, work) -> float:
    times = []
    for _ in range(runs):
        start = time.process_time()
        work()
        times.append(time.process_time() - start)
    return min(times)


def main() -> None:
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    if not source.exists():
        sys.exit(f"AlpacaEval data not found at {source}; pass its path")
    texts = sorted({row["output"] for path in source.glob("results/*/model_outputs.json")
                    for row in json.loads(path.read_text())})
    ours = best_of(3, lambda: [count_words(t) for t in texts])
    heuristic = best_of(3, lambda: [measure.__wrapped__(t) for t in texts])
    split = best_of(3, lambda: [len(t.split()) for t in texts])
    print(f"{len(texts)} distinct responses, {sum(map(len, texts)) / len(texts):.0f} "
          "characters on average")
    print(f"count_words:             {ours:7.2f} s")
    print(f"heuristic measure():     {heuristic:7.2f} s  (count_words = "
          f"{ours / heuristic:.2f}x of it)")
    print(f"str.split (floor):       {split:7.2f} s")
    try:
        import nltk
        from nltk.tokenize import NLTKWordTokenizer
        from nltk.tokenize.punkt import PunktSentenceTokenizer
    except ImportError:
        print("NLTK not installed: pip install nltk==3.8.1 to time the reference")
        return
    words, punkt = NLTKWordTokenizer(), PunktSentenceTokenizer()

    def reference(text):
        return sum(len(words.tokenize(inner)) for outer in punkt.tokenize(text)
                   for inner in punkt.tokenize(outer))

    theirs = best_of(1, lambda: [reference(t) for t in texts])
    agree = sum(count_words(t) == reference(t) for t in texts)
    print(f"NLTK {nltk.__version__} (reference):  {theirs:7.2f} s  (count_words is "
          f"{theirs / ours:.1f}x faster)")
    print(f"counts equal to NLTK's:  {agree} of {len(texts)}")


if __name__ == "__main__":
    with threadpool_limits(1):
        main()
