"""The status sheet's items read from the store in the order they are shown, one at a time: every item by section,
most pressing first (the one pass that counts them and formats the ledgers' rows ahead); the problems (问题整改);
one state's items for the chat lines. The store sorts (ORDER BY on the read path, spilling to disk as it must), so
a sheet's memory does not grow with its rows.

The order is `duban.sheets.sheet.urgency_key` spelled in SQL: state by urgency; the nearest deadline first
(overdue: the oldest; done: the latest); then the task's position; then the id, compared as code points as Python
compares strings (COLLATE "C" on PostgreSQL). Sections come in the order of their first task. Where the read path
does not open the store, the ORM path's items are sorted in Python by the same key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, time, timedelta

from duban.sheets.data import ROW_COLUMNS, URGENCY, Item, Source, occurrence_sql, source_items, streamed
from duban.sheets.sheet import section_order, shown, urgency_key
from duban.store import utc

RANK = "CASE status " + " ".join(f"WHEN '{s}' THEN {n}" for n, s in enumerate(URGENCY)) + " END"
LATEST_FIRST = ", ".join(f"'{s}'" for s in URGENCY[URGENCY.index("done_late"):])  # (done_late, done, waived)


def shown_until(source: Source, horizon_days: int) -> datetime:
    """The end of the last day shown (a UTC instant): items due before it, or due soon, are on the sheet."""
    last_day = source.as_of.date() + timedelta(days=horizon_days)
    return utc(datetime.combine(last_day + timedelta(days=1), time(), source.plan.tz))


def shown_items(source: Source, horizon_days: int | None) -> Iterator[Item]:
    """The items shown, by section (in the order of its first task), each section's most pressing first; with no
    horizon, every item, in the same order."""
    return _ordered(source, horizon_days, "", ("section_first", *_URGENCY_ORDER),
                    lambda items, index: sorted(items, key=lambda i: (index[i.task.section], urgency_key(i))))


def problem_items(source: Source) -> Iterator[Item]:
    """Every item of a problem to rectify (问题整改), shown or not, most pressing first."""
    return _ordered(source, None, "origin = 'problem'", _URGENCY_ORDER,
                    lambda items, _: sorted((i for i in items if i.task.is_problem), key=urgency_key))


def items_in_state(source: Source, horizon_days: int, status: str) -> Iterator[Item]:
    """The items shown in one state, most pressing first (as `StatusSheet.pressing` takes them)."""
    if status not in URGENCY:
        raise ValueError(f"no state '{status}'")
    return _ordered(source, horizon_days, f"status = '{status}'", _URGENCY_ORDER,
                    lambda items, _: sorted((i for i in items if i.status == status), key=urgency_key))


_URGENCY_ORDER = ("rank", f"CASE WHEN status IN ({LATEST_FIRST}) THEN NULL ELSE due END",
                  f"CASE WHEN status IN ({LATEST_FIRST}) THEN due END DESC", "position")


def _ordered(source: Source, horizon_days: int | None, condition: str, order: tuple[str, ...],
             in_python: Callable[[list[Item], dict[str, int]], list[Item]]) -> Iterator[Item]:
    from duban.readpath.connect import open_reader

    reader = open_reader(source.engine.url.render_as_string(hide_password=False))
    if reader is None:
        items = list(source_items(source))
        if horizon_days is not None:
            items = shown(items, source.as_of, horizon_days)
        index = {name: n for n, name in enumerate(section_order(source.tasks))}
        return iter(in_python(items, index))
    p = reader.param
    params = {"plan": source.plan.id, "moment": reader.instant(source.as_of_utc)}
    conditions = [condition] if condition else []
    if horizon_days is not None:
        conditions.append(f"(due < {p('until')} OR status = 'due_soon')")
        params["until"] = reader.instant(shown_until(source, horizon_days))
    code_points = ' COLLATE "C"' if reader.dialect == "postgresql" else ""
    sql = (f"SELECT {ROW_COLUMNS} FROM (SELECT x.*, {RANK} AS rank FROM ({occurrence_sql(reader, ordering=True)}) x)"
           f" y{' WHERE ' + ' AND '.join(conditions) if conditions else ''}"
           f" ORDER BY {', '.join(order)}, id{code_points}")
    return source.items(streamed(reader, sql, params))
