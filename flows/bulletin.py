"""The monthly bulletin (月通报), on the 1st for the previous month, into var/bulletins/ (HTML and XLSX)."""

import tempfile
from datetime import UTC, datetime

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from duban import runs
from duban.bulletin import month_close, parse_month, previous_month, write_bulletin
from duban.config import Settings, load_settings
from duban.sheets.data import load_plan


@task(name="render-bulletin", cache_policy=NO_CACHE)
def render_bulletin(settings: Settings, plan_id: str, month: str, moment: datetime, out_dir: str) -> list[str]:
    """Render the month's bulletin in every format (one task run)."""
    engine = runs.open_store(settings, migrate=False)
    first = parse_month(month)
    with engine.connect() as connection:
        moment = min(moment, month_close(first, load_plan(connection, plan_id)))
    paths = write_bulletin(engine=engine, plan_id=plan_id, month=first, out_dir=out_dir, as_of=moment,
                           templates_dir=settings.templates_dir or None)
    return [str(path) for path in paths]


@flow(name="bulletin", log_prints=True)
def bulletin(
    as_of: str | None = None, plan: str | None = None, dry_run: bool = False, month: str | None = None,
) -> dict:
    """The bulletin of `month` (YYYY-MM; default: the month before `as_of`), judged at the month's end."""
    settings = load_settings()
    engine = runs.open_store(settings)
    plan_id, tz, moment = runs.plan_and_moment(engine, plan, as_of, datetime.now(UTC))
    month = month or f"{previous_month(moment.astimezone(tz).date()):%Y-%m}"
    if dry_run:
        with tempfile.TemporaryDirectory() as folder:
            paths = render_bulletin(settings, plan_id, month, moment, folder)
    else:
        paths = render_bulletin(settings, plan_id, month, moment, str(settings.var_path / "bulletins"))
    lines = [f"bulletin {plan_id} {month}" + (" (dry run: nothing kept)" if dry_run else ""),
             *([] if dry_run else paths)]
    print("\n".join(lines))
    return {"plan": plan_id, "month": month, "files": [] if dry_run else paths, "lines": lines}


if __name__ == "__main__":
    bulletin()
