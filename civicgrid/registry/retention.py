"""Files of finished import and export jobs are deleted ``REGISTRY_JOB_FILE_DAYS`` (default 7) after
the job finished: an uploaded import holds full ID numbers, its error report the rows as given, an
export a list of people. The job's record stays (who, when, how many rows, the outcome) with
``files_deleted_at`` set, and each deletion is in the change log (the job's file fields emptied).
Run daily by ``registry.tasks.delete_old_job_files``."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from .models import ExportJob, ImportJob
from .models.jobs import FINISHED, file_days

#: The file fields of each job model.
FILE_FIELDS = {ImportJob: ("source", "error_file"), ExportJob: ("result",)}


def delete_old_job_files(now: datetime | None = None) -> dict[str, int]:
    """Delete the files of the jobs that finished more than ``file_days()`` ago (once per job);
    the number of jobs whose files went, by kind."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=file_days())
    counts = {}
    for model, fields in FILE_FIELDS.items():
        done = 0
        stale = model.objects.filter(
            status__in=FINISHED, finished_at__lt=cutoff, files_deleted_at__isnull=True
        ).values_list("pk", flat=True)
        for pk in list(stale.order_by("pk")):
            with transaction.atomic():
                job = model.objects.select_for_update().filter(pk=pk, files_deleted_at__isnull=True).first()
                if job is None:
                    continue
                for name in fields:
                    getattr(job, name).delete(save=False)  # a file already gone is no error
                job.files_deleted_at = now
                job.save(update_fields=[*fields, "files_deleted_at", "updated_at"])
                done += 1
        counts[model._meta.model_name] = done
    return counts
