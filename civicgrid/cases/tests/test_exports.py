"""Exports of cases and of their statistics: the export permission, the file's content (no reporter's
name or phone), the reader's scope and filters, the job and its pages, the access log."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from openpyxl import load_workbook

from civicgrid.areas.models import Area
from civicgrid.cases import exports, services
from civicgrid.cases.models import Case
from civicgrid.cases.statistics import case_statistics, this_year
from civicgrid.core.models import AccessLog
from civicgrid.core.testing import make_user
from civicgrid.registry.models import ExportJob
from civicgrid.registry.models.jobs import JobStatus

pytestmark = pytest.mark.django_db

EXPORT_CASES = reverse("case_stats:export_cases")
EXPORT_STATS = reverse("case_stats:export_statistics")


@pytest.fixture
def cases(report, people, units):
    """Two cases in the community official's community (one dispatched, one rejected), one in 长洲区."""
    dispatched = report(reporter_name="王小明", reporter_phone="13812345678")
    services.case_dispatch(case=dispatched, actor=people["dispatcher"], department=units["D450403-01"])
    rejected = report(code="0201", reporter_phone="13900001111")
    services.case_reject(case=rejected, actor=people["dispatcher"], reason="不属实")
    far = report(grid="450405001001001", reporter_name="远方人")
    return {"dispatched": Case.objects.get(pk=dispatched.pk), "rejected": rejected, "far": far}


def rows(job) -> list[tuple]:
    return list(
        load_workbook(job.result.open("rb"), read_only=True).worksheets[0].iter_rows(values_only=True)
    )


def test_export_needs_the_permission(client, cases, people):
    for who in ("grid_worker", "handler", "resident"):
        client.force_login(people[who])
        assert client.post(EXPORT_CASES).status_code == 403, who
        assert client.post(EXPORT_STATS).status_code == 403, who
    assert not ExportJob.objects.exists()
    assert not AccessLog.objects.filter(kind="export").exists()
    with pytest.raises(PermissionDenied):
        exports.export_cases_start(actor=people["grid_worker"], filters={})
    with pytest.raises(PermissionDenied):
        exports.export_statistics_start(actor=people["grid_worker"], area=None, period=this_year())


def test_case_export_file_scope_and_access_log(client, cases, people):
    official = people["community"]
    client.force_login(official)
    res = client.post(EXPORT_CASES)
    job = ExportJob.objects.get()
    assert res.status_code == 302 and res.url == reverse("case_stats:export", args=[job.pk])
    assert job.kind == exports.CASES and job.status == JobStatus.DONE and job.row_count == 2
    table = rows(job)
    assert "导出人 / exported by: t_community" in table[0][0]
    assert table[1][0] == "事件编号" or table[1][0] == "Case number"
    numbers = [r[0] for r in table[2:]]
    assert numbers == [cases["rejected"].number, cases["dispatched"].number]  # newest first; not 长洲区's
    dispatched = table[3]
    assert dispatched[4:8] == ("万秀区", "角嘴街道", "三角嘴社区", "三角嘴社区第01网格")
    assert dispatched[11] == "万秀区城市管理局" and dispatched[14] in ("Green", "绿灯", "绿")
    text = repr(table)
    for secret in ("王小明", "13812345678", "138****5678", "13900001111", "路边垃圾"):
        assert secret not in text
    logged = AccessLog.objects.get(kind="export")
    assert logged.user == official and logged.object_id == str(job.pk)
    assert logged.detail["rows"] == 2 and logged.detail["kind"] == "cases"

    page = client.get(res.url)
    assert (
        page.status_code == 200
        and reverse("case_stats:export_download", args=[job.pk]) in page.content.decode()
    )
    status = client.get(reverse("case_stats:export_status", args=[job.pk])).json()
    assert status["finished"] and status["rows"] == 2
    download = client.get(reverse("case_stats:export_download", args=[job.pk]))
    assert download.status_code == 200 and b"".join(download.streaming_content)[:2] == b"PK"
    assert AccessLog.objects.filter(kind="export").count() == 2
    assert AccessLog.objects.filter(kind="export", detail__download=True).count() == 1


def test_case_export_follows_the_list_filters(client, cases, people, units):
    client.force_login(people["dispatcher"])
    client.post(f"{EXPORT_CASES}?status=dispatched&department={units['D450403-01'].pk}")
    job = ExportJob.objects.get()
    assert job.filters == {"status": "dispatched", "unit": str(units["D450403-01"].pk)}
    assert [r[0] for r in rows(job)[2:]] == [cases["dispatched"].number]
    assert "dispatched" in repr(AccessLog.objects.get(kind="export").detail["filters"])
    res = client.post(f"{EXPORT_CASES}?status=bogus")
    assert res.status_code == 302 and res.url == reverse("case_stats:statistics")
    assert ExportJob.objects.count() == 1


def test_the_city_sees_every_case(client, cases, people):
    client.force_login(people["dispatcher"])
    client.post(EXPORT_CASES)
    assert ExportJob.objects.get().row_count == 3


def test_big_exports_run_in_the_task_queue(
    client, cases, people, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(exports, "SYNC_LIMIT", 1)
    monkeypatch.setattr(exports, "CHUNK", 2)  # several chunks: the keyset pagination is exercised
    client.force_login(people["dispatcher"])
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        client.post(EXPORT_CASES)
    assert len(callbacks) == 1
    job = ExportJob.objects.get()
    assert job.status == JobStatus.DONE and job.row_count == 3
    assert [r[0] for r in rows(job)[2:]] == [c.number for c in Case.objects.order_by("-id")]
    info = dict(
        load_workbook(job.result.open("rb"), read_only=True).worksheets[1].iter_rows(values_only=True)
    )
    assert info["行数 / rows"] == 3


def test_statistics_export(client, cases, people):
    client.force_login(people["dispatcher"])
    street = Area.objects.get(code="450403005000")
    period = this_year()
    res = client.post(EXPORT_STATS, {"area": street.pk, "start": period.start, "end": period.end})
    job = ExportJob.objects.get()
    assert res.status_code == 302 and job.kind == exports.STATISTICS and job.status == JobStatus.DONE
    assert job.filters == {"area": street.pk, **period.as_dict()}
    book = load_workbook(job.result.open("rb"), read_only=True)
    overview, areas, units = (list(ws.iter_rows(values_only=True)) for ws in book.worksheets)
    data = case_statistics(people["dispatcher"], street, period)
    assert overview[1][1] == data["total"] == 2
    assert [r[0] for r in areas[2:]] == [a["name"] for a in data["areas"]]
    assert [r[0] for r in units[2:]] == [u["name"] for u in data["units"]]
    assert AccessLog.objects.get(kind="export").detail["kind"] == exports.STATISTICS
    page = client.get(res.url).content.decode()
    assert street.name in page


def test_statistics_export_of_an_area_out_of_scope_is_refused(client, cases, people):
    client.force_login(people["community"])
    elsewhere = Area.objects.get(code="450405")
    res = client.post(EXPORT_STATS, {"area": elsewhere.pk})
    assert res.status_code == 302 and not ExportJob.objects.exists()


def test_jobs_are_their_owners_and_their_apps(client, cases, people):
    client.force_login(people["dispatcher"])
    client.post(EXPORT_CASES)
    job = ExportJob.objects.get()
    other = make_user("t_other_dispatcher", "dispatcher")
    client.force_login(other)
    for name in ("case_stats:export", "case_stats:export_status", "case_stats:export_download"):
        assert client.get(reverse(name, args=[job.pk])).status_code == 404
    # The registry's export pages do not open a case export (one job table, separate kinds).
    admin = make_user("t_admin", "sysadmin")
    job.created_by = admin
    job.save(update_fields=["created_by"])
    client.force_login(admin)
    assert client.get(reverse("registry:export", args=[job.pk])).status_code == 404
    page = client.get(reverse("case_stats:export", args=[job.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    # The registry's job page with the case export's own heading and back link.
    titlebar = html[html.index('<div class="titlebar">') : html.index('<div class="card" id="job"')]
    assert f"#{job.pk}" in titlebar and reverse("case_stats:statistics") in titlebar
    assert reverse("registry:people") not in titlebar


def test_a_stale_job_is_resumed_by_the_case_task_only(cases, people):
    from datetime import timedelta

    from django.utils import timezone

    from civicgrid.registry.exports import resume_stale_exports as registry_resume

    job = ExportJob.objects.create(
        kind=exports.CASES, filters={}, area=Area.objects.get(code="450400"), created_by=people["dispatcher"]
    )
    ExportJob.objects.filter(pk=job.pk).update(updated_at=timezone.now() - timedelta(hours=1))
    assert registry_resume() == []
    assert exports.resume_stale_exports() == [job.pk]
    job.refresh_from_db()
    assert job.status == JobStatus.DONE and job.row_count == 3


def test_an_export_whose_writer_lost_the_permission_fails_cleanly(cases, people):
    user = people["dispatcher"]
    job = exports.export_cases_start(actor=user, filters={})
    assert job.status == JobStatus.DONE
    user.posts.all().delete()
    again = ExportJob.objects.create(kind=exports.CASES, filters={}, area=job.area, created_by=user)
    from civicgrid.accounts.models import User

    done = exports.run_export(again.pk)
    assert done.status == JobStatus.FAILED and done.message
    assert User.objects.filter(pk=user.pk).exists()


def test_statistics_of_the_whole_scope(cases, people):
    job = exports.export_statistics_start(actor=people["dispatcher"], area=None, period=this_year())
    assert job.status == JobStatus.DONE and job.row_count == 3
    overview = list(
        load_workbook(job.result.open("rb"), read_only=True).worksheets[0].iter_rows(values_only=True)
    )
    assert "t_dispatcher" in overview[0][0] and overview[1][1] == 3
