"""Held-out quality: how much a dissection explains, beside null baselines.

Every (judge, group) is also fitted on k folds (the paper's 10 by default): a
seeded shuffle of *that judge's* usable pairs cut into k slices, each fit leaving
one slice out. A judge's folds therefore depend only on its own data and the
seed, never on which other judges are fitted. The held-out predictions give the
accuracy and log-loss of

- the dissection (every property, plus the model terms if any);
- length alone (the length comparison, plus the model terms if any);
- the model terms alone (where there are terms): model quality without style;
- always A: predicts A for every pair (an accuracy; a hard guess has no log-loss);
- the majority label: predicts the training folds' more frequent label (accuracy);
- the base rate: P(A) = the training folds' share of A for every pair (log-loss;
  its accuracy is the majority label's).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

QUALITY_COLUMNS = ("judge", "group", "n_pairs", "folds", "model_accuracy", "model_log_loss",
                   "length_accuracy", "length_log_loss", "terms_accuracy", "terms_log_loss",
                   "always_a_accuracy", "majority_accuracy", "base_rate_log_loss")
"""Held-out accuracy and log-loss of the dissection and of the null baselines."""


def fold_slices(n: int, folds: int, seed: int) -> list[np.ndarray]:
    """Held-out positions of each fold: a seeded shuffle cut into ``folds`` equal slices.

    As in the paper's scripts, fold i holds out positions ``[i*n/k, i*n/k + n//k)``
    of the shuffled order (so a remainder of ``n % k`` rows is never held out).
    """
    order = np.random.default_rng(seed).permutation(n)
    size = n // folds
    return [order[int(i / folds * n):int(i / folds * n) + size] for i in range(folds)]


def log_loss(y: np.ndarray, p: np.ndarray) -> float:
    """Mean negative log-likelihood of labels (or soft labels) ``y`` under ``p``."""
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def accuracy(y: np.ndarray, p: np.ndarray) -> float:
    """Share of pairs whose label the prediction gets right; exactly 0.5 is half right."""
    return float(np.mean(np.where(p == 0.5, 0.5, (p > 0.5) == (y > 0.5))))


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Return the logistic function of ``z``."""
    return 1.0 / (1.0 + np.exp(-z))


@dataclass
class Fold:
    """One fold of one (judge, group): which problems fitted it and what it holds out."""

    model: int
    """Index of the full model's problem."""
    length: int | None
    """Index of the length-alone problem (None without a length property)."""
    terms: int | None
    """Index of the terms-alone problem (None without model terms)."""
    test: np.ndarray
    """Held-out rows of the group's design."""
    train: np.ndarray
    """Training rows (the judge's usable rows not held out)."""


@dataclass
class FoldPredictions:
    """Held-out predictions of one (judge, group), gathered over its folds."""

    y: list[np.ndarray] = field(default_factory=list)
    model: list[np.ndarray] = field(default_factory=list)
    length: list[np.ndarray] = field(default_factory=list)
    terms: list[np.ndarray] = field(default_factory=list)
    share_a: list[np.ndarray] = field(default_factory=list)

    def add(self, y: np.ndarray, train_y: np.ndarray, model: np.ndarray,
            length: np.ndarray | None, terms: np.ndarray | None) -> None:
        """Record one fold's held-out labels and predictions."""
        self.y.append(y)
        self.model.append(model)
        if length is not None:
            self.length.append(length)
        if terms is not None:
            self.terms.append(terms)
        share = float(np.clip(np.mean(train_y), 0.01, 0.99)) if len(train_y) else 0.5
        self.share_a.append(np.full(len(y), share))

    def row(self, judge: str, group: str, n_pairs: int, folds: int) -> tuple:
        """One row of :data:`QUALITY_COLUMNS` (NaN where a baseline does not apply)."""
        out: list = [judge, group, n_pairs, folds]
        if not self.y:
            return tuple(out + [np.nan] * (len(QUALITY_COLUMNS) - 4))
        y = np.concatenate(self.y)
        for parts in (self.model, self.length, self.terms):
            if parts:
                p = np.concatenate(parts)
                out += [accuracy(y, p), log_loss(y, p)]
            else:
                out += [np.nan, np.nan]
        share = np.concatenate(self.share_a)
        out += [float(np.mean(y > 0.5)),                       # always A
                float(np.mean((y > 0.5) == (share >= 0.5))),   # majority label
                log_loss(y, share)]                            # base rate
        return tuple(out)
