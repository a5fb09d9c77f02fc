"""Spreadsheet import and export jobs: run in the task queue, report progress, keep their files for
``REGISTRY_JOB_FILE_DAYS`` after they finish (``registry.retention``)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from civicgrid.core.models import ScopedModel
from civicgrid.core.scope import scope_indexes


class JobStatus(models.TextChoices):
    PENDING = "pending", _("Waiting")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    REJECTED = "rejected", _("Rejected (errors found, nothing imported)")
    FAILED = "failed", _("Failed")


#: The statuses of a job that has ended (its page stops polling; its files are deleted later).
FINISHED = (JobStatus.DONE, JobStatus.REJECTED, JobStatus.FAILED)


class ImportMode(models.TextChoices):
    ALL_OR_NOTHING = "all", _("Import only if every row is valid")
    VALID_ROWS = "valid", _("Import the valid rows, report the others")


def file_days() -> int:
    """Days a finished job's files are kept (``REGISTRY_JOB_FILE_DAYS``, default 7)."""
    return int(getattr(settings, "REGISTRY_JOB_FILE_DAYS", 7))


class ImportJob(ScopedModel):
    """An uploaded spreadsheet being imported (area: the importer's post area)."""

    kind = models.CharField(_("kind"), max_length=20, default="people")
    mode = models.CharField(
        _("mode"), max_length=8, choices=ImportMode.choices, default=ImportMode.ALL_OR_NOTHING
    )
    source = models.FileField(_("file"), upload_to="imports/%Y/%m/")
    original_name = models.CharField(_("file name"), max_length=200)
    status = models.CharField(
        _("status"), max_length=10, choices=JobStatus.choices, default=JobStatus.PENDING, db_index=True
    )
    total_rows = models.PositiveIntegerField(_("rows"), default=0)
    processed_rows = models.PositiveIntegerField(_("rows processed"), default=0)
    created_count = models.PositiveIntegerField(_("created"), default=0)
    updated_count = models.PositiveIntegerField(_("updated"), default=0)
    error_count = models.PositiveIntegerField(_("errors"), default=0)
    error_file = models.FileField(_("error report"), upload_to="imports/errors/%Y/%m/", blank=True)
    message = models.CharField(_("message"), max_length=500, blank=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    files_deleted_at = models.DateTimeField(_("files deleted at"), null=True, blank=True)

    class Meta:
        verbose_name = _("import")
        verbose_name_plural = _("imports")
        ordering = ["-id"]
        indexes = scope_indexes("reg_importjob")

    def __str__(self) -> str:
        return self.original_name

    file_days = property(lambda self: file_days())

    @property
    def progress(self) -> int:
        return int(100 * self.processed_rows / self.total_rows) if self.total_rows else 0


class ExportJob(ScopedModel):
    """An export of a filtered, scoped list (area: the exporter's post area)."""

    kind = models.CharField(_("kind"), max_length=20, default="people")
    filters = models.JSONField(_("filters"), default=dict, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=JobStatus.choices, default=JobStatus.PENDING, db_index=True
    )
    row_count = models.PositiveIntegerField(_("rows"), default=0)
    result = models.FileField(_("file"), upload_to="exports/%Y/%m/", blank=True)
    message = models.CharField(_("message"), max_length=500, blank=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    files_deleted_at = models.DateTimeField(_("file deleted at"), null=True, blank=True)

    class Meta:
        verbose_name = _("export")
        verbose_name_plural = _("exports")
        ordering = ["-id"]
        indexes = scope_indexes("reg_exportjob")

    file_days = property(lambda self: file_days())

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk}"
