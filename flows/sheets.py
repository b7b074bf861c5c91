"""Write the status sheet every morning into var/sheets/: HTML (screen, phone, A4), XLSX ledger, Markdown."""

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from duban.runbodies import sheet_step, sheets_flow

render_sheet = task(name="render-sheet", cache_policy=NO_CACHE)(sheet_step)


@flow(name="sheets", log_prints=True)
def sheets(as_of: str | None = None, plan: str | None = None, dry_run: bool = False) -> dict:
    """The status sheet at `as_of` (default: now); `dry_run` renders it and keeps nothing."""
    result = sheets_flow(as_of, plan, dry_run, step=render_sheet)
    print("\n".join(result["lines"]))
    return result


if __name__ == "__main__":
    sheets()
