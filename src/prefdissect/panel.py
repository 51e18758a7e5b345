"""Panels: judges set side by side, each in its own namespace.

``compare``, the report and ``plot --reference`` put the fitted judges of one or
more studies beside the paper's published judges. A name alone does not say
which judge it is: a study's ``human`` (its own annotators) is not the paper's
``human`` (Chatbot Arena votes). A :class:`Panel` keeps every judge's origin and
gives each a key that is unique in the panel:

- a study's judge keeps its own name, so ``--judge human`` still means the
  study's judge; where two studies in the panel both have a judge of that name,
  each becomes ``<study folder>:<name>`` (``pandalm:human``);
- a reference judge keeps its name unless a study judge holds it; then it is
  ``paper:<name>`` (``paper:human``).

Profiles are never merged or replaced by name: each judge's rows stay its own.
:func:`compare_judges` is the library side of the ``compare`` command.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .errors import UsageError
from .profiles import PROFILE_COLUMNS
from .similarity import Similarity, nearest, similarity

STUDY = "study"
REFERENCE = "reference"
REFERENCE_PREFIX = "paper"
"""Namespace of reference judges whose name a study judge already holds."""


@dataclass(frozen=True)
class PanelJudge:
    """One judge of a panel."""

    key: str
    """Unique name in the panel (what tables, figures and options use)."""
    name: str
    """The judge's own name in its source."""
    source: str
    """'study' (fitted here) or 'reference' (the paper's published means)."""
    origin: str
    """The study folder's name, or 'paper' for reference judges."""


@dataclass
class Panel:
    """Profiles of judges from several sources, keyed so that no two judges share a name."""

    profiles: pd.DataFrame
    """Profile table (:data:`~prefdissect.profiles.PROFILE_COLUMNS`, judge = key) plus
    ``source`` and ``origin``."""
    judges: list[PanelJudge] = field(default_factory=list)
    """Every judge, study judges first, in their sources' order."""

    def keys(self, source: str | None = None) -> list[str]:
        """Return the judges' keys, all or only those of one source."""
        return [j.key for j in self.judges if source is None or j.source == source]

    def resolve(self, names: Sequence[str]) -> list[str]:
        """Turn names a user typed into keys; a key or a unique own name is accepted."""
        by_key = {j.key: j.key for j in self.judges}
        by_name: dict[str, list[str]] = {}
        for judge in self.judges:
            by_name.setdefault(judge.name, []).append(judge.key)
        out = []
        for name in names:
            if name in by_key:
                out.append(name)
            elif len(by_name.get(name, [])) == 1:
                out.append(by_name[name][0])
            elif name in by_name:
                raise UsageError(f"judge '{name}' is ambiguous; use one of "
                                 f"{', '.join(by_name[name])}")
            else:
                raise UsageError(f"no profile for judge '{name}'; judges available: "
                                 f"{', '.join(self.keys())}")
        return out

    def table(self) -> pd.DataFrame:
        """One row per judge: key, name, source, origin."""
        return pd.DataFrame([vars(j) for j in self.judges],
                            columns=["key", "name", "source", "origin"])


def build_panel(studies: Sequence[tuple[str, pd.DataFrame]] = (),
                reference: pd.DataFrame | None = None) -> Panel:
    """Put study profiles and reference profiles in one panel without merging any judge.

    Parameters
    ----------
    studies
        ``(origin, profiles)`` per study: the study folder's name and its profile table.
    reference
        The paper's profiles (:func:`~prefdissect.reference.load_reference_profiles`).
    """
    counts: dict[str, int] = {}
    for _, profiles in studies:
        for name in dict.fromkeys(profiles["judge"].astype(str)):
            counts[name] = counts.get(name, 0) + 1
    judges: list[PanelJudge] = []
    frames: list[pd.DataFrame] = []
    taken: set[str] = set()

    def add(frame: pd.DataFrame, name: str, key: str, source: str, origin: str) -> None:
        base, n = key, 2
        while key in taken:  # two study folders of the same name
            key, n = f"{base}#{n}", n + 1
        taken.add(key)
        judges.append(PanelJudge(key, name, source, origin))
        frames.append(frame.assign(judge=key, source=source, origin=origin))

    for origin, profiles in studies:
        for name, rows in profiles.groupby(profiles["judge"].astype(str), sort=False):
            key = name if counts[name] == 1 else f"{origin}:{name}"
            add(rows[list(PROFILE_COLUMNS)], name, key, STUDY, origin)
    study_names = set(counts)
    if reference is not None:
        for name, rows in reference.groupby(reference["judge"].astype(str), sort=False):
            key = f"{REFERENCE_PREFIX}:{name}" if name in study_names else name
            add(rows[list(PROFILE_COLUMNS)], name, key, REFERENCE, REFERENCE_PREFIX)
    columns = [*PROFILE_COLUMNS, "source", "origin"]
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
    return Panel(table[columns], judges)


def load_panel(studies: Sequence[str | Path] = (), reference: str | Path | None = None) -> Panel:
    """Read the profiles of study folders and of a reference source into a panel.

    ``reference`` is a folder or URL of the paper's files, or 'paper' for the
    public repository (see :func:`~prefdissect.reference.load_reference_profiles`).
    """
    from .reference import PAPER_URL, load_reference_profiles
    from .study import Study

    loaded = [(Path(folder).resolve().name, Study(Path(folder)).profiles())
              for folder in studies]
    ref = None
    if reference:
        ref = load_reference_profiles(PAPER_URL if str(reference) == "paper" else reference)
    return build_panel(loaded, ref)


@dataclass
class JudgeComparison:
    """What ``compare`` finds: similarity, and each study judge's nearest reference judges."""

    panel: Panel
    """The judges compared, with their origins."""
    similarity: Similarity
    """The similarity matrix, judges in clustering order."""
    nearest: dict[str, pd.DataFrame]
    """Per study judge (key), its most similar reference judges."""

    def save(self, folder: str | Path) -> list[Path]:
        """Write similarity.csv, similarity_pairs.csv and judges.csv; return the paths."""
        from .study import Study

        out = Study(Path(folder))
        chosen = set(self.similarity.matrix.index)
        judges = self.panel.table()
        return [out.write_frame("similarity.csv",
                                self.similarity.matrix.rename_axis("judge").reset_index()),
                out.write_frame("similarity_pairs.csv", self.similarity.long()),
                out.write_frame("judges.csv", judges[judges["key"].isin(chosen)])]


def compare_judges(panel: Panel, judges: Sequence[str] | None = None,
                   groups: Sequence[str] | None = None, method: str = "pearson",
                   draws: int = 1000, top: int = 5) -> JudgeComparison:
    """Compare the panel's judges by the similarity of their profiles.

    Parameters
    ----------
    panel
        The judges (see :func:`build_panel`).
    judges
        Names or keys to compare (default: every judge of the panel).
    groups
        Groups to average over (default: the paper's scenarios, else the shared groups).
    method
        'pearson' (the paper's) or 'spearman'.
    draws
        Draws for the intervals.
    top
        How many nearest reference judges to list per study judge.
    """
    if not panel.judges:
        raise UsageError("nothing to compare; give a study and/or the paper's judges")
    chosen = panel.resolve(judges) if judges else panel.keys()
    sim = similarity(panel.profiles, chosen, list(groups) if groups else None, method,
                     draws=draws).ordered()
    among = [k for k in panel.keys(REFERENCE) if k in sim.matrix.index]
    near = {key: nearest(sim, key, among, top) for key in panel.keys(STUDY)
            if key in sim.matrix.index and among}
    return JudgeComparison(panel, sim, near)
