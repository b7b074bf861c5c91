"""The bytes officials receive stay the same when rendering and queueing get faster: every notification (subject,
text, HTML, SMS, robot markdown, data) and every delivery row of a small campaign, against a golden file.

Login tokens carry a random nonce and short links a random code, so both are replaced by placeholders before
comparing; everything else is compared byte for byte. To take new goldens after a deliberate change of the
templates: DUBAN_REGEN_GOLDEN=1 python -m pytest -n 0 tests/test_render_golden.py
"""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime, timedelta

from conftest import DATA, at
from sqlalchemy import select

from duban import runs
from duban.catalog import parse_catalog
from duban.config import Settings
from duban.directory import load_people
from duban.models import DeliveryRow, NotificationRow, ShortLinkRow
from duban.sync import sync

GOLDEN = DATA / "golden" / "render_mini.json"
TOKEN = re.compile(r"/login/[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+")
SHORT = re.compile(r"/s/[a-z0-9]{8,32}")
# Daily runs through the campaign's busiest weeks, one evening run (SMS held for quiet hours), and a rerun.
MOMENTS = sorted([at("2020-09-09 09:00") + timedelta(days=n) for n in range(0, 50, 2)]
                 + [at("2020-09-16 22:30"), at("2020-10-10 22:30"), at("2020-10-12 15:00"), at("2020-10-29 09:00")])


def _normal(text: str) -> str:
    return SHORT.sub("/s/CODE", TOKEN.sub("/login/TOKEN", text))


def _data(text: str) -> dict:
    """A row's data; a roll-up's members as a set (PostgreSQL returns them in no fixed order; the text is the same)."""
    data = json.loads(_normal(text))
    for group in data.get("groups", []):
        group[2] = sorted(group[2])
    return data


def _campaign(engine, tmp_path) -> dict:
    text = (DATA / "mini.yaml").read_text(encoding="utf-8").replace(
        "channels: [email, sms]", "channels: [email, sms, dingtalk]")
    catalog = parse_catalog(text, "mini.yaml")
    sync(engine=engine, catalog=catalog, catalog_text=text, people=load_people(DATA / "mini_contacts.csv", catalog),
         now=datetime(2020, 9, 1, tzinfo=UTC))
    settings = Settings(database_url=engine.url.render_as_string(hide_password=False), var_dir=str(tmp_path / "v"),
                        secret="golden-secret-golden-secret-golden-secret",
                        base_url="https://duban.example.gov.cn", quiet_hours="21:00-08:00", sms_daily_cap=3)
    ctx = runs.context(engine, settings, catalog.plan.id)
    for moment in MOMENTS:
        runs.notices(engine, ctx, moment, ("remind", "escalate"))
    n, d = NotificationRow.__table__.c, DeliveryRow.__table__.c
    with engine.connect() as connection:
        notes = connection.execute(select(n.id, n.key, n.person_id, n.channel, n.address, n.subject, n.body_text,
                                          n.body_html, n.data, n.as_of, n.not_before, n.state)
                                   .order_by(n.key)).all()
        keys = {row.id: row.key for row in notes}
        deliveries = connection.execute(select(d.occurrence_id, d.stage, d.person_id, d.channel, d.at,
                                               d.notification_id)).all()
        links = connection.execute(select(ShortLinkRow.person_id, ShortLinkRow.purpose, ShortLinkRow.target,
                                          ShortLinkRow.created_at, ShortLinkRow.expires_at)).all()
    return {
        "notifications": [{"key": r.key, "person": r.person_id, "channel": r.channel, "address": r.address,
                           "subject": _normal(r.subject), "text": _normal(r.body_text), "html": _normal(r.body_html),
                           "data": _data(r.data), "as_of": _utc(r.as_of),
                           "not_before": _utc(r.not_before), "state": r.state} for r in notes],
        "deliveries": sorted([r.occurrence_id, r.stage, r.person_id, r.channel, _utc(r.at),
                              keys.get(r.notification_id)] for r in deliveries),
        "short_links": sorted([r.person_id, r.purpose, r.target, _utc(r.created_at), _utc(r.expires_at)]
                              for r in links),
    }


def _utc(moment: datetime) -> str:
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC).isoformat()


def test_rendered_campaign_is_byte_identical_to_golden(engine, tmp_path):
    found = _campaign(engine, tmp_path)
    assert len(found["notifications"]) > 50 and {n["channel"] for n in found["notifications"]} == {
        "email", "sms", "dingtalk"}
    assert any(n["not_before"] != n["as_of"] for n in found["notifications"])  # quiet hours or the cap held some
    if os.environ.get("DUBAN_REGEN_GOLDEN") and engine.dialect.name == "sqlite":
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps(found, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert len(found["notifications"]) == len(golden["notifications"])
    for got, want in zip(found["notifications"], golden["notifications"], strict=True):
        assert got == want, got["key"]
    assert found["deliveries"] == golden["deliveries"]
    assert found["short_links"] == golden["short_links"]
