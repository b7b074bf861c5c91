"""The web app for officials: sign for, report done with evidence, verify. `create_app`, `server`, `serve`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import FastAPI

    from duban.config import Settings


def create_app(settings: Settings, now: Callable[[], datetime] | None = None, engine: Any = None,
               replay: bool = False) -> FastAPI:
    """The FastAPI app; `now` is the clock (tests pass a fixed one); `replay`: `now` is a replayed moment."""
    from duban.web.app import create_app as build

    return build(settings, now=now, engine=engine, replay=replay)


def server(settings: Settings, *, host: str = "127.0.0.1", port: int = 8000, now: Callable[[], datetime] | None = None,
           log_level: str = "warning", replay: bool = False) -> Any:
    """A uvicorn.Server for the app, not yet running: `.run()` blocks; run it in a thread beside other work
    and stop it with `.should_exit = True`."""
    import uvicorn

    config = uvicorn.Config(create_app(settings, now=now, replay=replay), host=host, port=port, log_level=log_level,
                            proxy_headers=True, server_header=False)
    return uvicorn.Server(config)


def serve(settings: Settings, *, host: str = "127.0.0.1", port: int = 8000, now: Callable[[], datetime] | None = None,
          replay: bool = False) -> None:
    """Run the web app until interrupted (what `duban web` does); `now` and `replay` as for `create_app`."""
    server(settings, host=host, port=port, log_level="info", now=now, replay=replay).run()
