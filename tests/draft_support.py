"""Helpers for the draft tests: a Word plan with automatic numbering, and tasks as plain values."""

from __future__ import annotations

from pathlib import Path

DRAFT_DATA = Path(__file__).parent / "data" / "draft"

_ABSTRACT = """<w:abstractNum {ns} w:abstractNumId="90">
  <w:multiLevelType w:val="multilevel"/>
  <w:lvl w:ilvl="0"><w:start w:val="1"/><w:numFmt w:val="chineseCounting"/><w:lvlText w:val="%1、"/></w:lvl>
  <w:lvl w:ilvl="1"><w:start w:val="1"/><w:numFmt w:val="chineseCounting"/><w:lvlText w:val="（%2）"/></w:lvl>
  <w:lvl w:ilvl="2"><w:start w:val="1"/><w:numFmt w:val="decimal"/><w:lvlText w:val="%3."/></w:lvl>
</w:abstractNum>"""


def write_word_plan(path: Path) -> Path:
    """A town's flood plan as Word writes it: list numbering (一、 （一） 1.) kept in numbering.xml, not in the text."""
    import docx
    from docx.oxml import parse_xml
    from docx.oxml.ns import nsdecls

    document = docx.Document()
    numbering = document.part.numbering_part.element
    numbering.insert(0, parse_xml(_ABSTRACT.format(ns=nsdecls("w"))))
    numbering.append(parse_xml(f'<w:num {nsdecls("w")} w:numId="90"><w:abstractNumId w:val="90"/></w:num>'))

    def numbered(text: str, level: int) -> None:
        paragraph = document.add_paragraph(text)
        ppr = paragraph._p.get_or_add_pPr()
        ppr.append(parse_xml(f'<w:numPr {nsdecls("w")}><w:ilvl w:val="{level}"/><w:numId w:val="90"/></w:numPr>'))

    document.add_paragraph("某某镇2025年防汛工作方案")
    document.add_paragraph("2025年4月1日")
    document.add_paragraph("为做好2025年防汛工作，确保安全度汛，制定本方案。")
    numbered("工作安排", 0)
    numbered("汛前准备", 1)
    numbered("镇应急办5月15日前完成辖区隐患点排查。", 2)
    numbered("各村（社区）每周开展一次巡查，汛期每日报告雨情水情。", 2)
    numbered("汛期值守（6月1日至9月30日）", 1)
    numbered("镇防汛办实行领导带班值班制度。", 2)
    table = document.add_table(rows=2, cols=4)
    for cell, text in zip(table.rows[0].cells, ["序号", "任务", "责任单位", "完成时间"], strict=True):
        cell.text = text
    for cell, text in zip(table.rows[1].cells, ["1", "完成防汛物资储备", "镇应急办", "5月31日前"], strict=True):
        cell.text = text
    numbered("工作要求", 0)
    numbered("加强领导", 1)
    document.add_paragraph("镇党委、镇政府每月至少召开2次防汛工作专题会议。", style="List Number")
    document.add_paragraph("各村（社区）要持续做好群众转移避险演练。")
    document.save(str(path))
    return path


def plain(task) -> dict:
    """A draft task as the plain values the expected files list."""
    s = task.schedule
    result: dict = {"ref": task.ref, "quote": task.quote}
    if s.every:
        result["every"] = s.every
        if s.times > 1:
            result["times"] = s.times
    else:
        result["due"] = s.due.isoformat()
        if s.start:
            result["from"] = s.start.isoformat()
    result["owners"] = [o.name for o in task.owners]
    if task.co_owners:
        result["co_owners"] = [o.name for o in task.co_owners]
    if task.target:
        t = task.target
        result["target"] = [t.metric, t.op, t.value, t.unit]
    return result
