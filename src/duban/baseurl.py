"""Where officials reach the web pages: DUBAN_BASE_URL, else the address `duban web` last served on, else loopback.

`duban web --host/--port` writes its address to `var/web-address`, so the links that flows and `duban link`
make follow it when DUBAN_BASE_URL is unset.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

DEFAULT = "http://127.0.0.1:8000"
RECORD = "web-address"
DEMO_MARK = "demo.json"


def recorded(var_dir: str | Path) -> str:
    """The address `duban web` recorded in the var folder, or ''."""
    path = Path(var_dir) / RECORD
    return path.read_text(encoding="utf-8").strip() if path.is_file() else ""


def served_at(host: str, port: int) -> str:
    """The base URL of a server listening on host:port (all addresses: this machine's name)."""
    if host in ("", "0.0.0.0", "::"):
        import socket  # here: load_settings imports this module, and `duban status` starts without sockets

        host = socket.gethostname() or "127.0.0.1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"


def record(var_dir: str | Path, url: str) -> None:
    """Remember the address `duban web` serves on, for links made elsewhere."""
    folder = Path(var_dir)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / RECORD).write_text(url + "\n", encoding="utf-8")


def source(environ: dict[str, str], settings: Any) -> str:
    """Where the settings' base URL came from, in a few words for `duban link`."""
    if "DUBAN_BASE_URL" in environ:
        return "DUBAN_BASE_URL"
    if settings.base_url == recorded(settings.var_dir):
        return f"DUBAN_BASE_URL is unset: the address `duban web` serves on ({Path(settings.var_dir) / RECORD})"
    if settings.base_url != DEFAULT:
        return "duban.toml"
    return "the loopback default: set DUBAN_BASE_URL to the address officials reach"


def loopback(url: str) -> bool:
    """Whether a URL points at this machine only (no official's phone reaches it)."""
    import ipaddress
    from urllib.parse import urlsplit

    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_demo(var_dir: str | Path) -> bool:
    """Whether this var folder belongs to `duban demo`."""
    return (Path(var_dir) / DEMO_MARK).is_file()
