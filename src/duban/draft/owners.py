"""Who a sentence binds: unit names (县扶贫办), groups (各乡镇（街道）, 县级各部门), roles (结对帮扶干部).

Names come from the county's own list when one is given (exact words), then from the shapes
government bodies' names take. Only a name in subject position owns the task: at the start of
a clause (由县档案局牵头), joined to another subject (县委、县政府), or followed by 要/负责/每;
a name after 对/报/督促 is the work's object or recipient. X牵头、Y配合 makes Y a co-owner.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from duban.draft.model import Owner

_HAN = r"\u4e00-\u9fff"
ROLE = re.compile(
    r"县委书记|县长|乡镇(?:（街道）|\(街道\))?党(?:（工）|\(工\))?委书记|村党组织书记|村支部书记|第一书记|驻村工作队|"
    r"驻村干部|结对帮扶干部|帮扶干部|帮扶责任人|网格员|联络员|村“两委”|村两委"
)
GROUPS = [
    re.compile(r"(?:县|市|区)级(?:各|相关|有关)?(?:行业主管|行业|职能)?部门"),
    re.compile(
        r"各(?:乡镇|镇乡|镇|乡|街道|区县|区|县|部门|责任单位|单位|成员单位|村|社区)(?:[（(](?:街道|社区|村|乡镇)[）)])?"
    ),
    re.compile(rf"(?:[{_HAN}]{{1,8}}、)+[{_HAN}]{{1,8}}等(?:部门|单位)"),
    re.compile(r"(?:相关|有关)(?:行业)?(?:主管)?部门|行业主管部门"),
]
LEADERS_PAIR = re.compile(r"(县|市|区|镇|乡)(?:党)?委、\1(?:人民)?政府")
LEADERS = re.compile(r"(?:县|市|区)(?:委|政府)(?![办书常县])")
_SUFFIXES = (
    "领导小组办公室|委员会办公室|领导小组|委员会|办公室|管理局|管理处|服务中心|中心|分局|支行|分行|公司|银行|协会|医院|学校|"
    "局|委|办|部|院|所|站|队|处|室"
)
UNIT = re.compile(rf"(?:县|市|区|镇|乡)(?P<body>[{_HAN}]{{1,10}}?)(?:{_SUFFIXES})")
_BEFORE_UNIT = "由和及与同对向报请经送督促指导协助配合"
_UNIT_STOP = re.compile(r"[的与及对在要把将等各级之为是由向从按被了而并或且其这那每中内外前后以来全书记干部]")
TOWN = re.compile(
    rf"(?:^|(?<=[、由和及]))(?P<name>[{_HAN}]{{2,6}}?(?:街道|镇|乡))(?=要|应|须|负责|牵头|配合|、|和|及|[，,]|对|在|于|每|按|全面|切实)"
)
_LEAD = re.compile(r"(?:由|请|要求|确保|同时|并|其中|对此|各级)?")
_JOIN = re.compile(r"(?:牵头)?(?:、|和|及|与|会同|，|,)?(?:会同)?")
_AFTER_SUBJECT = re.compile(
    r"(?:主要负责同志|负责同志|分管负责同志)?(?:要|应|须|必须|既要|每|是|牵头|负责|统筹|主抓|于|对)"
)
_ASSIST = re.compile(r"(?:等)?(?:配合|协助|协同|参与)")
_SEPARATORS = re.compile(r"[，,；;：:。]")


@dataclass(frozen=True)
class Known:
    """A name the county's unit list gives (its name, short name or group name), as written."""

    words: str
    kind: str
    name: str


def normalize(name: str) -> str:
    """One spelling for comparing names: full-width brackets, no spaces."""
    return name.replace("(", "（").replace(")", "）").replace(" ", "").replace("\u3000", "")


def find_mentions(text: str, known: list[Known] = ()) -> list[Owner]:
    """Every body named in the text, longest names first where they overlap."""
    found: list[Owner] = []
    taken: list[tuple[int, int]] = []
    norm = normalize(text)

    def add(start: int, end: int, kind: str, name: str) -> None:
        if any(a < end and start < b for a, b in taken):
            return
        taken.append((start, end))
        found.append(Owner(name, kind, (start, end)))

    for item in sorted(known, key=lambda k: -len(k.words)):
        words = normalize(item.words)
        for m in re.finditer(re.escape(words), norm):
            add(m.start(), m.end(), item.kind, item.name)
    for m in ROLE.finditer(text):
        add(m.start(), m.end(), "role", normalize(m.group(0)))
    for pattern in GROUPS:
        for m in pattern.finditer(text):
            add(m.start(), m.end(), "group", normalize(m.group(0)))
    for m in LEADERS_PAIR.finditer(text):
        add(m.start(), m.end(), "unit", m.group(0))
    for start in (m.start() for m in re.finditer(r"[县市区镇乡]", text)):
        if start and re.match(rf"[{_HAN}]", text[start - 1]) and text[start - 1] not in _BEFORE_UNIT:
            continue  # 全县, 本县, 乡镇: part of another word
        end = _longest_unit(text, start)
        if end:
            add(start, end, "unit", text[start:end])
    for m in LEADERS.finditer(text):
        add(m.start(), m.end(), "unit", m.group(0))
    for m in TOWN.finditer(text):
        if "乡镇" not in m["name"] and "城乡" not in m["name"] and not m["name"].startswith("各"):
            add(m.start("name"), m.end("name"), "unit", m["name"])
    return sorted(found, key=lambda o: o.span)


def _longest_unit(text: str, start: int) -> int:
    """The end of the longest unit name starting here (县扶贫开发领导小组办公室 over 县扶贫开发领导小组)."""
    best = 0
    for end in range(start + 2, min(len(text), start + 16) + 1):
        m = UNIT.fullmatch(text, start, end)
        if m and not _UNIT_STOP.search(m["body"]):
            best = end
    return best


def subjects(text: str, mentions: list[Owner]) -> tuple[list[Owner], list[Owner]]:
    """(owners, co-owners): the mentions in subject position, in order."""
    owners: list[Owner] = []
    assists: list[Owner] = []
    previous_end = None
    for mention in mentions:
        start, end = mention.span
        clause_start = max([m.end() for m in _SEPARATORS.finditer(text, 0, start)], default=0)
        gap = text[clause_start:start]
        joined = previous_end is not None and _JOIN.fullmatch(text[previous_end:start]) is not None
        if _LEAD.fullmatch(gap) or joined or _AFTER_SUBJECT.match(text, end):
            if _ASSIST.match(text, end):
                assists.append(Owner(mention.name, mention.kind, mention.span, assists=True))
            else:
                owners.append(mention)
            previous_end = _end_of_subject(text, end)
        else:
            previous_end = None
    return owners, assists


def _end_of_subject(text: str, end: int) -> int:
    m = re.compile(r"(?:等)?(?:牵头|配合|协助)?").match(text, end)
    return m.end() if m else end


def split_cell(cell: str) -> list[str]:
    """Names in a table's owner cell: 县农业农村委、各乡镇（街道）."""
    return [part.strip() for part in re.split(r"[、，,；;/\n]|\s{1,}|和|及", cell) if part.strip()]
