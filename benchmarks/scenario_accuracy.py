"""Accuracy of the offline scenario classifier on Auto-J's labelled queries.

Usage: python benchmarks/scenario_accuracy.py [SHARED_DATA_FOLDER]

Reads ``auto-j-scenarios/traindata.jsonl`` (2,383 queries, 58 fine scenarios +
``default``) and the queries of ``auto-j/data/test/testdata_pairwise.jsonl``,
maps every fine label to the paper's 11 groups (``FINE_TO_GROUP``) and prints
accuracy and a confusion table per split, beside two reference classifiers run
in the same process (the majority group; "a question is Knowledge-aware, else
Functional Writing").

Splits: the classifier's rules were written while reading the *rules* half of
the training queries (those whose MD5 is even); the other half and the pairwise
queries not in the rules half were not used to write them. The data is
research-use only; nothing of it is shipped with prefdissect.
"""

from __future__ import annotations

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import hashlib  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from pathlib import Path  # noqa: E402

from prefdissect.annotators.scenario import FINE_TO_GROUP, classify  # noqa: E402
from prefdissect.reference import SCENARIOS  # noqa: E402

ROOT = Path(sys.argv[1]) if len(sys.argv) > 1 else \
    Path(__file__).resolve().parents[2] / "shared" / "data"


def written_on(query: str) -> bool:
    """The half of the training queries the rules were written while reading."""
    return int(hashlib.md5(query.encode("utf-8")).hexdigest(), 16) % 2 == 0


def load() -> dict[str, list[tuple[str, str]]]:
    train = []
    for line in (ROOT / "auto-j-scenarios" / "traindata.jsonl").read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            query = f"{row['instruction']} {row.get('input') or ''}".strip()
            train.append((query, FINE_TO_GROUP[row["category"]]))
    seen = {q for q, _ in train if written_on(q)}
    pairwise, unique = [], set()
    for line in (ROOT / "auto-j" / "data" / "test" / "testdata_pairwise.jsonl").read_text() \
            .splitlines():
        if line.strip():
            row = json.loads(line)
            query = row["prompt"].strip()
            if query not in unique and query not in seen:
                unique.add(query)
                pairwise.append((query, FINE_TO_GROUP[row["scenario"]]))
    return {"rules half (written on)": [r for r in train if written_on(r[0])],
            "held-out half": [r for r in train if not written_on(r[0])],
            "pairwise queries (held out)": pairwise}


def question_baseline(query: str) -> str:
    return "Knowledge-aware" if "?" in query[:300] else "Functional Writing"


def report(name: str, rows: list[tuple[str, str]], predicted: list[str],
           majority: str) -> None:
    truth = [g for _, g in rows]
    n = len(rows)
    acc = sum(p == t for p, t in zip(predicted, truth)) / n
    base_major = sum(t == majority for t in truth) / n
    base_question = sum(question_baseline(q) == t for (q, t) in rows) / n
    not_others = [(p, t) for p, t in zip(predicted, truth) if t != "Others"]
    acc_no_others = sum(p == t for p, t in not_others) / max(1, len(not_others))
    print(f"\n== {name}: {n} queries")
    print(f"offline rules {100 * acc:5.1f}%   (without queries labelled Others: "
          f"{100 * acc_no_others:.1f}% of {len(not_others)})")
    print(f"reference: majority group ({majority}) {100 * base_major:.1f}%; question -> "
          f"Knowledge-aware, else Functional Writing {100 * base_question:.1f}%")
    cells = Counter(zip(truth, predicted))
    short = [g[:6] for g in SCENARIOS]
    print("true \\ predicted".ljust(19) + "".join(s.rjust(7) for s in short) + "  recall")
    for group in SCENARIOS:
        total = sum(cells[(group, p)] for p in SCENARIOS)
        recall = f"{100 * cells[(group, group)] / total:5.1f}%" if total else "    -"
        print(group.ljust(19) + "".join(str(cells[(group, p)]).rjust(7) for p in SCENARIOS)
              + "  " + recall)


def main() -> None:
    if not (ROOT / "auto-j-scenarios" / "traindata.jsonl").exists():
        sys.exit(f"no Auto-J scenario data under {ROOT}; give the shared data folder")
    print(f"threads: OMP={os.environ['OMP_NUM_THREADS']} "
          f"OPENBLAS={os.environ['OPENBLAS_NUM_THREADS']} (the rules use none)")
    splits = load()
    majority = Counter(g for _, g in splits["rules half (written on)"]).most_common(1)[0][0]
    held = []
    for name, rows in splits.items():
        start = time.perf_counter()
        predicted = [classify(q) for q, _ in rows]
        seconds = time.perf_counter() - start
        report(name, rows, predicted, majority)
        print(f"speed: {len(rows) / seconds:,.0f} queries/s")
        if "held" in name:
            held += [(r, p) for r, p in zip(rows, predicted)]
    acc = sum(p == g for (_, g), p in held) / len(held)
    print(f"\nall held-out queries: {len(held)}, offline rules {100 * acc:.1f}%")


if __name__ == "__main__":
    main()
