"""The grid worker's phone app (/m/): pages, the report and verify endpoints the outbox posts to
(idempotent replays, bad photos, category questions, scope), the service worker and manifest."""

from __future__ import annotations

import io
import json
import uuid

import pytest
from django.urls import reverse
from PIL import Image

from civicgrid.areas.models import Area
from civicgrid.areas.services import grid_worker_assign
from civicgrid.cases import services
from civicgrid.cases.choices import Channel, EventKind, Status
from civicgrid.cases.models import Case, CaseEvent, CasePhoto, Category
from civicgrid.cases.photos import GPS_TAG
from civicgrid.cases.testing import noise_jpeg, seed_rules
from civicgrid.core.testing import ELSEWHERE_GRID, HOME, make_user

pytestmark = pytest.mark.django_db

GRID = HOME["grid"]


def jpeg(size=(64, 48), color=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="JPEG")
    return out.getvalue()


def upload(data: bytes, name="photo.jpg", content_type="image/jpeg"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type=content_type)


@pytest.fixture
def worker(wuzhou):
    seed_rules()
    user = make_user("m_gw", "grid_worker")
    grid_worker_assign(actor=None, grid=Area.objects.get(code=GRID), user=user)
    return user


@pytest.fixture
def client_gw(client, worker):
    client.force_login(worker)
    return client


def point(code=GRID):
    grid = Area.objects.get(code=code)
    return grid.centre_lat, grid.centre_lng


def report_data(key=None, code="0102", grid=GRID, **extra):
    lat, lng = point(grid)
    data = {
        "key": key or str(uuid.uuid4()),
        "category": Category.objects.get(kind="event", code=code).pk,
        "description": "路边垃圾堆放两天没人清理",
        "lat": lat,
        "lng": lng,
    }
    data.update(extra)
    return data


@pytest.fixture
def handled(worker):
    """A case in the worker's grid, handled by its unit and waiting for verification."""
    return handled_case_factory()


def handled_case_factory():
    """A function making handled cases waiting for verification (in the home grid unless told)."""
    from civicgrid.cases.demo import load_departments
    from civicgrid.cases.models import Department, DepartmentMember

    if not Department.objects.exists():
        load_departments()
    handler = make_user("m_handler", "dept_handler")
    unit = Department.objects.get(code="D450403-01")
    DepartmentMember.objects.create(user=handler, department=unit)
    community = make_user("m_community", "community_official")

    def make(grid=GRID):
        lat, lng = point(grid)
        case, _ = services.case_report(
            actor=community,
            category=Category.objects.get(kind="event", code="0102"),
            description="垃圾",
            channel=Channel.STAFF,
            lat=lat,
            lng=lng,
        )
        dispatcher = make_user(f"m_d{case.pk}", "dispatcher")
        case = services.case_record(case=case, actor=dispatcher)
        case = services.case_dispatch(case=case, actor=dispatcher, department=unit)
        return services.case_handle(case=case, actor=handler, result="已清理")

    return make


# ---- pages -----------------------------------------------------------------------------------


def test_pages_render_for_the_grid_worker(client_gw, handled):
    case = handled()
    response = client_gw.get(reverse("mobile:report"))
    assert response.status_code == 200
    config = response.context["app_config"]
    assert any(q["code"] == "size" for c in config["categories"] for q in c["questions"])
    assert config["grid"]["code"] == GRID and config["grid"]["geometry"]
    assert b'rel="manifest"' in response.content
    tasks = client_gw.get(reverse("mobile:tasks"))
    assert tasks.status_code == 200 and case.title.encode() in tasks.content
    assert reverse("mobile:verify", args=[case.pk]).encode() in tasks.content
    assert client_gw.get(reverse("mobile:verify", args=[case.pk])).status_code == 200


def test_pages_need_sign_in(client, wuzhou):
    assert client.get(reverse("mobile:report")).status_code == 302
    response = client.post(reverse("mobile:api_report"), report_data())
    assert response.status_code == 401 and response.json()["code"] == "not_authenticated"


def test_tasks_show_deadline_warnings(client_gw, worker):
    from django.utils import timezone

    lat, lng = point()
    case, _ = services.case_report(
        actor=worker,
        category=Category.objects.get(kind="event", code="0102"),
        description="积水",
        channel=Channel.GRID_WORKER,
        lat=lat,
        lng=lng,
    )
    Case.objects.filter(pk=case.pk).update(
        warn_at=timezone.now() - timezone.timedelta(hours=2),
        due_at=timezone.now() - timezone.timedelta(hours=1),
    )
    response = client_gw.get(reverse("mobile:tasks"))
    assert [c.light for c in response.context["warnings"]] == ["red"]
    assert b"light-red" in response.content


def test_service_worker_and_manifest(client, wuzhou):
    response = client.get(reverse("mobile:sw"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    assert response["Service-Worker-Allowed"] == "/m/"
    body = response.content.decode()
    shell = json.loads(body.split("const SHELL = ", 1)[1].split(";\n", 1)[0])
    # The report page first (the fallback without signal), then the other pages kept on the phone.
    assert shell[:3] == ["/m/report/", "/m/tasks/", "/m/diary/new/"]
    assert {"leaflet.js", "app.js", "mobile.js", "diary.css"} <= {url.rsplit("/", 1)[1] for url in shell}
    manifest = client.get(reverse("mobile:manifest"))
    assert manifest.status_code == 200 and manifest.json()["scope"] == "/m/"


# ---- report endpoint -------------------------------------------------------------------------


def test_report_creates_a_case_and_a_replay_returns_it(client_gw, worker):
    data = report_data(photos=[upload(jpeg())])
    response = client_gw.post(reverse("mobile:api_report"), data)
    assert response.status_code == 201, response.content
    body = response.json()
    case = Case.objects.get(pk=body["id"])
    assert case.channel == Channel.GRID_WORKER and case.source == f"user:{worker.pk}"
    assert case.idempotency_key == data["key"] and case.area_code == GRID
    assert body["number"] == case.number
    assert CasePhoto.objects.filter(case=case).count() == 1
    replay = report_data(key=data["key"], photos=[upload(jpeg())])
    again = client_gw.post(reverse("mobile:api_report"), replay)
    assert again.status_code == 200 and again.json()["id"] == case.pk
    assert Case.objects.filter(idempotency_key=data["key"]).count() == 1
    assert CasePhoto.objects.filter(case=case).count() == 1


def test_the_same_key_of_another_worker_is_another_report(client, client_gw, worker):
    key = str(uuid.uuid4())
    assert client_gw.post(reverse("mobile:api_report"), report_data(key=key)).status_code == 201
    other = make_user("m_gw2", "grid_worker")
    client.force_login(other)
    assert client.post(reverse("mobile:api_report"), report_data(key=key)).status_code == 201
    assert Case.objects.filter(idempotency_key=key).count() == 2


@pytest.mark.parametrize(
    "photo",
    [
        upload(b"%PDF-1.4 not an image", name="x.jpg"),
        upload(b"\x00" * 100, name="blank.png", content_type="image/png"),
    ],
)
def test_a_bad_photo_is_refused_naming_the_field_and_nothing_is_stored(client_gw, photo):
    data = report_data(photos=[photo])
    response = client_gw.post(reverse("mobile:api_report"), data)
    assert response.status_code == 400
    assert "photos" in response.json()["errors"]
    assert not Case.objects.filter(idempotency_key=data["key"]).exists()
    assert not CasePhoto.objects.exists()


def test_an_oversized_photo_is_refused(client_gw, settings):
    settings.CASE_PHOTO_MAX_BYTES = 1024
    response = client_gw.post(
        reverse("mobile:api_report"), report_data(photos=[upload(jpeg((400, 400)) + b"\0" * 2048)])
    )
    assert response.status_code == 400 and "photos" in response.json()["errors"]
    assert not Case.objects.exists()


def test_category_questions_are_checked(client_gw):
    url = reverse("mobile:api_report")
    response = client_gw.post(url, report_data(code="0401"))
    errors = response.json()["errors"]
    assert response.status_code == 400 and "attribute[size]" in errors and "attribute[traffic]" in errors
    response = client_gw.post(
        url, report_data(code="0401", answers=json.dumps({"size": "huge", "traffic": "no"}))
    )
    assert response.status_code == 400 and list(response.json()["errors"]) == ["attribute[size]"]
    response = client_gw.post(url, report_data(code="0401", answers="[1, 2]"))
    assert response.status_code == 400 and "answers" in response.json()["errors"]
    response = client_gw.post(
        url, report_data(code="0401", answers=json.dumps({"size": "small", "traffic": "no"}))
    )
    assert response.status_code == 201
    assert Case.objects.get().answers == {"size": "small", "traffic": "no"}


@pytest.mark.parametrize(
    "change, field",
    [
        ({"key": "not-a-uuid"}, "key"),
        ({"category": "abc"}, "category"),
        ({"description": "  "}, "description"),
        ({"lat": "91", "lng": "0"}, "lat"),
        ({"lat": "39.9", "lng": "116.4"}, "lat"),  # outside the city
    ],
)
def test_bad_input_names_the_field(client_gw, change, field):
    response = client_gw.post(reverse("mobile:api_report"), {**report_data(), **change})
    assert response.status_code == 400 and field in response.json()["errors"], response.content
    assert not Case.objects.exists()


def test_a_3mb_photo_is_accepted_and_stored_without_its_location(client_gw):
    # Noise does not compress: a JPEG of about 3 MB with a GPS position, as a phone that did not
    # compress would send. (How fast: the photo_report benchmark; the target is < 1 s.)
    data = noise_jpeg(gps=True)
    assert 2_500_000 < len(data) < 4_500_000
    response = client_gw.post(reverse("mobile:api_report"), report_data(photos=[upload(data)]))
    assert response.status_code == 201, response.content
    photo = Case.objects.get().photos.get()
    assert (photo.width, photo.height) == (1900, 1400) and photo.size > 1_000_000
    with photo.image.open("rb") as stored:
        assert GPS_TAG not in Image.open(io.BytesIO(stored.read())).getexif()


# ---- verify endpoint -------------------------------------------------------------------------


def test_verify_pass_and_replay(client_gw, handled):
    case = handled()
    key = str(uuid.uuid4())
    url = reverse("mobile:api_verify")
    response = client_gw.post(url, {"key": key, "case": case.pk, "passed": "1", "photos": [upload(jpeg())]})
    assert response.status_code == 201, response.content
    assert Case.objects.get(pk=case.pk).status == Status.VERIFIED
    again = client_gw.post(url, {"key": key, "case": case.pk, "passed": "1", "photos": [upload(jpeg())]})
    assert again.status_code == 200 and again.json()["created"] is False
    assert CaseEvent.objects.filter(case=case, kind=EventKind.VERIFIED).count() == 1
    assert CasePhoto.objects.filter(case=case, event__kind=EventKind.VERIFIED).count() == 1
    # A different key on a case no longer waiting: a conflict, not a second verification.
    other = client_gw.post(url, {"key": str(uuid.uuid4()), "case": case.pk, "passed": "1"})
    assert other.status_code == 409


def test_verify_fail_needs_a_reason(client_gw, handled):
    case = handled()
    url = reverse("mobile:api_verify")
    response = client_gw.post(url, {"key": str(uuid.uuid4()), "case": case.pk, "passed": "0"})
    assert response.status_code == 400 and "note" in response.json()["errors"]
    response = client_gw.post(url, {"key": str(uuid.uuid4()), "case": case.pk, "passed": "maybe"})
    assert response.status_code == 400 and "passed" in response.json()["errors"]
    key = str(uuid.uuid4())
    response = client_gw.post(url, {"key": key, "case": case.pk, "passed": "0", "note": "还有垃圾"})
    assert response.status_code == 201
    case.refresh_from_db()
    assert case.status == Status.DISPATCHED and case.reopen_count == 1
    assert (
        client_gw.post(url, {"key": key, "case": case.pk, "passed": "0", "note": "还有垃圾"}).status_code
        == 200
    )
    assert Case.objects.get(pk=case.pk).reopen_count == 1


def test_a_case_in_another_grid_is_not_found(client_gw, handled):
    case = handled(grid=ELSEWHERE_GRID)
    response = client_gw.post(
        reverse("mobile:api_verify"), {"key": str(uuid.uuid4()), "case": case.pk, "passed": "1"}
    )
    assert response.status_code == 404
    assert client_gw.get(reverse("mobile:verify", args=[case.pk])).status_code == 404
    assert Case.objects.get(pk=case.pk).status == Status.HANDLED
    tasks = client_gw.get(reverse("mobile:tasks"))
    assert case not in tasks.context["to_verify"]
