"""The counts every aggregate view shows, from one rule: the roll-up messages, the bulletin, the sheet, the overview.

`count` asks the store (one GROUP BY over `status.status_column`); `tally` counts items already loaded (judged by
`status.status_at`). Both fill the same `Counts`, whose columns add up: due = on time + late + overdue + missed,
and of what was reported (on time + late), verified (已销号) + waiting (待销号).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Connection, and_, case, distinct, func, literal, select

from duban.models import OccurrenceRow
from duban.status import status_column
from duban.store import utc

NOT_YET_DUE = ("upcoming", "due_soon")
KEYS = ("task_id", "unit_id", "owner_id", "owner_kind")  # what `count` may group by
# The sets behind the columns every aggregate view prints, in their order: a number links to exactly its set.
SETS = {"due": "应办", "on_time": "按时办结", "late": "逾期办结", "waiting": "待销号", "verified": "已销号",
        "overdue": "逾期未办", "missed": "未按期"}


@dataclass(slots=True)
class Counts:
    """Occurrences of one group (a unit, a task in a unit, a whole plan) by where they stand at one moment."""

    upcoming: int = 0
    due_soon: int = 0
    overdue: int = 0
    missed: int = 0  # 未按期: still open after a later period came due
    done: int = 0  # reported by the deadline (verified or not)
    done_late: int = 0
    waived: int = 0
    verified: int = 0  # of done and done_late, accepted by the office (销号) by the moment
    owners: int = 0  # distinct owners (meaningful for one task; additive across units)
    overdue_owners: int = 0  # distinct owners with something overdue
    due_soon_owners: int = 0
    missed_owners: int = 0
    oldest_overdue: datetime | None = None  # the earliest deadline among the overdue

    @property
    def due(self) -> int:
        """Judged: fell due (or was reported) by the moment, not waived."""
        return self.done + self.done_late + self.overdue + self.missed

    @property
    def on_time(self) -> int:
        """按时办结 (reported by the deadline)."""
        return self.done

    @property
    def late(self) -> int:
        """逾期办结."""
        return self.done_late

    @property
    def open(self) -> int:
        """Past the deadline and not reported: overdue and missed."""
        return self.overdue + self.missed

    @property
    def reported(self) -> int:
        """Reported done, on time or late."""
        return self.done + self.done_late

    @property
    def waiting(self) -> int:
        """Reported, not yet verified (待销号)."""
        return self.reported - self.verified

    @property
    def total(self) -> int:
        """Every occurrence counted, waived included."""
        return self.due + self.upcoming + self.due_soon + self.waived

    @property
    def rate(self) -> float | None:
        """按时办结率 as a fraction (None when nothing fell due)."""
        return self.done / self.due if self.due else None

    @property
    def rate_percent(self) -> int | None:
        """The on-time rate in whole percent, as printed (and ranked)."""
        return None if self.rate is None else round(100 * self.rate)

    @property
    def rate_text(self) -> str:
        """67%, or — when nothing fell due."""
        return "—" if self.rate_percent is None else f"{self.rate_percent}%"

    def add_status(self, status: str, verified: bool = False, n: int = 1) -> None:
        """Count `n` occurrences in one status."""
        setattr(self, status, getattr(self, status) + n)
        if verified and status in ("done", "done_late"):
            self.verified += n

    def add(self, other: Counts) -> None:
        """Fold another group's counts in (units are disjoint, so owners add up too)."""
        for name in ("upcoming", "due_soon", "overdue", "missed", "done", "done_late", "waived", "verified",
                     "owners", "overdue_owners", "due_soon_owners", "missed_owners"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        if other.oldest_overdue is not None and (self.oldest_overdue is None
                                                 or other.oldest_overdue < self.oldest_overdue):
            self.oldest_overdue = other.oldest_overdue


def total(groups: Iterable[Counts]) -> Counts:
    """The sum of several groups' counts."""
    result = Counts()
    for counts in groups:
        result.add(counts)
    return result


def count(
    connection: Connection, *, plan_id: str, as_of: datetime, by: Sequence[str] = ("unit_id",),
    due_from: datetime | None = None, due_before: datetime | None = None, tasks: Sequence[str] | None = None,
    owners: bool = True,
) -> dict[tuple[str, ...], Counts]:
    """Live occurrences of a plan counted at `as_of`, grouped by `by` (columns of KEYS), optionally only those
    due in [due_from, due_before) or of some tasks: one query (two with `owners`, the distinct owners per group,
    which the roll-ups need and the tables do not: at county scale they cost as much as the counts)."""
    unknown = set(by) - set(KEYS)
    if unknown:
        raise ValueError(f"count: cannot group by {', '.join(sorted(unknown))} (use {', '.join(KEYS)})")
    occ = OccurrenceRow.__table__
    moment = utc(as_of)
    status = status_column(moment).label("status")
    verified = case((_verified_by(moment), 1), else_=0).label("verified")
    inner = select(*(occ.c[key] for key in by), occ.c.owner_id.label("owner"), occ.c.due.label("due"),
                   status, verified).where(occ.c.plan_id == plan_id, occ.c.archived.is_(False))
    if due_from is not None:
        inner = inner.where(occ.c.due >= utc(due_from))
    if due_before is not None:
        inner = inner.where(occ.c.due < utc(due_before))
    if tasks is not None:
        inner = inner.where(occ.c.task_id.in_(sorted(set(tasks))))
    rows = inner.subquery()
    keys = [rows.c[key] for key in by]
    distinct_owners = func.count(distinct(rows.c.owner)) if owners else literal(0)
    query = select(*keys, rows.c.status, func.count(), distinct_owners,
                   func.sum(rows.c.verified), func.min(rows.c.due)).group_by(*keys, rows.c.status)
    result: dict[tuple[str, ...], Counts] = {}
    for *key, state, n, distinct_owners, n_verified, earliest in connection.execute(query):
        counts = result.setdefault(tuple(key), Counts())
        setattr(counts, state, n)
        if state in ("done", "done_late"):
            counts.verified += int(n_verified or 0)
        elif state in ("overdue", "due_soon", "missed"):
            setattr(counts, f"{state}_owners", distinct_owners)
        if state == "overdue":
            counts.oldest_overdue = utc(earliest) if earliest.tzinfo else earliest.replace(tzinfo=moment.tzinfo)
    if owners:
        for *key, n_owners in connection.execute(select(*keys, func.count(distinct(rows.c.owner))).group_by(*keys)):
            result[tuple(key)].owners = n_owners
    return result


def _verified_by(moment: datetime) -> ColumnElement[bool]:
    occ = OccurrenceRow.__table__
    return and_(occ.c.verified_at.is_not(None), occ.c.verified_at <= literal(moment, occ.c.due.type))


def in_set(name: str, as_of: datetime) -> ColumnElement[bool]:
    """SQL for the occurrences one column of `Counts` counts at `as_of` (a key of SETS): the list behind a number,
    judged by the same expressions as `count`."""
    moment = utc(as_of)
    status = status_column(moment)
    reported = status.in_(("done", "done_late"))
    conditions: dict[str, ColumnElement[bool]] = {
        "due": status.in_(("done", "done_late", "overdue", "missed")), "on_time": status == "done",
        "late": status == "done_late", "overdue": status == "overdue", "missed": status == "missed",
        "waiting": and_(reported, ~_verified_by(moment)), "verified": and_(reported, _verified_by(moment)),
    }
    if name not in conditions:
        raise ValueError(f"counts: no set '{name}' (use {', '.join(SETS)})")
    return conditions[name]


def tally(items: Iterable[tuple[str, bool]]) -> Counts:
    """Counts of items already judged: (status, verified) pairs, e.g. from a sheets snapshot."""
    result = Counts()
    for status, verified in items:
        result.add_status(status, verified)
    return result
