from io import BytesIO

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from civicgrid.accounts.models import Role
from civicgrid.accounts.roles import resolve_permissions
from civicgrid.accounts.services import post_create
from civicgrid.areas.models import Area
from civicgrid.core.models import AccessLog
from civicgrid.core.testing import make_user
from civicgrid.registry import exports, services
from civicgrid.registry.models import ExportJob, Tag
from civicgrid.registry.models.jobs import JobStatus
from civicgrid.registry.spreadsheets import safe_cell

from .conftest import make_house, rid

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(house, far_house):
    zhang = services.person_register(
        actor=None, name="张三", id_number=rid(11), phone="13812345678", house=house, note="=1+2"
    )
    services.person_set_tags(
        actor=None, person=zhang, tags=[Tag.objects.get(code="dibao"), Tag.objects.get(code="elderly")]
    )
    services.person_register(actor=None, name="+李四", id_number=rid(13), house=house, person_type="floating")
    services.person_register(actor=None, name="远方人", id_number=rid(15), house=far_house)
    return zhang


@pytest.fixture
def exporter(wuzhou):
    user = make_user("t_exporter", "community_official")
    user.display_name = "王科长"
    user.save()
    return user


def workbook(job):
    return load_workbook(job.result.open("rb"), read_only=True)


def data_rows(job) -> list[tuple]:
    return list(workbook(job).worksheets[0].iter_rows(min_row=3, values_only=True))


def test_export_needs_the_permission(client, people, wuzhou):
    client.force_login(make_user("t_gw", "grid_worker"))
    assert client.post(reverse("registry:export_people")).status_code == 403
    assert not ExportJob.objects.exists() and not AccessLog.objects.filter(kind="export").exists()
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        exports.export_start(actor=make_user("t_gw2", "grid_worker"), filters={})


def test_export_writes_scoped_masked_rows_with_exporter_and_time(client, people, exporter):
    client.force_login(exporter)
    res = client.post(reverse("registry:export_people"))
    job = ExportJob.objects.get()
    assert res.status_code == 302 and res.url == reverse("registry:export", args=[job.pk])
    assert job.status == JobStatus.DONE and job.row_count == 2 and job.created_by == exporter
    ws = workbook(job).worksheets[0]
    rows = list(ws.iter_rows(values_only=True))
    title = rows[0][0]
    assert "导出人 / exported by: 王科长 (t_exporter)" in title and "导出时间 / at: 20" in title
    assert "筛选条件 / filters:" in title
    names = [r[0] for r in rows[2:]]
    assert sorted(names) == ["'+李四", "张三"]  # 远方人 is outside the exporter's scope
    zhang = next(r for r in rows[2:] if r[0] == "张三")
    assert zhang[2] == rid(11)[:6] + "********" + rid(11)[-4:]
    assert zhang[4] == "138****5678"
    text = repr(rows)
    assert rid(11) not in text and "13812345678" not in text and rid(15) not in text
    info = {r[0]: r[1] for r in workbook(job).worksheets[1].iter_rows(values_only=True)}
    assert info["行数 / rows"] == 2 and "王科长" in info["导出人 / exported by"]
    log = AccessLog.objects.get(kind="export")
    assert log.user == exporter and log.detail["rows"] == 2 and log.detail["filters"] == {"status": "active"}
    assert log.object_id == str(job.pk)


def test_export_follows_the_page_filters(client, people, exporter, grid):
    client.force_login(exporter)
    url = reverse("registry:export_people") + f"?person_type=floating&grid={grid.pk}&status="
    client.post(url)
    job = ExportJob.objects.get()
    assert [r[0] for r in data_rows(job)] == ["'+李四"]
    assert job.filters == {"person_type": "floating", "grid": str(grid.pk)}
    log = AccessLog.objects.get(kind="export")
    assert log.detail == {
        "filters": {"person_type": "floating", "grid": str(grid.pk)},
        "rows": 1,
        "job": job.pk,
    }
    title = workbook(job).worksheets[0]["A1"].value
    assert grid.name in title


def test_search_numbers_are_masked_in_the_log_and_the_file(people, exporter):
    job = exports.export_start(actor=exporter, filters={"q": rid(11)})
    assert [r[0] for r in data_rows(job)] == ["张三"]
    log = AccessLog.objects.get(kind="export")
    assert rid(11) not in str(log.detail) and rid(11) not in workbook(job).worksheets[0]["A1"].value
    assert job.filters["q"] == rid(11)  # the job itself needs it to run


def test_bad_filters_are_refused_without_a_500(client, people, exporter):
    client.force_login(exporter)
    res = client.post(reverse("registry:export_people") + "?grid=abc")
    assert res.status_code == 302 and not ExportJob.objects.exists()


def test_formula_injection_is_neutralised(people, exporter):
    job = exports.export_start(actor=exporter, filters={"status": ""})
    ws = workbook(job).worksheets[0]
    rows = {r[0].value: r for r in ws.iter_rows(min_row=3)}
    zhang = rows["张三"]
    note = zhang[19]
    assert note.value == "'=1+2" and note.data_type == "s"
    assert "'+李四" in rows
    assert (
        safe_cell("-5") == "'-5"
        and safe_cell("@x") == "'@x"
        and safe_cell("ok") == "ok"
        and safe_cell(5) == 5
    )


def test_only_visible_tags_are_exported(people, wuzhou):
    role = Role.objects.create(code="exporter", name="导出员")
    role.permissions.set(resolve_permissions({"registry.view_person", "registry.export_person"}))
    user = make_user("t_plain")
    post_create(actor=None, user=user, role=role, area=Area.objects.get(code="450403005001"))
    job = exports.export_start(actor=user, filters={})
    zhang = next(r for r in data_rows(job) if r[0] == "张三")
    assert zhang[18] == "高龄"  # 低保 is a sensitive tag


def test_big_exports_run_as_a_task(client, people, exporter, monkeypatch, django_capture_on_commit_callbacks):
    monkeypatch.setattr(exports, "SYNC_LIMIT", 1)
    client.force_login(exporter)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        client.post(reverse("registry:export_people"))
    job = ExportJob.objects.get()
    assert job.status == JobStatus.PENDING and len(callbacks) == 1
    assert AccessLog.objects.filter(kind="export").count() == 1  # logged with the job, before the file
    html = client.get(reverse("registry:export", args=[job.pk])).content.decode()
    assert 'id="download"' not in html and "job-progress" in html
    assert client.get(reverse("registry:export_download", args=[job.pk])).status_code == 404
    callbacks[0]()  # the queue (immediate in tests) runs the task
    job.refresh_from_db()
    assert job.status == JobStatus.DONE and job.row_count == 2 and len(data_rows(job)) == 2
    status = client.get(reverse("registry:export_status", args=[job.pk])).json()
    assert status["finished"] and status["rows"] == 2


def test_download_is_logged_and_private(client, people, exporter):
    job = exports.export_start(actor=exporter, filters={})
    client.force_login(exporter)
    assert 'id="download"' in client.get(reverse("registry:export", args=[job.pk])).content.decode()
    res = client.get(reverse("registry:export_download", args=[job.pk]))
    assert res.status_code == 200 and "attachment" in res["Content-Disposition"]
    assert load_workbook(BytesIO(b"".join(res.streaming_content))).worksheets[0]["A3"].value
    downloads = AccessLog.objects.filter(kind="export", detail__download=True)
    assert downloads.count() == 1 and downloads.get().user == exporter
    other = make_user("t_other", "community_official")
    client.force_login(other)
    for name in ("registry:export", "registry:export_status", "registry:export_download"):
        assert client.get(reverse(name, args=[job.pk])).status_code == 404
    assert downloads.count() == 1


def test_export_button_on_the_people_page(client, people, exporter, wuzhou):
    client.force_login(exporter)
    html = client.get(reverse("registry:people"), {"person_type": "floating"}).content.decode()
    assert 'id="export-form"' in html and "person_type=floating" in html
    client.force_login(make_user("t_gw", "grid_worker"))
    assert 'id="export-form"' not in client.get(reverse("registry:people")).content.decode()


def test_export_of_a_large_scoped_list_streams_in_chunks(exporter, grid, monkeypatch):
    monkeypatch.setattr(exports, "CHUNK", 3)
    house = make_house(grid)
    for n in range(10):
        services.person_register(actor=None, name=f"人{n}", id_number=rid(100 + n), house=house)
    job = exports.export_start(actor=exporter, filters={})
    assert job.row_count == 10 and sorted(r[0] for r in data_rows(job)) == sorted(f"人{n}" for n in range(10))


def test_the_file_is_a_valid_workbook_whatever_the_text(house, exporter):
    services.person_register(
        actor=None, name="赵<六>&", id_number=rid(17), house=house, note=" 前后空格 \x01\n第二行 "
    )
    job = exports.export_start(actor=exporter, filters={})
    wb = load_workbook(job.result.open("rb"))  # full (not read-only) parse of every part
    ws = wb.worksheets[0]
    assert ws["A2"].font.b and ws["A3"].value == "赵<六>&"
    assert ws["T3"].value == " 前后空格 \n第二行 "
    assert ws["G3"].value == "1985-06-15" and ws["J3"].value == house.area.code
    assert wb.worksheets[1]["B4"].value == 1


def test_rows_streamed_into_a_template_are_all_read_back():
    """``save_streaming`` into a sheet openpyxl already wrote rows to (and declared their range for)
    leaves no stale declared range behind: read-only readers, which stop where it ends, see every row."""
    from civicgrid.registry.spreadsheets import PEOPLE_SHEET, build_people_template, save_streaming

    out = BytesIO()
    rows = ([f"居民{n}", "", f"4504031985061500{n % 10}"] for n in range(50))
    save_streaming(build_people_template(), out, sheet_title=PEOPLE_SHEET, rows=rows, first_row=4)
    out.seek(0)
    sheet = load_workbook(out, read_only=True)[PEOPLE_SHEET]
    names = [row[0] for row in sheet.iter_rows(min_row=4, values_only=True)]
    assert names == [f"居民{n}" for n in range(50)]
