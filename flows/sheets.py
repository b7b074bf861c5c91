"""Write the status sheet every morning into var/sheets/: HTML (screen, phone, A4), XLSX ledger, Markdown."""

import tempfile
from datetime import UTC, datetime

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from duban import runs
from duban.config import Settings, load_settings
from duban.sheets import write_status_sheet


@task(name="render-sheet", cache_policy=NO_CACHE)
def render_sheet(settings: Settings, plan_id: str, moment: datetime, out_dir: str) -> list[str]:
    """Render every format of the sheet at `moment` (one task run for the whole sheet)."""
    engine = runs.open_store(settings, migrate=False)
    paths = write_status_sheet(engine=engine, plan_id=plan_id, as_of=moment, out_dir=out_dir,
                               templates_dir=settings.templates_dir or None)
    return [str(path) for path in paths]


@flow(name="sheets", log_prints=True)
def sheets(as_of: str | None = None, plan: str | None = None, dry_run: bool = False) -> dict:
    """The status sheet at `as_of` (default: now); `dry_run` renders it and keeps nothing."""
    settings = load_settings()
    engine = runs.open_store(settings)
    plan_id, _tz, moment = runs.plan_and_moment(engine, plan, as_of, datetime.now(UTC))
    if dry_run:
        with tempfile.TemporaryDirectory() as folder:
            paths = render_sheet(settings, plan_id, moment, folder)
    else:
        paths = render_sheet(settings, plan_id, moment, str(settings.var_path / "sheets"))
    lines = [f"sheets {plan_id} as of {moment.isoformat()}" + (" (dry run: nothing kept)" if dry_run else ""),
             *([] if dry_run else paths)]
    print("\n".join(lines))
    return {"plan": plan_id, "as_of": moment.isoformat(), "files": [] if dry_run else paths, "lines": lines}


if __name__ == "__main__":
    sheets()
