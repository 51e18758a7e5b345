"""`prefdissect scores`: the leaderboard, raw and with the judge's tastes controlled."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from . import console, literal
from .options import AnchorOpt, MissingOpt, SchemaOpt, SeedOpt, StudyArg, ThreadsOpt

ControlOpt = Annotated[list[str] | None, typer.Option(
    "--control", "-c", help="Property whose differences are set to zero (repeatable; default: "
    "every property in the model).")]
KeepOpt = Annotated[list[str] | None, typer.Option(
    "--keep", "-k", help="Property to leave uncontrolled (repeatable), e.g. an error count "
    "that reflects real quality.")]
FamilyOpt = Annotated[Path | None, typer.Option(
    "--family-map", help="CSV or YAML mapping model -> family, for models that are one model "
    "prompted differently (default: names ending in _concise / _verbose).")]
LeaderboardOpt = Annotated[Path | None, typer.Option(
    "--leaderboard", help="A published leaderboard CSV (AlpacaEval's columns win_rate, "
    "length_controlled_winrate) to set beside the scores.")]


def scores(study: StudyArg,
           judge: Annotated[list[str] | None, typer.Option(
               "--judge", "-j", help="Judge whose verdicts make the scores (repeatable; "
               "default: every judge).")] = None,
           control: ControlOpt = None, keep: KeepOpt = None, family_map: FamilyOpt = None,
           leaderboard: LeaderboardOpt = None, anchor_model: AnchorOpt = None,
           schema: SchemaOpt = None, max_missing: MissingOpt = 0.2,
           draws: Annotated[int, typer.Option("--draws", help="Posterior draws for the "
                                              "controlled score's interval.")] = 1000,
           threads: ThreadsOpt = 1, seed: SeedOpt = 0) -> None:
    """Rank models by raw and controlled win rate and split the gap by property."""
    from .. import pipeline
    from ..errors import UsageError
    from ..families import read_family_map
    from ..properties import load_schema
    from ..scores import ScoreConfig
    from ..study import Study

    if draws < 100:
        raise UsageError(f"--draws {draws}: give at least 100 for a usable interval")
    if not 0.0 <= max_missing <= 1.0:
        raise UsageError(f"--max-missing {max_missing}: give a share between 0 and 1")
    config = ScoreConfig(control=list(control) if control else None, keep=list(keep or []),
                         anchor_model=anchor_model, max_missing=max_missing, draws=draws,
                         seed=seed, threads=threads)
    mapping = read_family_map(family_map)
    schema_obj = load_schema(schema) if schema else Study(study).schema()
    with Study(study).lock("scores", create=False) as target:
        made = pipeline.scores(target, schema_obj, list(judge) if judge else None, config,
                               mapping, leaderboard)
    for name, result in made.results.items():
        _print_leaderboard(name, result, schema_obj.labels())
        _print_families(made.families[made.families["judge"] == name])
    for note in made.notes:
        console.print(f"[dim]note: {literal(note)}[/]", highlight=False)
    console.print(f"wrote {literal(str(study))}/scores.csv, score_components.csv"
                  + ("" if made.families.empty else ", families.csv"), highlight=False)


def _print_leaderboard(judge: str, result, labels: dict[str, str]) -> None:
    from rich.table import Table

    table = result.scores
    components = result.components
    published = "published_lc" in table
    view = Table(title=f"{literal(judge)}: {len(table)} models, ranked by controlled win rate",
                 title_justify="left", box=None, header_style="dim", pad_edge=False)
    for name, justify in (("#", "right"), ("model", "left"), ("raw", "right"),
                          ("controlled", "right"), ("raw - controlled", "right"),
                          ("largest parts (points)", "left")):
        view.add_column(name, justify=justify)
    if published:
        view.add_column("published LC", justify="right")
    for rank, row in enumerate(table.itertuples(), start=1):
        mine = components[(components["model"] == row.model)
                          & (components["component"] != "unexplained")
                          & components["points"].notna()]
        top = mine.reindex(mine["points"].abs().sort_values(ascending=False).index).head(3)
        parts = ", ".join(f"{literal(labels.get(r.component, r.component))} {r.points:+.1f}"
                          for r in top.itertuples())
        fitted = row.controlled == row.controlled  # NaN: none of its pairs in the model
        cells = [str(rank), literal(row.model),
                 f"{row.raw:.1f} [{row.raw_lower:.1f}, {row.raw_upper:.1f}]",
                 f"{row.controlled:.1f} [{row.controlled_lower:.1f}, "
                 f"{row.controlled_upper:.1f}]" if fitted else "none (see the notes)",
                 f"{row.raw - row.controlled:+.1f}" if fitted else "", parts]
        if published:
            cells.append("" if row.published_lc != row.published_lc else
                         f"{row.published_lc:.1f}")
        view.add_row(*cells)
    console.print(view)
    controlled = ", ".join(labels.get(p, p) for p in result.controlled)
    console.print(f"[dim]win rate in % (95% intervals: raw Wilson from the pairs, controlled "
                  f"from the posterior); controlled: {literal(controlled)}"
                  + (f"; kept: {literal(', '.join(result.kept))}" if result.kept else "")
                  + f"; strengths anchored at {literal(result.anchor)}[/]", highlight=False)
    if published:
        both = table.dropna(subset=["published_lc"])
        if len(both) >= 3:
            rho = both["controlled"].rank().corr(both["published_lc"].rank())
            console.print(f"ranking by controlled win rate vs the published LC ranking: "
                          f"Spearman {rho:.3f} over {len(both)} models", highlight=False)
    for note in result.notes:
        console.print(f"[dim]note: {literal(note)}[/]", highlight=False)


def _print_families(table) -> None:
    from rich.table import Table

    if table.empty:
        return
    published = "published_lc_spread" in table
    view = Table(title="families (one model prompted differently): spread = sd / mean of "
                 "the variants' scores", title_justify="left", box=None, header_style="dim",
                 pad_edge=False)
    for name in ("family", "variants", "raw spread", "controlled spread",
                 *(["published LC spread"] if published else [])):
        view.add_column(name)
    for row in table.itertuples():
        view.add_row(literal(row.family), literal(row.models), f"{row.raw_spread:.3f}",
                     f"{row.controlled_spread:.3f}",
                     *([f"{row.published_lc_spread:.3f}"] if published else []))
    means = [f"{table['raw_spread'].mean():.3f}", f"{table['controlled_spread'].mean():.3f}"]
    if published:
        means.append(f"{table['published_lc_spread'].mean():.3f}")
    view.add_row("[bold]mean[/]", "", *means)
    console.print(view)
