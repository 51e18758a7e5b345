"""Properties: the named qualities a pair is compared on, defined as data (YAML).

The default schema is the paper's 29 (``schemas/paper29.yaml``). A user schema
may drop, add or redefine properties; it is validated on load so that a typo
names its file and field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from .errors import InputError

RULES = ("higher_better", "lower_better", "nonzero_better", "length_thresholds")
TRAITS = ("intent_unclear", "expresses_feelings", "explicit_constraints", "explicit_stances",
          "contains_mistakes")
"""Query traits a property can depend on; also the five query-specific groups."""
DEFAULT_SCHEMA = "paper29"


@dataclass(frozen=True)
class Property:
    """One property of the schema."""

    name: str
    """Identifier used in tables (``well_formatted``)."""
    label: str
    """Short display label (``well formatted``)."""
    description: str
    """What the property means, in a sentence."""
    rule: str
    """How the A and B values become a comparison; one of :data:`RULES`."""
    step: str = "query_free"
    """Which annotation step yields the values."""
    scale: str = ""
    """What the values are (a 0-3 rating, a count, words)."""
    applies_when: str | None = None
    """Query trait the property needs (one of :data:`TRAITS`), or None for always."""
    when_not_applicable: str = "zero"
    """'zero' (no difference) or 'exclude' (pair leaves the fit) where it does not apply."""
    measure: dict[str, Any] | None = field(default=None, hash=False)
    """How the ``features`` annotator measures it offline (see :mod:`prefdissect.discovery.
    features`), or None."""
    question: str | None = None
    """How an LLM is asked about it in the one-call plan (``annotate --plan one-call``),
    for a property the built-in prompts do not know; or None."""


@dataclass(frozen=True)
class PropertySchema:
    """An ordered set of properties plus the parameters of their rules."""

    name: str
    """Schema name (``paper29``)."""
    properties: tuple[Property, ...]
    """The properties, in display order."""
    rules: dict[str, Any] = field(default_factory=dict)
    """Rule parameters, e.g. the length thresholds."""

    @property
    def names(self) -> list[str]:
        """Property identifiers in order."""
        return [p.name for p in self.properties]

    def get(self, name: str) -> Property:
        """Return the property called ``name``."""
        for prop in self.properties:
            if prop.name == name:
                return prop
        raise KeyError(name)

    def labels(self) -> dict[str, str]:
        """Map each property name to its display label."""
        return {p.name: p.label for p in self.properties}

    def subset(self, names: list[str]) -> PropertySchema:
        """Return a schema with only ``names`` (in this schema's order)."""
        keep = set(names)
        return PropertySchema(self.name, tuple(p for p in self.properties if p.name in keep),
                              self.rules)


def _check(source: str, data: Any) -> None:
    fix = "see the default schema (`prefdissect properties --show-yaml`) for the layout"
    if not isinstance(data, dict) or not isinstance(data.get("properties"), list):
        raise InputError(source, "has no 'properties' list", fix)
    seen = set()
    for number, item in enumerate(data["properties"], start=1):
        where = f"properties[{number}]"
        if not isinstance(item, dict):
            raise InputError(source, f"{where} is not a mapping", fix)
        for key in ("name", "label", "description", "rule"):
            if not item.get(key):
                raise InputError(source, f"{where} lacks '{key}'", fix, field=key)
        if item["rule"] not in RULES:
            raise InputError(source, f"{where} has unknown rule {item['rule']!r}",
                             f"use one of {', '.join(RULES)}", field="rule")
        trait = item.get("applies_when")
        if trait is not None and trait not in TRAITS:
            raise InputError(source, f"{where} has unknown applies_when {trait!r}",
                             f"use one of {', '.join(TRAITS)}", field="applies_when")
        if item.get("when_not_applicable", "zero") not in ("zero", "exclude"):
            raise InputError(source, f"{where} has unknown when_not_applicable",
                             "use zero or exclude", field="when_not_applicable")
        if item.get("measure") is not None:
            from .discovery.features import check_measure

            check_measure(item["measure"], source, f"{where}.measure")
        if item.get("question") is not None and not (isinstance(item["question"], str)
                                                     and item["question"].strip()):
            raise InputError(source, f"{where} has an empty or non-text question",
                             "write the question an LLM is asked, as text", field="question")
        if item["name"] in seen:
            raise InputError(source, f"{where} repeats the name {item['name']!r}",
                             "give each property its own name", field="name")
        seen.add(item["name"])
    if any(p["rule"] == "length_thresholds" for p in data["properties"]):
        params = (data.get("rules") or {}).get("length_thresholds") or {}
        if "short_table" not in params or "ratio_steps" not in params:
            raise InputError(source, "rules.length_thresholds lacks short_table or ratio_steps",
                             fix, field="rules")


def extended_schema_yaml(extra: list[dict[str, Any]], source: str) -> str:
    """Return the default schema plus ``extra`` properties, as YAML text.

    Importers that bring their own properties (AnnotatedPairs principles) use this
    to give a study its own ``schema.yaml``; ``source`` names where they came from.
    """
    text = resources.files("prefdissect.schemas").joinpath(f"{DEFAULT_SCHEMA}.yaml") \
        .read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    data["name"] = f"{DEFAULT_SCHEMA}+{source}"
    data["properties"] = list(data["properties"]) + list(extra)
    _check(f"properties from {source}", data)
    header = (f"# This study's property schema: the default ({DEFAULT_SCHEMA}) plus the "
              f"properties\n# its import brought ({source}). Edit it, or pass --schema.\n")
    return header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def misspelt(schema: PropertySchema) -> dict[str, str]:
    """Return the schema's property names that look like typos of a built-in one.

    Maps each such name to the built-in name it is closest to. A name of one's own
    that resembles no built-in property is not listed.
    """
    import difflib

    builtin = load_schema().names
    found = {}
    for name in schema.names:
        if name not in builtin:
            close = difflib.get_close_matches(name, builtin, n=1, cutoff=0.8)
            if close:
                found[name] = close[0]
    return found


def schema_yaml(path: str | Path | None = None) -> str:
    """Return a schema file's text, checked first (a broken file is refused, not echoed).

    ``None`` (or the default's name) gives the built-in paper29.yaml.
    """
    load_schema(path)
    if path is None or str(path) == DEFAULT_SCHEMA:
        return resources.files("prefdissect.schemas").joinpath(f"{DEFAULT_SCHEMA}.yaml") \
            .read_text(encoding="utf-8")
    return Path(path).read_text(encoding="utf-8")


def load_schema(path: str | Path | None = None) -> PropertySchema:
    """Load a property schema from YAML; ``None`` loads the paper's 29."""
    if path is None or str(path) == DEFAULT_SCHEMA:
        source = f"{DEFAULT_SCHEMA}.yaml (built in)"
        text = resources.files("prefdissect.schemas").joinpath(f"{DEFAULT_SCHEMA}.yaml") \
            .read_text(encoding="utf-8")
    else:
        source = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise InputError(path, "does not exist", "check the schema path") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        raise InputError(source, f"is not valid YAML ({getattr(exc, 'problem', exc)})",
                         "fix the YAML syntax", line=None if line is None else line + 1) \
            from None
    _check(source, data)
    props = tuple(
        Property(
            name=item["name"], label=item["label"], description=item["description"],
            rule=item["rule"], step=item.get("step", "query_free"),
            scale=str(item.get("scale", "")), applies_when=item.get("applies_when"),
            when_not_applicable=item.get("when_not_applicable", "zero"),
            measure=item.get("measure"), question=item.get("question"),
        )
        for item in data["properties"]
    )
    return PropertySchema(str(data.get("name", Path(source).stem)), props,
                          dict(data.get("rules") or {}))
