"""The Jinja environment: a deployment's own template folder first, then the shipped templates/."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, select_autoescape

from duban.config import ROOT
from duban.timeutil import WEEKDAYS, chinese_date

SHIPPED = ROOT / "templates"


def _local(moment: datetime, tz: str | ZoneInfo) -> datetime:
    return moment.astimezone(ZoneInfo(tz) if isinstance(tz, str) else tz)


def _cn_date(value: date | datetime, tz: str | ZoneInfo | None = None) -> str:
    if isinstance(value, datetime):
        value = (_local(value, tz) if tz else value).date()
    return chinese_date(value)


def _cn_datetime(value: datetime, tz: str | ZoneInfo | None = None) -> str:
    local = _local(value, tz) if tz else value
    return f"{chinese_date(local.date())} {local:%H:%M}"


def _cn_weekday(value: date) -> str:
    return f"星期{WEEKDAYS[value.weekday()]}"


_DICT_ATTRIBUTES = frozenset(dir(dict))


class _Environment(Environment):
    """Jinja's environment, with `item.title` on a plain dict looked up as a key at once: Jinja tries the attribute
    first and catches the AttributeError, which costs more than the rest of the lookup (and messages render
    dozens of them). The answer is the same: a plain dict's attributes are exactly dir(dict)."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)


def environment(override_dir: str | Path | None = None, reload: bool = True) -> Environment:
    """Templates from `override_dir` win over the shipped ones; HTML is autoescaped. `reload=False`: a template is
    read once (for a run that renders thousands of messages; a long-lived server sees edits)."""
    folders = [Path(override_dir)] if override_dir else []
    loader = ChoiceLoader([FileSystemLoader(str(folder)) for folder in [*folders, SHIPPED]])
    env = _Environment(
        loader=loader,
        autoescape=select_autoescape(["html", "htm", "xml", "svg"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=reload,
    )
    env.filters.update(cn_date=_cn_date, cn_datetime=_cn_datetime, cn_weekday=_cn_weekday)
    return env
