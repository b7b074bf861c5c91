"""The `duban` command. Each module of this package adds its commands to `app` (in cli.common)."""

from __future__ import annotations

import sys


def _load_commands() -> None:
    import importlib
    import pkgutil

    for module in pkgutil.iter_modules(__path__):
        if module.name != "common":
            importlib.import_module(f"{__name__}.{module.name}")


def main() -> None:
    """Entry point of the console script (logging is set up by the app's callback, in cli.common).

    A clean `status` or store `calendar` command line is served by the light read path, before typer, pydantic
    and SQLAlchemy load (duban.readpath.front); everything else goes to the full app."""
    from duban.readpath.front import serve

    if serve(sys.argv[1:]):
        return
    from duban.cli.common import app

    _load_commands()
    app()
