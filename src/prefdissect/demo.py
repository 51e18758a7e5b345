"""A self-contained study: simulated pairs, a simulated judge with known weights.

Responses are assembled from neutral sentences plus controlled traits (extra
length, a bulleted list, emoji and slang, a question back to the user, a
refusal, repeated sentences, courtesy words, cited figures, sequenced steps,
long words, warm phrases). Each trait maps to one property the heuristic
annotator measures. The judge prefers A with probability
``sigmoid(sum_k w_k * (trait_k(A) - trait_k(B)))`` for known weights ``w``; the
pipeline then has to recover ``w`` from the text alone. Length is the one
property the judge sees as measured (the word-count rule applied to the actual
texts), since the other traits add words too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .comparisons import length_comparison
from .properties import load_schema
from .words import count_words

TRUE_WEIGHTS = {
    "lengthy": 0.6,
    "well_formatted": 0.4,
    "step_by_step": 0.2,
    "informal": -0.3,
    "interactive": 0.1,
    "admits_limits": -0.5,
    "non_repetitive": 0.3,
    "complex_wording": 0.0,
    "supporting_material": 0.25,
    "polite": 0.15,
    "friendly": 0.0,
}
"""The simulated judge's weight on each property (the truth the demo recovers)."""

TOPICS = [
    ("How do I keep basil alive indoors?", "basil", "a sunny window"),
    ("What should I pack for a weekend hike?", "a hike", "good boots"),
    ("How can I save money on food?", "food costs", "a weekly plan"),
    ("How do I start running?", "running", "short runs"),
    ("How can I sleep better?", "sleep", "a fixed bedtime"),
    ("How do I clean a cast iron pan?", "the pan", "hot water"),
    ("What is a good way to learn new words?", "new words", "small daily sets"),
    ("How do I make my bike last longer?", "the bike", "a clean chain"),
    ("How can I focus while I work from home?", "focus", "a quiet desk"),
    ("How do I brew good tea?", "tea", "fresh water"),
    ("How should I care for a new puppy?", "the puppy", "a calm routine"),
    ("How do I keep my inbox under control?", "the inbox", "short replies"),
]
NEUTRAL = [
    "The key part of {thing} is {tool}.",
    "Most people do well with {tool} at the start.",
    "It helps to keep the steps small and easy.",
    "You can adjust the plan as you go.",
    "A bit of care each day goes a long way with {thing}.",
    "Try to keep things simple so you stick with it.",
    "Small changes add up over a few weeks.",
    "Watch how {thing} responds and tweak from there.",
    "There is no need to buy much to get going.",
    "Keep notes so you can see what works for {thing}.",
    "Some days will go better than others, and that is fine.",
    "Good habits matter more than any one trick.",
]
TRAITS = tuple(TRUE_WEIGHTS)


@dataclass
class DemoData:
    """The simulated pairs, the true traits and the simulated judge's labels."""

    pairs: pd.DataFrame
    """Records in the project's own pair format, with a ``label:demo-judge`` column."""
    traits_a: np.ndarray
    """Designed trait indicators of each A response (pairs x traits)."""
    traits_b: np.ndarray
    """Designed trait indicators of each B response."""
    weights: dict[str, float]
    """The judge's true weights."""


def _response(rng: np.random.Generator, topic: tuple[str, str, str], t: dict[str, bool]) -> str:
    _, thing, tool = topic
    order = rng.permutation(len(NEUTRAL))
    body = [NEUTRAL[i].format(thing=thing, tool=tool) for i in order[:2]]
    if t["lengthy"]:
        body += [NEUTRAL[i].format(thing=thing, tool=tool) for i in order[2:9]]
    if t["admits_limits"]:
        body.insert(0, f"I'm sorry, but I cannot give expert advice on {thing}, and I am not "
                       "sure about every detail.")
    if t["step_by_step"]:
        body += [f"First, get {tool} ready.", "Next, do a short trial run.",
                 "Then, check the result.", "Finally, repeat what worked."]
    if t["complex_wording"]:
        body.append("Comprehensive experimentation illuminates counterintuitive "
                    "interdependencies, facilitating straightforward improvements.")
    if t["supporting_material"]:
        body.append(f"According to a 2021 survey (2021), 64% of people saw gains with {tool}; "
                    "see https://example.org/guide [1].")
    if t["polite"]:
        body.append("Please take your time with it, and thank you for asking.")
    if t["friendly"]:
        body.insert(0, "Hello, happy to help!")
        body.append("Hope this helps, and good luck!")
    if t["informal"]:
        body.append("Honestly it's kinda fun, gonna be awesome lol \U0001F604")
    if t["non_repetitive"] is False:
        body += body[-2:] + body[-2:]
    text = " ".join(body)
    if t["well_formatted"]:
        text += f"\n\nQuick list:\n- {tool}\n- a little patience\n- a short weekly check"
    if t["interactive"]:
        text += f"\n\nWould you like more detail on {thing}? Let me know."
    return text


def simulate(n_pairs: int = 4000, seed: int = 0,
             weights: dict[str, float] | None = None) -> DemoData:
    """Simulate ``n_pairs`` pairs and a judge with known ``weights``."""
    weights = dict(weights or TRUE_WEIGHTS)
    rng = np.random.default_rng(seed)
    rate = {name: 0.3 for name in TRAITS}
    rate["lengthy"] = 0.5
    rate["non_repetitive"] = 0.8  # most responses do not repeat themselves
    traits = {side: np.column_stack([rng.random(n_pairs) < rate[name] for name in TRAITS])
              for side in "ab"}
    texts = {side: [] for side in "ab"}
    for i in range(n_pairs):
        for side in "ab":
            flags = dict(zip(TRAITS, traits[side][i].tolist()))
            texts[side].append(_response(rng, TOPICS[i % len(TOPICS)], flags))
    diff = traits["a"].astype(float) - traits["b"].astype(float)
    # Length is objective: the judge reacts to the actual word counts (by the
    # schema's length rule), not to the generator's "long" switch.
    rule = load_schema().rules["length_thresholds"]
    words = {side: np.array([count_words(t) for t in texts[side]]) for side in "ab"}
    diff[:, TRAITS.index("lengthy")] = length_comparison(words["a"], words["b"],
                                                         rule["short_table"],
                                                         rule["ratio_steps"])
    w = np.array([weights.get(name, 0.0) for name in TRAITS])
    prefers_a = rng.random(n_pairs) < 1.0 / (1.0 + np.exp(-(diff @ w)))
    records = [{
        "id": f"demo:{i}",
        "query": TOPICS[i % len(TOPICS)][0],
        "response_a": texts["a"][i],
        "response_b": texts["b"][i],
        "model_a": "sim-a", "model_b": "sim-b",
        "label:demo-judge": "A" if prefers_a[i] else "B",
    } for i in range(n_pairs)]
    return DemoData(pd.DataFrame(records), traits["a"], traits["b"], weights)


def write_pairs(data: DemoData, path: Path) -> Path:
    """Write the simulated pairs as JSON Lines in the project's own format."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for record in data.pairs.to_dict(orient="records"):
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


def recovery(profiles: pd.DataFrame, weights: dict[str, float], judge: str = "demo-judge",
             group: str = "all") -> pd.DataFrame:
    """Compare recovered weights with the true ones: one row per property."""
    rows = profiles[(profiles["judge"] == judge) & (profiles["group"] == group)]
    rows = rows[rows["property"].isin(list(weights))].copy()
    rows["true"] = rows["property"].map(weights)
    rows["covered"] = (rows["lower"] <= rows["true"]) & (rows["true"] <= rows["upper"])
    return rows[["property", "true", "mean", "lower", "upper", "covered"]].reset_index(drop=True)


@dataclass
class DemoRun:
    """What :func:`run_demo` did: the simulated data, the dissection and the recovery."""

    data: DemoData
    """The simulated pairs and the judge's true weights."""
    source: Path
    """The pairs file written."""
    dissection: Any
    """The :class:`~prefdissect.pipeline.Dissection` of the pairs."""
    recovery: pd.DataFrame
    """:func:`recovery`'s table (also ``demo_recovery.csv`` in the study)."""
    correlation: float
    """Pearson correlation of the recovered with the true weights."""


def run_demo(out: str | Path, n_pairs: int = 4000, seed: int = 0) -> DemoRun:
    """Simulate pairs, dissect them into the study ``out``, and compare with the truth."""
    from . import pipeline
    from .profiles import FitConfig
    from .study import Study

    out = Path(out)
    data = simulate(n_pairs, seed=seed)
    source = write_pairs(data, out / "demo_pairs.jsonl")
    with Study(out).lock("demo") as study:
        done = pipeline.dissect(source, "pairs", study, config=FitConfig())
        table = recovery(done.fit.profiles, data.weights)
        study.write_frame("demo_recovery.csv", table)
    corr = float(np.corrcoef(table["true"], table["mean"])[0, 1])
    return DemoRun(data, source, done, table, corr)
