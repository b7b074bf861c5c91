"""Deployment settings: environment variables, then duban.toml, then defaults. Never the catalog."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Settings:
    """Where the store lives and how to reach people."""

    database_url: str = "sqlite:///db/duban.sqlite"
    var_dir: str = "var"
    catalog: str = "tasks_catalog.yaml"
    contacts: str = ""
    templates_dir: str = ""
    smtp_url: str = ""
    sms_url: str = ""
    dingtalk_url: str = ""
    wecom_url: str = ""
    secret: str = ""
    base_url: str = "http://127.0.0.1:8000"
    quiet_hours: str = "21:00-08:00"
    sms_daily_cap: int = 5
    send_lease_seconds: int = 600  # a message claimed this long ago and not sent is claimed again
    prefect_keep_seconds: int = 900  # Prefect's local server, kept for the runs that follow; 0: one per command
    upload_max_mb: int = 20
    archive_max_people_pct: int = 20  # a sync archiving more of the live people is refused
    archive_max_reported_pct: int = 5  # ... or more of the live items that carry reports

    @property
    def var_path(self) -> Path:
        """The folder for the outbox, evidence and other run-time files."""
        return Path(self.var_dir)


def load_settings(environ: dict[str, str] | None = None, toml_path: str | Path | None = None) -> Settings:
    """Settings from DUBAN_* environment variables over duban.toml over defaults."""
    environ = dict(os.environ) if environ is None else environ
    toml_path = Path(toml_path or environ.get("DUBAN_CONFIG", "duban.toml"))
    values: dict[str, object] = {}
    if toml_path.is_file():
        import tomllib  # here, not at the top: `duban status` starts faster without it

        with toml_path.open("rb") as handle:
            try:
                values.update(tomllib.load(handle).get("duban", {}))
            except tomllib.TOMLDecodeError as error:
                raise ValueError(f"{toml_path}: not valid TOML: {error}") from None
    known = {spec.name for spec in fields(Settings)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"{toml_path}: unknown setting(s) {', '.join(unknown)}")
    for spec in fields(Settings):
        raw = environ.get(f"DUBAN_{spec.name.upper()}")
        if raw is not None:
            values[spec.name] = _whole(raw, f"DUBAN_{spec.name.upper()}") if spec.type == "int" else raw
        elif spec.type == "int" and spec.name in values and not _is_whole(values[spec.name]):
            raise ValueError(f"{toml_path}: {spec.name} = {values[spec.name]!r} is not a whole number")
    if "base_url" not in values:  # unset: follow the address `duban web --host/--port` serves on
        from duban.baseurl import recorded

        values["base_url"] = recorded(str(values.get("var_dir", Settings.var_dir))) or Settings.base_url
    return Settings(**values)


def _is_whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _whole(raw: str, name: str) -> int:
    try:
        return int(raw.strip())
    except ValueError:
        raise ValueError(f"{name}: '{raw}' is not a whole number") from None
