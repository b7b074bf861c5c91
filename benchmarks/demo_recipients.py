"""Reminders and escalations the demo sent, per kind of recipient, to 10-29 and to 12-31, from a demo's SQLite store.

    DUBAN_DATABASE_URL=sqlite:////tmp/x/x.sqlite DUBAN_VAR_DIR=/tmp/x/var duban demo --until 2020-12-31
    python benchmarks/demo_recipients.py /tmp/x/x.sqlite

Item notices are distinct (item or roll-up group, stage, person), channels counted once: reminders to the owner
(remind-N), escalations told to the owner (escalate-N, with repeats), and roll-up lines (group-LL-day; LL 00 is a
reminder to co-owners) by the hearer's place: in_charge, head, the office, leaders. Emails are counted per
recipient's place, digests apart.
"""
import sqlite3
import sys
from collections import Counter

LEADERSHIP = {"county-leaders", "leading-group"}
CUTS = {"10-29": "2020-10-29 16:00:00", "12-31": "2020-12-31 16:00:00"}  # end of the day in Shanghai, as UTC


def position(unit: str, roles: str, occ_unit: str | None = None) -> str:
    """Where a person stands: owner/liaison, in_charge, head, office or leaders."""
    roles = set(roles.split(";"))
    if occ_unit is not None and unit == occ_unit:
        return "in_charge" if "in_charge" in roles else "head" if "head" in roles else "owner/liaison"
    if unit == "office":
        return "office"
    if unit in LEADERSHIP or "leader" in roles:
        return "leaders"
    if occ_unit is None:
        return "in_charge" if "in_charge" in roles else "head" if "head" in roles else "owner/liaison"
    return "other unit"


def main(path: str) -> None:
    """Print the counts of one store."""
    db = sqlite3.connect(path)
    people = {pid: (unit, roles) for pid, unit, roles in db.execute("select id, unit_id, roles from person")}
    occurrences = db.execute("select count(*) from occurrence where archived = 0").fetchone()[0]
    print(f"{path}: {occurrences} occurrences")
    rows = db.execute("select distinct occurrence_id, stage, person_id, at from delivery").fetchall()
    for label, cut in CUTS.items():
        notices = Counter()
        for _occ, stage, person, at in rows:
            if at > cut:
                continue
            if stage.startswith("remind"):
                key = ("remind", "owner/liaison")
            elif stage.startswith("escalate"):
                key = ("escalate", "owner (own item)")
            else:  # group-LL-day: one roll-up line about a task's group of items, LL = level (00: reminder)
                key = ("remind" if stage.startswith("group-00") else "escalate", position(*people[person]))
            notices[key] += 1
        mails = Counter()
        for person, key in db.execute("select person_id, key from notification where channel = 'email' and as_of <= ?",
                                      (cut,)):
            mails[("digest" if key.startswith("digest/") else "notice", position(*people[person]))] += 1
        print(f"  to {label}: item notices (occurrence, stage, person): "
              + ", ".join(f"{k}->{w} {n}" for (k, w), n in sorted(notices.items()))
              + f"; total {sum(notices.values())}")
        print(f"  to {label}: emails by recipient: "
              + ", ".join(f"{k} {w} {n}" for (k, w), n in sorted(mails.items())) + f"; total {sum(mails.values())}")


if __name__ == "__main__":
    for path in sys.argv[1:]:
        main(path)
