"""Casework commands: assign (交办), import-problems (问题清单), extend / decide-extension (延期), problems."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from duban.cli.actions import AsOfOpt, ByOpt, NoteOpt, OccArg, PlanOpt, _store
from duban.cli.common import app, emit, friendly


class CountsFormat(StrEnum):
    """Output formats of `duban problems`."""

    table = "table"
    json = "json"


def _day(text: str, field: str):  # noqa: ANN202 - a date
    from duban.timeutil import parse_day

    try:
        return parse_day(text)
    except ValueError:
        raise ValueError(f"{field}: cannot read '{text}' as a date (write YYYY-MM-DD)") from None


@contextmanager
def _acting(plan: str | None, as_of: str | None, by: str) -> Iterator[tuple[Any, Any, Any, datetime]]:
    """One transaction in which `by` acts on the plan's casework: (connection, setup, actor, moment)."""
    from duban import actions
    from duban.casework.plan import load_setup

    store, plan_id, _, moment = _store(plan, as_of)
    with store.begin() as connection:
        actor = actions.find_actor(connection, plan_id=plan_id, who=by)
        yield connection, load_setup(connection, plan_id), actor, moment


@app.command()
@friendly
def assign(
    title: Annotated[str, typer.Option("--title", help="what is to be done", show_default=False)],
    owner: Annotated[str, typer.Option("--owner", help="unit id, full or short name, or group:G",
                                       show_default=False)],
    due: Annotated[str, typer.Option("--due", help="deadline day, YYYY-MM-DD", show_default=False)],
    by: ByOpt,
    ref: Annotated[str, typer.Option("--ref", help="the clause or document it rests on")] = "",
    evidence: Annotated[str, typer.Option("--evidence", help="what proof to bring")] = "",
    note: NoteOpt = "",
    as_of: AsOfOpt = None,
    plan: PlanOpt = None,
) -> None:
    """The office hands out an item (交办): one occurrence per unit, reminded and escalated like any other."""
    from duban.casework.assign import Assignment, hand_out

    with _acting(plan, as_of, by) as (connection, setup, actor, moment):
        ids = hand_out(connection, setup=setup, actor=actor, now=moment, source="cli",
                       assignment=Assignment(title, owner, _day(due, "--due"), ref, evidence, note))
    emit("\n".join(ids))
    emit(f"交办 1 项，{len(ids)} 个责任单位")


@app.command("import-problems")
@friendly
def import_problems(
    file: Annotated[Path | None, typer.Argument(help="the problem list (问题清单), .xlsx or .csv",
                                                show_default=False)] = None,
    source: Annotated[str, typer.Option("--source", help="来源 for rows that leave it empty (国家普查, ...)")] = "",
    by: Annotated[str, typer.Option("--by", help="who imports: a person of the office (id, email or mobile)")] = "",
    template: Annotated[Path | None, typer.Option("--template", help="write an empty list with an example row here")]
    = None,
    task: Annotated[str, typer.Option("--task", help="the catalog task (owners_from: problems) the list answers to")]
    = "",
    as_of: AsOfOpt = None,
    plan: PlanOpt = None,
) -> None:
    """Import a problem list: one item per problem, all rows or none; bad rows are named FILE:ROW."""
    from duban import actions
    from duban.casework.plan import load_setup
    from duban.casework.problems import ProblemListError, import_problems, write_template

    if template is not None:
        emit(f"{write_template(template)}: problem list template written (columns 来源, 问题描述, 责任单位, "
             "整改时限, 整改要求; one example row)")
        return
    if file is None:
        raise ValueError("name the problem list to import (FILE.xlsx or FILE.csv), or write one with --template")
    if not by:
        raise ValueError("--by: name the person of the office who imports the list (id, email or mobile)")
    store, plan_id, _, moment = _store(plan, as_of)
    try:
        with store.begin() as connection:
            actor = actions.find_actor(connection, plan_id=plan_id, who=by)
            ids = import_problems(connection, setup=load_setup(connection, plan_id), actor=actor, path=file,
                                  source=source, now=moment, task_id=task)
    except ProblemListError as error:
        for problem in error.problems:
            typer.echo(problem, err=True)
        typer.echo(f"duban: nothing imported ({len(error.problems)} problem(s))", err=True)
        raise typer.Exit(1) from None
    emit(f"{file}: {len(ids)} problem(s) imported")


@app.command()
@friendly
def extend(
    occurrence: OccArg,
    until: Annotated[str, typer.Option("--until", help="the deadline asked for, YYYY-MM-DD", show_default=False)],
    reason: Annotated[str, typer.Option("--reason", help="why more time is needed", show_default=False)],
    by: ByOpt,
    as_of: AsOfOpt = None,
    plan: PlanOpt = None,
) -> None:
    """A unit asks for an extension (延期申请) of one of its items, with a reason."""
    from duban.casework.extension import request_extension

    with _acting(plan, as_of, by) as (connection, setup, actor, moment):
        event = request_extension(connection, setup=setup, actor=actor,
                                  occurrence_id=occurrence, until=_day(until, "--until"), reason=reason, now=moment,
                                  source="cli")
    emit(f"{occurrence}: 延期申请已提交，待督办室审批 (event {event})")


@app.command("decide-extension")
@friendly
def decide_extension(
    occurrence: OccArg,
    by: ByOpt,
    refuse: Annotated[str | None, typer.Option("--refuse", help="refuse the extension, with this reason")] = None,
    note: NoteOpt = "",
    as_of: AsOfOpt = None,
    plan: PlanOpt = None,
) -> None:
    """The office grants an extension request (the deadline moves), or refuses it with --refuse REASON."""
    from duban.casework.extension import decide_extension as decide

    with _acting(plan, as_of, by) as (connection, setup, actor, moment):
        event = decide(connection, setup=setup, actor=actor, occurrence_id=occurrence,
                       grant=refuse is None, note=note if refuse is None else refuse, now=moment, source="cli")
    emit(f"{occurrence}: {'同意延期' if refuse is None else '不同意延期'} (event {event})")


PROBLEM_COLUMNS = [("label", "名称"), ("found", "发现问题"), ("rectified", "已整改"), ("verified", "已销号"),
                   ("overdue", "逾期未整改"), ("extended", "已延期"), ("rate", "整改率")]


@app.command()
@friendly
def problems(
    as_of: AsOfOpt = None,
    plan: PlanOpt = None,
    format: Annotated[CountsFormat, typer.Option("--format", help="table or json")] = CountsFormat.table,
) -> None:
    """问题整改: per source and per unit, problems found, rectified, verified, overdue, and the rate."""
    from duban import output
    from duban.casework.counts import problem_counts

    store, plan_id, _, moment = _store(plan, as_of)
    with store.connect() as connection:
        counts = problem_counts(connection, plan_id=plan_id, as_of=moment)
    if format is CountsFormat.json:
        emit(json.dumps(counts.as_dict(), ensure_ascii=False, indent=2))
        return
    if not counts.any:
        emit("没有问题清单事项")
        return
    for title, rows in (("按来源", counts.by_source), ("按责任单位", counts.by_unit), ("合计", [counts.total])):
        emit(f"【{title}】")
        emit(output.table([{**t.as_dict(), "rate": t.rate_text} for t in rows], PROBLEM_COLUMNS))
