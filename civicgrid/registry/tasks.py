"""Background work of the registry: spreadsheet imports and exports, and restarting the ones whose
worker died."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task


@db_task()
def import_people(job_id: int, language: str | None = None, request_id: str | None = None) -> str | None:
    from .imports import run_import

    job = run_import(job_id, language=language, request_id=request_id)
    return job.status if job is not None else None


@db_task()
def export_people(job_id: int, language: str | None = None, request_id: str | None = None) -> str | None:
    from .exports import run_export

    job = run_export(job_id, language=language, request_id=request_id)
    return job.status if job is not None else None


@db_periodic_task(crontab(minute="*/5"))
def resume_stale_jobs() -> dict[str, list[int]]:
    """Imports and exports left running (the worker died) or waiting (the queued task was lost) for
    longer than their ``STALE_AFTER`` start again; a job that another worker is still running is
    left alone (it has recent progress)."""
    from .exports import resume_stale_exports
    from .imports import resume_stale_imports

    return {"imports": resume_stale_imports(), "exports": resume_stale_exports()}
