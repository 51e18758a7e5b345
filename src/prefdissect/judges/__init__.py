"""Judges that prefdissect runs itself: LLMs over an API, local causal language models.

Both ask about every pair in both presentation orders and combine the two
answers, so that a judge's preference for the first (or second) position cancels
and is measured. A judge is registered under kind ``judge``: a class whose
instances have ``name`` and ``judge(pairs, progress=None) -> JudgeRun``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from ..exclusions import Exclusion
from ..judgments import A, B, Judgment, label_from_probability, verdict_probability


@dataclass
class OrderResult:
    """One presentation order's answer: P(the response shown first is better)."""

    p_first: float | None
    """Probability for the first-shown response, None when the answer is unusable."""
    detail: str = ""
    """How it was read (log-probabilities, parsed verdict) or why it failed."""


@dataclass
class JudgeRun:
    """A judge's verdicts on a set of pairs, with what could not be judged."""

    judgments: list[Judgment] = field(default_factory=list)
    """One per pair judged in at least one order."""
    exclusions: list[Exclusion] = field(default_factory=list)
    """Pairs the judge could not judge, with reasons."""

    def add(self, result: Judgment | Exclusion) -> None:
        """Keep a combined result: a judgment, or the exclusion of a pair that failed."""
        (self.exclusions if isinstance(result, Exclusion) else self.judgments).append(result)

    def stats(self, judge: str) -> dict[str, float | int | str]:
        """Position behaviour: consistency under swap and the first-position rate."""
        both = [j.details for j in self.judgments
                if j.details.get("p_first_order") is not None
                and j.details.get("p_swapped_order") is not None]
        first_wins = sum((d["p_first_order"] > 0.5) + (d["p_swapped_shown_first"] > 0.5)
                         for d in both)
        consistent = sum((d["p_first_order"] > 0.5) == (d["p_swapped_order"] > 0.5)
                         for d in both)
        gaps = [abs(d["p_first_order"] - d["p_swapped_order"]) for d in both]
        return _stats_row(judge, len(self.judgments), len(self.exclusions), len(both),
                          consistent, first_wins, gaps)


def _stats_row(judge: str, judged: int, failed: int, both: int, consistent: int,
               first_wins: int, gaps: list[float]) -> dict[str, float | int | str]:
    return {
        "judge": judge,
        "pairs": judged + failed,
        "judged": judged,
        "failed": failed,
        "both_orders": both,
        "position_consistency": consistent / both if both else math.nan,
        "first_position_rate": first_wins / (2 * both) if both else math.nan,
        "mean_order_gap": sum(gaps) / len(gaps) if gaps else math.nan,
    }


def verdict_stats(judge: str, orders: list[tuple[str | None, str | None]],
                  failed: int = 0) -> dict[str, float | int | str]:
    """Position behaviour of a judge whose verdicts in both orders were imported.

    Parameters
    ----------
    judge
        The judge's name.
    orders
        Per judged pair, its verdict ('A', 'B', 'tie' or None) when shown A first
        and when shown B first, both already in the pair's own A/B terms.
    failed
        Pairs with no usable verdict in either order.

    Notes
    -----
    A pair is consistent when both verdicts are the same label (a tie in both
    orders included), as LLMBar and Auto-J count it; the first-position rate is
    the share of all verdicts that chose the response shown first (a tie chooses
    neither); the order gap compares the verdicts as probabilities (1, 0.5, 0).
    """
    both = [(f, s) for f, s in orders if f is not None and s is not None]
    consistent = sum(f == s for f, s in both)
    first_wins = sum((f == A) + (s == B) for f, s in both)
    gaps = [abs(verdict_probability(f) - verdict_probability(s)) for f, s in both]
    return _stats_row(judge, len(orders), failed, len(both), consistent, first_wins, gaps)


def combine(pair_id: str, judge: str, first: OrderResult, swapped: OrderResult,
            extra: dict) -> Judgment | Exclusion:
    """Combine the two orders into one judgment (or an exclusion when both failed).

    ``swapped`` was asked with B shown first, so P(original A) there is 1 - p_first.
    """
    p1 = first.p_first
    p2 = None if swapped.p_first is None else 1.0 - swapped.p_first
    if p1 is None and p2 is None:
        return Exclusion("judge", "judge failed", pair_id=pair_id, judge=judge,
                         detail=f"first order: {first.detail}; swapped: {swapped.detail}")
    usable = [p for p in (p1, p2) if p is not None]
    p_a = sum(usable) / len(usable)
    details = {"p_first_order": p1, "p_swapped_order": p2,
               "p_swapped_shown_first": swapped.p_first,
               "first_detail": first.detail, "swapped_detail": swapped.detail, **extra}
    return Judgment(pair_id, judge, label_from_probability(p_a), p_a, details)


def stats_frame(runs: dict[str, JudgeRun]) -> pd.DataFrame:
    """One row of position statistics per judge."""
    return pd.DataFrame([run.stats(name) for name, run in runs.items()])
