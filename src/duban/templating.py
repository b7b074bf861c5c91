"""The Jinja environment: a deployment's own template folder first, then the shipped templates/."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
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


def environment(override_dir: str | Path | None = None) -> Environment:
    """Templates from `override_dir` win over the shipped ones; HTML is autoescaped."""
    folders = [Path(override_dir)] if override_dir else []
    loader = ChoiceLoader([FileSystemLoader(str(folder)) for folder in [*folders, SHIPPED]])
    env = Environment(
        loader=loader,
        autoescape=select_autoescape(["html", "htm", "xml", "svg"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(cn_date=_cn_date, cn_datetime=_cn_datetime, cn_weekday=_cn_weekday)
    return env
