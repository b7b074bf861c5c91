"""`duban serve`: the deployments of prefect.yaml, each with its Cron schedule in the plan's timezone."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Engine


@dataclass
class Built:
    """Deployments ready to serve, and a line each for people."""

    deployments: list[Any] = field(default_factory=list)
    described: list[tuple[str, str]] = field(default_factory=list)


def plan_timezone(store: Engine | None) -> str | None:
    """The timezone of the store's only plan, if there is exactly one."""
    if store is None:
        return None
    from duban.store import StoreError
    from duban.views import pick_plan

    try:
        return pick_plan(store, None)[1].key
    except StoreError:
        return None


def deployments(path: Path, store: Engine | None = None) -> Built:
    """Build a deployment per entry of prefect.yaml; schedules use the plan's timezone when the store knows it."""
    from prefect.flows import load_flow_from_entrypoint
    from prefect.schedules import Cron

    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file (it declares the deployments to serve)")
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise ValueError(f"{path}: not valid YAML: {error}") from None
    tz = plan_timezone(store)
    built = Built()
    for index, item in enumerate(spec.get("deployments") or []):
        where = f"{path}: deployments[{index}]"
        if not isinstance(item, dict) or "entrypoint" not in item or "name" not in item:
            raise ValueError(f"{where}: needs a name and an entrypoint (flows/<name>.py:<name>)")
        file_part = item["entrypoint"].partition(":")[0]
        entry = item["entrypoint"]
        if not Path(file_part).is_file():
            from duban.config import ROOT

            entry = f"{ROOT / file_part}:{item['entrypoint'].partition(':')[2]}"
        flow = load_flow_from_entrypoint(entry)
        schedules = []
        for schedule in item.get("schedules") or []:
            if "cron" not in schedule:
                raise ValueError(f"{where}: only cron schedules are supported")
            zone = tz or schedule.get("timezone") or "Asia/Shanghai"
            schedules.append(Cron(schedule["cron"], timezone=zone))
            built.described.append((item["name"], f"cron '{schedule['cron']}' in {zone}"))
        if not schedules:
            built.described.append((item["name"], "no schedule (run it from the UI or `duban run`)"))
        built.deployments.append(flow.to_deployment(name=item["name"], schedules=schedules,
                                                    parameters=item.get("parameters") or {},
                                                    description=item.get("description")))
    if not built.deployments:
        raise ValueError(f"{path}: no deployments declared")
    return built


def serve_all(items: list[Any]) -> None:
    """Serve until stopped (Ctrl-C); schedules stay active when stopped (pause_on_shutdown=False)."""
    from prefect import serve

    serve(*items, pause_on_shutdown=False)


class PrefectUnavailable(RuntimeError):
    """Prefect's temporary server did not start: one line for people (its own output is in a log file)."""


def use_prefect_server(log_path: Path, keep_seconds: int) -> str | None:
    """From now on this process's flow runs talk to a Prefect server: the one PREFECT_API_URL names; else this Prefect
    home's kept server (`keep_seconds` > 0: the one running, or one started now that stops itself after that long
    without a client); else a temporary server for this command alone. Returns the address started or reused
    (None: PREFECT_API_URL's)."""
    import os

    from prefect.context import refresh_global_settings_context
    from prefect.settings import PREFECT_API_URL

    if PREFECT_API_URL.value():
        return None
    if keep_seconds <= 0 or (kept := kept_server(log_path, keep_seconds)) is None:
        return start_temporary_server(log_path)
    # For the whole process (a command runs its flows, then ends): Prefect's log and event threads read it too, and
    # its last flush at exit must not find the setting gone and start a temporary server of its own.
    os.environ["PREFECT_API_URL"] = kept.api_url
    refresh_global_settings_context()
    return kept.address


def kept_server(log_path: Path, keep_seconds: int, attempts: int = 2) -> Any:
    """This Prefect home's kept server (`duban.prefectserver`): the one that answers, else a new one, with the
    temporary server's retry and its one line when it cannot start. None when the home cannot be written (the
    temporary server then says why)."""
    import os

    from duban import prefectserver

    home = prefectserver.prefect_home()
    try:
        home.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    if not os.access(home, os.W_OK):
        return None
    with prefectserver.locked(home):
        found = prefectserver.running(home, prefectserver.fingerprint())
        if found is not None:
            return found
        return _with_retry(log_path, attempts, lambda wait: prefectserver.start(home, log_path, keep_seconds, wait))


def start_temporary_server(log_path: Path, attempts: int = 2) -> str:
    """Start Prefect's temporary (ephemeral) server now, once, so every flow run of the command uses it; a second
    try waits three times as long (a loaded machine starts it slowly). The server's own output goes to `log_path`,
    not to the terminal. Returns its address. (`use_prefect_server` calls it only when PREFECT_API_URL is unset.)"""
    from prefect.server.api.server import SubprocessASGIServer  # (~3 s of CPU to import: only when starting one)

    def attempt(wait: int) -> str:
        server = SubprocessASGIServer()
        with _stderr_to(log_path):  # (Prefect's own lines about starting and stopping it go there too)
            try:
                server.start(timeout=wait)
                return server.address
            except RuntimeError:
                server.stop()  # (and forget it, so the retry starts a new one)
                raise

    return _with_retry(log_path, attempts, attempt)


def _with_retry(log_path: Path, attempts: int, attempt: Any) -> Any:
    """`attempt(wait)` up to `attempts` times, each waiting three times as long as the last; one line if none works."""
    import os
    import sys

    from prefect.settings import PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS

    log_path.parent.mkdir(parents=True, exist_ok=True)
    wait, reason = int(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value()), ""
    for tried in range(attempts):
        try:
            return attempt(wait)
        except RuntimeError as error:  # (Prefect raises only RuntimeError when its server does not answer)
            reason = str(error).split(" stdout:")[0]
        if tried + 1 < attempts:
            print(f"duban: Prefect's temporary server did not answer within {wait} s; trying once more "
                  f"(up to {wait * 3} s)", file=sys.stderr)
            wait *= 3
    home = os.environ.get("PREFECT_HOME", "~/.prefect")
    raise PrefectUnavailable(
        f"Prefect's temporary server did not start (tried {attempts} times: {reason.rstrip('.')}); "
        f"its output is in {log_path}. Check that PREFECT_HOME ({home}) is a folder you can write, "
        f"or set PREFECT_API_URL to a running server (`prefect server start`)")


@contextmanager
def _stderr_to(path: Path) -> Iterator[None]:
    """Point file descriptor 2 at a file for a while: the server process inherits it, so its traceback lands there."""
    import os
    import sys

    sys.stderr.flush()
    saved = os.dup(2)
    with path.open("ab") as file:
        os.dup2(file.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
