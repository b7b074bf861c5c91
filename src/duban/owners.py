"""Who an --owner or --person option names: an id, or a unit's or person's name; else one line saying there is none.

A name that fits exactly one unit or person stands for its id; one that fits none (or several) is refused with
the close names, so a typo never reads as "nothing due"."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the CLI imports NoSuchName at start-up: SQLAlchemy and the models load only for a look-up
    from sqlalchemy import Engine


class NoSuchName(ValueError):
    """An option names no unit or person (the command exits 2, as for a misused option)."""


@dataclass(frozen=True)
class Known:
    """One unit or person: its id and the names it may be asked by."""

    id: str
    names: tuple[str, ...]
    label: str  # how the suggestion shows it: `青龙镇 (qinglong)`


def pick(option: str, text: str, known: Iterable[Known], what: str = "unit or person") -> str:
    """The id `text` names among `known`: the id itself, or the one whose name it is."""
    candidates = list(known)
    if any(item.id == text for item in candidates):
        return text
    named = {item.id for item in candidates if text in item.names}
    if len(named) == 1:
        return named.pop()
    if named:
        raise NoSuchName(f"{option}: '{text}' is the name of {len(named)} — {', '.join(sorted(named)[:5])}: "
                         f"give the id")
    raise NoSuchName(f"{option}: no {what} '{text}'" + _suggest(text, candidates))


def _suggest(text: str, candidates: list[Known]) -> str:
    """` (did you mean: 青龙镇 (qinglong), ...?)` for the close ids and names, or nothing."""
    by_key: dict[str, Known] = {}
    for item in candidates:
        for key in (item.id, *item.names):
            by_key.setdefault(key, item)
    close = difflib.get_close_matches(text, list(by_key), n=6, cutoff=0.6)
    close += [key for key in by_key if len(text) >= 2 and text in key and key not in close][:3]
    labels = list(dict.fromkeys(by_key[key].label for key in close))[:3]
    return f" (did you mean: {', '.join(labels)}?)" if labels else ""


def owner_id(engine: Engine, plan_id: str | None, text: str, option: str = "--owner") -> str:
    """The unit or person `text` names in the plan (any plan when None)."""
    from duban.models import PersonRow, UnitRow

    if _is_id(engine, plan_id, text, (UnitRow, PersonRow)):
        return text
    return pick(option, text, _units(engine, plan_id) + _people(engine, plan_id))


def person_id(engine: Engine, plan_id: str | None, text: str, option: str = "--person") -> str:
    """The person `text` names (id or name) in the plan (any plan when None)."""
    from duban.models import PersonRow

    if _is_id(engine, plan_id, text, (PersonRow,)):
        return text
    return pick(option, text, _people(engine, plan_id), "person")


def _is_id(engine: Engine, plan_id: str | None, text: str, models: tuple[type, ...]) -> bool:
    """Whether `text` is the id of a row of these tables (one indexed look-up each, before reading any list)."""
    from sqlalchemy import select

    with engine.connect() as connection:
        for model in models:
            table = model.__table__.c
            query = select(table.id).where(table.id == text).limit(1)
            if plan_id is not None:
                query = query.where(table.plan_id == plan_id)
            if connection.execute(query).first() is not None:
                return True
    return False


def _units(engine: Engine, plan_id: str | None) -> list[Known]:
    from sqlalchemy import select

    from duban.models import UnitRow

    unit = UnitRow.__table__.c
    query = select(unit.id, unit.name, unit.short)
    if plan_id is not None:
        query = query.where(unit.plan_id == plan_id)
    with engine.connect() as connection:
        return [Known(r.id, tuple(n for n in (r.name, r.short) if n), f"{r.short or r.name} ({r.id})")
                for r in connection.execute(query)]


def _people(engine: Engine, plan_id: str | None) -> list[Known]:
    from sqlalchemy import select

    from duban.models import PersonRow

    person = PersonRow.__table__.c
    query = select(person.id, person.name)
    if plan_id is not None:
        query = query.where(person.plan_id == plan_id)
    with engine.connect() as connection:
        return [Known(r.id, (r.name,) if r.name else (), f"{r.name} ({r.id})") for r in connection.execute(query)]
