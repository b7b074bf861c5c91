"""The status sheet's summary page: headline figures, units with totals that add up, the worst items, the change
since the previous sheet (judged from the store), and 已销号 told apart from 已报告未销号."""

from bs4 import BeautifulSoup

from duban.counts import count, total
from duban.sheets import status_sheet_name, write_status_sheet
from duban.sheets.data import load_snapshot
from duban.sheets.summary import previous_sheet_moment
from tests.conftest import at

PLAN = "mini-2020"
AS_OF = at("2020-10-29 09:00")


def summary_of(folder):
    return BeautifulSoup((folder / status_sheet_name(PLAN, AS_OF, "html")).read_text(encoding="utf-8"), "html.parser")


def figures(soup):
    return {d["data-k"]: (d.b.text, d.i.text if d.i else "") for d in soup.select(".figures .figure")}


def test_previous_sheet_is_the_workday_before(mini_campaign):
    plan = load_snapshot(mini_campaign, PLAN, AS_OF).plan
    assert previous_sheet_moment(plan, AS_OF).isoformat() == "2020-10-28T07:30:00+08:00"
    # a Monday looks back to Friday; the day after the National Day holiday to the last workday before it
    assert previous_sheet_moment(plan, at("2020-11-02 09:00")).date().isoformat() == "2020-10-30"
    assert previous_sheet_moment(plan, at("2020-10-09 09:00")).date().isoformat() == "2020-09-30"


def test_summary_figures_agree_with_counts(mini_campaign, tmp_path):
    write_status_sheet(engine=mini_campaign, plan_id=PLAN, as_of=AS_OF, out_dir=tmp_path, formats=["html"])
    soup = summary_of(tmp_path)
    with mini_campaign.connect() as connection:
        now = total(count(connection, plan_id=PLAN, as_of=AS_OF).values())
    shown = figures(soup)
    assert {k: int(v) for k, (v, _) in shown.items() if k != "rate"} == {
        "due": now.due, "done": now.done, "done_late": now.done_late, "waiting": now.waiting,
        "verified": now.verified, "overdue": now.overdue, "missed": now.missed, "due_soon": now.due_soon}
    assert (now.due, now.done, now.done_late, now.overdue, now.missed) == (17, 10, 3, 2, 2)
    assert now.verified + now.waiting == 13 and now.verified >= 1 and now.waiting >= 1  # told apart
    assert shown["rate"][0] == "59%"
    note = soup.select_one("p.note").text
    assert f"已销号{now.verified}项、已报告未销号{now.waiting}项" in note


def test_summary_change_since_is_judged_from_the_store(mini_campaign, tmp_path):
    since = at("2020-10-20 09:00")
    write_status_sheet(engine=mini_campaign, plan_id=PLAN, as_of=AS_OF, out_dir=tmp_path, formats=["html", "md"],
                       since=since)
    with mini_campaign.connect() as connection:
        now = total(count(connection, plan_id=PLAN, as_of=AS_OF).values())
        then = total(count(connection, plan_id=PLAN, as_of=since).values())
    assert (now.overdue, now.done_late) != (then.overdue, then.done_late)  # two late reports came in between
    soup = summary_of(tmp_path)
    shown = figures(soup)
    for key in ("due", "done", "done_late", "overdue", "missed", "due_soon"):
        diff = getattr(now, key) - getattr(then, key)
        assert shown[key][1] == ("" if diff == 0 else f"+{diff}" if diff > 0 else f"−{-diff}"), key
    assert "2020年10月20日（星期二） 09:00" in soup.select_one(".meta").text
    md = (tmp_path / status_sheet_name(PLAN, AS_OF, "md")).read_text(encoding="utf-8")
    assert f"逾期办结+{now.done_late - then.done_late}" in md and f"逾期未办−{then.overdue - now.overdue}" in md
    assert f"已销号{now.verified}项，已报告未销号{now.waiting}项" in md


def test_summary_units_add_up_and_worst_items_lead(mini_campaign, tmp_path):
    write_status_sheet(engine=mini_campaign, plan_id=PLAN, as_of=AS_OF, out_dir=tmp_path, formats=["html"])
    soup = summary_of(tmp_path)
    rows = soup.select("table.units tbody tr")
    assert rows[-1]["data-unit"] == "合计" and rows[0]["data-unit"] == "qinglong"

    def cells(row):
        return {td["data-k"]: td.get_text(strip=True) for td in row.select("td[data-k]")}

    units, totals = [cells(r) for r in rows[:-1]], cells(rows[-1])
    for key in ("到期", "按时办结", "逾期办结", "已报告未销号", "已销号", "逾期未办", "未按期"):
        assert int(totals[key]) == sum(int(u[key]) for u in units), key
    worst = soup.select("table.worst tbody tr")
    assert [w["data-status"] for w in worst] == ["overdue", "overdue", "missed", "missed"]
    assert worst[0]["data-id"] == "visits/ql-cadre-1/2020-09-01"  # 三级 escalated, 29 days: first
    assert "三级（县扶贫办）" in worst[0].get_text() and "冯干部（青龙街道）" in worst[0].get_text()
    assert soup.select_one(f'a[href="{status_sheet_name(PLAN, AS_OF, "html", "detail")}"]') is not None
    assert not soup.select("tr.item")  # the ledger is on the detail page, not here


def test_fast_rows_equal_the_orm_path_at_many_moments(mini_campaign, monkeypatch):
    """The snapshot read with sqlite3/psycopg and judged in SQL equals the one read by SQLAlchemy and judged by
    status_at, item for item, at moments across the campaign (before, on and after deadlines, reports, 销号)."""
    import duban.sheets.data as data

    moments = [at(f"2020-{day} {hour}") for day in ("09-01", "09-15", "09-30", "10-09", "10-20", "10-29", "11-02",
                                                     "12-31") for hour in ("08:59", "09:00", "23:59")]
    read_fast = data._fast_rows
    taken = []

    def fast_rows(*args):
        rows = read_fast(*args)
        taken.append(rows is not None)
        return rows

    monkeypatch.setattr(data, "_fast_rows", fast_rows)
    fast = {m: load_snapshot(mini_campaign, PLAN, m).items for m in moments}
    assert taken and all(taken)  # sqlite3 on the SQLite file, psycopg on PostgreSQL
    monkeypatch.setattr(data, "_fast_rows", lambda *args: None)
    for moment in moments:
        slow = load_snapshot(mini_campaign, PLAN, moment).items
        assert fast[moment] == slow, moment
    assert {i.status for items in fast.values() for i in items} == {
        "upcoming", "due_soon", "overdue", "missed", "done", "done_late", "waived"}


def test_cli_since_compares_and_refuses_a_later_moment(mini_campaign, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from duban.cli import _load_commands
    from duban.cli.common import app

    _load_commands()
    monkeypatch.setenv("DUBAN_DATABASE_URL", mini_campaign.url.render_as_string(hide_password=False))
    out = tmp_path / "sheets"
    base = ["sheet", "--as-of", "2020-10-29T09:00", "--out", str(out), "--format", "md"]
    later = CliRunner().invoke(app, [*base, "--since", "2020-10-30"])
    assert later.exit_code == 1 and "--since: 2020-10-30 is not before the sheet's moment" in later.output
    assert not out.exists()  # nothing written
    result = CliRunner().invoke(app, [*base, "--since", "2020-10-20T09:00"])
    assert result.exit_code == 0, result.output
    md = (out / status_sheet_name(PLAN, AS_OF, "md")).read_text(encoding="utf-8")
    assert "较上期（2020年10月20日（星期二） 09:00）：" in md and "逾期办结+2" in md


def test_a_month_window_reads_only_that_month_s_items(mini_campaign, monkeypatch):
    """The bulletin reads only the month's items: the same ones, in the same states, as the whole snapshot has."""
    import duban.sheets.data as data

    window = (at("2020-10-01 00:00"), at("2020-11-01 00:00"))
    whole = load_snapshot(mini_campaign, PLAN, AS_OF).items
    month = load_snapshot(mini_campaign, PLAN, AS_OF, due_within=window).items
    assert month == [i for i in whole if window[0] <= i.due < window[1]] and 0 < len(month) < len(whole)
    monkeypatch.setattr(data, "_fast_rows", lambda *args: None)
    assert load_snapshot(mini_campaign, PLAN, AS_OF, due_within=window).items == month
