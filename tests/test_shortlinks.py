"""Short links (SQLite and PostgreSQL): random codes from a table, bound to person, purpose and expiry;
revocable; guessing refused; and every SMS carries one, within 70 characters with the count and the nearest
deadline."""

import json
import re
import warnings
from datetime import timedelta

import pytest
from conftest import Clock, at
from sqlalchemy import func, select

from duban import runs, shortlinks
from duban.config import Settings
from duban.models import NotificationRow, ShortLinkRow, WebSessionRow
from duban.web import create_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

PLAN = "mini-2020"
BASE = "https://duban.example.gov.cn"
SHORT = re.compile(r"https://duban\.example\.gov\.cn/s/([a-z0-9]+)$")


@pytest.fixture
def settings(store_url, tmp_path):
    return Settings(database_url=store_url, var_dir=str(tmp_path / "var"), secret="short-links-" + "k" * 24,
                    base_url=BASE)


def client_for(settings, engine, clock):
    # https: behind an https base URL the session cookie is Secure
    return TestClient(create_app(settings, now=clock, engine=engine), base_url="https://testserver")


def make(engine, person="sj-in-charge", *, now, target="/", valid_for=timedelta(days=14)):
    with engine.begin() as connection:
        return shortlinks.create(connection, plan_id=PLAN, person_id=person, now=now, target=target,
                                 valid_for=valid_for)


def test_codes_are_random_long_and_from_the_table_alphabet():
    codes = {shortlinks.new_code() for _ in range(2000)}
    assert len(codes) == 2000
    assert all(len(c) >= 8 and set(c) <= set(shortlinks.ALPHABET) for c in codes)
    assert not set("01ilou") & set(shortlinks.ALPHABET)  # nothing to misread from a phone's screen


def test_a_short_link_signs_its_person_in_and_lands_on_its_page(mini_store, settings):
    clock = Clock(at("2020-09-08 10:00"))
    code = make(mini_store, now=clock(), target="/item/projects-started/shuangjiang/2020-09-01")
    client = client_for(settings, mini_store, clock)
    response = client.get(f"/s/{code}", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/item/projects-started/shuangjiang/2020-09-01"
    assert "孙副主任" in client.get("/").text
    with mini_store.connect() as connection:
        sessions = connection.execute(select(WebSessionRow.person_id, WebSessionRow.link_nonce)).all()
    assert [tuple(s) for s in sessions] == [("sj-in-charge", f"s:{code}")]


def test_expired_unknown_and_logged_out_codes_are_refused(mini_store, settings):
    clock = Clock(at("2020-09-08 10:00"))
    code = make(mini_store, now=clock(), valid_for=timedelta(days=1))
    client = client_for(settings, mini_store, clock)
    assert client.get("/s/zzzzzzzzzz").status_code == 404
    assert "链接无效" in client.get("/s/zzzzzzzzzz").text
    clock.now = at("2020-09-09 10:01")
    expired = client.get(f"/s/{code}", follow_redirects=False)
    assert expired.status_code == 404 and "链接已过期" in expired.text

    clock.now = at("2020-09-08 10:00")
    fresh = make(mini_store, now=clock())
    assert client.get(f"/s/{fresh}", follow_redirects=False).status_code == 303
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/").text).group(1)
    assert client.post("/logout", data={"csrf": csrf}).status_code == 200
    again = TestClient(client.app, base_url="https://testserver").get(f"/s/{fresh}", follow_redirects=False)
    assert again.status_code in (403, 404) and ("失效" in again.text or "停用" in again.text)
    with mini_store.connect() as connection:
        revoked = connection.execute(select(ShortLinkRow.revoked_at).where(ShortLinkRow.code == fresh)).scalar()
    assert revoked is not None


def test_guessing_is_refused_after_twenty_misses(mini_store, settings):
    clock = Clock(at("2020-09-08 10:00"))
    code = make(mini_store, now=clock())
    client = client_for(settings, mini_store, clock)
    misses = [client.get(f"/s/{shortlinks.new_code()}").status_code for _ in range(20)]
    assert misses == [404] * 20
    blocked = client.get(f"/s/{code}", follow_redirects=False)
    assert blocked.status_code == 429 and "尝试次数过多" in blocked.text  # even a right code, while blocked
    clock.now = at("2020-09-08 10:11")  # the window has passed
    assert client.get(f"/s/{code}", follow_redirects=False).status_code == 303


def test_every_sms_carries_a_short_link_the_count_and_the_nearest_deadline(mini_store, settings):
    ctx = runs.context(mini_store, settings, PLAN)
    report = runs.notices(mini_store, ctx, at("2020-09-08 09:00"), ("remind", "escalate"), collect=True)
    assert report.rows
    with mini_store.connect() as connection:
        sms = connection.execute(select(NotificationRow.__table__).where(NotificationRow.channel == "sms")).all()
        emails = connection.execute(select(func.count()).select_from(NotificationRow).where(
            NotificationRow.channel == "email")).scalar()
        codes = connection.execute(select(func.count()).select_from(ShortLinkRow)).scalar()
    assert len(sms) == 3 and codes == len(sms) + emails  # one code per message, SMS and email alike
    for row in sms:
        text = row.body_text
        assert len(text) <= 70, text
        link = re.search(r"https://\S+$", text).group(0)
        assert SHORT.match(link), text
        assert re.search(r"\d+项", text) and re.search(r"\d+月\d+日", text), text  # the count, the nearest deadline
        assert json.loads(row.data)["sms_params"]["link"] == link  # the provider template's parameter
    by_person = {row.person_id: row.body_text for row in sms}
    assert by_person["sj-in-charge"].startswith("孙副主任：1项督办「所有扶贫项目全面开工」9月15日截止：")

    code = SHORT.match(re.search(r"https://\S+$", by_person["sj-in-charge"]).group(0)).group(1)
    client = client_for(settings, mini_store, Clock(at("2020-09-08 12:00")))
    assert client.get(f"/s/{code}", follow_redirects=False).status_code == 303
    assert "孙副主任" in client.get("/").text  # the link signed in the person the SMS went to


def test_the_access_log_never_shows_a_short_code():
    from duban.web.accesslog import redact

    assert redact('"GET /s/zz3gnezkx9 HTTP/1.1" 303') == '"GET /s/[redacted] HTTP/1.1" 303'
    assert redact('"GET /static/duban.css HTTP/1.1" 200') == '"GET /static/duban.css HTTP/1.1" 200'
