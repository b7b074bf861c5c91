"""Is anything due to send? One query with the store's own driver and no ORM, so that `duban run dispatch` with
nothing to send answers at once instead of starting Prefect. The rule is `outbox._eligible`'s (tested against it)."""

from __future__ import annotations

from datetime import datetime, timedelta

from duban.readpath.connect import open_reader

DUE = ("SELECT 1 FROM notification WHERE (state = 'queued' AND not_before <= {as_of}) "
       "OR (state = 'failed' AND not_before <= {now}) OR (state = 'sending' AND claimed_at < {stale}) LIMIT 1")


def anything_due(url: str, *, as_of: datetime, now: datetime, lease: timedelta) -> bool | None:
    """Whether dispatch would claim anything at `as_of` / `now`; None when the store cannot be asked this way (no
    file yet, no outbox table yet, another kind of database): the caller then runs the dispatch as before."""
    reader = open_reader(url)
    if reader is None:
        return None
    sql = DUE.format(as_of=reader.param("as_of"), now=reader.param("now"), stale=reader.param("stale"))
    moments = {"as_of": reader.instant(as_of), "now": reader.instant(now), "stale": reader.instant(now - lease)}
    try:
        return bool(reader.all(sql, moments))
    except reader.errors:  # no outbox table yet: the dispatch flow creates it
        return None
    finally:
        reader.close()
