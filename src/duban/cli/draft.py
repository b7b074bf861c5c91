"""`duban draft`: a draft catalog from a plan document, or what a revised document changes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from duban.cli.common import app, emit, friendly


@app.command()
@friendly
def draft(
    plan: Annotated[Path, typer.Argument(help="the plan document: .txt, .md or .docx", show_default=False)],
    year: Annotated[int | None, typer.Option("--year", help="the plan's year (default: the document's own)")] = None,
    plan_id: Annotated[str | None, typer.Option("--plan-id", help="plan id (default: from the file name)")] = None,
    units: Annotated[Path | None, typer.Option("--units", help="the county's unit list (YAML: units, groups)")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="write the draft here (a new file), not to stdout")] = None,
    against: Annotated[
        Path | None, typer.Option("--diff", help="show what the document adds, changes, drops against this catalog")
    ] = None,
) -> None:
    """Draft a catalog from a plan document; with --diff, compare the document with an existing catalog."""
    from duban.catalog import SLUG
    from duban.draft.build import make_draft
    from duban.draft.units import Book, load_units
    from duban.draft.writer import plan_id as default_plan_id
    from duban.draft.writer import render

    if year is not None and not 1900 <= year <= 2100:
        raise ValueError(f"--year {year}: give a year such as 2020")
    if plan_id is not None and not SLUG.match(plan_id):
        raise ValueError(f"--plan-id '{plan_id}': use lowercase letters, digits, '-' or '_'")
    if out is not None and out.exists():
        raise ValueError(f"--out {out}: the file exists; choose a new name (the draft never overwrites a catalog)")
    book = load_units(units) if units else Book()
    result = make_draft(plan, year=year, known=book.known())
    if against is not None:
        _show_diff(against, result)
        if out is None:
            return
    text = render(result, book, plan=plan_id or default_plan_id(plan, result.year))
    if out is not None:
        out.write_text(text, encoding="utf-8")
    else:
        emit(text)
    typer.echo(_summary(result, text, str(out or "draft.yaml")), err=True)


def _show_diff(path: Path, result) -> None:  # noqa: ANN001 - a Draft, imported lazily
    from duban.catalog import load_catalog
    from duban.draft.diff import diff, summary

    changes = diff(load_catalog(path), result)
    emit("\n".join([*(str(c) for c in changes), summary(changes)]))


def _summary(result, text: str, name: str) -> str:  # noqa: ANN001 - a Draft, imported lazily
    """One line for the person at the terminal: counts, and whether the draft passes `duban check` yet."""
    from collections import Counter

    from duban.catalog import CatalogError, parse_catalog

    confidence = Counter(t.schedule.confidence for t in result.tasks)
    levels = "、".join(f"{level} {confidence[level]}" for level in ("高", "中", "低"))
    line = f"草稿：{len(result.tasks)} 个任务（置信度 {levels}），待定 {len(result.pending)} 句"
    try:
        parse_catalog(text, name)
    except CatalogError as error:
        return f"{line}；{len(error.problems)} 处须人工填写，duban check {name} 会逐一指出"
    return f"{line}；duban check 已可通过"
