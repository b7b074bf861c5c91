"""What every command shares: the app, settings, the store, friendly errors."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

import typer

from duban.catalog import CatalogError
from duban.config import Settings, load_settings
from duban.controlchars import printable
from duban.owners import NoSuchName

app = typer.Typer(
    help="督办 duban: turns a work plan into a deadline calendar and keeps officials on it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

F = TypeVar("F", bound=Callable[..., Any])


class Format(StrEnum):
    """Output formats of the reading commands."""

    table = "table"
    json = "json"
    csv = "csv"
    ics = "ics"


def user_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that are the user's mistake, shown as one line each, never as a traceback."""
    from duban.serving import PrefectUnavailable
    from duban.store import StoreError
    from duban.timeutil import MomentError

    return (StoreError, MomentError, ValueError, FileNotFoundError, PermissionError, PrefectUnavailable)


def friendly(command: F) -> F:
    """Show user mistakes as clear lines and exit 1."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except CatalogError as error:
            for problem in error.problems:
                typer.echo(str(problem), err=True)
            raise typer.Exit(1) from None
        except NoSuchName as error:  # a unit or person that is not there: a misused option, as click's exit 2
            typer.echo(f"duban: {printable(str(error))}", err=True)
            raise typer.Exit(2) from None
        except user_errors() as error:
            typer.echo(f"duban: {printable(str(error))}", err=True)
            raise typer.Exit(1) from None

    return wrapper


@app.callback()
@friendly
def _logging() -> None:
    # Set up inside the app (not before it), so a bad DUBAN_LOG_LEVEL is one clear line, never a traceback.
    import os

    from duban.logs import configure

    configure(os.environ.get("DUBAN_LOG_FORMAT"), os.environ.get("DUBAN_LOG_LEVEL"))


def settings() -> Settings:
    """The deployment's settings."""
    return load_settings()


def engine(migrate: bool = False):  # noqa: ANN201 - sqlalchemy imported lazily
    """The store's engine, optionally migrated to the newest tables."""
    from duban import store

    result = store.make_engine(settings().database_url)
    if migrate:
        store.migrate(result)
    return result


def now() -> datetime:
    """The clock, read only here at the edge."""
    from datetime import UTC

    return datetime.now(UTC)


def emit(text: str) -> None:
    """Write output as UTF-8 bytes, exactly (ICS needs its CRLF), tolerating a closed pipe (`| head`)."""
    try:
        sys.stdout.flush()
        sys.stdout.buffer.write((text if text.endswith("\n") else text + "\n").encode())
        sys.stdout.buffer.flush()
    except BrokenPipeError:
        sys.stderr.close()
