"""The Yunyang plan is carried whole, and traceably, by tasks_catalog.yaml.

Reads the plan's text (examples/yunyang-2020-plan.txt, a verbatim copy of the document), finds
every date, frequency word and numeric target in it, and fails, naming the phrase, when no task
quoting it also encodes it (a date as `due`/`from`/`to`, a frequency as `every`, a figure as
`target`). Mentions that are not obligations are listed, each with its reason, in ALLOWED.
Also checks quotes, refs, ids, owners and the example contacts. Only pyyaml and the stdlib: the
engine is not imported, so this test speaks for the catalog and the plan alone.
"""

from __future__ import annotations

import calendar
import csv
import re
from collections import Counter
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
PLAN_PATH = ROOT / "examples" / "yunyang-2020-plan.txt"
CATALOG_PATH = ROOT / "tasks_catalog.yaml"
CONTACTS_PATH = ROOT / "examples" / "contacts.csv"
YEAR = 2020
CN_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
FREQ_BY_CHAR = {"日": "daily", "周": "weekly", "月": "monthly"}


def _last_day(month: int) -> date:
    return date(YEAR, month, calendar.monthrange(YEAR, month)[1])


def _number(text: str) -> float:
    return float(CN_DIGITS[text]) if text in CN_DIGITS else float(text)


# (kind, pattern, value). Earlier patterns win where matches overlap, so "2020年9月4日" is one
# date and not also a year, a month and a number. Kinds and what accounts for them:
#   date   -> a task quoting it has that date as due, from or to
#   every  -> a task quoting it has that `every`
#   target -> a task quoting it has a target with that value and unit
#   year   -> 2020: quoted by some task; any other year or a duration: only ALLOWED
#   quoted -> quoted by some task (words that set no date of their own)
#   skip   -> clause numbering ("1.")
PATTERNS: list[tuple[str, re.Pattern[str], Any]] = [
    ("skip", re.compile(r"^\d+\.", re.M), None),
    ("date", re.compile(r"(?:(\d{4})年)?(\d{1,2})月(\d{1,2})日"),
     lambda m: date(int(m[1] or YEAR), int(m[2]), int(m[3]))),
    ("date", re.compile(r"(\d{1,2})月底"), lambda m: _last_day(int(m[1]))),
    ("date", re.compile(r"年底"), lambda m: date(YEAR, 12, 31)),
    ("date", re.compile(r"今年|全年"), lambda m: date(YEAR, 12, 31)),  # the year's figure, known at its end
    ("date", re.compile(r"(\d{1,2})[•·](\d{1,2})"), lambda m: date(YEAR, int(m[1]), int(m[2]))),  # “10•17”
    ("target", re.compile(r"(\d+(?:\.\d+)?)%"), lambda m: (float(m[1]), "%")),
    ("target", re.compile(r"(\d+(?:\.\d+)?)万人"), lambda m: (float(m[1]), "万人")),
    ("target", re.compile(r"(\d+)个?学时"), lambda m: (float(m[1]), "学时")),
    ("target", re.compile(r"前([一二两三四五六七八九十]|\d+)[位名]"), lambda m: (_number(m[1]), "位")),
    ("year", re.compile(r"(\d+)年"), lambda m: int(m[1])),
    ("quoted", re.compile(r"\d{1,2}月"), None),
    ("every", re.compile(r"每半月"), lambda m: "semimonthly"),
    ("every", re.compile(r"每月"), lambda m: "monthly"),
    ("every", re.compile(r"每周|一周"), lambda m: "weekly"),
    ("every", re.compile(r"每日|每天"), lambda m: "daily"),
    ("every", re.compile(r"每季度?"), lambda m: "quarterly"),
    ("every", re.compile(r"每年"), lambda m: "yearly"),
    ("every", re.compile(r"([日周月])(?:调度|研判|通报|比对)"), lambda m: FREQ_BY_CHAR[m[1]]),
    ("quoted", re.compile(r"每\S|一学年|定期|适时|常态化"), None),
    ("quoted", re.compile(r"\d+(?:\.\d+)?"), None),  # any other figure at all
]


@dataclass(frozen=True)
class Allowed:
    """A mention that is no obligation: the phrase, a unique stretch of text around it, and why."""

    phrase: str
    context: str
    reason: str


ALLOWED = [
    Allowed("2020年9月4日", "2020年9月4日", "the document's date (when it was issued), not a deadline"),
    # "2020年9月至12月": the campaign window, which is plan.start..plan.end (test_plan_window).
    Allowed("2020年", "2020年9月至12月,在全市", "the campaign's year: plan window, see test_plan_window"),
    Allowed("9月", "2020年9月至12月,在全市", "the campaign's first month: plan.start"),
    Allowed("12月", "2020年9月至12月,在全市", "the campaign's last month: plan.end"),
    Allowed("2020年", "圆满实现县委、县政府2020年度脱贫攻坚成效考核", "the plan's purpose (preamble), not a task"),
    Allowed("1年", "1年以上结转结余资金不超过2%", "part of the metric's name in task carryover-1y"),
    Allowed("2年", "无2年以上结转结余资金", "part of the metric's name in task carryover-2y"),
    Allowed("2018年", "全面落实2018年以来贫困人口", "the policy's scope (since 2018), not a date of the campaign"),
    Allowed("5年", "也要总结5年工作", "what the summary covers (five years), not a deadline"),
    Allowed("今年", "既要总结今年工作", "what the summary covers; its deadlines are 12月10日 and 12月25日"),
    Allowed("常态化", "加大常态化疫情防控下的就业帮扶力度", "names the epidemic-control regime, not a cadence"),
]

# Figures of the plan carried by a task as progress with no target (catalog reading R8): the task
# quoting the figure names it in its note, and the reason says why a target would be wrong.
PROGRESS_FIGURES = {
    "80学时": ("home-teaching-hours", "the 2020-21 school year's total: at 2 学时 a week a teacher has "
               "34 by 12月31日, so a target of 80 on any report of the campaign is unreachable (issue 16 §1)"),
}

# Dates the catalog may use that are not written in the plan's text, each with its reason.
DERIVED_DATES = {
    date(YEAR, 9, 7): "first Monday of 组织实施 (9月6日 is a Sunday): start of weekly tasks",
    date(YEAR, 9, 30): "end of the 2020 全国消费扶贫月 (9月1日至9月30日) named in 二（一）4",
}

# Subjects the plan names at the head of a sentence, and the owner they stand for. When a quote
# starts with one, some task with that quote must have that owner (longest match wins).
SUBJECTS = {
    "县委、县政府": "county-leaders",
    "县委书记": "role:county_secretary",
    "县扶贫开发领导小组办公室": "office",
    "县扶贫开发领导小组": "leading-group",
    "各乡镇(街道)、县级相关部门": "group:campaign-units",
    "各乡镇(街道)": "group:towns",
    "县级相关部门": "group:county-depts",
    "县级有关部门": "group:monitoring-data-depts",  # 二（一）5: those whose records feed the monitoring (R6)
    "泥溪镇": "town-nixi",
    "驻村工作队": "role:village_team",
    "结对帮扶干部": "role:pairing_cadre",
    "由民政部门牵头": "civil-affairs",
    "由县档案局牵头": "archives",
    "涉及“两不愁三保障”“五个一批”“十大专项行动”的行业主管部门": "group:sector-depts",
    "“两不愁三保障”“五个一批”“十大专项行动”牵头部门": "group:sector-depts",
}
# "X牵头、Y配合": Y must be among the co-owners.
CO_SUBJECTS = {"由民政部门牵头,有关部门协同配合": "group:county-depts", "由县档案局牵头、县扶贫办配合": "office"}

REF = re.compile(r"^([二三四])（([一二三四五六七八九十]+)）(\d*)$")
SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")
BUILTIN_ROLES = {"head", "in_charge", "liaison", "leader"}
FREQUENCIES = {"daily", "weekly", "semimonthly", "monthly", "quarterly", "yearly"}
TOP_KEYS = {"plan", "roles", "defaults", "units", "groups", "digest", "sections", "tasks"}
PLAN_KEYS = {"id", "title", "timezone", "start", "end", "workdays", "holidays", "extra_workdays", "remind_at", "office"}
TASK_KEYS = {"id", "ref", "title", "quote", "owner", "co_owners", "every", "due", "times", "from", "to",
             "evidence", "target", "remind", "escalate", "channels", "note", "report_grace", "done_at_load",
             "owners_from", "reported_with"}
TARGET_KEYS = {"metric", "unit", "op", "value"}


@dataclass(frozen=True)
class Mention:
    """One date, frequency, figure or year word found in the plan."""

    kind: str
    text: str
    start: int
    end: int
    value: Any


@dataclass(frozen=True)
class Line:
    """One line of the plan and the clause it belongs to."""

    start: int
    end: int
    ref: str
    kind: str  # preamble | section | header | item | body


@pytest.fixture(scope="module")
def text() -> str:
    return PLAN_PATH.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def catalog() -> dict[str, Any]:
    return yaml.safe_load(CATALOG_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def tasks(catalog) -> list[dict[str, Any]]:
    return catalog["tasks"]


@pytest.fixture(scope="module")
def people() -> list[dict[str, str]]:
    with CONTACTS_PATH.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def find_mentions(text: str) -> list[Mention]:
    """Every pattern match, earlier patterns first, overlaps dropped."""
    taken: list[tuple[int, int]] = []
    found = []
    for kind, pattern, value in PATTERNS:
        for match in pattern.finditer(text):
            if any(match.start() < end and start < match.end() for start, end in taken):
                continue
            taken.append(match.span())
            if kind != "skip":
                found.append(Mention(kind, match[0], match.start(), match.end(), value(match) if value else None))
    return sorted(found, key=lambda m: m.start)


def plan_lines(text: str) -> list[Line]:
    """Split the plan into lines, each tagged with its clause ref (二（三）2, 三（一）, ...)."""
    lines, pos, section, sub, item = [], 0, "", "", ""
    for raw in text.split("\n"):
        start, end, pos = pos, pos + len(raw), pos + len(raw) + 1
        kind = "body" if section else "preamble"
        if match := re.match(r"^([一二三四五六七八九十]+)、", raw):
            section, sub, item, kind = match[1], "", "", "section"
        elif section in "二三四" and (match := re.match(r"^\(([一二三四五六七八九十]+)\)", raw)):
            sub, item, kind = match[1], "", "header"
        elif sub and (match := re.match(r"^(\d+)\.", raw)):
            item, kind = match[1], "item"
        ref = f"{section}（{sub}）{item}" if sub else section
        lines.append(Line(start, end, ref, kind))
    return lines


def spans(text: str, quote: str) -> list[tuple[int, int]]:
    return [(m.start(), m.start() + len(quote)) for m in re.finditer(re.escape(quote), text)] if quote else []


def covering_tasks(mention: Mention, text: str, tasks: list[dict], lines: list[Line]) -> list[dict]:
    """Tasks whose quote contains the mention; a step heading's dates belong to its clause's tasks."""
    result = [task for task in tasks if any(s <= mention.start and mention.end <= e
                                            for s, e in spans(text, task["quote"]))]
    line = next(li for li in lines if li.start <= mention.start <= li.end)
    if line.kind == "header":  # e.g. "(一)动员部署(9月1日至9月5日)"
        result += [t for t in tasks if t["ref"] == line.ref and t not in result]
    return result


def encodes(task: dict, mention: Mention) -> bool:
    if mention.kind == "date":
        return mention.value in {task.get("due"), task.get("from"), task.get("to")}
    if mention.kind == "every":
        return task.get("every") == mention.value
    if mention.kind == "target":
        if mention.text in PROGRESS_FIGURES and PROGRESS_FIGURES[mention.text][0] == task["id"]:
            return mention.text in task.get("note", "")
        target = task.get("target") or {}
        return (float(target.get("value", "nan")), target.get("unit")) == mention.value
    if mention.kind == "year":
        return mention.value == YEAR
    return True  # quoted


def allowed_for(mention: Mention, text: str) -> Allowed | None:
    for entry in ALLOWED:
        at = text.find(entry.context)
        if entry.phrase == mention.text and at <= mention.start and mention.end <= at + len(entry.context) and at >= 0:
            return entry
    return None


def context(text: str, mention: Mention) -> str:
    return text[max(0, mention.start - 12):mention.end + 12].replace("\n", "⏎")


def test_plan_copy_is_the_document(text):
    assert text.startswith("2020年9月4日\n")
    assert "云阳" in text and text.count("\n") == 57
    shared = ROOT.parent / "shared" / "seeds" / "000_ba0369906f6e23fc.txt"
    if shared.exists():  # absent on a clean clone (CI): then the copy stands alone
        assert shared.read_text(encoding="utf-8") == text


def test_every_mention_is_accounted_for(text, tasks):
    lines = plan_lines(text)
    mentions = find_mentions(text)
    assert len(mentions) > 60, "the patterns found too little: did the plan text change?"
    problems = []
    for mention in mentions:
        if allowed_for(mention, text):
            continue
        covering = covering_tasks(mention, text, tasks, lines)
        if not covering:
            problems.append(f"「{mention.text}」 ({mention.kind}) in …{context(text, mention)}… is quoted by no task")
        elif not any(encodes(task, mention) for task in covering):
            ids = ", ".join(t["id"] for t in covering)
            problems.append(f"「{mention.text}」 ({mention.kind} {mention.value}) in …{context(text, mention)}… "
                            f"is quoted by {ids} but none of them encodes it")
    assert not problems, "\n".join(problems)


def test_allowed_list_is_live(text):
    mentions = find_mentions(text)
    for entry in ALLOWED:
        assert text.count(entry.context) == 1, f"ALLOWED context {entry.context!r} must occur exactly once"
        assert any(allowed_for(m, text) is entry for m in mentions), f"ALLOWED entry {entry.phrase!r} matches nothing"


def test_quotes_are_exact_and_unique(text, tasks):
    for task in tasks:
        quote = task.get("quote", "")
        assert quote, f"task {task['id']} has no quote"
        assert quote in text, f"task {task['id']}: quote is not word for word in the plan: {quote}"
        assert text.count(quote) == 1, f"task {task['id']}: quote occurs {text.count(quote)} times; lengthen it"


def test_refs_are_well_formed_and_match_their_quote(text, tasks):
    lines = plan_lines(text)
    refs = {line.ref for line in lines}
    for task in tasks:
        ref = task["ref"]
        assert REF.match(ref), f"task {task['id']}: ref {ref!r} must look like 二（三）2, 三（二） or 四（一）"
        assert ref in refs, f"task {task['id']}: ref {ref} is no clause of the plan"
        (start, end), = spans(text, task["quote"])
        home = [li.ref for li in lines if li.start <= start and end <= li.end]
        assert home == [ref], f"task {task['id']}: its quote is in clause {home}, not {ref}"


def test_every_clause_and_sentence_has_a_task(text, tasks):
    """Items, subsection intros and steps of 二-四 all have tasks; every sentence is quoted at least in part."""
    quoted = [s for task in tasks for s in spans(text, task["quote"])]
    refs = {task["ref"] for task in tasks}
    missing = []
    for line in plan_lines(text):
        if line.ref[:1] not in ("二", "三", "四") or line.kind not in ("item", "body"):
            continue
        if line.ref not in refs:
            missing.append(f"clause {line.ref} has no task")
        body_start = text.index("。", line.start) + 1 if line.kind == "item" else line.start  # skip the item's title
        for sentence in re.finditer(r"[^。]+", text[body_start:line.end]):
            s, e = body_start + sentence.start(), body_start + sentence.end()
            if not any(qs < e and s < qe for qs, qe in quoted):
                missing.append(f"{line.ref}: no task quotes 「{sentence[0]}」")
    assert not missing, "\n".join(missing)


def test_ids_are_unique_slugs(tasks):
    ids = Counter(task["id"] for task in tasks)
    assert not [i for i, n in ids.items() if n > 1], "duplicate task ids"
    assert all(SLUG.match(i) for i in ids), [i for i in ids if not SLUG.match(i)]


def test_catalog_has_only_known_keys(catalog, tasks):
    assert set(catalog) <= TOP_KEYS
    assert set(catalog["plan"]) <= PLAN_KEYS
    for task in tasks:
        assert set(task) <= TASK_KEYS, f"task {task['id']}: unknown keys {set(task) - TASK_KEYS}"
        assert {"id", "ref", "title", "quote", "owner"} <= set(task), f"task {task['id']} lacks a required key"
        assert set(task.get("target") or {}) <= TARGET_KEYS


def test_schedules(catalog, tasks):
    plan = catalog["plan"]
    for task in tasks:
        assert ("due" in task) != ("every" in task), f"task {task['id']}: needs exactly one of due / every"
        if "every" in task:
            assert task["every"] in FREQUENCIES or task["every"].startswith("rrule:"), task["id"]
        else:
            assert "to" not in task, f"task {task['id']}: a one-off takes due, not to"
        days = [task[k] for k in ("from", "to", "due") if k in task]
        assert all(isinstance(d, date) and plan["start"] <= d <= plan["end"] for d in days), task["id"]
        assert task.get("from", plan["start"]) <= task.get("due", task.get("to", plan["end"])), task["id"]
        if task.get("every") == "weekly":
            assert task.get("from", plan["start"]).weekday() == 0, f"task {task['id']}: weekly tasks start on a Monday"
        if "target" in task:
            assert task["target"]["op"] in (">=", "<=", ">", "<", "=="), task["id"]


def test_no_deadline_the_plan_does_not_set(text, catalog, tasks):
    """Every date in the catalog is written in the plan, is the plan window, or is in DERIVED_DATES."""
    plan = catalog["plan"]
    written = {m.value for m in find_mentions(text) if m.kind == "date" and not allowed_for(m, text)}
    permitted = written | {plan["start"], plan["end"]} | set(DERIVED_DATES)
    used = {task[k] for task in tasks for k in ("due", "from", "to") if k in task}
    assert used <= permitted, f"dates the plan does not set: {sorted(used - permitted)}"
    assert set(DERIVED_DATES) <= used, "a DERIVED_DATES entry is no longer used"


def test_plan_window(catalog):
    plan = catalog["plan"]  # preamble: "2020年9月至12月" (the ALLOWED entries above)
    assert (plan["start"], plan["end"]) == (date(YEAR, 9, 1), date(YEAR, 12, 31))
    assert plan["timezone"] == "Asia/Shanghai" and plan["workdays"] == "cn"
    assert plan["office"] in {unit["id"] for unit in catalog["units"]}


def owner_universe(catalog) -> tuple[set[str], dict[str, list[str]], set[str]]:
    units = {unit["id"] for unit in catalog["units"]}
    groups = {group["id"]: group["members"] for group in catalog["groups"]}
    roles = BUILTIN_ROLES | {role["id"] for role in catalog.get("roles", [])}
    return units, groups, roles


def expand_group(group: str, groups: dict[str, list[str]], trail: tuple[str, ...] = ()) -> set[str]:
    assert group not in trail, f"groups contain each other: {(*trail, group)}"
    members: set[str] = set()
    for member in groups[group]:
        members |= expand_group(member[6:], groups, (*trail, group)) if member.startswith("group:") else {member}
    return members


def test_owners_resolve(catalog, tasks):
    units, groups, roles = owner_universe(catalog)
    assert not units & set(groups), "a group id is also a unit id"
    for group in groups:
        assert expand_group(group, groups) <= units, f"group {group} has unknown members"
    for task in tasks:
        owner = task["owner"]
        if owner.startswith("group:"):
            assert owner[6:] in groups, f"task {task['id']}: unknown group {owner}"
        elif owner.startswith("role:"):
            assert owner[5:] in roles, f"task {task['id']}: unknown role {owner}"
        else:
            assert owner in units, f"task {task['id']}: unknown unit {owner}"
        for co in task.get("co_owners", []):
            assert (co[6:] in groups) if co.startswith("group:") else (co in units), f"task {task['id']}: co-owner {co}"
    towns = expand_group("towns", groups)
    assert len(towns) == 42 and "town-nixi" in towns, "各乡镇（街道）: Yunyang's 4 streets, 31 towns, 7 townships"


def test_owners_are_the_ones_the_plan_names(tasks):
    by_quote: dict[str, list[dict]] = {}
    for task in tasks:
        by_quote.setdefault(task["quote"], []).append(task)
    for quote, group in by_quote.items():
        subject = max((s for s in SUBJECTS if quote.startswith(s)), key=len, default=None)
        if subject:
            assert SUBJECTS[subject] in {t["owner"] for t in group}, f"「{quote[:30]}…」 names {subject}"
        for phrase, co in CO_SUBJECTS.items():
            if quote.startswith(phrase):
                assert all(co in t.get("co_owners", []) for t in group), f"「{quote[:30]}…」: {co} is a co-owner"


def test_contacts_fill_every_unit_and_role(catalog, tasks, people):
    units, _, roles = owner_universe(catalog)
    held = {(p["unit"], r) for p in people for r in p["roles"].split(";")}
    for unit in units:
        for role in ("head", "in_charge", "liaison"):
            assert (unit, role) in held, f"examples/contacts.csv: unit {unit} has no {role}"
    held_roles = {role for _, role in held}
    used = {t["owner"][5:] for t in tasks if t["owner"].startswith("role:")} | (roles - BUILTIN_ROLES)
    assert used <= held_roles, f"roles nobody holds: {used - held_roles}"
    leadership = {u["id"] for u in catalog["units"] if u.get("kind") == "leadership"}
    assert leadership <= {unit for unit, role in held if role == "leader"}, "each leadership unit needs a leader"
    field_roles = {"pairing_cadre", "send_teacher", "village_team"}
    assert sum(1 for p in people if field_roles & set(p["roles"].split(";"))) >= 300, "too few people for fan-out"


def test_contacts_are_clean_fakes(catalog, people):
    units, _, roles = owner_universe(catalog)
    assert list(people[0]) == ["id", "name", "unit", "roles", "title", "email", "mobile"]
    for key in ("id", "email", "mobile"):
        counts = Counter(p[key] for p in people)
        assert not [v for v, n in counts.items() if n > 1], f"duplicate {key} in examples/contacts.csv"
    for p in people:
        assert p["name"] and p["unit"] in units, p
        assert set(p["roles"].split(";")) <= roles, p
        assert re.fullmatch(r"[a-z]+\.\d{4}@example\.org", p["email"]), p
        assert re.fullmatch(r"13800\d{6}", p["mobile"]), p
