"""Judges that prefdissect runs itself: LLMs over an API, local causal language models.

Both ask about every pair in both presentation orders and combine the two
answers, so that a judge's preference for the first (or second) position cancels
and is measured. A judge is registered under kind ``judge``: a class whose
instances have ``name`` and ``judge(pairs, progress=None) -> JudgeRun``.

A pair judged in one order only (the other order's answer was unusable) keeps a
verdict read from that order alone; it is flagged (``single_order`` in its
details) and counted, since position bias does not cancel in it. A judge whose
answers mostly put little probability on the verdict letters, or whose verdicts
change with the order at least as often as chance would have them, is flagged
by :func:`judge_warnings`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import pandas as pd
from scipy.stats import binomtest

from ..exclusions import Exclusion
from ..judgments import TIE, A, B, Judgment, label_from_probability, verdict_probability


@dataclass
class OrderResult:
    """One presentation order's answer: P(the response shown first is better)."""

    p_first: float | None
    """Probability for the first-shown response, None when the answer is unusable."""
    detail: str = ""
    """How it was read (log-probabilities, parsed verdict) or why it failed."""
    letters: float | None = None
    """Probability the answer put on the verdict letters (log-probabilities: A and B
    summed; a written verdict: 1 when one was found, else 0); None without an answer."""


@dataclass
class JudgeRun:
    """A judge's verdicts on a set of pairs, with what could not be judged."""

    judgments: list[Judgment] = field(default_factory=list)
    """One per pair judged in at least one order."""
    exclusions: list[Exclusion] = field(default_factory=list)
    """Pairs the judge could not judge, with reasons."""
    orders: list[OrderResult] = field(default_factory=list)
    """Every order asked, as read (for the share of answers without a verdict letter)."""

    def add(self, result: Judgment | Exclusion) -> None:
        """Keep a combined result: a judgment, or the exclusion of a pair that failed."""
        (self.exclusions if isinstance(result, Exclusion) else self.judgments).append(result)

    def add_pair(self, pair_id: str, judge: str, first: OrderResult, swapped: OrderResult,
                 extra: dict) -> None:
        """Combine a pair's two orders (see :func:`combine`) and keep both as read."""
        self.orders += [first, swapped]
        self.add(combine(pair_id, judge, first, swapped, extra))

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
        read = [o.letters for o in self.orders if o.letters is not None]
        return _stats_row(judge, len(self.judgments), len(self.exclusions), len(both),
                          consistent, first_wins, gaps,
                          sum(x < 0.5 for x in read) / len(read) if read else math.nan,
                          sum(j.label == TIE for j in self.judgments))


def _stats_row(judge: str, judged: int, failed: int, both: int, consistent: int,
               first_wins: int, gaps: list[float], no_verdict: float = math.nan,
               ties: int = 0) -> dict[str, float | int | str | None]:
    row = {
        "judge": judge,
        "pairs": judged + failed,
        "judged": judged,
        "failed": failed,
        "both_orders": both,
        "single_order": judged - both,
        "position_consistency": consistent / both if both else math.nan,
        "consistent": consistent,
        "first_position_rate": first_wins / (2 * both) if both else math.nan,
        "mean_order_gap": sum(gaps) / len(gaps) if gaps else math.nan,
        "no_verdict_share": no_verdict,
        "tie_share": ties / judged if judged else math.nan,
    }
    row["warning"] = "; ".join(judge_warnings(row)) or None
    return row


def judge_warnings(stats: dict) -> list[str]:
    """Say what makes a judge's verdicts untrustworthy, from its statistics row.

    The row's columns (``judge_stats.csv``): ``pairs``, ``judged``, ``failed``,
    ``both_orders`` and ``single_order`` (pairs judged in one order only, the other
    order's answer unusable), ``position_consistency`` (``consistent`` of
    ``both_orders``), ``first_position_rate``, ``mean_order_gap``, ``no_verdict_share``
    (share of answers with less than half their probability on the letters; NaN
    where unknown, as for imported verdicts), ``tie_share`` (share of judged pairs
    ending in a tie) and ``warning`` (these warnings, joined).

    Three signs: most answers put less than half their probability on the verdict
    letters (the model is not answering the question; each verdict then rests on
    the scraps of probability the letters got), and position consistency not above
    chance (a one-sided binomial test at 5%: the verdicts follow the order at
    least as much as the responses), and most verdicts ties (a tie in both orders
    counts as consistent, so such a judge looks steady while telling nothing apart).
    """
    out = []
    share = stats.get("no_verdict_share")
    if share is not None and not math.isnan(share) and share > 0.5:
        out.append(f"{100 * share:.0f}% of its answers carry no verdict letter (A and B hold "
                   "less than half of the answer's probability): the model is not answering "
                   "with a verdict; check the prompt, or use an instruction-tuned model")
    both, consistent = stats.get("both_orders") or 0, stats.get("consistent")
    if both and consistent is not None and \
            binomtest(int(consistent), int(both), 0.5, alternative="greater").pvalue >= 0.05:
        out.append(f"its position consistency ({int(consistent)} of {int(both)} pairs kept "
                   "their verdict when A and B were swapped) is not above chance: its "
                   "verdicts follow the order as much as the responses")
    ties = stats.get("tie_share")
    if ties is not None and not math.isnan(ties) and ties > 0.5:
        out.append(f"{100 * ties:.0f}% of its verdicts are ties: it tells few responses "
                   "apart, and ties leave the fit")
    return out


def single_order_count(judgments: pd.DataFrame) -> int:
    """Count the verdicts of a judgment table that rest on one presentation order only."""
    if "details" not in judgments or judgments.empty:
        return 0
    return int(judgments["details"].map(_single_order).sum())


def _single_order(details) -> bool:
    if isinstance(details, str):
        try:
            details = json.loads(details)
        except ValueError:
            return False
    return isinstance(details, dict) and bool(details.get("single_order"))


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
    ties = sum(f == s == TIE or (f == TIE and s is None) or (s == TIE and f is None)
               for f, s in orders)
    return _stats_row(judge, len(orders), failed, len(both), consistent, first_wins, gaps,
                      ties=ties)


def combine(pair_id: str, judge: str, first: OrderResult, swapped: OrderResult,
            extra: dict) -> Judgment | Exclusion:
    """Combine the two orders into one judgment (or an exclusion when both failed).

    ``swapped`` was asked with B shown first, so P(original A) there is 1 - p_first.
    Where one order failed, the verdict is the other order's, flagged with
    ``single_order`` in its details (the failed order's reason is kept there too).
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
               "first_detail": first.detail, "swapped_detail": swapped.detail,
               "single_order": len(usable) == 1, **extra}
    return Judgment(pair_id, judge, label_from_probability(p_a), p_a, details)


def stats_frame(runs: dict[str, JudgeRun]) -> pd.DataFrame:
    """One row of position statistics per judge."""
    return pd.DataFrame([run.stats(name) for name, run in runs.items()])
