"""The demo campaign: the shipped plan and made-up directory, replayed day by day through the flows to the local outbox.

Officials in the demo behave like real ones, decided by a hash of each occurrence's id: about seven in
ten report on the deadline day, some a few workdays late, some never; so the Maildir holds reminders,
a few escalations, and the top-level repeats of what was never done.
"""

from __future__ import annotations

import hashlib
import json
import mailbox
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from duban.config import Settings
from duban.models import EventRow, OccurrenceRow, TaskRow
from duban.store import utc

REPORT_AT = time(16, 0)


def fate(occurrence_id: str) -> str:
    """How the demo official handles this occurrence: on_time, late, or never."""
    bucket = int(hashlib.sha1(occurrence_id.encode()).hexdigest()[:8], 16) % 20
    return "on_time" if bucket < 14 else "late" if bucket < 17 else "never"


def report_moment(due: datetime, fate_: str, calendar, tz) -> datetime | None:  # noqa: ANN001 - WorkdayCalendar
    """When the demo official reports done."""
    due_day = due.astimezone(tz).date()
    if fate_ == "on_time":
        return datetime.combine(calendar.workday_before(due_day, 0), REPORT_AT, tzinfo=tz)
    if fate_ == "late":
        return datetime.combine(calendar.workday_after(due_day, 4), REPORT_AT, tzinfo=tz)
    return None


def reporters(connection: Connection, plan_id: str) -> Callable[[str, str, str], str]:
    """Who reports for an owner, as a real one would: a person owner themself; for a unit, the person who hears
    of its work (its liaison, else in_charge, else its head: the policy's own fallback), so that queues and
    histories name a person (「李联络 报告于…」), never a unit acting as a whole."""
    from duban.directory import person_from_row
    from duban.models import PersonRow
    from duban.policy import OWNER_ROLES, Directory

    person = PersonRow.__table__
    directory = Directory.of(person_from_row(row) for row in connection.execute(select(
        person.c.id, person.c.name, person.c.unit_id, person.c.roles, person.c.email, person.c.mobile).where(
        person.c.plan_id == plan_id, person.c.archived.is_(False)).order_by(person.c.id)))
    chosen: dict[str, str] = {}

    def reporter(owner_kind: str, owner_id: str, unit_id: str) -> str:
        if owner_kind == "person":
            return owner_id
        if unit_id not in chosen:
            found = directory.in_unit(unit_id, OWNER_ROLES)
            chosen[unit_id] = found[0] if found else unit_id  # a unit with nobody in the directory: as a whole
        return chosen[unit_id]

    return reporter


def report_due(*, engine: Engine, plan_id: str, as_of: datetime, calendar, tz) -> int:  # noqa: ANN001
    """Mark done what the demo officials have reported by `as_of`, each with its event, recorded as
    actions.report records one (a person as actor, the count, on time or late). Returns how many."""
    occ, task = OccurrenceRow.__table__, TaskRow.__table__
    with engine.begin() as connection:
        rows = connection.execute(select(
            occ.c.id, occ.c.due, occ.c.owner_kind, occ.c.owner_id, occ.c.unit_id, occ.c.state, occ.c.times,
            occ.c.acked_at, task.c.target).join(task, (task.c.plan_id == occ.c.plan_id) & (task.c.id == occ.c.task_id))
            .where(
            occ.c.plan_id == plan_id, occ.c.state.in_(("open", "acked")), occ.c.archived.is_(False),
            occ.c.due <= utc(as_of + timedelta(days=40)))).all()
        done = []
        for row in rows:
            moment = report_moment(row.due, fate(row.id), calendar, tz)
            if moment is not None and moment <= as_of:
                done.append((row, moment))
        if not done:
            return 0
        reporter = reporters(connection, plan_id)
        for row, moment in done:
            values = {"state": "reported", "reported_at": utc(moment), "report_count": row.times or 1,
                      "updated_at": utc(moment)}
            if row.acked_at is None:
                values["acked_at"] = utc(moment)
            if row.target:
                values["value"] = _figure(row.target)
            connection.execute(update(occ).where(occ.c.plan_id == plan_id, occ.c.id == row.id).values(**values))
        connection.execute(insert(EventRow.__table__), [
            {"plan_id": plan_id, "occurrence_id": row.id, "at": utc(moment),
             "actor": reporter(row.owner_kind, row.owner_id, row.unit_id), "source": "cli", "kind": "report",
             "before": row.state, "after": "reported", "note": "演示：模拟报告办结",
             "data": json.dumps(_report_data(row, moment), sort_keys=True)} for row, moment in done])
    return len(done)


def _report_data(row: Any, moment: datetime) -> dict[str, Any]:
    """The event data actions.report records, marked as the demo's (a task with a target: its figure, met)."""
    times = row.times or 1
    data = {"count": times, "times": times, "late": utc(moment) > utc(row.due),
            "reported_at": utc(moment).isoformat(), "demo": True}
    if row.target:
        data |= {"value": _figure(row.target), "met": True}
    return data


def _figure(target: str) -> float:
    """What the demo official reports for a target: exactly its goal (a real report must carry a figure)."""
    return float(json.loads(target).get("value", 0))


@dataclass
class OutboxFiles:
    """What the local channels hold after the demo."""

    maildir: Path
    sms: Path
    emails: int
    sms_lines: int
    first_subjects: list[str]


def outbox_files(settings: Settings) -> OutboxFiles:
    """Count the Maildir's messages and the SMS log's lines."""
    from duban.notify import outbox_dir

    folder = outbox_dir(settings)
    maildir, sms = folder / "maildir", folder / "sms.jsonl"
    subjects: list[str] = []
    emails = 0
    if maildir.exists():
        box = mailbox.Maildir(maildir, create=False)
        emails = len(box)
        subjects = _example_subjects(box)
    lines = sum(1 for _ in sms.open(encoding="utf-8")) if sms.exists() else 0
    return OutboxFiles(maildir, sms, emails, lines, subjects)


def _example_subjects(box: mailbox.Maildir, wanted: int = 3, looked_at: int = 300) -> list[str]:
    """Up to `wanted` different subjects among the first messages, in the order they were written (the first
    day's emails are often one digest sent to several leaders, which would show one subject three times)."""
    from email.header import decode_header, make_header

    subjects: list[str] = []
    for key in sorted(box.keys())[:looked_at]:
        subject = str(make_header(decode_header(box[key]["Subject"] or "")))
        if subject not in subjects:
            subjects.append(subject)
        if len(subjects) == wanted:
            break
    return subjects


def demo_days(start: date, until: date, calendar) -> list[date]:  # noqa: ANN001
    """The days the replay runs the daily flow: workdays (reminders and escalations fall only on workdays)."""
    return [day for day in calendar.workdays_in(start, until)]


# --- every schedule of prefect.yaml, replayed -------------------------------------------------------------------

NOT_REPLAYED = {"dispatch": "the daily run sends what is queued (local channels), so its 10-minute retries add nothing",
                "remind": "run by hand only", "escalate": "run by hand only"}
ORDER = {"sheets": 0, "bulletin": 1, "digest": 2, "daily": 3}  # at equal moments: what the morning run reads first


@dataclass(frozen=True)
class ScheduledRun:
    """One flow run of the replay: which deployment, at which plan-local moment."""

    at: datetime
    flow: str


def _cron_field(text: str, low: int, high: int) -> set[int]:
    """The values a cron field allows: *, */n, a, a-b, a-b/n, lists of those."""
    values: set[int] = set()
    for part in text.split(","):
        span, _, step = part.partition("/")
        first, last = (low, high) if span == "*" else (int(span.split("-")[0]), int(span.split("-")[-1]))
        values.update(range(first, last + 1, int(step or 1)))
    return values


def cron_moments(expression: str, day: date, tz) -> list[datetime]:  # noqa: ANN001 - a ZoneInfo
    """The moments of `day` (plan-local) a five-field cron expression fires at (day-of-month AND weekday)."""
    minute, hour, dom, month, dow = expression.split()
    weekdays = {d % 7 for d in _cron_field(dow, 0, 7)}
    if day.month not in _cron_field(month, 1, 12) or day.day not in _cron_field(dom, 1, 31):
        return []
    if (day.isoweekday() % 7) not in weekdays:
        return []
    return [datetime.combine(day, time(h, m), tzinfo=tz)
            for h in sorted(_cron_field(hour, 0, 23)) for m in sorted(_cron_field(minute, 0, 59))]


def scheduled_runs(prefect_yaml: Path, start: date, until: date, calendar, tz) -> list[ScheduledRun]:  # noqa: ANN001
    """Every scheduled run of prefect.yaml's deployments from `start` to `until`, in order. The daily run is
    replayed on workdays only (nothing is reminded or escalated on a day off); the others as their cron says."""
    import yaml

    spec = yaml.safe_load(prefect_yaml.read_text(encoding="utf-8"))
    workdays = set(calendar.workdays_in(start, until))
    runs: list[ScheduledRun] = []
    for deployment in spec.get("deployments", []):
        name = deployment["name"]
        if name in NOT_REPLAYED:
            continue
        for schedule in deployment.get("schedules") or []:
            day = start
            while day <= until:
                if name != "daily" or day in workdays:
                    runs += [ScheduledRun(moment, name) for moment in cron_moments(schedule["cron"], day, tz)]
                day += timedelta(days=1)
    return sorted(runs, key=lambda run: (run.at, ORDER.get(run.flow, 9)))


def demo_moment(until: date, plan_remind_at: time, tz) -> datetime:  # noqa: ANN001
    """The moment the demo stops at: an hour after the last morning run, when its messages have all gone out."""
    return datetime.combine(until, plan_remind_at, tzinfo=tz) + timedelta(hours=1)


def mark(settings: Settings, *, plan_id: str, moment: datetime) -> Path:
    """Note in the var folder that it holds the demo (doctor then accepts the loopback base URL)."""
    from duban.baseurl import DEMO_MARK

    path = settings.var_path / DEMO_MARK
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"plan": plan_id, "as_of": moment.isoformat()}) + "\n", encoding="utf-8")
    return path


@dataclass(frozen=True)
class Guide:
    """Who to sign in as, to see the demo from three seats."""

    label: str
    person_id: str
    name: str


def guides(engine: Engine, plan_id: str, office: str | None) -> list[Guide]:
    """A town liaison, someone of the office, and a leader, from the demo's directory."""
    from duban.models import GroupRow, PersonRow

    person, group = PersonRow.__table__, GroupRow.__table__
    with engine.connect() as connection:
        people = connection.execute(select(person.c.id, person.c.name, person.c.unit_id, person.c.roles).where(
            person.c.plan_id == plan_id, person.c.archived.is_(False)).order_by(person.c.id)).all()
        members = connection.execute(select(group.c.members).where(
            group.c.plan_id == plan_id, group.c.id == "towns")).scalar()
    towns = set((members or "").split(";")) - {""}
    found: list[Guide] = []

    def first(label: str, test) -> None:  # noqa: ANN001 - a predicate on (row, roles)
        for row in people:
            if test(row, set(row.roles.split(";"))):
                found.append(Guide(label, row.id, row.name))
                return

    first("乡镇联络员", lambda r, roles: "liaison" in roles and (r.unit_id in towns or not towns))
    first("督办室", lambda r, roles: r.unit_id == office)
    first("县领导", lambda r, roles: "leader" in roles)
    return found


def describe(runs: list[ScheduledRun]) -> str:
    """`39 daily runs, 59 morning sheets, 8 Monday digests, 2 bulletins`."""
    from collections import Counter

    names = {"daily": "daily runs", "sheets": "morning sheets", "digest": "Monday digests", "bulletin": "bulletins"}
    counts = Counter(run.flow for run in runs)
    return ", ".join(f"{n} {names.get(flow, flow + ' runs')}" for flow, n in counts.items())


def run_line(run: ScheduledRun, result: object, new: str = "") -> str:
    """What one replayed run printed worth a line: the daily run's queue, a digest, a bulletin (sheets: quiet).
    `new`: what the run added to the outbox, people and messages apart (`103人，206条（邮件 103，短信 103）`)."""
    if run.flow == "sheets":
        return ""
    if run.flow == "daily" and isinstance(result, dict):
        queued = next((line for line in result.get("lines", []) if line.startswith("queued")), "")
        stages = queued.partition("; stages: ")[2]
        if new:
            return f"  {run.at:%Y-%m-%d} {new}" + (f"；stages: {stages}" if stages and stages != "none" else "")
        return f"  {run.at:%Y-%m-%d} {queued.removeprefix('queued: ')}"
    text = result.get("lines", [""])[0] if isinstance(result, dict) else str(result)
    return f"  {run.at:%Y-%m-%d %H:%M} {run.flow}: {text}"


def finale(settings: Settings, engine: Engine, plan, moment: datetime) -> list[str]:  # noqa: ANN001 - a Plan
    """The closing lines: the one command that serves the demo at its moment, and three links that work there."""
    import os
    import shlex

    from duban import shortlinks

    mark(settings, plan_id=plan.id, moment=moment)
    env = [f"{name}={shlex.quote(os.environ[name])}" for name in ("DUBAN_DATABASE_URL", "DUBAN_VAR_DIR", "DUBAN_CONFIG")
           if os.environ.get(name)]
    from urllib.parse import urlsplit

    port = urlsplit(settings.base_url).port
    serve_at = [] if port in (None, 8000) else ["--port", str(port)]  # where the links below point
    command = " ".join([*env, "duban", "web", *serve_at, "--as-of", moment.isoformat()])
    lines = ["", "open the demo in a browser, at the demo's moment (the pages' clock starts there):", f"  {command}",
             f"then one of these links (valid {shortlinks.LOGIN_VALID_FOR.days} days of the replayed clock):"]
    seats = guides(engine, plan.id, plan.office)
    with engine.begin() as connection:  # short links, as emails and SMS carry them, made at the replayed moment
        for guide in seats:
            code = shortlinks.create(connection, plan_id=plan.id, person_id=guide.person_id, now=moment)
            lines.append(f"  {guide.label} {guide.name}: {shortlinks.url(settings.base_url, code)}")
    return lines
