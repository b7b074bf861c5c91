"""The status sheet written as its items stream from the store (issue 12, goal 5) says exactly what the sheet built
from the whole snapshot in memory says: the same items in the same order (ORDER BY in SQL against
`urgency_key` in Python), the same groups for chat, the same files; on SQLite and PostgreSQL, and on the ORM path."""

import zipfile
from datetime import date

import pytest
from conftest import at

from duban import actions
from duban.casework.extension import decide_extension, request_extension
from duban.casework.plan import load_setup
from duban.casework.problems import import_problems
from duban.sheets import status_sheet_name, write_status_sheet
from duban.sheets.data import load_snapshot, open_source
from duban.sheets.ordered import items_in_state, problem_items, shown_items
from duban.sheets.render import render_context, templates
from duban.sheets.rows import item_rows
from duban.sheets.sheet import build_sheet, group_items, tally_groups, urgency_key
from duban.sheets.xlsx import write_ledger

PLAN = "mini-2020"
MOMENTS = [at(f"2020-{day} {hour}") for day in ("09-01", "09-15", "09-30", "10-09", "10-20", "10-29", "11-02",
                                                 "12-31") for hour in ("08:59", "09:00", "23:59")]
HORIZONS = (0, 7, 30)


def _problems(engine, tmp_path) -> None:
    problems = tmp_path / "problems.csv"
    problems.write_text("来源,问题描述,责任单位,整改时限,整改要求\n国家普查,危房改造未完成,双江街道,2020-10-30,限期改造\n"
                        "市级督查,台账不全,qinglong,2020-11-30,\n媒体暗访,公示不全,qinglong,2020-10-30,\n",
                        encoding="utf-8")
    with engine.begin() as connection:
        setup = load_setup(connection, PLAN)
        office = actions.actor_for(connection, plan_id=PLAN, person_id="office-liaison")
        late, _, _ = import_problems(connection, setup=setup, path=problems, source="", actor=office,
                                     now=at("2020-10-09 10:00"))
        head = actions.actor_for(connection, plan_id=PLAN, person_id="sj-head")
        request_extension(connection, setup=setup, actor=head, occurrence_id=late, until=date(2020, 11, 15),
                          reason="汛期道路中断", now=at("2020-10-15 10:00"), source="web")
        decide_extension(connection, setup=setup,
                         actor=actions.actor_for(connection, plan_id=PLAN, person_id="office-head"),
                         occurrence_id=late, grant=True, note="同意", now=at("2020-10-16 10:00"), source="web")


def _in_memory(engine, moment, horizon):
    snapshot = load_snapshot(engine, PLAN, moment)
    return snapshot, build_sheet(snapshot, horizon)


def _check_orders(engine, moments) -> int:
    problems = 0
    for moment in moments:
        source = open_source(engine, PLAN, moment)
        for horizon in HORIZONS:
            snapshot, sheet = _in_memory(engine, moment, horizon)
            assert list(shown_items(source, horizon)) == [i for s in sheet.sections for i in s.items], moment
            for status in ("overdue", "due_soon", "done"):
                assert list(items_in_state(source, horizon, status)) == sorted(
                    (i for s in sheet.sections for i in s.items if i.status == status), key=urgency_key)
        cases = sorted((i for i in snapshot.items if i.task.is_problem), key=urgency_key)
        assert list(problem_items(source)) == cases
        problems += len(cases)
    return problems


def test_items_stream_in_the_order_the_sheet_shows_them(mini_campaign, tmp_path, monkeypatch):
    """Every moment and horizon: the ledger's items by section, one state's items and the problems come from the
    store in the order the in-memory sheet sorts them into; the same on the ORM path (sorted in Python)."""
    _problems(mini_campaign, tmp_path)
    assert _check_orders(mini_campaign, MOMENTS) > 0
    import duban.readpath.connect as connect
    import duban.sheets.data as data

    monkeypatch.setattr(data, "_fast_rows", lambda *args: None)
    monkeypatch.setattr(connect, "open_reader", lambda url: None)
    assert _check_orders(mini_campaign, MOMENTS[1::3]) > 0


def test_chat_groups_counted_as_they_come_say_what_held_groups_say(mini_campaign):
    counted_only = 0
    for moment in MOMENTS:
        source = open_source(mini_campaign, PLAN, moment)
        _, sheet = _in_memory(mini_campaign, moment, 7)
        for status in ("overdue", "due_soon"):
            held = sheet.pressing(status)
            counted = tally_groups(items_in_state(source, 7, status), detailed=len(held))
            assert [(g.first, g.count, g.spread, g.owners, g.owners_text, g.units_text, g.due_span) for g in held] \
                == [(g.first, g.count, g.spread, g.owners, g.owners_text, g.units_text, g.due_span) for g in counted]
            few = tally_groups(items_in_state(source, 7, status), detailed=1)
            assert [(g.first, g.count) for g in few] == [(g.first, g.count) for g in held]
            for group in few[1:]:  # only counted: asking for its line's words is an error, not a wrong line
                with pytest.raises(LookupError, match="only counted"):
                    group.units_text  # noqa: B018
                counted_only += 1
    many = group_items(load_snapshot(mini_campaign, PLAN, at("2020-12-31 18:00")).items, by_unit=False)
    assert any(g.count > 1 for g in many) and counted_only


def _files_in_memory(engine, moment, horizon, folder):
    """The detail page, the chat text and the ledger as the sheet held in memory renders them (the old way)."""
    from duban.casework.counts import counts_at

    snapshot, sheet = _in_memory(engine, moment, horizon)
    env, problems = templates(), counts_at(engine, PLAN, sheet.as_of)
    names = {"summary_name": status_sheet_name(PLAN, sheet.as_of, "html"),
             "detail_name": status_sheet_name(PLAN, sheet.as_of, "html", "detail")}
    detail = env.get_template("sheets/status-detail.html").render(
        sheet=sheet, problems=problems, item_rows=item_rows, **render_context(), **names)
    cases = sorted((i for i in snapshot.items if i.task.is_problem), key=urgency_key)
    sheet.has_problems = bool(cases)
    for section in sheet.sections:
        section.problems_only = all(i.task.is_problem for i in section.items)
    ledger = write_ledger(sheet, folder / "ledger.xlsx", cases)
    return detail, ledger


def _cells(path):
    """Each tab's rows (values and formats), the workbook's tabs and its styles: the parts of the file, as written,
    besides docProps (which holds the moment of writing)."""
    with zipfile.ZipFile(path) as book:
        return {name: book.read(name) for name in book.namelist() if not name.startswith("docProps/")}


@pytest.mark.parametrize("moment", ["2020-09-15 10:00", "2020-10-29 09:00", "2020-12-31 18:00"])
def test_streamed_files_equal_the_sheet_held_in_memory(mini_campaign, tmp_path, moment):
    _problems(mini_campaign, tmp_path)
    for horizon in HORIZONS:
        out = tmp_path / f"out-{horizon}"
        write_status_sheet(engine=mini_campaign, plan_id=PLAN, as_of=at(moment), out_dir=out, horizon_days=horizon)
        detail, ledger = _files_in_memory(mini_campaign, at(moment), horizon, tmp_path / f"held-{horizon}")
        day = at(moment)
        assert (out / status_sheet_name(PLAN, day, "html", "detail")).read_text(encoding="utf-8") == detail
        streamed = _cells(out / status_sheet_name(PLAN, day, "xlsx"))
        assert streamed == _cells(ledger)
        assert any("问题整改".encode() in part for part in streamed.values())


def test_the_worst_twenty_are_picked_without_holding_every_overdue_item(monkeypatch, mini_campaign):
    """The summary's worst items, cut down as they come, are the first of all of them sorted."""
    import duban.sheets.summary as summary

    monkeypatch.setattr(summary, "WORST", 2)
    monkeypatch.setattr(summary, "WORST_HELD", 3)
    snapshot = load_snapshot(mini_campaign, PLAN, at("2020-12-31 18:00"))
    result = summary.build_summary(snapshot, at("2020-12-30 07:30"), {})
    every = sorted((i for i in snapshot.items if i.status in summary.OPEN), key=summary.worst_key)
    assert len(every) > 3 and result.worst == every[:2] and result.open_total == len(every)


def test_a_section_of_only_problems_keeps_its_place(mini_campaign, tmp_path):
    _problems(mini_campaign, tmp_path)
    moment = at("2020-11-02 09:00")
    sheet = build_sheet(load_snapshot(mini_campaign, PLAN, moment), 7)
    assert sheet.has_problems and [s.name for s in sheet.sections if s.problems_only] == ["问题整改"]


def test_a_sheet_that_fails_leaves_no_partial_ledger(mini_campaign, tmp_path, monkeypatch):
    """The XLSX is begun before the items are read (its rows are formatted as they come): a failure on the way
    leaves neither the ledger nor its .partial file."""
    import duban.sheets.summary as summary

    def broken(*args, **kwargs):
        raise RuntimeError("the store went away")

    monkeypatch.setattr(summary, "counts_then", broken)
    with pytest.raises(RuntimeError, match="went away"):
        write_status_sheet(engine=mini_campaign, plan_id=PLAN, as_of=at("2020-10-29 09:00"), out_dir=tmp_path / "out")
    assert not [p for p in (tmp_path / "out").iterdir()]
