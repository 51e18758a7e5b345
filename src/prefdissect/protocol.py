"""The paper's fit protocol, and how a study's fit differs from it.

The paper fitted, per group, its model (Laplace(0, 0.1) weights, no intercept, no model
terms) on hard labels, on 10 folds of 90% of the pairs each, and reported the mean of
the folds' posterior means; a pair with any annotation it could not use was left out,
never a property. ``--paper-protocol`` selects exactly these choices (the engine stays
yours: ``--engine nuts`` is the paper's sampler, EP is within 0.004 of it); the paper's
own fold split (NumPy's seed 0 over the group's pairs) is not reproduced, ours is
seeded per judge.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from .engines import PRIOR_SCALE
from .errors import UsageError
from .profiles import FitConfig

PAPER_FOLDS = 10


def paper_protocol(config: FitConfig) -> FitConfig:
    """Return ``config`` with the paper's fit choices (see the module docstring).

    Raises a :class:`UsageError` where the user asked for something the paper's
    protocol excludes (soft labels, model terms).
    """
    if config.soft_labels:
        raise UsageError("--paper-protocol fits hard labels, as the paper did; drop "
                         "--soft-labels")
    if config.model_terms not in ("auto", "none"):
        raise UsageError(f"--paper-protocol fits the paper's model, without model terms; "
                         f"drop --model-terms {config.model_terms}")
    return replace(config, average_folds=True, model_terms="none", max_missing=1.0,
                   prior_scale=PRIOR_SCALE)


def protocol_differences(settings: dict[str, Any]) -> list[str]:
    """Say how a fit's settings (a summary's ``config``) differ from the paper's protocol."""
    out = []
    if not settings.get("average_folds"):
        out.append("one fit on all pairs, not the mean of fold fits")
    elif settings.get("folds") != PAPER_FOLDS:
        out.append(f"{settings.get('folds')} folds, not {PAPER_FOLDS}")
    if settings.get("model_terms") not in ("none", None):
        out.append(f"model terms ({settings['model_terms']})")
    if settings.get("soft_labels"):
        out.append("soft labels")
    if settings.get("prior_scale", PRIOR_SCALE) != PRIOR_SCALE:
        out.append(f"prior scale {settings['prior_scale']}")
    if settings.get("max_missing", 1.0) < 1.0:
        out.append(f"properties missing for over {settings['max_missing']:.0%} of pairs "
                   "left out")
    return out


def protocol_notes(studies: Sequence[str | Path]) -> list[str]:
    """One line per study folder whose fit did not follow the paper's protocol."""
    notes = []
    for folder in studies:
        path = Path(folder) / "summary.json"
        if not path.exists():
            continue
        settings = json.loads(path.read_text(encoding="utf-8")).get("config", {})
        differences = protocol_differences(settings)
        if differences:
            notes.append(f"{Path(folder).resolve().name} was not fitted as the paper's judges "
                         f"were ({'; '.join(differences)}); `prefdissect fit "
                         f"{folder} --paper-protocol` fits it that way")
    return notes
