"""`duban doctor`: is this deployment able to do its job? Each check says what it saw."""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import Engine, select, text

from duban.config import Settings
from duban.private import too_open
from duban.redact import ADDRESS_IS_SECRET, mask_url, scrub, url_secrets

CALENDAR_FIX = "list that year's holidays and extra_workdays in the plan"


@dataclass(frozen=True)
class Check:
    """One thing checked: whether it is fine, and what was seen."""

    name: str
    ok: bool
    detail: str


def check_database(engine: Engine) -> list[Check]:
    """The store answers, and its tables are at the newest migration."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from duban.store import _alembic_config

    where = engine.url.render_as_string(hide_password=True)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            current = set(MigrationContext.configure(connection).get_current_heads())
    except Exception as error:
        return [Check("database", False, f"{where}: {error.__class__.__name__}: {str(error).splitlines()[0]}")]
    heads = set(ScriptDirectory.from_config(_alembic_config(engine)).get_heads())
    migrated = current == heads
    detail = (
        "at the newest migration"
        if migrated
        else f"needs migrating (at {sorted(current) or 'nothing'}; run `duban sync`)"
    )
    return [Check("database", True, where), Check("migrations", migrated, detail)]


def check_calendars(engine: Engine) -> list[Check]:
    """Every plan's years, and the year after (escalations spill over), are known to its workday calendar."""
    from duban.catalog import CatalogError, parse_catalog
    from duban.models import PlanRow
    from duban.schedule import calendar_for

    checks = []
    try:
        with engine.connect() as connection:
            plans = connection.execute(select(PlanRow.id, PlanRow.catalog_text)).all()
    except Exception:
        return []
    for plan_id, catalog_text in plans:
        try:
            catalog = parse_catalog(catalog_text, f"plan {plan_id}")
        except CatalogError as error:
            checks.append(Check(f"calendar {plan_id}", False, str(error.problems[0])))
            continue
        plan = catalog.plan
        missing = calendar_for(catalog).missing_years(
            plan.start, plan.end.replace(year=plan.end.year + 1, day=1, month=1)
        )
        detail = (
            f"{plan.workdays} calendar covers {plan.start.year}-{plan.end.year + 1}"
            if not missing
            else f"no official calendar for {', '.join(map(str, missing))}: {CALENDAR_FIX}"
        )
        checks.append(Check(f"calendar {plan_id}", not missing, detail))
    return checks


def _reachable(url: str, default_port: int, timeout: float) -> str | None:
    parts = urlsplit(url)
    host, port = parts.hostname, parts.port or default_port
    if not host:
        return "no host in the URL"
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except OSError as error:
        return f"cannot connect to {host}:{port}: {error}"


def check_channels(settings: Settings, timeout: float = 3.0) -> list[Check]:
    """Each configured channel's URL is well-formed and its server accepts a connection; no secret is shown."""
    secrets = [piece for url in _channel_urls(settings) for piece in url_secrets(url)]
    return [Check(c.name, c.ok, scrub(c.detail, secrets)) for c in _channel_checks(settings, timeout)]


def _channel_urls(settings: Settings) -> list[str]:
    return [url for url in (settings.smtp_url, settings.sms_url, settings.dingtalk_url, settings.wecom_url) if url]


def _channel_checks(settings: Settings, timeout: float) -> list[Check]:
    from duban.notify import describe, senders

    try:
        configured = describe(senders(settings))
    except ValueError as error:
        return [Check("channels", False, str(error))]
    urls = {
        "email": (settings.smtp_url, 25),
        "sms": (settings.sms_url, 443),
        "dingtalk": (settings.dingtalk_url, 443),
        "wecom": (settings.wecom_url, 443),
    }
    checks = []
    for channel, where in configured.items():
        url, port = urls.get(channel, ("", 0))
        if not url:
            checks.append(Check(f"channel {channel}", True, f"local outbox: {where} (nothing leaves this machine)"))
            continue
        if urlsplit(url).scheme in ("dingtalk", "wecombot", "wechat", "aliyun", "tencent"):
            robot = urlsplit(url).scheme in ADDRESS_IS_SECRET  # a robot's key is its address: show it masked
            shown = mask_url(url).partition("?")[0] if robot else where
            checks.append(Check(f"channel {channel}", True, f"{shown} (configured; reached over HTTPS when sending)"))
            continue
        problem = _reachable(url, 465 if url.startswith("smtps") else port, timeout)
        checks.append(Check(f"channel {channel}", problem is None, problem or f"{where} answers"))
    return checks


def check_secret(settings: Settings) -> Check:
    """Personal links need a signing secret of at least 32 bytes."""
    from duban.links import MIN_SECRET_BYTES, secret_problem

    stored = settings.var_path / "secret"
    if not settings.secret and not stored.exists():
        return Check("secret", True, f"none yet: one is made and kept in {stored} on first use")
    problem = secret_problem(settings)
    if problem:
        return Check("secret", False, problem)
    where = "DUBAN_SECRET is set" if settings.secret else f"kept in {stored}"
    return Check("secret", True, f"{where} (at least {MIN_SECRET_BYTES} bytes)")


def check_private_files(settings: Settings, engine: Engine) -> Check:
    """The store file, the link secret, the local outbox and evidence are not readable by other users."""
    from duban.notify import outbox_dir

    var = settings.var_path
    paths = [var / "secret", outbox_dir(settings), var / "evidence"]
    if engine.url.get_backend_name() == "sqlite" and engine.url.database not in (None, "", ":memory:"):
        paths.insert(0, Path(engine.url.database))
    exposed = [path for path in paths if too_open(path)]
    if not exposed:
        return Check("private files", True, "store, secret, outbox and evidence readable by their owner only")
    fixes = " ".join(f"chmod {'-R go-rwx' if path.is_dir() else '600'} {path};" for path in exposed)
    return Check("private files", False, f"others may read {', '.join(map(str, exposed))}: {fixes.rstrip(';')}")


def check_prefect(api_url: str | None, get: Callable[[str], int] | None = None) -> Check:
    """The Prefect server answers, when one is configured (otherwise flows use the kept local one)."""
    if not api_url:
        return Check("prefect", True, "no PREFECT_API_URL: flows start or reuse a local server (fine for one machine)")
    if get is None:
        import httpx

        def get(url: str) -> int:
            return httpx.get(url, timeout=5).status_code

    try:
        status = get(api_url.rstrip("/") + "/health")
    except Exception as error:
        return Check("prefect", False, f"{api_url}: {error.__class__.__name__}: {error}")
    return Check("prefect", status == 200, f"{api_url} answered {status}")


def check_base_url(settings: Settings) -> Check:
    """Links in messages must reach officials: the loopback default only does for a demo (a warning, not a failure)."""
    from duban.baseurl import is_demo, loopback

    if not loopback(settings.base_url):
        return Check("base url", True, settings.base_url)
    if is_demo(settings.var_dir):
        return Check("base url", True, f"{settings.base_url} (loopback: fine for the demo)")
    return Check("base url", True, f"warning: {settings.base_url} is loopback, so links in messages reach only this "
                                   "machine: set DUBAN_BASE_URL to the address officials open")


def run_checks(settings: Settings, engine: Engine, prefect_api_url: str | None) -> list[Check]:
    """Every check, in the order a person would fix things."""
    return [
        *check_database(engine),
        *check_calendars(engine),
        *check_channels(settings),
        check_secret(settings),
        check_base_url(settings),
        check_private_files(settings, engine),
        check_prefect(prefect_api_url),
    ]
