"""The state rule spelled as SQL text for the read path: the same judgement as `duban.status.status_at`."""

from __future__ import annotations

from duban.status import DONE_STATES

_DONE = ", ".join(f"'{state}'" for state in DONE_STATES)


def state_sql(moment: str) -> str:
    """A CASE giving each occurrence's state at the moment named by the parameter `moment` (as `status_column`)."""
    m = moment
    return (
        "CASE"
        f" WHEN state = 'waived' AND waived_at <= {m} THEN 'waived'"
        f" WHEN state IN ({_DONE}) AND reported_at <= {m} AND reported_at <= due THEN 'done'"
        f" WHEN state IN ({_DONE}) AND reported_at <= {m} THEN 'done_late'"
        f" WHEN superseded_at < {m} AND due < {m} THEN 'missed'"
        f" WHEN due < {m} THEN 'overdue'"
        f" WHEN first_reminder_at <= {m} THEN 'due_soon'"
        " ELSE 'upcoming' END"
    )


def narrowing_sql(state: str, moment: str) -> str:
    """A condition every occurrence in `state` meets, cheap to test or served by the (plan_id, due) index.

    Only a help to the planner: the CASE still decides, so the answer is the rule's whichever way this leans."""
    m = moment
    return {
        "waived": "state = 'waived'",
        "done": f"state IN ({_DONE})",
        "done_late": f"state IN ({_DONE})",
        "missed": f"due < {m}",
        "overdue": f"due < {m}",
        "due_soon": f"due >= {m}",
        "upcoming": f"due >= {m}",
    }.get(state, "1 = 1")
