"""The agreement command: annotators, judges, or hand labels against each other."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from . import console, literal
from .options import SchemaOpt, StudyArg

PairOpt = tuple[str, str] | None


def agreement(study: StudyArg,
              annotators: Annotated[PairOpt, typer.Option(
                  "--annotators", help="Two annotators to compare, property by property "
                  "(e.g. --annotators heuristic llm).", show_default=False)] = None,
              judges: Annotated[PairOpt, typer.Option(
                  "--judges", help="Two judges to compare on their labels.",
                  show_default=False)] = None,
              labels: Annotated[Path | None, typer.Option(
                  "--labels", help="Your hand labels (CSV / JSONL / Parquet): pair_id and "
                  "label (A/B/tie), or pair_id, property and comparison (+1/0/-1) or "
                  "value_a/value_b; compared with every annotator or judge.")] = None,
              schema: SchemaOpt = None) -> None:
    """Measure agreement (coverage, raw agreement, Cohen's kappa, confusion) and save it."""
    from .. import agreement as lib
    from ..errors import UsageError
    from ..study import Study

    given = [x for x in (annotators, judges, labels) if x is not None]
    if len(given) != 1:
        raise UsageError("give one of --annotators X Y, --judges J1 J2 or --labels FILE")
    if labels is not None and not labels.exists():
        raise UsageError(f"{labels} does not exist; check the labels file path")
    with Study(study).lock("agreement", create=False) as target:
        schema_obj = target.schema(schema)
        pairs = target.pairs()["id"]
        if annotators:
            result = lib.between_annotators(target.annotations(), pairs, schema_obj,
                                            *annotators)
        elif judges:
            result = lib.between_judges(target.judgments(), pairs, *judges)
        else:
            has_annotations = target.path("annotations.parquet").exists()
            result = lib.against_labels(
                lib.read_labels(labels, schema_obj), labels.stem,
                annotations=target.annotations() if has_annotations else None,
                judgments=target.judgments(), schema=schema_obj, pair_ids=pairs)
        lib.record(target, result)
    show(result.table)
    for note in result.notes:
        console.print(f"[dim]note: {literal(note)}[/]", highlight=False)
    console.print(f"wrote {literal(study)}/agreement.csv and agreement_confusion.csv; kappa "
                  "interval: 95% bootstrap over pairs", highlight=False)


def show(table) -> None:
    """Print agreement rows as a table."""
    from rich.table import Table

    view = Table("first", "second", "property", "both / pairs", "agreement", "kappa",
                 "95% interval", box=None)
    for row in table.itertuples():
        kappa = "n/a" if row.kappa != row.kappa else f"{row.kappa:.2f}"
        interval = "" if row.kappa_lower != row.kappa_lower else \
            f"{row.kappa_lower:.2f} to {row.kappa_upper:.2f}"
        agree = "n/a" if row.agreement != row.agreement else f"{100 * row.agreement:.1f}%"
        view.add_row(literal(row.first), literal(row.second), literal(row.property or "-"),
                     f"{row.both} / {row.pairs}", agree, kappa, interval)
    console.print(view)
