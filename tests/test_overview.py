"""The leaders' overview over HTTP: where the office and leaders land, columns and totals that add up, ranks with
并列, every number a link to exactly its set, bad filters refused; and roll-up links a town's in_charge can open."""

import re
import warnings
from datetime import UTC, datetime
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from bs4 import BeautifulSoup
from conftest import Clock, at
from sqlalchemy import select, update

from duban import runs
from duban.counts import SETS
from duban.links import make_token
from duban.models import NotificationRow, OccurrenceRow
from duban.web import create_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

PLAN = "mini-2020"
COLUMNS = [*SETS, "rate", "rank"]


@pytest.fixture
def store_url(tmp_path):
    """Pages on SQLite; the counts behind them run on both stores in test_overview_agreement.py."""
    return f"sqlite:///{tmp_path / 'duban.sqlite'}"


def client_for(settings, engine, person, moment):
    client = TestClient(create_app(settings, now=Clock(moment), engine=engine), base_url="http://testserver")
    token = make_token(secret=settings.secret, person_id=person, plan_id=PLAN, now=moment)
    assert client.get(f"/login/{token}", follow_redirects=False).status_code == 303
    return client


def table(html):
    """{unit id ('' for 合计): {column: text}} of the overview's table, and the unit ids in the order shown."""
    soup = BeautifulSoup(html, "html.parser")
    rows, order = {}, []
    for tr in soup.select("table.overview tr[data-unit]"):
        rows[tr["data-unit"]] = {td["data-set"]: td.get_text(strip=True) for td in tr.select("td[data-set]")}
        order.append(tr["data-unit"])
    return rows, [unit for unit in order if unit]


def links(html):
    """Every number's link: (unit, set, month) -> (the number, the address)."""
    found = {}
    for a in BeautifulSoup(html, "html.parser").select("table.overview td[data-set] a"):
        query = parse_qs(urlsplit(a["href"]).query)
        key = (query.get("unit", [""])[0], query["set"][0], query.get("month", [""])[0])
        found[key] = (int(a.get_text()), a["href"])
    return found


def test_the_office_and_leaders_land_on_the_overview_others_on_their_items(mini_campaign, loop_settings):
    moment = at("2020-10-29 09:00")
    for person in ("office-liaison", "leaders-head"):
        client = client_for(loop_settings, mini_campaign, person, moment)
        home = client.get("/")
        assert home.status_code == 200 and "<h1>总览</h1>" in home.text and 'href="/mine"' in home.text
        assert "<h1>我的事项</h1>" in client.get("/mine").text  # their own items, one click away
    for person in ("sj-head", "sj-cadre-1"):
        home = client_for(loop_settings, mini_campaign, person, moment).get("/")
        assert "<h1>我的事项</h1>" in home.text and "总览" not in home.text


def test_columns_and_totals_add_up(mini_campaign, loop_settings):
    page = client_for(loop_settings, mini_campaign, "office-head", at("2020-10-29 09:00")).get("/")
    rows, order = table(page.text)
    assert set(order) == {"office", "leaders", "shuangjiang", "qinglong"}
    for key in SETS:  # 合计 is the sum of the rows, column by column
        assert int(rows[""][key]) == sum(int(rows[unit][key]) for unit in order), key
    for unit, row in rows.items():
        n = {key: int(row[key]) for key in SETS}
        assert n["due"] == n["on_time"] + n["late"] + n["overdue"] + n["missed"], unit
        assert n["on_time"] + n["late"] == n["waiting"] + n["verified"], unit
        assert row["rate"] == (f"{round(100 * n['on_time'] / n['due'])}%" if n["due"] else "—"), unit
    # the campaign's known states (tests/conftest.py MINI_CAMPAIGN): 已销号 and 待销号 told apart
    assert rows["shuangjiang"]["verified"] == "1" and rows["qinglong"]["waiting"] == "1"
    assert rows["office"]["waiting"] == "6" and rows["office"]["verified"] == "0"
    assert rows["leaders"]["verified"] == "1" and rows["leaders"]["waiting"] == "1"


def test_worst_rate_first_and_equal_rates_share_a_rank(mini_campaign, loop_settings, engine):
    moment = at("2020-10-29 09:00")
    rows, order = table(client_for(loop_settings, mini_campaign, "office-head", moment).get("/").text)
    towns = [unit for unit in order if unit in ("shuangjiang", "qinglong")]
    rates = [int(rows[unit]["rate"].rstrip("%")) for unit in towns]
    assert rates == sorted(rates)  # worst first
    if rates[0] != rates[1]:
        assert [rows[unit]["rank"] for unit in towns] == ["2", "1"]
    # both towns report everything on time: the same rate, both 并列第1, nobody below the other
    with mini_campaign.begin() as connection:
        connection.execute(update(OccurrenceRow).where(
            OccurrenceRow.unit_id.in_(["shuangjiang", "qinglong"]), OccurrenceRow.due < moment,
            OccurrenceRow.state != "waived").values(state="reported", reported_at=OccurrenceRow.due))
    rows, _ = table(client_for(loop_settings, mini_campaign, "office-head", moment).get("/").text)
    assert rows["shuangjiang"]["rate"] == rows["qinglong"]["rate"] == "100%"
    assert rows["shuangjiang"]["rank"] == rows["qinglong"]["rank"] == "并列第1"
    assert rows["leaders"]["rank"] == "" and rows["leaders"]["rate"] != "—"  # leaders are not ranked (as in 通报)


def test_every_number_links_to_exactly_its_set(mini_campaign, loop_settings):
    client = client_for(loop_settings, mini_campaign, "leaders-head", at("2020-10-29 09:00"))
    for month in ("", "2020-10"):
        page = client.get("/overview", params={"month": month} if month else {})
        found = links(page.text)
        assert {key for key in found if key[0] == ""} == {("", key, month) for key in SETS
                                                          if int(table(page.text)[0][""][key])}
        for (unit, chosen, _), (number, href) in found.items():
            listed = client.get(href.split("#")[0])
            soup = BeautifulSoup(listed.text, "html.parser")
            items = soup.select("#list ul.rows li")
            assert len(items) == number, href
            assert int(soup.select_one("#list h2 .count").get_text()) == number
            if chosen in ("overdue", "missed", "on_time", "late"):
                wanted = {"overdue": "overdue", "missed": "missed", "on_time": "done", "late": "done_late"}[chosen]
                assert {li["class"][1] for li in items} == {f"status-{wanted}"}, href
            if unit:
                assert listed.text.count('class="chosen"') == 1


def test_a_month_counts_what_fell_due_in_it(mini_campaign, loop_settings):
    client = client_for(loop_settings, mini_campaign, "office-head", at("2020-10-29 09:00"))
    whole, _ = table(client.get("/overview").text)
    months = [table(client.get("/overview", params={"month": m}).text)[0][""] for m in ("2020-09", "2020-10")]
    for key in SETS:  # nothing judged falls due after the moment: September and October make up the whole
        assert int(whole[""][key]) == sum(int(m[key]) for m in months), key


@pytest.mark.parametrize(("params", "words"), [
    ({"set": "everything"}, "set=“everything”"), ({"unit": "nowhere"}, "unit=“nowhere”"),
    ({"month": "October"}, "month=“October”"), ({"month": "2020-13"}, "month=“2020-13”"),
])
def test_bad_filters_are_refused_with_one_line(mini_campaign, loop_settings, params, words):
    page = client_for(loop_settings, mini_campaign, "office-head", at("2020-10-29 09:00")).get(
        "/overview", params=params)
    assert page.status_code == 400 and words in page.text


def test_a_towns_in_charge_opens_the_roll_up_link_to_their_peoples_items(mini_store, loop_settings):
    """The in_charge hears of a cadre's overdue visit as one line; its link lists exactly that, and they may open it
    (a unit's head and in_charge read their people's items; /overview stays the office's and leaders')."""
    ctx = runs.context(mini_store, loop_settings, PLAN)
    moment = at("2020-10-09 09:00")
    runs.notices(mini_store, ctx, moment, ("remind", "escalate"))
    with mini_store.connect() as connection:
        body = connection.execute(select(NotificationRow.body_text).where(
            NotificationRow.person_id == "sj-in-charge", NotificationRow.channel == "email")).scalar_one()
    [target] = [unquote(m) for m in re.findall(r"next=(/all\S*visits\S*)", body)]
    assert parse_qs(urlsplit(target).query) == {"task": ["visits"], "status": ["overdue"], "unit": ["shuangjiang"]}
    client = client_for(loop_settings, mini_store, "sj-in-charge", moment)
    page = client.get(target)
    soup = BeautifulSoup(page.text, "html.parser")
    assert page.status_code == 200
    assert [(li.select_one(".title").get_text(), li.select(".meta")[1].get_text(strip=True))
            for li in soup.select("ul.rows li")] == [("结对帮扶干部开展帮扶联系", "周干部")]
    item = client.get(soup.select_one("ul.rows li a")["href"])
    assert item.status_code == 200 and "周干部" in item.text and "/do/report/" not in item.text  # read, not act
    assert client.get("/overview").status_code == 403
    other = client_for(loop_settings, mini_store, "ql-in-charge", moment)
    assert other.get(soup.select_one("ul.rows li a")["href"]).status_code == 403  # not another town's


def test_overview_at_a_moment_before_anything_fell_due(mini_store, loop_settings):
    page = client_for(loop_settings, mini_store, "office-head", datetime(2020, 9, 1, 1, tzinfo=UTC)).get("/")
    rows, _ = table(page.text)
    assert rows[""]["due"] == "0" and rows[""]["rate"] == "—" and not links(page.text)
