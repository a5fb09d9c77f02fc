"""Files of finished imports and exports are deleted REGISTRY_JOB_FILE_DAYS after the job finished;
the job's record stays, the pages say so, and the deletion is in the change log."""

from datetime import timedelta

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone

from civicgrid.core.models import ChangeLog
from civicgrid.registry import exports, retention, tasks
from civicgrid.registry.imports import is_retryable
from civicgrid.registry.models import ExportJob, ImportJob
from civicgrid.registry.models.jobs import ImportMode, JobStatus

from .test_export import exporter, people  # noqa: F401 - fixtures
from .test_import import BAD, importer, run  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db


@pytest.fixture
def jobs(importer, exporter, people, settings):  # noqa: F811 - fixtures
    settings.REGISTRY_JOB_FILE_DAYS = 7
    imported = run(importer, BAD, mode=ImportMode.VALID_ROWS)
    exported = exports.export_start(actor=exporter, filters={})
    exported.refresh_from_db()
    assert imported.status == JobStatus.DONE and imported.source and imported.error_file
    assert exported.status == JobStatus.DONE and exported.result
    return imported, exported


def names(job) -> list[str]:
    return [getattr(job, f).name for f in retention.FILE_FIELDS[type(job)]]


def test_files_go_after_the_retention_period_and_the_record_stays(jobs):
    imported, exported = jobs
    files = [*names(imported), *names(exported)]
    rows = exported.row_count
    assert all(default_storage.exists(name) for name in files)

    # Six days later nothing is deleted; eight days later the files go, once.
    assert retention.delete_old_job_files(now=timezone.now() + timedelta(days=6)) == {
        "importjob": 0,
        "exportjob": 0,
    }
    later = timezone.now() + timedelta(days=8)
    assert retention.delete_old_job_files(now=later) == {"importjob": 1, "exportjob": 1}
    assert not any(default_storage.exists(name) for name in files)
    imported.refresh_from_db()
    exported.refresh_from_db()
    assert not imported.source and not imported.error_file and not exported.result
    assert imported.files_deleted_at == later and exported.files_deleted_at == later
    assert imported.created_count == 3 and imported.error_count == 2 and exported.row_count == rows > 0
    assert retention.delete_old_job_files(now=later + timedelta(days=1)) == {"importjob": 0, "exportjob": 0}

    kind = ContentType.objects.get_for_model(ImportJob)
    change = ChangeLog.objects.filter(content_type=kind, object_id=str(imported.pk)).latest("id")
    assert change.before["source"] and change.after["source"] == "" and change.after["error_file"] == ""
    assert change.before["files_deleted_at"] is None and change.after["files_deleted_at"]
    assert change.user is None


def test_running_and_recent_jobs_keep_their_files(jobs, importer):  # noqa: F811 - fixture
    imported, exported = jobs
    ImportJob.objects.filter(pk=imported.pk).update(status=JobStatus.RUNNING)
    ExportJob.objects.filter(pk=exported.pk).update(finished_at=timezone.now() + timedelta(days=5))
    assert retention.delete_old_job_files(now=timezone.now() + timedelta(days=8)) == {
        "importjob": 0,
        "exportjob": 0,
    }


def test_the_daily_task_deletes_them(jobs, settings):
    settings.REGISTRY_JOB_FILE_DAYS = 0
    assert tasks.delete_old_job_files.call_local() == {"importjob": 1, "exportjob": 1}


def test_pages_say_the_files_were_deleted_and_downloads_are_gone(client, jobs, importer, exporter):  # noqa: F811
    imported, exported = jobs
    retention.delete_old_job_files(now=timezone.now() + timedelta(days=8))
    client.force_login(importer)
    page = client.get(reverse("registry:import", args=[imported.pk])).content.decode()
    assert 'id="files-deleted"' in page and "7" in page and 'id="error-file"' not in page
    assert client.get(reverse("registry:import_errors", args=[imported.pk])).status_code == 404
    client.force_login(exporter)
    page = client.get(reverse("registry:export", args=[exported.pk])).content.decode()
    assert 'id="files-deleted"' in page and 'id="download"' not in page
    assert client.get(reverse("registry:export_download", args=[exported.pk])).status_code == 404


def test_a_failed_import_whose_file_is_gone_cannot_be_run_again(jobs):
    imported, _ = jobs
    ImportJob.objects.filter(pk=imported.pk).update(status=JobStatus.FAILED)
    imported.refresh_from_db()
    assert is_retryable(imported)
    retention.delete_old_job_files(now=timezone.now() + timedelta(days=8))
    imported.refresh_from_db()
    assert not is_retryable(imported)
