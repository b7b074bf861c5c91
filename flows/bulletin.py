"""The monthly bulletin (月通报), on the 1st for the previous month, into var/bulletins/ (HTML and XLSX)."""

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from duban.runbodies import bulletin_flow, bulletin_step

render_bulletin = task(name="render-bulletin", cache_policy=NO_CACHE)(bulletin_step)


@flow(name="bulletin", log_prints=True)
def bulletin(
    as_of: str | None = None, plan: str | None = None, dry_run: bool = False, month: str | None = None,
) -> dict:
    """The bulletin of `month` (YYYY-MM; default: the month before `as_of`), judged at the month's end."""
    result = bulletin_flow(as_of, plan, dry_run, month, step=render_bulletin)
    print("\n".join(result["lines"]))
    return result


if __name__ == "__main__":
    bulletin()
