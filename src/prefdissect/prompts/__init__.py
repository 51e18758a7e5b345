"""Prompt texts (YAML data), their rendering, and their versions.

A prompt's version is the file name plus a hash of its text, so editing a prompt
changes the version stored with every annotation and the cache keys of every
request built from it: answers to old prompts are never mistaken for new ones.
"""

from __future__ import annotations

import hashlib
import re
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from ..errors import InputError

_FIELD = re.compile(r"\{\{|\}\}|\{([a-z_][a-z0-9_]*)\}")


@cache
def _builtin_text(name: str) -> str:
    return resources.files("prefdissect.prompts").joinpath(f"{name}.yaml").read_text(
        encoding="utf-8")


def load(name: str, path: str | Path | None = None) -> tuple[dict[str, Any], str]:
    """Return (prompt set, version) of a built-in prompt file or a user's one."""
    if path is None:
        text, label = _builtin_text(name), name
    else:
        try:
            text, label = Path(path).read_text(encoding="utf-8"), Path(path).stem
        except FileNotFoundError:
            raise InputError(path, "does not exist", "check the prompt file path") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InputError(path or name, f"is not valid YAML ({exc})", "fix the YAML") from None
    if not isinstance(data, dict):
        raise InputError(path or name, "is not a mapping of prompt names to texts",
                         "see the built-in prompt files for the layout")
    return data, f"{label}-{hashlib.sha256(text.encode()).hexdigest()[:10]}"


def check(data: dict[str, Any], needed: tuple[str, ...], placeholders: tuple[str, ...],
          source: str | Path, option: str,
          required: dict[str, tuple[str, ...]] | None = None) -> None:
    """Check a prompt set has the ``needed`` texts and no unknown ``{placeholder}``.

    ``required`` names, per text, the placeholders it must use (``"a|b"``: either);
    without them every request built from the text would be the same (a judge
    prompt without ``{response_a}`` asks one question for every pair). Raises
    :class:`InputError` naming the file, the text and the placeholder, so a mistake
    in a user's prompt file stops the command before any request is built.
    """
    for key in needed:
        if not isinstance(data.get(key), str):
            raise InputError(source, f"has no '{key}' text", f"give {option} a YAML file with "
                             f"{', '.join(needed)} (see the built-in prompts)", field=key)
        used = {m.group(1) for m in _FIELD.finditer(data[key]) if m.group(1)}
        unknown = sorted(used - set(placeholders))
        if unknown:
            raise InputError(source, f"uses the unknown placeholder {{{unknown[0]}}}",
                             f"use only {', '.join('{' + p + '}' for p in placeholders)} "
                             "(write {{ and }} for literal braces)", field=key)
        for name in (required or {}).get(key, ()):
            if not used & set(name.split("|")):
                shown = " or ".join("{" + n + "}" for n in name.split("|"))
                raise InputError(source, f"does not use the placeholder {shown}",
                                 f"put {shown} where the text should show it; without it "
                                 "every request would be the same", field=key)


def render(template: str, **values: str) -> str:
    """Fill ``{name}`` placeholders in one pass (``{{`` and ``}}`` are literal braces).

    Values are inserted verbatim, so braces inside model responses are safe.
    """
    def fill(match: re.Match) -> str:
        token = match.group(0)
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        key = match.group(1)
        if key not in values:
            raise KeyError(f"prompt placeholder {{{key}}} has no value")
        return str(values[key])

    return _FIELD.sub(fill, template)
