from datetime import timedelta
from io import BytesIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from openpyxl import Workbook, load_workbook

from civicgrid.core.models import ChangeLog
from civicgrid.core.testing import make_user
from civicgrid.registry import imports, services, tasks
from civicgrid.registry.choices import PersonEventKind, Relation
from civicgrid.registry.models import (
    Building,
    Compound,
    House,
    Household,
    ImportJob,
    Person,
    PersonEvent,
    Tag,
)
from civicgrid.registry.models.jobs import ImportMode, JobStatus
from civicgrid.registry.spreadsheets import CFB_MAGIC, PEOPLE_COLUMNS
from civicgrid.registry.tests.conftest import make_house, rid

pytestmark = pytest.mark.django_db

GRID = "450403005001001"
FAR_GRID = "450405001001001"
KEYS = [c.key for c in PEOPLE_COLUMNS]
HEADERS = [c.zh for c in PEOPLE_COLUMNS]


def xlsx(rows, headers=HEADERS, keys=KEYS, name="people.xlsx") -> SimpleUploadedFile:
    wb = Workbook()
    ws = wb.active
    ws.title = "人员"
    ws.append(headers)
    for row in rows:
        ws.append([row.get(k) for k in keys] if isinstance(row, dict) else row)
    buffer = BytesIO()
    wb.save(buffer)
    return SimpleUploadedFile(name, buffer.getvalue())


def resident(n: int, **fields) -> dict:
    """Row n: three people per house (rooms 101, 102), household = room, first of each is the head."""
    room = str(101 + (n - 1) // 3)
    return {
        "name": f"居民{n}",
        "id_number": rid(n),
        "phone": f"139{n:08d}",
        "grid": GRID,
        "compound": "幸福小区",
        "building": "1栋",
        "unit": "1",
        "room": room,
        "household": f"H{room}",
        "relation": "户主" if (n - 1) % 3 == 0 else "子女",
        **fields,
    }


@pytest.fixture
def importer(wuzhou):
    return make_user("t_importer", "community_official")


def run(user, rows, mode=ImportMode.ALL_OR_NOTHING, **kw) -> ImportJob:
    job = imports.import_start(actor=user, upload=xlsx(rows, **kw), mode=mode)
    imports.run_import(job.pk, language="en")
    job.refresh_from_db()
    return job


def error_cells(job) -> list[tuple]:
    wb = load_workbook(job.error_file.open("rb"), read_only=True)
    rows = list(wb.worksheets[0].iter_rows(values_only=True))
    assert rows[0][:3] == ("Row", "Column", "Reason")
    return [r[:3] for r in rows[1:]]


# ---- the template --------------------------------------------------------------------------------


def test_template_download_opens_with_headers_and_lists(client, importer):
    client.force_login(importer)
    res = client.get(reverse("registry:import_template"))
    assert res.status_code == 200
    wb = load_workbook(BytesIO(b"".join(res.streaming_content)))
    ws = wb["人员"]
    headers = [c.value for c in ws[1]]
    assert (
        headers[0] == "姓名*" and "网格编码*" in headers and "证件号码" in headers and "与户主关系" in headers
    )
    assert ws.cell(row=2, column=1).value == "Name"
    assert ws.cell(row=3, column=1).value.startswith("（示例）")
    lists = {dv.formula1 for dv in ws.data_validations.dataValidation}
    assert '"户籍,流动,境外,未落户"' in lists and any("居民身份证" in f for f in lists)
    assert "填写说明" in wb.sheetnames


def test_the_untouched_template_has_no_data_rows(importer):
    from civicgrid.registry.spreadsheets import build_people_template

    buffer = BytesIO()
    build_people_template().save(buffer)
    job = imports.import_start(actor=importer, upload=SimpleUploadedFile("t.xlsx", buffer.getvalue()))
    imports.run_import(job.pk, language="en")
    job.refresh_from_db()
    assert job.status == JobStatus.REJECTED and "no data rows" in job.message


def test_template_rows_start_after_the_english_row(importer):
    """A filled-in template: row 2 (English) and the example row are skipped; rows keep their numbers."""
    from civicgrid.registry.spreadsheets import build_people_template

    wb = build_people_template()
    ws = wb["人员"]
    ws.append([resident(1, phone="12").get(k) for k in KEYS])  # row 4, bad phone
    buffer = BytesIO()
    wb.save(buffer)
    job = imports.import_start(actor=importer, upload=SimpleUploadedFile("t.xlsx", buffer.getvalue()))
    imports.run_import(job.pk, language="en")
    job.refresh_from_db()
    assert job.status == JobStatus.REJECTED and job.total_rows == 1
    assert error_cells(job) == [(4, "手机号码", "A mobile number has 11 digits starting with 13 to 19.")]


# ---- good files ------------------------------------------------------------------------------------


def test_good_file_imports_people_and_creates_places_once(importer):
    rows = [resident(n) for n in range(1, 7)]
    rows[0]["tags"] = "党员，低保"
    job = run(importer, rows)
    assert job.status == JobStatus.DONE, job.message
    assert (job.created_count, job.updated_count, job.error_count, job.total_rows) == (6, 0, 0, 6)
    assert not job.error_file
    assert Person.objects.count() == 6
    assert Compound.objects.filter(name="幸福小区").count() == 1
    assert Building.objects.count() == 1 and House.objects.count() == 2 and Household.objects.count() == 2
    first = Person.objects.get(name="居民1")
    assert first.area.code == GRID and first.house.room_no == "101" and first.address == first.house.address
    assert first.household.head == first and first.relation == Relation.HEAD
    assert first.phone == "13900000001" and first.birth_date.isoformat() == "1985-06-15"
    assert first.name_initials == "jm" and first.created_by == importer
    assert set(first.tags.values_list("code", flat=True)) == {"party_member", "dibao"}
    assert Person.objects.get(name="居民4").household.head.name == "居民4"
    assert PersonEvent.objects.filter(kind=PersonEventKind.REGISTERED).count() == 6
    logs = ChangeLog.objects.filter(content_type__model="person", action="create")
    assert logs.count() == 6 and {log.user_id for log in logs} == {importer.pk}
    assert all(rid(1) not in str(log.after) for log in logs)
    assert ChangeLog.objects.filter(content_type__model="house", action="create").count() == 2
    assert services.document_index(rid(1)) == first.id_index


def test_reimport_updates_without_duplicates(importer):
    rows = [resident(n) for n in range(1, 7)]
    run(importer, rows)
    ids = dict(Person.objects.values_list("name", "pk"))
    rows[1]["phone"] = "13712345678"  # 居民2: new phone
    rows[2].update(room="103", household="H103", relation="户主")  # 居民3 moves to a new house
    job = run(importer, rows)
    assert job.status == JobStatus.DONE, job.message
    assert (job.created_count, job.updated_count) == (0, 2)
    assert "4 unchanged" in job.message
    assert Person.objects.count() == 6 and dict(Person.objects.values_list("name", "pk")) == ids
    second = Person.objects.get(name="居民2")
    assert second.phone == "13712345678"
    assert second.events.filter(kind=PersonEventKind.CORRECTED).exists()
    third = Person.objects.get(name="居民3")
    assert third.house.room_no == "103" and third.household.number == "H103" and third.household.head == third
    move = third.events.get(kind=PersonEventKind.CHANGE_HOUSE)
    assert move.from_house.room_no == "101" and move.to_house.room_no == "103"
    assert not Person.objects.get(name="居民1").events.exclude(kind=PersonEventKind.REGISTERED).exists()
    assert House.objects.count() == 3


def test_rows_without_document_are_matched_by_name_and_house(importer):
    rows = [resident(1, id_number=None), resident(2, id_number=None)]
    run(importer, rows)
    rows[0]["note"] = "复核"
    job = run(importer, rows)
    assert (job.created_count, job.updated_count) == (0, 1)
    assert Person.objects.count() == 2 and Person.objects.get(name="居民1").note == "复核"


def test_moved_out_person_moves_back_in(importer):
    run(importer, [resident(1)])
    person = Person.objects.get()
    services.person_move_out(actor=None, person=person)
    job = run(importer, [resident(1, room="105", household="H105")])
    person.refresh_from_db()
    assert job.updated_count == 1 and person.status == "active" and person.house.room_no == "105"
    assert person.events.filter(kind=PersonEventKind.MOVE_IN).exists()


def test_tags_the_importer_cannot_see_stay(importer):
    run(importer, [resident(1, tags="低保")])
    job = run(importer, [resident(1, tags="党员")])
    assert job.updated_count == 1
    assert set(Person.objects.get().tags.values_list("code", flat=True)) == {"party_member"}
    # a tag nobody named in the file is left as it is when the cell is empty
    run(importer, [resident(1, tags=None)])
    assert set(Person.objects.get().tags.values_list("code", flat=True)) == {"party_member"}
    assert Tag.objects.get(code="dibao").is_sensitive


# ---- bad rows --------------------------------------------------------------------------------------


BAD = [
    resident(1),
    resident(2, phone="12345"),  # row 3
    resident(3),
    resident(4, id_number="450403198506150010"),  # row 5: checksum
    resident(5),
]


def test_all_or_nothing_rejects_the_file_and_writes_nothing(importer):
    job = run(importer, BAD)
    assert job.status == JobStatus.REJECTED
    assert job.error_count == 2 and job.created_count == 0 and "nothing was imported" in job.message
    assert not Person.objects.exists() and not Compound.objects.exists() and not House.objects.exists()
    assert error_cells(job) == [
        (3, "手机号码", "A mobile number has 11 digits starting with 13 to 19."),
        (5, "证件号码", "The resident ID number's check character is wrong; check for typing errors."),
    ]


def test_valid_rows_mode_imports_the_good_rows_only(importer):
    job = run(importer, BAD, mode=ImportMode.VALID_ROWS)
    assert job.status == JobStatus.DONE
    assert (job.created_count, job.error_count) == (3, 2)
    assert set(Person.objects.values_list("name", flat=True)) == {"居民1", "居民3", "居民5"}
    assert [r[0] for r in error_cells(job)] == [3, 5]


def test_valid_rows_mode_with_no_valid_row_is_rejected(importer):
    job = run(importer, [resident(1, phone="1")], mode=ImportMode.VALID_ROWS)
    assert job.status == JobStatus.REJECTED and not Person.objects.exists()


def test_wrong_template_is_rejected_with_one_message(importer):
    job = run(importer, [["张三", "13800000000"]], headers=["名字", "电话"])
    assert job.status == JobStatus.REJECTED
    assert (
        "not the people import template" in job.message
        and "姓名" in job.message
        and "网格编码" in job.message
    )
    assert not job.error_file and not Person.objects.exists()


def test_english_headers_are_accepted(importer):
    headers = ["Name", "Document number", "Grid code *", "Room", "Building"]
    job = run(importer, [["张三", rid(1), GRID, "101", "1栋"]], headers=headers)
    assert job.status == JobStatus.DONE and Person.objects.get().house.room_no == "101"


def test_duplicate_header_is_rejected(importer):
    job = run(importer, [["a", "b", GRID]], headers=["姓名", "姓名", "网格编码"])
    assert job.status == JobStatus.REJECTED and "more than once" in job.message


@pytest.mark.parametrize(
    "content,phrase",
    [
        (b"name,grid\n\xe5\xbc\xa0,450403005001001\n", "not an Excel .xlsx file"),
        (CFB_MAGIC + b"\0" * 600, "password-protected or in the old .xls format"),
        (b"PK\x03\x04broken zip", "not an Excel .xlsx file"),
        (b"", "empty"),
    ],
)
def test_malformed_files_are_rejected_clearly(importer, content, phrase):
    job = imports.import_start(actor=importer, upload=SimpleUploadedFile("x.xlsx", content))
    imports.run_import(job.pk, language="en")
    job.refresh_from_db()
    assert job.status == JobStatus.REJECTED and phrase in job.message


def test_zip_that_is_not_a_workbook_is_rejected(importer):
    import zipfile

    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("word/document.xml", "<w/>")
    job = imports.import_start(actor=importer, upload=SimpleUploadedFile("x.xlsx", buffer.getvalue()))
    imports.run_import(job.pk, language="en")
    job.refresh_from_db()
    assert job.status == JobStatus.REJECTED and "not an Excel" in job.message


def test_too_large_upload_is_refused(importer, monkeypatch):
    monkeypatch.setattr(imports, "MAX_FILE_BYTES", 100)
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as err:
        imports.import_start(actor=importer, upload=xlsx([resident(1)]))
    assert "file" in err.value.message_dict


def test_too_many_rows_rejects_the_file(importer, monkeypatch):
    monkeypatch.setattr(imports, "MAX_ROWS", 2)
    job = run(importer, [resident(n) for n in range(1, 4)], mode=ImportMode.VALID_ROWS)
    assert job.status == JobStatus.REJECTED and "more than 2 rows" in job.message
    assert not Person.objects.exists()


def test_formulas_are_refused(importer):
    job = run(importer, [resident(1, phone="=A1&B1"), resident(2, note='=HYPERLINK("http://x")')])
    assert job.status == JobStatus.REJECTED
    assert error_cells(job) == [
        (2, "手机号码", "Formulas are not allowed; type the value itself."),
        (3, "备注", "Formulas are not allowed; type the value itself."),
    ]


def test_very_long_cells_name_the_column(importer):
    job = run(
        importer, [resident(1, name="长" * 51), resident(2, note="x" * 501)], mode=ImportMode.VALID_ROWS
    )
    assert error_cells(job) == [
        (2, "姓名", "Too long: 51 characters, at most 50 are allowed."),
        (3, "备注", "Too long: 501 characters, at most 500 are allowed."),
    ]
    assert not Person.objects.exists()


def test_long_numbers_rounded_by_excel_are_explained(importer):
    job = run(importer, [resident(1, id_number=450403198506150011)])
    assert error_cells(job) == [
        (
            2,
            "证件号码",
            "Excel has rounded this long number. Format the column as text and type the number again.",
        )
    ]


def test_numbers_typed_as_numbers_still_work(importer):
    job = run(importer, [resident(1, phone=13912345678, grid=int(GRID), room=101, unit=1)])
    assert job.status == JobStatus.DONE, error_cells(job)
    person = Person.objects.get()
    assert person.phone == "13912345678" and person.house.room_no == "101" and person.house.unit_no == "1"


def test_duplicate_documents_within_the_file(importer):
    job = run(importer, [resident(1), resident(2), resident(3, id_number=rid(1))], mode=ImportMode.VALID_ROWS)
    assert error_cells(job) == [(4, "证件号码", "The same document number is already in row 2.")]
    assert Person.objects.count() == 2


def test_whole_file_checks_on_households(importer):
    rows = [
        resident(1),
        resident(2, relation="户主"),  # a second head for H101
        resident(4, room="101", household="H102"),  # H102 is in room 102 (row 5)
        resident(5, room="102", household="H102"),
    ]
    rows[3], rows[2] = rows[2], rows[3]
    job = run(importer, rows)
    assert error_cells(job) == [
        (3, "与户主关系", "Household H101 already has its head in row 2."),
        (5, "户号", "Household H102 is in another house in row 4."),
    ]


def test_choice_date_and_address_checks(importer):
    rows = [
        resident(1, person_type="外星人"),
        resident(2, birth_date="1990-01-01"),
        resident(3, building=None),
        resident(4, room=None),
        resident(5, tags="不存在"),
        resident(6, person_type="境外"),
        resident(7, name=None),
    ]
    job = run(importer, rows)
    cells = error_cells(job)
    assert cells[0] == (2, "人员类型", "“外星人” is not allowed; choose one of: 户籍、流动、境外、未落户.")
    assert cells[1] == (3, "出生日期", "The date of birth does not match the ID number.")
    assert cells[2] == (4, "楼栋", "A room needs its building.")
    assert cells[3] == (5, "房号", "Give the room number, or leave the address columns empty.")
    assert cells[4] == (6, "标签", "Unknown tag “不存在”.")
    assert cells[5] == (7, "证件类型", "Overseas people are registered with a passport or permit.")
    assert cells[6] == (8, "姓名", "A name is required.")


def test_grid_outside_scope_and_unknown_grids(importer):
    rows = [resident(1, grid=FAR_GRID), resident(2, grid="450403005001"), resident(3, grid="999999999999999")]
    job = run(importer, rows)
    assert error_cells(job) == [
        (2, "网格编码", f"The grid {FAR_GRID} is outside your data scope."),
        (3, "网格编码", "450403005001 is not the code of a unit grid."),
        (4, "网格编码", "No grid has the code 999999999999999."),
    ]
    assert not Person.objects.exists()


def test_person_registered_outside_scope_is_an_error(importer, far_house):
    services.person_register(actor=None, name="远方", id_number=rid(1), house=far_house)
    job = run(importer, [resident(1)], mode=ImportMode.VALID_ROWS)
    assert error_cells(job) == [
        (2, "证件号码", "This person is already registered elsewhere, outside your data scope.")
    ]
    assert Person.objects.get().name == "远方"


def test_importer_needs_the_permission(wuzhou):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        imports.import_start(actor=make_user("t_gw", "grid_worker"), upload=xlsx([resident(1)]))


# ---- crashes -----------------------------------------------------------------------------------------


class Crash(Exception):
    pass


def crash_on_chunk(monkeypatch, n: int):
    """Make the write phase blow up in its n-th chunk (after the places of that chunk were written)."""
    real = imports.Writer._write
    calls = {"n": 0}

    def flaky(self, rows):
        calls["n"] += 1
        if calls["n"] == n:
            real(self, rows[:1])
            raise Crash("worker died")
        return real(self, rows)

    monkeypatch.setattr(imports, "CHUNK", 2)
    monkeypatch.setattr(imports.Writer, "_write", flaky)


def test_crash_mid_write_leaves_nothing_in_all_or_nothing_mode(importer, monkeypatch):
    crash_on_chunk(monkeypatch, 2)
    rows = [resident(n) for n in range(1, 7)]
    job = run(importer, rows)
    assert job.status == JobStatus.FAILED and "nothing was saved" in job.message
    assert not Person.objects.exists() and not House.objects.exists() and not Compound.objects.exists()
    assert not ChangeLog.objects.filter(content_type__model__in=["person", "house", "household"]).exists()
    monkeypatch.undo()
    imports.run_import(job.pk, language="en")  # the retry starts over
    job.refresh_from_db()
    assert job.status == JobStatus.DONE and job.created_count == 6 and Person.objects.count() == 6


def test_crash_in_valid_rows_mode_resumes_without_duplicates(importer, monkeypatch):
    crash_on_chunk(monkeypatch, 2)
    rows = [resident(n) for n in range(1, 7)] + [resident(7, id_number=None)]
    job = run(importer, rows, mode=ImportMode.VALID_ROWS)
    assert job.status == JobStatus.FAILED
    assert Person.objects.count() == 2 and job.created_count == 2  # the first chunk was committed
    monkeypatch.undo()
    imports.run_import(job.pk, language="en")
    job.refresh_from_db()
    assert job.status == JobStatus.DONE and Person.objects.count() == 7 and job.created_count == 7
    assert House.objects.count() == 3 and Household.objects.count() == 3


def test_job_of_a_dead_worker_is_detected_and_restarted(importer):
    job = imports.import_start(actor=importer, upload=xlsx([resident(1), resident(2)]))
    old = timezone.now() - imports.STALE_AFTER - timedelta(minutes=1)
    ImportJob.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING, updated_at=old)
    job.refresh_from_db()
    assert imports.is_retryable(job)
    assert tasks.resume_stale_jobs.call_local()["imports"] == [job.pk]
    job.refresh_from_db()
    assert job.status == JobStatus.DONE and Person.objects.count() == 2


def test_a_live_running_job_is_not_taken_over(importer):
    job = imports.import_start(actor=importer, upload=xlsx([resident(1)]))
    ImportJob.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING, updated_at=timezone.now())
    assert imports.run_import(job.pk) is None
    assert tasks.resume_stale_jobs.call_local()["imports"] == []
    assert not Person.objects.exists()


def test_finished_jobs_do_not_run_again(importer):
    job = run(importer, [resident(1)])
    assert imports.run_import(job.pk) is None and Person.objects.count() == 1


# ---- pages -------------------------------------------------------------------------------------------


def test_upload_page_runs_the_import_and_shows_progress(client, importer, django_capture_on_commit_callbacks):
    client.force_login(importer)
    assert client.get(reverse("registry:imports")).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        res = client.post(reverse("registry:imports"), {"file": xlsx(BAD), "mode": ImportMode.VALID_ROWS})
    job = ImportJob.objects.get()
    assert res.status_code == 302 and res.url == reverse("registry:import", args=[job.pk])
    html = client.get(res.url).content.decode()
    assert "people.xlsx" in html and 'id="error-file"' in html
    status = client.get(reverse("registry:import_status", args=[job.pk])).json()
    assert status["status"] == "done" and status["created"] == 3 and status["errors"] == 2
    assert status["finished"] and status["percent"] == 100
    errors = client.get(status["error_file"])
    assert errors.status_code == 200
    assert load_workbook(BytesIO(b"".join(errors.streaming_content))).worksheets[0]["A2"].value == 3
    listing = client.get(reverse("registry:imports")).content.decode()
    assert "people.xlsx" in listing


def test_upload_form_errors_are_shown(client, importer):
    client.force_login(importer)
    res = client.post(reverse("registry:imports"), {"mode": "bogus"})
    assert res.status_code == 200 and not ImportJob.objects.exists()
    assert 'class="errors"' in res.content.decode()


def test_jobs_are_private_to_their_owner(client, importer):
    job = run(importer, BAD)
    client.force_login(make_user("t_other", "community_official"))
    for name in ("registry:import", "registry:import_status", "registry:import_errors"):
        assert client.get(reverse(name, args=[job.pk])).status_code == 404
    assert client.post(reverse("registry:import", args=[job.pk])).status_code == 404


def test_import_pages_need_the_import_permission(client, wuzhou):
    client.force_login(make_user("t_gw", "grid_worker"))
    assert client.get(reverse("registry:imports")).status_code == 403
    assert client.get(reverse("registry:import_template")).status_code == 403


def test_navigation_shows_import_to_importers_only(importer, wuzhou):
    from civicgrid.core.navigation import modules_for

    def pages(user):
        return {p["url_name"] for m in modules_for(user) for p in m["pages"]}

    assert "registry:imports" in pages(importer)
    assert "registry:imports" not in pages(make_user("t_gw", "grid_worker"))


def test_retry_from_the_page(client, importer, monkeypatch, django_capture_on_commit_callbacks):
    crash_on_chunk(monkeypatch, 1)
    job = run(importer, [resident(1), resident(2)])
    assert job.status == JobStatus.FAILED
    monkeypatch.undo()
    client.force_login(importer)
    assert 'id="retry"' in client.get(reverse("registry:import", args=[job.pk])).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("registry:import", args=[job.pk]))
    job.refresh_from_db()
    assert job.status == JobStatus.DONE and Person.objects.count() == 2


def test_places_already_registered_are_reused(importer, grid):
    house = make_house(grid, room="101", building_name="1栋", compound_name="幸福小区")
    job = run(importer, [resident(1)])
    assert job.status == JobStatus.DONE
    assert (
        Person.objects.get().house == house and House.objects.count() == 1 and Compound.objects.count() == 1
    )


def test_a_file_declaring_too_few_rows_is_read_to_its_end(importer):
    """Some programs write a used range (``<dimension>``) that ends before the last row; read-only
    openpyxl would stop there and the rest of the file would be silently left out."""
    import re
    import zipfile

    upload = xlsx([resident(n) for n in range(1, 7)])
    src, out = zipfile.ZipFile(BytesIO(upload.read())), BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="A1:S3"', data)
            dst.writestr(info, data)
    job = imports.import_start(actor=importer, upload=SimpleUploadedFile("short.xlsx", out.getvalue()))
    imports.run_import(job.pk, language="en")
    job.refresh_from_db()
    assert job.status == JobStatus.DONE and job.created_count == 6, job.message
    assert Person.objects.filter(name__startswith="居民").count() == 6
