"""The `duban` command. Each module of this package adds its commands to `app`."""

from __future__ import annotations

import importlib
import pkgutil

from duban.cli.common import app


def _load_commands() -> None:
    for module in pkgutil.iter_modules(__path__):
        if module.name != "common":
            importlib.import_module(f"{__name__}.{module.name}")


def main() -> None:
    """Entry point of the console script (logging is set up by the app's callback, in cli.common)."""
    _load_commands()
    app()
