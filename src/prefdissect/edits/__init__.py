"""Edits: deterministic changes to a response that should move one property and nothing else.

An edit is registered under kind ``edit`` with the schema property it targets and
the direction it moves it (+1: the edited copy is better on it by the schema's
rule, e.g. more formatted; -1: worse, e.g. shorter or more repetitive). Its
function takes a response and yields candidate texts, mildest first (a padding
edit yields ever longer paddings), or raises :class:`NotApplicable` with the
reason (nothing to bullet). :func:`apply_edit` keeps the first candidate that
passes the manipulation check: the offline heuristic annotator
(:func:`~prefdissect.annotators.heuristic.measure`), compared by the schema's
rules, must see the target move in the stated direction and every other property
it measures unchanged (for ``lengthy`` that means a word-count difference below
the schema's thresholds). An edit that does not apply, or whose every candidate
fails the check, is left out with its reason. Nothing here hard-codes the
heuristic's levels: the check reads the heuristic, so edits follow it when it
changes.

The A/B position is probed too, as the pseudo-edit ``swap`` with target
:data:`POSITION`: the text is unchanged and only its place in the pair moves.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..annotators.heuristic import MEASURED, measure
from ..comparisons import compare
from ..errors import UsageError
from ..properties import PropertySchema, load_schema
from ..registry import entries, get, register

POSITION = "position"
"""The target of ``swap``: the response's place in the pair, not its text."""
KEPT, NOT_APPLICABLE, FAILED_CHECK = "kept", "not applicable", "failed check"
"""Statuses of an edit applied to one response."""


class NotApplicable(Exception):  # noqa: N818 (an outcome, not an error: it is kept as data)
    """The edit does not apply to this response; the message says why."""


@dataclass(frozen=True)
class Edit:
    """A registered edit."""

    name: str
    """The name users type (``bullets``)."""
    target: str
    """The schema property it moves, or :data:`POSITION`."""
    direction: int
    """+1 when the edited copy is better on the target by the schema's rule, -1 worse."""
    summary: str
    """What it does, in one line."""
    variants: Callable[[str], Iterable[str]] = field(repr=False, compare=False)
    """Response -> candidate texts, mildest first; raises :class:`NotApplicable`."""

    @property
    def direction_word(self) -> str:
        """'up' or 'down'."""
        return "up" if self.direction > 0 else "down"


@dataclass(frozen=True)
class EditOutcome:
    """One edit applied to one response, and its manipulation check."""

    edit: str
    """The edit's name."""
    status: str
    """:data:`KEPT`, :data:`NOT_APPLICABLE` or :data:`FAILED_CHECK`."""
    text: str | None
    """The edited text (the candidate kept, or the one reported as failing); None if n/a."""
    reason: str = ""
    """Why it was left out (empty when kept)."""
    target_moved: bool | None = None
    """Whether the target moved as stated (None where the edit did not apply)."""
    also_moved: tuple[str, ...] = ()
    """Other measured properties that moved."""


def edit(name: str, target: str, direction: int, summary: str):
    """Register the decorated function as the edit ``name``.

    Examples
    --------
    >>> @edit("shout", "informal", +1, "appends two exclamation marks")
    ... def shout(text):
    ...     yield text + "!!"
    """
    if direction not in (-1, 1):
        raise ValueError(f"edit {name}: direction must be +1 or -1, not {direction!r}")
    return register("edit", name, summary, target=target, direction=direction)


def get_edit(name: str) -> Edit:
    """Return the registered edit ``name`` (a :class:`UsageError` names the known ones)."""
    entry = get("edit", name)
    return Edit(entry.name, entry.extra["target"], entry.extra["direction"], entry.summary,
                entry.factory)


def all_edits() -> list[Edit]:
    """Every registered edit, sorted by name."""
    return [get_edit(e.name) for e in entries("edit")]


class Checker:
    """The manipulation check: how an edit moved each property the heuristic measures.

    Parameters
    ----------
    schema
        The property schema whose rules compare the two texts (default: the paper's).
    """

    def __init__(self, schema: PropertySchema | None = None):
        self.schema = schema or load_schema()
        self.properties = [p for p in MEASURED if p in self.schema.names]
        self._columns = [MEASURED.index(p) for p in self.properties]
        self._rules = [(self.schema.get(p).rule,
                        self.schema.rules.get(self.schema.get(p).rule, {}))
                       for p in self.properties]
        self._ends = {p: _scale_ends(self.schema.get(p).scale) for p in self.properties}

    def check_target(self, target: str) -> None:
        """Refuse a target the check cannot see move."""
        if target != POSITION and target not in self.properties:
            raise UsageError(f"an edit targets '{target}', which the heuristic annotator does "
                             "not measure under this schema, so no edit of it can be checked; "
                             f"measurable targets: {', '.join(self.properties)}")

    def moves(self, original: str, edited: str) -> dict[str, int]:
        """Per measured property, the comparison of the edited copy with the original."""
        before, after = measure(original), measure(edited)
        out = {}
        for prop, column, (rule, params) in zip(self.properties, self._columns, self._rules):
            result = compare(rule, np.array([float(after[column])]),
                             np.array([float(before[column])]), params)
            out[prop] = int(result[0])
        return out

    def at_end(self, spec: Edit, text: str) -> str | None:
        """Why ``spec`` cannot move ``text``: its target already at the end of its scale.

        The scale's ends come from the schema (``rating 0-3``); a move that the
        rule counts as better goes toward the top of a ``higher_better`` scale and
        toward the bottom of a ``lower_better`` one. None when the target can move.
        """
        ends = self._ends.get(spec.target)
        rule = self._rules[self.properties.index(spec.target)][0] if ends else None
        if rule not in ("higher_better", "lower_better"):
            return None
        value = measure(text)[MEASURED.index(spec.target)]
        up = (spec.direction > 0) == (rule == "higher_better")
        if value == (ends[1] if up else ends[0]):
            scale = self.schema.get(spec.target).scale
            return (f"{spec.target} is already at the {'top' if up else 'bottom'} of its scale "
                    f"({value:g} on {scale}) as the heuristic measures it")
        return None

    def judge(self, spec: Edit, original: str, edited: str) -> tuple[bool, tuple[str, ...]]:
        """(target moved as stated, other properties that moved)."""
        moved = self.moves(original, edited)
        others = tuple(f"{p} ({'+' if v > 0 else '-'})" for p, v in moved.items()
                       if v and p != spec.target)
        return moved.get(spec.target) == spec.direction, others


def _scale_ends(scale: str) -> tuple[float, float] | None:
    """Return the ends of a scale written as 'rating 0-3' or 'level -2..2' (None if none)."""
    match = re.search(r"(-?\d+(?:\.\d+)?)\s*(?:-|\.\.)\s*(-?\d+(?:\.\d+)?)", scale or "")
    return (float(match.group(1)), float(match.group(2))) if match else None


def _candidates(spec: Edit, text: str) -> Iterator[str]:
    seen = set()
    for candidate in spec.variants(text):
        if candidate != text and candidate not in seen:
            seen.add(candidate)
            yield candidate


def apply_edit(spec: Edit, text: str, checker: Checker) -> EditOutcome:
    """Apply ``spec`` to ``text``: the first candidate that passes the check, or why none did.

    Where no candidate passes, the outcome reports the nearest miss: of the
    candidates that moved the target, the one that moved fewest other properties
    (the mildest of equals), else the candidate with the fewest side effects.
    """
    if spec.target == POSITION:
        return EditOutcome(spec.name, KEPT, text, target_moved=True)
    if not text.strip():
        return EditOutcome(spec.name, NOT_APPLICABLE, None, "empty response")
    limit = checker.at_end(spec, text)
    if limit:
        return EditOutcome(spec.name, NOT_APPLICABLE, None, limit)
    try:
        candidates = list(_candidates(spec, text))
    except NotApplicable as exc:
        return EditOutcome(spec.name, NOT_APPLICABLE, None, str(exc))
    if not candidates:
        return EditOutcome(spec.name, NOT_APPLICABLE, None, "the edit changes nothing here")
    tried = []
    for candidate in candidates:
        moved, others = checker.judge(spec, text, candidate)
        if moved and not others:
            return EditOutcome(spec.name, KEPT, candidate, target_moved=True)
        tried.append((not moved, len(others), candidate, moved, others))
    # the nearest miss: the target moved with the fewest side effects, else the mildest
    _, _, candidate, moved, others = min(tried, key=lambda t: (t[0], t[1]))
    return failed(spec, candidate, moved, others)


def failed(spec: Edit, text: str, moved: bool, others: tuple[str, ...]) -> EditOutcome:
    """Return the outcome of an edited ``text`` that failed the check, with the reason."""
    if moved:
        reason = f"also moved: {', '.join(others)}"
    else:
        reason = f"{spec.target} did not move {spec.direction_word}"
        if others:
            reason += f"; moved instead: {', '.join(others)}"
    return EditOutcome(spec.name, FAILED_CHECK, text, reason, moved, others)


def outcomes(texts: list[str], specs: list[Edit], checker: Checker,
             progress: Callable[[int], None] | None = None) -> pd.DataFrame:
    """Apply every edit to every text; one row per (text, edit) with its check.

    Columns: ``text`` (position in ``texts``), ``edit``, ``status``, ``reason``,
    ``target_moved``, ``also_moved`` (comma-separated), ``edited``. A text that
    appears more than once is edited once.
    """
    done: dict[tuple[str, str], EditOutcome] = {}
    rows = []
    for k, text in enumerate(texts):
        for spec in specs:
            key = (text, spec.name)
            if key not in done:
                done[key] = apply_edit(spec, text, checker)
            result = done[key]
            rows.append((k, spec.name, result.status, result.reason, result.target_moved,
                         ", ".join(result.also_moved), result.text))
        if progress:
            progress(1)
    return pd.DataFrame(rows, columns=["text", "edit", "status", "reason", "target_moved",
                                       "also_moved", "edited"])


def check_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per edit, from :func:`outcomes`: how often it applied, moved its target, moved nothing else.

    Columns: ``edit, responses, applied, target_moved, others_unchanged, kept``;
    ``applied`` is a share of the responses, ``target_moved`` and
    ``others_unchanged`` are shares of those it applied to, ``kept`` (both at once)
    a share of the responses.
    """
    rows = []
    for name, group in table.groupby("edit", sort=False):
        applied = group[group["status"] != NOT_APPLICABLE]
        n = len(applied)
        rows.append({
            "edit": name, "responses": len(group),
            "applied": n / len(group) if len(group) else np.nan,
            "target_moved": applied["target_moved"].astype(bool).mean() if n else np.nan,
            "others_unchanged": (applied["also_moved"] == "").mean() if n else np.nan,
            "kept": (group["status"] == KEPT).mean() if len(group) else np.nan})
    return pd.DataFrame(rows)
