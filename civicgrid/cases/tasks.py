"""Background and periodic work of event handling: the deadline sweep, case exports."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, lock_task

from . import deadlines


@db_periodic_task(crontab(minute="*"))
@lock_task("cases-deadline-sweep")
def sweep_deadlines() -> dict[str, int]:
    """Warn, supervise and escalate by the deadline policies (a second run finds nothing to do)."""
    return deadlines.sweep().as_dict()


@db_task()
def export_cases(job_id: int, language: str | None = None, request_id: str | None = None) -> str | None:
    """Write a case export's file (the case list, or the statistics tables)."""
    from .exports import run_export

    job = run_export(job_id, language=language, request_id=request_id)
    return job.status if job is not None else None


@db_periodic_task(crontab(minute="*/5"))
def resume_stale_exports() -> list[int]:
    """Case exports whose worker died (or whose queued task was lost) start again."""
    from .exports import resume_stale_exports as resume

    return resume()
