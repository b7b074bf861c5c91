"""One count module feeds three views: the leaders' overview, the status sheet's summary and the monthly bulletin
report the same numbers, per unit and in total, for the same moment, on SQLite and PostgreSQL."""

import warnings
from datetime import date

from bs4 import BeautifulSoup
from conftest import Clock, at, settle

from duban.bulletin import load_bulletin
from duban.counts import SETS
from duban.links import make_token
from duban.sheets.data import load_snapshot
from duban.sheets.summary import build_summary, counts_then, previous_sheet_moment
from duban.web import create_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

PLAN = "mini-2020"
AS_OF = "2020-10-29 09:00"
# Beyond the campaign (tests/conftest.py MINI_CAMPAIGN): a late report verified, a late report waiting, a report sent
# back (open again, reported once), an October report verified on time.
MORE = {
    "visits/ql-cadre-1/2020-09-01": dict(state="verified", reported_at="2020-10-09 10:00",
                                         verified_at="2020-10-10 10:00"),
    "teaching/qinglong/2020-10-05": dict(state="reported", reported_at="2020-10-13 10:00", waived_at=None),
    "teaching/qinglong/2020-09-28": dict(state="open", report_count=1),
    "leaders-study/leaders/2020-10-16": dict(state="verified", reported_at="2020-10-16 10:00",
                                             verified_at="2020-10-19 09:00"),
}


def judged(rows):
    """The units with something due, and the total (units with nothing due are listed apart, or not at all)."""
    return {unit: row for unit, row in rows.items() if row["due"] or unit == ""}


def numbers(counts):
    return {key: getattr(counts, key) for key in SETS} | {"rate": counts.rate_text}


def overview_numbers(engine, settings, month=""):
    """The overview page as the office sees it: {unit id ('' for 合计): {column: number}}."""
    moment = at(AS_OF)
    client = TestClient(create_app(settings, now=Clock(moment), engine=engine), base_url="http://testserver")
    token = make_token(secret=settings.secret, person_id="office-head", plan_id=PLAN, now=moment)
    assert client.get(f"/login/{token}", follow_redirects=False).status_code == 303
    page = client.get("/overview", params={"month": month} if month else {})
    assert page.status_code == 200
    found = {}
    for tr in BeautifulSoup(page.text, "html.parser").select("table.overview tr[data-unit]"):
        cells = {td["data-set"]: td.get_text(strip=True) for td in tr.select("td[data-set]")}
        found[tr["data-unit"]] = {key: int(cells[key]) for key in SETS} | {"rate": cells["rate"]}
    return found


def test_overview_sheet_and_bulletin_agree(mini_campaign, loop_settings):
    engine = mini_campaign
    for occurrence_id, values in MORE.items():
        settle(engine, occurrence_id, **values)
    moment = at(AS_OF)

    overview = overview_numbers(engine, loop_settings)
    snapshot = load_snapshot(engine, PLAN, moment)
    since = previous_sheet_moment(snapshot.plan, snapshot.as_of)
    summary = build_summary(snapshot, since, counts_then(engine, PLAN, since))
    assert summary.rest is None  # every unit has its own row on this small plan
    sheet = {line.unit.id: numbers(line.counts) for line in summary.units} | {"": numbers(summary.total.counts)}
    assert judged(sheet) == judged(overview) and summary.counts == summary.total.counts

    # every kind of standing is in the store, so the agreement is not an agreement on zeros
    total = overview[""]
    assert all(total[key] for key in SETS), total
    assert total["due"] == total["on_time"] + total["late"] + total["overdue"] + total["missed"]
    assert total["on_time"] + total["late"] == total["waiting"] + total["verified"]

    for month in (date(2020, 9, 1), date(2020, 10, 1)):
        bulletin = load_bulletin(engine, PLAN, month, as_of=moment)
        by_month = overview_numbers(engine, loop_settings, f"{month:%Y-%m}")
        told = {m.unit.id: numbers(m.counts) for m in bulletin.units} | {"": numbers(bulletin.total.counts)}
        assert judged(told) == judged(by_month), month
        ranks = {m.unit.id: m.rank_text for ranking in bulletin.rankings for m in ranking.units}
        page_ranks = ranks_on_page(engine, loop_settings, f"{month:%Y-%m}")
        assert {unit: page_ranks[unit] for unit in ranks} == ranks, month


def ranks_on_page(engine, settings, month):
    moment = at(AS_OF)
    client = TestClient(create_app(settings, now=Clock(moment), engine=engine), base_url="http://testserver")
    token = make_token(secret=settings.secret, person_id="office-head", plan_id=PLAN, now=moment)
    client.get(f"/login/{token}", follow_redirects=False)
    soup = BeautifulSoup(client.get("/overview", params={"month": month}).text, "html.parser")
    return {tr["data-unit"]: tr.select_one('td[data-set="rank"]').get_text(strip=True)
            for tr in soup.select("table.overview tbody tr[data-unit]")}
