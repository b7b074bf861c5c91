"""What the demo's officials received: sizes, list lengths and counts per person, from the local outbox.

    DUBAN_DATABASE_URL=sqlite:////tmp/x/duban.sqlite DUBAN_VAR_DIR=/tmp/x/var duban demo --until 2020-12-31
    python benchmarks/demo_messages.py /tmp/x/var --until 2020-10-29 --show 2020-10-28 --people p0011 p0009 p0001

Reads the Maildir and the SMS log the local channels write (`var/outbox/`); each message's day is the run that
made it (its X-Duban-Key). A "list" is a run of numbered entries (1. 2. 3. ...) in an email's plain text;
"entries listed" counts every numbered entry of one email, the digest's sub-entries ((1) (2) ...) included, since
an email now has up to three lists (overdue, due soon, roll-up lines) and the digest a block per unit.
"""

from __future__ import annotations

import argparse
import csv
import json
import mailbox
import re
import statistics
from collections import Counter, defaultdict
from datetime import date, datetime
from email.header import decode_header, make_header
from pathlib import Path

ENTRY = re.compile(r"^(\d+)\. ")
ANY_ENTRY = re.compile(r"(?m)^\s*\(?\d+[.)] ")  # 1. or (1) at a line's start
URL = re.compile(r"https?://\S+")
MAX_EMAIL_BYTES = 30 * 1024


def _day(key: str) -> date:
    """The day of the run that made a message: notice/<plan>/<20201028T010000>/<person>/<channel>/<hash>, or the
    Monday of digest/<plan>/<person>/<2020-W44>."""
    if key.startswith("digest/"):
        year, week = key.split("/")[3].split("-W")
        return date.fromisocalendar(int(year), int(week), 1)
    stamp = key.split("/")[2]
    return datetime.strptime(stamp[:8], "%Y%m%d").date()  # 09:00 Shanghai is 01:00 UTC: the same day


def _person(key: str) -> str:
    return key.split("/")[2 if key.startswith("digest/") else 3]


def _text(message: mailbox.MaildirMessage) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            return part.get_payload(decode=True).decode("utf-8")
    return ""


def longest_list(text: str) -> int:
    """Entries in the longest numbered list of a text."""
    longest = current = 0
    for line in text.splitlines():
        match = ENTRY.match(line)
        if match:
            current = int(match.group(1))
            longest = max(longest, current)
    return longest


def entries_listed(text: str) -> int:
    """Numbered entries in all of a text's lists, sub-entries included."""
    return len(ANY_ENTRY.findall(text))


def emails(var: Path, until: date) -> list[dict]:
    """Every notice and digest email up to `until`: day, person, kind, bytes, subject, text."""
    box = mailbox.Maildir(var / "outbox" / "maildir", create=False)
    found = []
    for key in box.iterkeys():
        message = box[key]
        dkey = " ".join(str(message["X-Duban-Key"]).split())
        if not dkey.startswith(("notice/", "digest/")):
            continue
        day = _day(dkey)
        if day > until:
            continue
        path = Path(box._path) / box._lookup(key)  # the file's size is what a mail server sees
        found.append({"day": day, "person": _person(dkey), "kind": dkey.split("/")[0], "bytes": path.stat().st_size,
                      "subject": str(make_header(decode_header(message["Subject"] or ""))), "text": _text(message)})
    return found


def sms(var: Path, until: date) -> list[dict]:
    """Every SMS up to `until`: day, person, text."""
    path = var / "outbox" / "sms.jsonl"
    rows = [json.loads(line) for line in path.open(encoding="utf-8")] if path.exists() else []
    return [{"day": _day(r["key"]), "person": r["person"], "text": r["text"]} for r in rows
            if r["key"].startswith("notice/") and _day(r["key"]) <= until]


def report(var: Path, until: date, show_day: date | None, people: list[str], contacts: Path) -> dict:
    """The numbers, and the named people's messages on `show_day`."""
    names = {row["id"]: f"{row['name']}（{row.get('title') or row['unit']}）"
             for row in csv.DictReader(contacts.open(encoding="utf-8"))}
    mails, texts = emails(var, until), sms(var, until)
    per_day = Counter((m["person"], m["day"]) for m in mails)
    per_person = Counter(m["person"] for m in mails)
    days_with_mail = defaultdict(set)
    for m in mails:
        days_with_mail[m["person"]].add(m["day"])
    workdays = len({m["day"] for m in mails} | {t["day"] for t in texts})
    biggest = max(mails, key=lambda m: m["bytes"])
    listiest = max(mails, key=lambda m: longest_list(m["text"]))
    notice = max((m for m in mails if m["kind"] == "notice"), key=lambda m: m["bytes"])
    fullest = max(mails, key=lambda m: entries_listed(m["text"]))
    longest_text = max(texts, key=lambda t: len(t["text"]), default={"text": "", "person": "", "day": ""})
    messages_per_day = Counter((m["person"], m["day"]) for m in [*mails, *texts])
    result = {
        "until": until.isoformat(), "emails": len(mails), "sms": len(texts), "run_days_with_messages": workdays,
        "largest_email_bytes": biggest["bytes"],
        "largest_email": f"{names.get(biggest['person'])} {biggest['day']} {biggest['kind']}",
        "largest_notice_bytes": notice["bytes"], "largest_notice": f"{names.get(notice['person'])} {notice['day']}",
        "largest_digest_bytes": max((m["bytes"] for m in mails if m["kind"] == "digest"), default=0),
        "emails_over_30k": sum(1 for m in mails if m["bytes"] > MAX_EMAIL_BYTES),
        "longest_list_entries": longest_list(listiest["text"]),
        "longest_list_email": f"{names.get(listiest['person'])} {listiest['day']}",
        "most_entries_listed": entries_listed(fullest["text"]),
        "most_entries_email": f"{names.get(fullest['person'])} {fullest['day']} {fullest['kind']}",
        "longest_sms_chars": len(longest_text["text"]),
        "longest_sms": f"{names.get(longest_text['person'])} {longest_text['day']}: {longest_text['text']}",
        "longest_sms_chars_without_link": max((len(URL.sub("", t["text"])) for t in texts), default=0),
        "sms_over_70": sum(1 for t in texts if len(t["text"]) > 70),
        "most_messages_one_person_one_day": max(messages_per_day.values(), default=0),
        "most_messages_one_person": max(Counter(m["person"] for m in [*mails, *texts]).values(), default=0),
        "most_emails_one_person_one_day": max(per_day.values(), default=0),
        "most_emails_one_person": per_person.most_common(1)[0][1] if per_person else 0,
        "most_emails_person": names.get(per_person.most_common(1)[0][0]) if per_person else "",
        "emails_per_person_per_day_mean": round(statistics.mean(per_day.values()), 2) if per_day else 0,
        "people_with_mail": len(per_person),
        "digests": sum(1 for m in mails if m["kind"] == "digest"),
        "mail_days": {names.get(p, p): len(days_with_mail[p]) for p in people},
        "emails_to": {names.get(p, p): per_person[p] for p in people},
        "notice_mail_days": {names.get(p, p): len({m["day"] for m in mails if m["person"] == p
                                                   and m["kind"] == "notice"}) for p in people},
    }
    if show_day:
        result["on"] = {names.get(p, p): [{"bytes": m["bytes"], "subject": m["subject"],
                                           "text": m["text"][:1500]} for m in mails
                                          if m["person"] == p and m["day"] == show_day]
                        + [{"sms": t["text"]} for t in texts if t["person"] == p and t["day"] == show_day]
                        for p in people}
    return result


def main() -> None:
    """Print the numbers as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("var", type=Path, help="the demo's DUBAN_VAR_DIR")
    parser.add_argument("--until", default="2020-12-31")
    parser.add_argument("--show", default="", help="a day whose messages to show for PEOPLE")
    parser.add_argument("--people", nargs="+", default=["p0011", "p0009", "p0001", "p0003"])
    parser.add_argument("--contacts", type=Path, default=Path(__file__).parent.parent / "examples" / "contacts.csv")
    args = parser.parse_args()
    show = date.fromisoformat(args.show) if args.show else None
    print(json.dumps(report(args.var, date.fromisoformat(args.until), show, args.people, args.contacts),
                     ensure_ascii=False, indent=2, default=str))


if __name__ == "__main__":
    main()
