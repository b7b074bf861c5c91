"""Prefect's local server, kept between commands: the first `duban run` starts it, the runs that follow reuse it
(seconds of start-up each, for a server they could share), and it stops itself once no client has spoken to it for
`keep` seconds.

One server per Prefect home, since it owns that home's database: its address is in `<PREFECT_HOME>/duban-server.json`
with what it was started with (Prefect's version, the interpreter, the PREFECT_* settings), and a run reuses it only
when these are its own and the server answers. A lock file makes two runs starting at once start one server.

`python -m duban.prefectserver --port N --keep S` is the server itself: Prefect's own app as `prefect server start`
runs it, without the UI, and with its services (the scheduler among them: `duban serve`'s schedules need it, which
Prefect's ephemeral server does not run), counting the requests and connections open.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

RECORD = "duban-server.json"
LOCK = "duban-server.lock"
# As `prefect server start --no-ui` starts its server (prefect.cli._server_utils), so its settings are final.
SERVER_ENV = {"PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_FINAL": "1"}
# Unless the deployment says otherwise: a county's server does not report usage to Prefect's company (offline, it
# only logged an error for each try).
SERVER_DEFAULTS = {"PREFECT_SERVER_ANALYTICS_ENABLED": "false"}


@dataclass(frozen=True)
class Kept:
    """A kept server, as its record says."""

    address: str
    pid: int
    fingerprint: str

    @property
    def api_url(self) -> str:
        return f"{self.address}/api"


def prefect_home() -> Path:
    """The Prefect home the server's database lives in (Prefect's own setting)."""
    from prefect.settings import PREFECT_HOME

    return Path(PREFECT_HOME.value()).expanduser()


# Settings only a client reads (how it logs, how long it waits for a server, where the API is): two commands that
# differ only in these share one server. Any other PREFECT_* setting may change what the server does.
CLIENT_ONLY = ("PREFECT_API_URL", "PREFECT_API_KEY", "PREFECT_LOGGING_", "PREFECT_CLIENT_", "PREFECT_SERVER_EPHEMERAL_")


def fingerprint(environ: dict[str, str] | None = None) -> str:
    """What a server must have been started with for this process to use it: Prefect's version, the interpreter,
    and every PREFECT_* variable a server reads (the database's URL among them), not the client's own (a demo's
    PREFECT_LOGGING_LEVEL would otherwise start a second server on the same home's database)."""
    import prefect

    environ = dict(os.environ) if environ is None else environ
    settings = sorted((k, v) for k, v in environ.items()
                      if k.startswith("PREFECT_") and not k.startswith(CLIENT_ONLY))
    text = json.dumps([prefect.__version__, sys.executable, settings])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def read_record(home: Path) -> Kept | None:
    """The record of the home's kept server, or None (none yet, or unreadable: a new server replaces it)."""
    try:
        return Kept(**json.loads((home / RECORD).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def answers(address: str, timeout: float = 2.0) -> bool:
    """Whether a Prefect server answers its health check at `address`."""
    import httpx

    try:
        return httpx.get(f"{address}/api/health", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def running(home: Path, wanted: str) -> Kept | None:
    """The home's kept server, if it was started with these settings, is alive and answers."""
    found = read_record(home)
    if found is None or found.fingerprint != wanted or not _alive(found.pid) or not answers(found.address):
        return None
    return found


def start(home: Path, log_path: Path, keep_seconds: int, wait_seconds: float) -> Kept:
    """Start a kept server in its own session (it outlives this command), wait until it answers, and record it.

    Raises RuntimeError when it does not answer within `wait_seconds` (the process is stopped then)."""
    import subprocess

    port = _free_port()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "duban.prefectserver", "--port", str(port), "--keep", str(keep_seconds),
             "--home", str(home)],
            env={**SERVER_DEFAULTS, **os.environ, **SERVER_ENV}, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            start_new_session=True)  # (Ctrl-C on this command does not stop the server the next runs use)
    address = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Prefect's server exited with code {process.returncode}")
        if answers(address, timeout=1.0):
            kept = Kept(address, process.pid, fingerprint())
            _write_record(home, kept)
            return kept
        time.sleep(0.1)
    process.terminate()
    process.wait()
    raise RuntimeError(f"Timed out while attempting to connect to Prefect's server on {address}")


def stop(home: Path) -> Kept | None:
    """Stop the home's kept server (if any) and forget it; returns what was stopped."""
    import signal

    found = read_record(home)
    if found is None:
        return None
    if _alive(found.pid):
        os.kill(found.pid, signal.SIGTERM)
    (home / RECORD).unlink(missing_ok=True)
    return found


@contextmanager
def locked(home: Path) -> Iterator[None]:
    """Hold the home's lock while looking for a server and starting one (two runs at once start one server)."""
    import fcntl

    home.mkdir(parents=True, exist_ok=True)
    with (home / LOCK).open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _write_record(home: Path, kept: Kept) -> None:
    staged = home / f"{RECORD}.{os.getpid()}"
    staged.write_text(json.dumps(asdict(kept)), encoding="utf-8")
    staged.replace(home / RECORD)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process now holds that number
        return False
    return True


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class IdleWatch:
    """An ASGI wrapper that knows how long no request or connection has been open."""

    def __init__(self, app: object) -> None:
        self.app = app
        self.open = 0
        self.last = time.monotonic()

    async def __call__(self, scope: dict, receive: object, send: object) -> None:
        if scope["type"] not in ("http", "websocket"):  # (the lifespan)
            await self.app(scope, receive, send)
            return
        self.open += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.open -= 1
            self.last = time.monotonic()

    def idle_for(self) -> float:
        return 0.0 if self.open else time.monotonic() - self.last


def serve(port: int, keep_seconds: int, home: Path) -> None:
    """Run Prefect's app on loopback until no client has spoken to it for `keep_seconds`, then forget the record."""
    import asyncio

    import uvicorn
    from prefect.server.api.server import create_app

    watch = IdleWatch(create_app())
    server = uvicorn.Server(uvicorn.Config(watch, host="127.0.0.1", port=port, log_level="error", lifespan="on"))

    async def stop_when_idle() -> None:
        while not server.should_exit:
            await asyncio.sleep(min(5.0, keep_seconds / 4))
            if watch.idle_for() >= keep_seconds:
                print(f"duban: Prefect's server on port {port} idle for {keep_seconds} s: stopping", file=sys.stderr)
                server.should_exit = True

    async def main() -> None:
        idle = asyncio.ensure_future(stop_when_idle())
        try:
            await server.serve()
        finally:
            idle.cancel()

    print(f"duban: Prefect's server (pid {os.getpid()}) on http://127.0.0.1:{port}, kept until idle for "
          f"{keep_seconds} s", file=sys.stderr, flush=True)
    try:
        asyncio.run(main())
    finally:
        found = read_record(home)
        if found is not None and found.pid == os.getpid():
            (home / RECORD).unlink(missing_ok=True)


def _main(argv: list[str]) -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m duban.prefectserver", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--keep", type=int, required=True, help="stop after this many seconds with no client")
    parser.add_argument("--home", type=Path, required=True, help="the Prefect home whose record names this server")
    options = parser.parse_args(argv)
    serve(options.port, options.keep, options.home)


if __name__ == "__main__":
    _main(sys.argv[1:])
