"""One registry for everything that plugs in: importers, exporters, annotators, judges, edits...

Kinds: importers, exporters, annotators, judges, engines and edits (the probes'
text edits).

Built-in parts register themselves when their module is imported; third-party
packages can add their own through the ``prefdissect.plugins`` entry-point group
(each entry point is a module that registers on import).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import import_module
from importlib.metadata import entry_points
from typing import Any

from .errors import UsageError

KINDS = ("importer", "exporter", "annotator", "judge", "engine", "edit")

# Modules whose import registers the built-in parts.
_BUILTIN_MODULES = (
    "prefdissect.importers.native",
    "prefdissect.importers.alpaca_eval",
    "prefdissect.importers.hh_rlhf",
    "prefdissect.importers.llmbar",
    "prefdissect.importers.pandalm",
    "prefdissect.importers.autoj",
    "prefdissect.importers.evalbiasbench",
    "prefdissect.importers.annotated_pairs",
    "prefdissect.importers.arena",
    "prefdissect.importers.preference",
    "prefdissect.importers.ratings",
    "prefdissect.importers.preference_dissection",
    "prefdissect.exporters.annotated_pairs",
    "prefdissect.exporters.preference",
    "prefdissect.annotators.heuristic",
    "prefdissect.annotators.features",
    "prefdissect.annotators.llm",
    "prefdissect.annotators.llm_onecall",
    "prefdissect.annotators.scenario",
    "prefdissect.judges.llm",
    "prefdissect.judges.local",
    "prefdissect.judges.reward",
    "prefdissect.judges.python",
    "prefdissect.judges.panel",
    "prefdissect.engines.ep",
    "prefdissect.engines.nuts",
    "prefdissect.edits.builtin",
)


@dataclass(frozen=True)
class Entry:
    """A registered part."""

    kind: str
    """One of :data:`KINDS`."""
    name: str
    """The name users type, e.g. ``alpaca-eval``."""
    factory: Callable[..., Any]
    """Callable that does the work (an importer function, an annotator class, ...)."""
    summary: str = ""
    """One line for listings and help texts."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Free details, e.g. the optional dependency a part needs."""


_entries: dict[tuple[str, str], Entry] = {}
_loaded = False


def register(kind: str, name: str, summary: str = "", **extra: Any):
    """Register the decorated callable as the part ``name`` of ``kind``.

    Examples
    --------
    >>> @register("importer", "my-format", "my lab's JSON export")
    ... def load(path, **options): ...
    """
    if kind not in KINDS:
        raise ValueError(f"unknown registry kind {kind!r}; expected one of {KINDS}")

    def decorate(factory: Callable[..., Any]) -> Callable[..., Any]:
        _entries[(kind, name)] = Entry(kind, name, factory, summary, dict(extra))
        return factory

    return decorate


def _load_builtins() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for module in _BUILTIN_MODULES:
        import_module(module)
    for ep in entry_points(group="prefdissect.plugins"):
        ep.load()


def names(kind: str) -> list[str]:
    """Return the registered names of one kind, sorted."""
    _load_builtins()
    return sorted(name for (k, name) in _entries if k == kind)


def entries(kind: str) -> list[Entry]:
    """Return the registered entries of one kind, sorted by name."""
    return [_entries[(kind, n)] for n in names(kind)]


def get(kind: str, name: str) -> Entry:
    """Return the entry ``name`` of ``kind``, or raise a :class:`UsageError` with a hint."""
    _load_builtins()
    try:
        return _entries[(kind, name)]
    except KeyError:
        known = names(kind)
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise UsageError(
            f"unknown {kind} '{name}'; {hint}choose one of: {', '.join(known)}"
        ) from None
