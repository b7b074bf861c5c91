"""The units, groups and roles a draft names: the county's own list (--units) first, new names after.

A name the list knows keeps the list's id, so a county reuses its unit list plan after plan. A name
it does not know gets an id from the name itself (the same name, the same id, every run). A group
the text names but the list lacks gets the placeholder member 待定, which `duban check` names.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from duban.catalog import SLUG
from duban.draft.model import Owner
from duban.draft.owners import Known, normalize
from duban.yamlsrc import Located, LocatedList, YamlSyntaxError, load_located

PLACEHOLDER = "待定"
_PREFIX = {"unit": "unit", "group": "group", "role": "role"}


@dataclass
class Book:
    """Units, groups and roles by id, and every known name to its owner expression."""

    units: dict[str, dict[str, str]] = field(default_factory=dict)
    groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)
    office: str | None = None
    given: set[str] = field(default_factory=set)
    names: dict[str, str] = field(default_factory=dict)

    def known(self) -> list[Known]:
        """The names to look for in the text, as written in the list."""
        result = []
        for unit in self.units.values():
            for words in {unit["name"], unit.get("short", "")} - {""}:
                result.append(Known(words, "unit", unit["name"]))
        result += [Known(g["name"], "group", g["name"]) for g in self.groups.values()]
        result += [Known(name, "role", name) for name in self.roles.values()]
        return result

    def expression(self, owner: Owner) -> str:
        """The catalog's owner expression for a named body, adding it when the list lacks it."""
        key = normalize(owner.name)
        if key in self.names:
            return self.names[key]
        ident = _ident(owner.kind, key, set(self.units) | set(self.groups) | set(self.roles))
        if owner.kind == "role":
            self.roles[ident] = owner.name
            expr = f"role:{ident}"
        elif owner.kind == "group":
            self.groups[ident] = {"id": ident, "name": owner.name, "members": [PLACEHOLDER]}
            expr = f"group:{ident}"
        else:
            self.units[ident] = {"id": ident, "name": owner.name}
            expr = ident
        self.names[key] = expr
        return expr

    def joint(self, owners: list[Owner]) -> str:
        """One owner for several bodies named together (各乡镇（街道）、县级相关部门): a group of them."""
        members = [self.expression(o) for o in owners]
        name = "、".join(o.name for o in owners)
        key = normalize(name)
        if key not in self.names:
            ident = _ident("group", key, set(self.units) | set(self.groups) | set(self.roles))
            self.groups[ident] = {"id": ident, "name": name, "members": members}
            self.names[key] = f"group:{ident}"
        return self.names[key]


def _ident(kind: str, name: str, taken: set[str]) -> str:
    digest = hashlib.sha1(name.encode()).hexdigest()
    for size in range(6, 41):
        ident = f"{_PREFIX[kind]}-{digest[:size]}"
        if ident not in taken:
            return ident
    raise ValueError(f"no free id for {name}")


def load_units(path: Path) -> Book:
    """A county's unit list (units:, groups:, roles:, plan.office or office:; a whole catalog does too)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not UTF-8 text") from None
    try:
        doc = load_located(text, str(path))
    except YamlSyntaxError as error:
        raise ValueError(str(error)) from None
    if not isinstance(doc, Located) or not isinstance(doc.get("units"), LocatedList):
        raise ValueError(f"{path}:1:1: a unit list needs 'units:', a list of {{id, name}}")
    book = Book()
    for kind, key in (("unit", "units"), ("group", "groups"), ("role", "roles")):
        items = doc.get(key)
        if items is None:
            continue
        if not isinstance(items, LocatedList):
            raise ValueError(f"{doc.value_where[key]}: '{key}' must be a list")
        for item, where in zip(items, items.item_where, strict=False):
            _add(book, kind, item, where)
    plan = doc.get("plan")
    office = plan.get("office") if isinstance(plan, Located) else doc.get("office")
    if office is not None:
        if str(office) not in book.units:
            where = plan.value_where.get("office") if isinstance(plan, Located) else doc.value_where["office"]
            raise ValueError(f"{where}: office: unknown unit '{office}'")
        book.office = str(office)
    return book


def _add(book: Book, kind: str, item: Any, where: Any) -> None:
    if not isinstance(item, Located) or "id" not in item or "name" not in item:
        raise ValueError(f"{where}: each entry needs 'id' and 'name'")
    ident, name = str(item["id"]), str(item["name"])
    if not SLUG.match(ident):
        raise ValueError(f"{item.value_where['id']}: id '{ident}' must be lowercase letters, digits, '-' or '_'")
    if ident in book.units or ident in book.groups or ident in book.roles:
        raise ValueError(f"{item.value_where['id']}: duplicate id '{ident}'")
    book.given.add(ident)
    if kind == "unit":
        book.units[ident] = {k: str(item[k]) for k in ("id", "name", "short", "kind") if item.get(k)}
        book.names[normalize(name)] = ident
        if item.get("short"):
            book.names.setdefault(normalize(str(item["short"])), ident)
    elif kind == "group":
        members = item.get("members") or []
        if not isinstance(members, LocatedList):
            raise ValueError(f"{item.value_where.get('members', where)}: members must be a list")
        book.groups[ident] = {"id": ident, "name": name, "members": [str(m) for m in members]}
        book.names[normalize(name)] = f"group:{ident}"
    else:
        book.roles[ident] = name
        book.names[normalize(name)] = f"role:{ident}"
