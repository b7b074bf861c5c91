"""问题整改 counts: per source and per unit, found, rectified, verified, overdue and the rectification rate.

One computation for every place that shows them (sheets, bulletin, digest, overview), so they agree.
A problem is rectified once its owner reported it done with evidence (reported or verified), verified once the
office closed it (销号), overdue while it is neither and its (possibly extended) deadline has passed."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, Engine, and_, select

from duban.models import OccurrenceRow, TaskRow, UnitRow
from duban.store import utc

RECTIFIED = ("reported", "verified")
PENDING = ("open", "acked")


@dataclass
class Tally:
    """The counts of one row (a source, a unit, or all)."""

    label: str
    found: int = 0
    rectified: int = 0
    verified: int = 0
    overdue: int = 0
    extended: int = 0

    @property
    def rate(self) -> float:
        """Rectified of found, 0..1 (0 when nothing was found)."""
        return self.rectified / self.found if self.found else 0.0

    @property
    def rate_text(self) -> str:
        """The rate as people read it: 87.5%."""
        return f"{self.rate * 100:.1f}%"

    def as_dict(self) -> dict[str, object]:
        """Plain values for JSON and templates."""
        return {"label": self.label, "found": self.found, "rectified": self.rectified, "verified": self.verified,
                "overdue": self.overdue, "extended": self.extended, "rate": round(self.rate, 4)}


@dataclass
class ProblemCounts:
    """The 问题整改 section: by source, by unit, and the total."""

    as_of: datetime
    by_source: list[Tally] = field(default_factory=list)
    by_unit: list[Tally] = field(default_factory=list)
    total: Tally = field(default_factory=lambda: Tally("合计"))

    @property
    def any(self) -> bool:
        """Whether the plan has problems at all (no section otherwise)."""
        return self.total.found > 0

    def as_dict(self) -> dict[str, object]:
        """Plain values for JSON and templates."""
        return {"as_of": self.as_of.isoformat(), "total": self.total.as_dict(),
                "by_source": [t.as_dict() for t in self.by_source], "by_unit": [t.as_dict() for t in self.by_unit]}


def _add(tally: Tally, state: str, overdue: bool, extended: bool) -> None:
    tally.found += 1
    tally.rectified += state in RECTIFIED
    tally.verified += state == "verified"
    tally.overdue += overdue
    tally.extended += extended


def tally_rows(rows: Iterable[tuple[str, str, str, datetime, bool]], as_of: datetime,
               unit_names: dict[str, str]) -> ProblemCounts:
    """Counts from (source, unit id, state, due, extended) rows as of a moment. Pure."""
    moment = utc(as_of)
    result = ProblemCounts(as_of)
    sources: dict[str, Tally] = {}
    units: dict[str, Tally] = {}
    for source, unit_id, state, due, extended in rows:
        overdue = state in PENDING and utc(due) < moment
        for tally in (sources.setdefault(source, Tally(source)),
                      units.setdefault(unit_id, Tally(unit_names.get(unit_id, unit_id))), result.total):
            _add(tally, state, overdue, extended)
    result.by_source = sorted(sources.values(), key=lambda t: (-t.found, t.label))
    result.by_unit = sorted(units.values(), key=lambda t: (-t.rate, -t.found, t.label))
    return result


def problem_counts(connection: Connection, *, plan_id: str, as_of: datetime) -> ProblemCounts:
    """The plan's problem counts as of a moment."""
    occ, task, unit = OccurrenceRow.__table__, TaskRow.__table__, UnitRow.__table__
    moment = utc(as_of)
    rows = connection.execute(
        select(task.c.source, occ.c.unit_id, occ.c.state, occ.c.due, occ.c.original_due.is_not(None),
               occ.c.reported_at, occ.c.verified_at, occ.c.updated_at)
        .join(task, and_(task.c.plan_id == occ.c.plan_id, task.c.id == occ.c.task_id))
        .where(occ.c.plan_id == plan_id, occ.c.archived.is_(False), task.c.origin == "problem")).all()
    names = {r.id: r.short or r.name for r in connection.execute(
        select(unit.c.id, unit.c.name, unit.c.short).where(unit.c.plan_id == plan_id))}
    return tally_rows(((r[0], r[1], _state_then(r, moment), r[3], bool(r[4])) for r in rows), as_of, names)


def _state_then(row: object, moment: datetime) -> str:
    """The state as of `moment`, for the columns the store keeps (a later verification is not yet seen)."""
    state, reported_at, verified_at = row[2], row[5], row[6]  # type: ignore[index]
    if state == "verified" and verified_at is not None and utc(verified_at) > moment:
        return "reported" if reported_at is not None and utc(reported_at) <= moment else "open"
    if state == "reported" and reported_at is not None and utc(reported_at) > moment:
        return "open"
    return state


def counts_at(engine: Engine, plan_id: str, as_of: datetime) -> ProblemCounts:
    """The problem counts as of a moment, on a connection of their own (for sheets, bulletins, digests, pages)."""
    with engine.connect() as connection:
        return problem_counts(connection, plan_id=plan_id, as_of=as_of)
