"""The words that set a task, one reader at a time: dates, rhythms, targets, owners, numbering."""

from datetime import date

import pytest

from duban.draft.clauses import numbering, split_sentences
from duban.draft.dates import Context, find_dates, find_year_scopes
from duban.draft.owners import find_mentions, subjects
from duban.draft.rhythms import find_rhythms
from duban.draft.targets import find_targets
from duban.draft.wordfile import format_number

SEPT_2020 = Context(2020, date(2020, 9, 4))


@pytest.mark.parametrize(
    ("text", "due", "start", "confidence"),
    [
        ("确保9月15日前全面开工", "2020-09-15", None, "高"),
        ("10月底前全部整改落实", "2020-10-31", None, "高"),
        ("确保年底前完成", "2020-12-31", None, "高"),
        ("12月10日前报县扶贫办", "2020-12-10", None, "高"),
        ("2021年3月15日前完成", "2021-03-15", None, "高"),
        ("十二月十日前报送", "2020-12-10", None, "高"),
        ("11月中旬完成", "2020-11-20", "2020-11-11", "中"),  # the mid-month dekad's last day
        ("12月份开展考核", "2020-12-31", "2020-12-01", "中"),
        ("国庆节前完成", "2020-09-30", None, "中"),
        ("10月1日至10月7日开展", "2020-10-07", "2020-10-01", "高"),
        ("9月1日至5日", "2020-09-05", "2020-09-01", "高"),
        ("9月—11月开展", "2020-11-30", "2020-09-01", "中"),
        ("9月至11月中旬", "2020-11-20", "2020-09-01", "中"),
        ("第四季度末前", "2020-12-31", None, "中"),
        ("4月底前完成", "2021-04-30", None, "低"),  # before the date of issue: the next year, and said so
    ],
)
def test_deadlines(text, due, start, confidence):
    [schedule], unresolved = find_dates(text, SEPT_2020)
    assert (str(schedule.due), str(schedule.start) if schedule.start else None) == (due, start)
    assert schedule.confidence == confidence and not unresolved


@pytest.mark.parametrize(
    "text",
    [
        "全面落实2018年以来的政策",
        "按照2019年8月30日印发的办法",
        "《2020年家庭收入调查表》",
        "用好1年以上结转资金",
        "消费扶贫月",
    ],
)
def test_no_deadline_where_the_text_sets_none(text):
    assert find_dates(text, SEPT_2020) == ([], [])


def test_lunar_festivals_and_vague_days_are_left_to_a_person():
    schedules, unresolved = find_dates("春节前完成检查，11月初启动", SEPT_2020)
    assert schedules == []
    assert [u.words for u in unresolved] == ["11月初", "春节前"]


def test_year_figures_need_a_target_or_the_word_年度():
    scopes = find_year_scopes("2020年支出进度达92%以上，做好2020年度动态管理，“2020年家庭收入调查表”", SEPT_2020)
    assert [(s.schedule.words, s.strong) for s in scopes] == [("2020年", False), ("2020年度", True)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("每半月至少专题研究一次", [("semimonthly", 1)]),
        ("每月至少召开2次会议", [("monthly", 2)]),
        ("每月至少开展两次巡查", [("monthly", 2)]),
        ("一周不得少于一次", [("weekly", 1)]),
        ("落实日调度、周研判、月通报制度", [("daily", 1), ("weekly", 1), ("monthly", 1)]),
        ("实行“月比对、月通报”", [("monthly", 1)]),
        ("实行月报送、月会商制度", [("monthly", 1)]),
        ("每季度报告一次", [("quarterly", 1)]),
        ("每年组织一次评估", [("yearly", 1)]),
        ("每日报告雨情", [("daily", 1)]),
        ("每月15日前报送", [("rrule:FREQ=MONTHLY;BYMONTHDAY=15", 1)]),
        ("每周五前报送周报", [("rrule:FREQ=WEEKLY;BYDAY=FR", 1)]),
        ("举办好消费扶贫月系列活动", []),
        ("每一项数据都要核实", []),
        ("一学年不得少于80学时", []),
    ],
)
def test_rhythms(text, expected):
    assert [(r.every, r.times) for r in find_rhythms(text)] == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("实际支出进度达92%以上", [("实际支出进度", ">=", 92, "%")]),
        ("结转结余资金不超过2%", [("结转结余资金", "<=", 2, "%")]),
        ("完成9.5万人的农村饮水安全巩固提升任务", [("农村饮水安全巩固提升", ">=", 9.5, "万人")]),
        ("确保全部入住", [("入住率", ">=", 100, "%")]),
        ("合格率100%、优秀率20%以上", [("合格率", ">=", 100, "%"), ("优秀率", ">=", 20, "%")]),
        ("销售总额力争达到全市前两位", [("销售总额排名", "<=", 2, "位")]),
        ("务工人数不少于去年", [("务工人数占上年比例", ">=", 100, "%")]),
        ("企业开办时间压缩至1个工作日以内", [("企业开办时间", "<=", 1, "工作日")]),
    ],
)
def test_targets(text, expected):
    assert [(t.metric, t.op, t.value, t.unit) for t in find_targets(text)] == expected


@pytest.mark.parametrize(
    ("text", "owners", "co_owners"),
    [
        ("县委、县政府每半月至少专题研究一次", ["县委、县政府"], []),
        ("各乡镇(街道)、县级相关部门要进行全面分析评估,12月10日前报县扶贫办", ["各乡镇（街道）", "县级相关部门"], []),
        ("由县档案局牵头、县扶贫办配合,开展培训", ["县档案局"], ["县扶贫办"]),
        ("县农业农村委负责，县级各部门配合", ["县农业农村委"], ["县级各部门"]),
        ("县扶贫开发领导小组办公室对各乡镇(街道)开展督导检查", ["县扶贫开发领导小组办公室"], []),
        ("每月至少召开一次扶贫开发领导小组会议", [], []),
        ("结对帮扶干部每月至少开展一次帮扶联系工作", ["结对帮扶干部"], []),
        ("泥溪镇要及时做好评估准备", ["泥溪镇"], []),
        ("召开全县动员部署会议", [], []),
    ],
)
def test_owners_in_subject_position(text, owners, co_owners):
    found, assists = subjects(text, find_mentions(text))
    assert ([o.name for o in found], [o.name for o in assists]) == (owners, co_owners)


def test_numbering_levels_and_sentences():
    assert numbering("二、重点任务")[:2] == (1, "二")
    assert numbering("(一)全面落实")[:2] == (2, "（一）")
    assert numbering("3.强化扶贫项目建设")[:2] == (3, "3")
    assert numbering("（2）12月份开展")[:2] == (4, "（2）")
    assert numbering("①县水利局负责")[:2] == (5, "①")
    assert numbering("1.5万人参加培训") is None
    assert [s for _, s in split_sentences("甲要做;乙要做。丙要做")] == ["甲要做", "乙要做", "丙要做"]


def test_word_number_formats():
    assert [format_number(n, "chineseCounting") for n in (1, 10, 12)] == ["一", "十", "十二"]
    assert format_number(3, "decimalEnclosedCircle") == "③"
    assert format_number(2, "ideographTraditional") == "乙"
    assert format_number(4, "bullet") == ""
