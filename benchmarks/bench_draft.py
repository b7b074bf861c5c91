"""How much of the hand-made catalog `duban draft` finds in the shipped plan's text.

    python benchmarks/bench_draft.py            # recall, precision, and every miss and false find
    python benchmarks/bench_draft.py --quiet    # the numbers only

Recall: of the catalog's tasks whose schedule the text itself states (REFERENCE below: a date, a
rhythm, a year's figure, a stage heading's window), the share the draft finds: a draft task whose
quote overlaps the catalog task's quote (duban.draft.diff.overlap >= 0.6) and whose schedule is
the same (the same due day; or the same `every` and `times`). Precision: of the draft's tasks, the
share that match some catalog task (any of the 128) in that way. The catalog's other tasks are its
readings of undated sentences (R4 monthly, R5 campaign end, header of tasks_catalog.yaml): the draft
lists those sentences as 待定 instead, so they count for neither number.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from duban.catalog import load_catalog
from duban.draft.build import make_draft
from duban.draft.diff import SIMILAR, catalog_schedule, overlap, same_schedule

ROOT = Path(__file__).resolve().parent.parent
PLAN = ROOT / "examples" / "yunyang-2020-plan.txt"
CATALOG = ROOT / "tasks_catalog.yaml"

# The catalog tasks whose schedule the plan's text states, and the words that state it.
REFERENCE = {
    "leaders-study": "每半月至少…一次",
    "leading-group-meeting": "每月至少召开一次",
    "sector-heads-monthly": "每月至少研究推动一次",
    "pairing-monthly-contact": "每月至少开展一次",
    "ten-actions-dispatch": "每月统筹调度一次",
    "projects-daily": "日调度",
    "projects-weekly": "周研判",
    "projects-monthly": "月通报",
    "home-teaching-weekly": "一周不得少于一次",
    "health-data-monthly": "月比对、月通报",
    "office-monthly-bulletin": "实行月通报制度",
    "special-fund-spending": "2020年…达92%以上",
    "carryover-1y": "(2020年…) 不超过2%",
    "carryover-2y": "(2020年…) 无2年以上结转结余资金",
    "integrated-fund-spending": "2020年…达80%以上",
    "product-sales-rank": "全年…前两位",
    "migrant-workers-count": "今年…不少于去年",
    "weihai-workers-count": "今年…不少于去年",
    "projects-unblock": "(same sentence) 9月15日前",
    "projects-started": "9月15日前",
    "projects-completed": "11月底前",
    "housing-moved-in": "11月底前全部入住",
    "water-consolidation": "年底前…9.5万人",
    "inspection-rectification": "10月底前",
    "other-rectification": "11月底前",
    "institution-building": "10月底前",
    "dynamic-management": "2020年度",
    "assessment-reports": "12月10日前",
    "poverty-day": "“10•17”扶贫日",
    "mobilize-plan": "heading 动员部署(9月1日至9月5日)",
    "mobilize-meeting": "heading 动员部署(9月1日至9月5日)",
    "campaign-summary": "12月25日前",
}
# Left out, with the catalog's own reason: consumption-month (a date from outside the text),
# common-problems-towns and depts-guide-towns (11月底 taken from the item's title, not their
# sentences), unit-campaign-progress and home-teaching-hours (monthly by reading R4).


def measure() -> dict:
    """Recall, precision and the lists behind them."""
    catalog = load_catalog(CATALOG)
    started = time.perf_counter()
    draft = make_draft(PLAN)
    seconds = time.perf_counter() - started
    by_id = {t.id: t for t in catalog.tasks}
    missing = sorted(set(REFERENCE) - set(by_id))
    if missing:
        raise SystemExit(f"REFERENCE names tasks the catalog lacks: {missing}")

    def matches(task, found) -> bool:
        return overlap(task.quote, found.quote) >= SIMILAR and same_schedule(task, found)

    found_ids = [i for i in REFERENCE if any(matches(by_id[i], f) for f in draft.tasks)]
    real = [f for f in draft.tasks if any(matches(t, f) for t in catalog.tasks)]
    return {
        "draft": draft,
        "catalog": catalog,
        "seconds": seconds,
        "recall": len(found_ids) / len(REFERENCE),
        "precision": len(real) / len(draft.tasks) if draft.tasks else 0.0,
        "found": found_ids,
        "missed": [i for i in REFERENCE if i not in found_ids],
        "false": [f for f in draft.tasks if f not in real],
        "real": real,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quiet", action="store_true", help="print the numbers only")
    args = parser.parse_args()
    result = measure()
    draft, by_id = result["draft"], {t.id: t for t in result["catalog"].tasks}
    if not args.quiet:
        for task_id in result["missed"]:
            task = by_id[task_id]
            print(f"missed  {task_id} {task.ref} {catalog_schedule(task)} [{REFERENCE[task_id]}] {task.quote[:50]}")
        for found in result["false"]:
            print(f"not real  {found.ref} {found.schedule.describe()} [{found.schedule.words}] {found.quote[:50]}")
    print(
        f"recall {len(result['found'])}/{len(REFERENCE)} = {result['recall']:.0%}; "
        f"precision {len(result['real'])}/{len(draft.tasks)} = {result['precision']:.0%}; "
        f"待定 {len(draft.pending)} sentences; {result['seconds']:.2f} s"
    )


if __name__ == "__main__":
    main()
