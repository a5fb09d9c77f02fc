"""Background work of the registry: spreadsheet imports and exports, restarting the ones whose
worker died, and deleting the files of old ones."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, lock_task

from civicgrid.core.context import acting_as


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


@db_periodic_task(crontab(hour="3", minute="40"))
@lock_task("registry-job-files")
def delete_old_job_files() -> dict[str, int]:
    """Delete the spreadsheets of imports and exports finished ``REGISTRY_JOB_FILE_DAYS`` ago."""
    from .retention import delete_old_job_files

    with acting_as(None):
        return delete_old_job_files()
