"""The store's tables. Instants are aware, kept in UTC; dates are plan-local calendar dates."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel


class PlanRow(SQLModel, table=True):
    """A plan carried by the store, with the catalog text it was synced from."""

    __tablename__ = "plan"
    id: str = Field(primary_key=True, max_length=100)
    title: str
    timezone: str = Field(max_length=64)
    start: date
    end: date
    office: str | None = Field(default=None, max_length=100)
    catalog_sha: str = Field(max_length=64)
    catalog_text: str
    synced_at: datetime


class UnitRow(SQLModel, table=True):
    """A body that owns work."""

    __tablename__ = "unit"
    plan_id: str = Field(primary_key=True, max_length=100)
    id: str = Field(primary_key=True, max_length=100)
    name: str
    short: str = ""
    kind: str = Field(default="", max_length=40)
    archived: bool = False


class GroupRow(SQLModel, table=True):
    """A named set of units; members as a ';'-joined list of unit ids."""

    __tablename__ = "unit_group"
    plan_id: str = Field(primary_key=True, max_length=100)
    id: str = Field(primary_key=True, max_length=100)
    name: str
    members: str = ""
    archived: bool = False


class PersonRow(SQLModel, table=True):
    """A contact; roles as a ';'-joined list."""

    __tablename__ = "person"
    plan_id: str = Field(primary_key=True, max_length=100)
    id: str = Field(primary_key=True, max_length=100)
    name: str
    unit_id: str = Field(max_length=100, index=True)
    roles: str = ""
    email: str = ""
    mobile: str = Field(default="", max_length=20)
    archived: bool = False


class TaskRow(SQLModel, table=True):
    """One obligation of the plan; schedule, target and policy as JSON text."""

    __tablename__ = "task"
    plan_id: str = Field(primary_key=True, max_length=100)
    id: str = Field(primary_key=True, max_length=100)
    position: int = 0
    ref: str = ""
    section: str = ""
    title: str
    quote: str = ""
    owner: str
    co_owners: str = ""
    schedule: str = "{}"
    times: int = 1
    evidence: str = ""
    target: str | None = None
    policy: str = "{}"
    note: str = ""
    origin: str = Field(default="catalog", max_length=20)  # catalog | assigned (交办) | problem (问题清单)
    source: str = Field(default="", max_length=100)  # 来源 of a problem (国家普查, 市级督查, ...) or 交办
    assigned_by: str = Field(default="", max_length=100)  # the person who handed it out or imported it
    archived: bool = False


class OccurrenceRow(SQLModel, table=True):
    """One task, for one owner, in one period, with one deadline, and where it stands."""

    __tablename__ = "occurrence"
    __table_args__ = (
        Index("ix_occurrence_plan_due", "plan_id", "due"),
        Index("ix_occurrence_plan_unit", "plan_id", "unit_id"),
        Index("ix_occurrence_plan_task", "plan_id", "task_id"),  # co-owned items (web lists), 0003
        Index("ix_occurrence_plan_owner", "plan_id", "owner_id"),  # one owner's items (status --owner), 0007
        Index("ix_occurrence_plan_state", "plan_id", "state", "reported_at"),  # the office's queue, 0014
    )
    plan_id: str = Field(primary_key=True, max_length=100)
    id: str = Field(primary_key=True, max_length=300)
    task_id: str = Field(max_length=100)
    owner_id: str = Field(max_length=100)
    owner_kind: str = Field(default="unit", max_length=10)
    unit_id: str = Field(max_length=100)
    period_start: date
    due: datetime
    first_reminder_at: datetime | None = None
    reminders: str = "[]"
    times: int = 1
    state: str = Field(default="open", max_length=20)
    acked_at: datetime | None = None
    reported_at: datetime | None = None
    report_count: int = 0
    value: float | None = None
    verified_at: datetime | None = None
    waived_at: datetime | None = None
    original_due: datetime | None = None  # the deadline before a granted extension (延期); sheets show it
    superseded_at: datetime | None = None  # a later period's deadline: open after it, the occurrence is missed
    archived: bool = False
    updated_at: datetime | None = None


class EventRow(SQLModel, table=True):
    """One change of state, appended, never edited."""

    __tablename__ = "event"
    __table_args__ = (Index("ix_event_plan_occurrence", "plan_id", "occurrence_id"),)
    id: int | None = Field(default=None, primary_key=True)
    plan_id: str = Field(max_length=100)
    occurrence_id: str | None = Field(default=None, max_length=300)
    at: datetime
    actor: str = Field(max_length=100)
    source: str = Field(max_length=20)
    kind: str = Field(max_length=40)
    before: str | None = Field(default=None, max_length=20)
    after: str | None = Field(default=None, max_length=20)
    note: str = ""
    data: str = "{}"


class EvidenceRow(SQLModel, table=True):
    """A file offered as proof, stored on disk by content hash."""

    __tablename__ = "evidence"
    id: int | None = Field(default=None, primary_key=True)
    plan_id: str = Field(max_length=100)
    occurrence_id: str = Field(max_length=300, index=True)
    event_id: int | None = None
    sha256: str = Field(max_length=64)
    name: str
    content_type: str = Field(max_length=100)
    size: int
    uploaded_by: str = Field(max_length=100)
    at: datetime


# A notification still to send: queued, failed (to try again) or sending (claimed; taken again when its lease ends).
# One SQL text for the partial index and for the claim's condition: SQLite uses a partial index only for a query whose
# WHERE holds the index's condition word for word.
PENDING_WHERE = "state IN ('queued', 'failed', 'sending')"


class NotificationRow(SQLModel, table=True):
    """One message to one person on one channel, stored before it is sent."""

    __tablename__ = "notification"
    __table_args__ = (
        UniqueConstraint("key", name="uq_notification_key"),
        Index("ix_notification_state", "state", "not_before"),
        Index("ix_notification_person", "person_id", "channel", "not_before"),  # the SMS daily cap
        # What a claim walks, in id order: only the rows still to send, so a claim reads about as many rows as it
        # takes, however many a run queued or a year of sends left behind (duban.outbox.claim).
        Index("ix_notification_pending", "id", sqlite_where=text(PENDING_WHERE), postgresql_where=text(PENDING_WHERE)),
    )
    id: int | None = Field(default=None, primary_key=True)
    plan_id: str = Field(max_length=100)
    key: str = Field(max_length=300)
    person_id: str = Field(max_length=100)
    channel: str = Field(max_length=20)
    address: str = ""
    subject: str = ""
    body_text: str = ""
    body_html: str = ""
    data: str = "{}"
    state: str = Field(default="queued", max_length=20)
    attempts: int = 0
    last_error: str = ""
    as_of: datetime
    created_at: datetime
    not_before: datetime
    claimed_at: datetime | None = None
    claim_token: str | None = Field(default=None, max_length=32)  # the claim that holds a `sending` row
    sent_at: datetime | None = None


class DeliveryRow(SQLModel, table=True):
    """That a stage of an occurrence was put to a person on a channel (so it is never put twice)."""

    __tablename__ = "delivery"
    __table_args__ = (
        UniqueConstraint("plan_id", "occurrence_id", "stage", "person_id", "channel", name="uq_delivery"),
    )
    id: int | None = Field(default=None, primary_key=True)
    plan_id: str = Field(max_length=100)
    occurrence_id: str = Field(max_length=300)
    stage: str = Field(max_length=40)
    person_id: str = Field(max_length=100)
    channel: str = Field(max_length=20)
    notification_id: int | None = None
    at: datetime


class WebSessionRow(SQLModel, table=True):
    """A signed-in browser: the cookie's sha256, whose it is, its CSRF token; `ended_at` once logged out."""

    __tablename__ = "web_session"
    id: str = Field(primary_key=True, max_length=64)
    plan_id: str = Field(max_length=100)
    person_id: str = Field(max_length=100)
    link_nonce: str = Field(default="", max_length=64)
    csrf: str = Field(max_length=64)
    created_at: datetime
    expires_at: datetime
    last_seen_at: datetime
    ended_at: datetime | None = None


class LinkUseRow(SQLModel, table=True):
    """A personal link that was used to sign in; `revoked_at` once its session was logged out."""

    __tablename__ = "link_use"
    nonce: str = Field(primary_key=True, max_length=64)
    plan_id: str = Field(max_length=100)
    person_id: str = Field(max_length=100)
    purpose: str = Field(max_length=20)
    first_used_at: datetime
    revoked_at: datetime | None = None


class ShortLinkRow(SQLModel, table=True):
    """A short link `{base}/s/<code>` (or a calendar feed): a random code bound to a person, purpose and expiry."""

    __tablename__ = "short_link"
    code: str = Field(primary_key=True, max_length=32)
    plan_id: str = Field(max_length=100)
    person_id: str = Field(max_length=100, index=True)
    purpose: str = Field(max_length=20)
    target: str = Field(default="", max_length=500)
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None
