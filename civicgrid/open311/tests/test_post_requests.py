"""POST requests: intake through the cases' service, idempotent retries, the api_key, and every
kind of bad input answered 4xx in the spec's error format with no case created."""

from __future__ import annotations

import hashlib
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from PIL import Image

from civicgrid.cases.choices import Channel, Status
from civicgrid.cases.models import Case, CaseEvent, CasePhoto, Category, CategoryQuestion
from civicgrid.open311 import selectors, services
from civicgrid.open311.models import Open311Client, Open311Request

from .conftest import BASE, errors, form, grid_point, parse

pytestmark = pytest.mark.django_db
FORMATS = ["json", "xml"]


@pytest.fixture
def api(client):
    """The test client asking for English error descriptions."""
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def post(api, fmt="json", data=None, **extra):
    return api.post(f"{BASE}/requests.{fmt}", data or {}, **extra)


def created_id(response, fmt) -> str:
    body = parse(response, fmt)
    if fmt == "json":
        return body[0]["service_request_id"]
    assert body.tag == "service_requests"
    return body.findtext("request/service_request_id")


def png(size=(8, 8)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


# ---- the happy path ------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_post_creates_a_case_with_its_answers(api, app, fmt):
    client, key = app
    data = form(
        key,
        service_code="E0401",
        description="人行道塌了一个大坑",
        **{"attribute[size]": "medium", "attribute[traffic]": "yes"},
        first_name="三",
        last_name="张",
        phone="13800138000",
        email="zhang@example.com",
        account_id="acct-7",
        device_id="dev-9",
        media_url="https://img.example.com/p/1.jpg",
        address_string="大学路口",
    )
    response = post(api, fmt, data)
    assert response.status_code == 201, response.content
    rid = created_id(response, fmt)
    case = Case.objects.get()
    assert rid == case.number
    assert response["Location"] == f"http://testserver/open311/v2/requests/{rid}.{fmt}"
    assert case.channel == Channel.OPEN311 and case.status == Status.REPORTED
    assert case.category.service_code == "E0401"
    assert case.answers == {"size": "medium", "traffic": "yes"}
    assert case.source == f"open311:{client.pk}" and case.area_code == "450403005001001"
    assert case.reporter_name == "张三" and case.reporter_phone == "13800138000"
    assert case.address == "大学路口"
    extra = Open311Request.objects.get(case=case)
    assert extra.client == client and extra.media_url == "https://img.example.com/p/1.jpg"
    assert extra.email == "zhang@example.com" and extra.account_id == "acct-7" and extra.device_id == "dev-9"
    # The e-mail is encrypted at rest.
    with connection.cursor() as cursor:
        cursor.execute("SELECT email FROM open311_open311request")
        assert "zhang@example.com" not in cursor.fetchone()[0]
    body = parse(response, fmt)
    if fmt == "json":
        assert body[0]["account_id"] == "acct-7"
        notice = body[0]["service_notice"]
    else:
        assert body.findtext("request/account_id") == "acct-7"
        notice = body.findtext("request/service_notice")
    # The deadline to record it, in local time to the minute.
    assert notice == f"Received; it will be looked at by {timezone.localtime(case.due_at):%Y-%m-%d %H:%M}."


def test_a_plain_post_writes_no_extra_row_and_keeps_the_client_on_the_case(api, app):
    client, key = app
    response = post(api, data=form(key))
    assert response.status_code == 201
    case = Case.objects.get()
    assert case.source == client.source and not Open311Request.objects.exists()
    assert response.json()[0]["account_id"] is None
    assert CaseEvent.objects.filter(case=case, kind="reported").exists()


def test_multivaluelist_answers_come_as_repeated_or_bracketed_attributes(api, key):
    data = form(key, service_code="G0201", description="楼道里有电动车充电")
    data["attribute[hazard][]"] = ["charging", "wiring"]
    assert post(api, data=data).status_code == 201
    data = form(key, service_code="G0201", description="消防通道被堵")
    data["attribute[hazard]"] = ["blocked_exit"]
    assert post(api, data=data).status_code == 201
    assert [c.answers for c in Case.objects.order_by("id")] == [
        {"hazard": ["charging", "wiring"]},
        {"hazard": ["blocked_exit"]},
    ]


def test_an_address_of_a_registered_building_locates_the_report(api, key, wuzhou):
    from civicgrid.registry.services import building_create

    lat, lng = grid_point()
    building_create(actor=None, name="1栋", lat=lat, lng=lng, address="梧州市万秀区测试路8号")
    response = post(api, data=form(key, lat=None, long=None, address_string="梧州市万秀区测试路8号"))
    assert response.status_code == 201, response.content
    case = Case.objects.get()
    assert (case.lat, case.lng, case.area_code) == (lat, lng, "450403005001001")


def test_a_photo_upload_becomes_the_cases_photo(api, key):
    data = form(key)
    data["media"] = SimpleUploadedFile("p.png", png(), content_type="image/png")
    response = post(api, data=data)
    assert response.status_code == 201, response.content
    assert CasePhoto.objects.filter(case=Case.objects.get()).count() == 1


def test_html_in_the_text_is_stored_as_given_and_output_inert(api, key):
    text = '<script>alert("x")</script> & <b>bold</b>\n第二行'
    response = post(api, data=form(key, description=text))
    assert response.status_code == 201
    case = Case.objects.get()
    assert case.description == text
    as_json = api.get(f"{BASE}/requests/{case.number}.json")
    assert b"<script" not in as_json.content and b"<b>" not in as_json.content
    assert as_json.json()[0]["description"] == text
    as_xml = api.get(f"{BASE}/requests/{case.number}.xml")
    assert b"<script" not in as_xml.content and b"&lt;script&gt;" in as_xml.content
    assert parse(as_xml, "xml").findtext("request/description") == text


def test_characters_xml_cannot_hold_are_replaced_in_xml(api, key):
    assert post(api, data=form(key, description="垃圾\x01\x1b堆放")).status_code == 201
    case = Case.objects.get()
    xml = parse(api.get(f"{BASE}/requests/{case.number}.xml"), "xml")
    assert xml.findtext("request/description") == "垃圾\ufffd\ufffd堆放"


def test_location_is_absolute_and_encoded_under_a_script_prefix(api, key):
    prefix = "/社区"  # a WSGI environ holds it as bytes read as Latin-1
    response = post(api, data=form(key), SCRIPT_NAME=prefix.encode().decode("latin-1"))
    assert response.status_code == 201, response.content
    rid = created_id(response, "json")
    assert response["Location"] == f"http://testserver/%E7%A4%BE%E5%8C%BA{BASE}/requests/{rid}.json"


# ---- idempotency ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "how",
    [
        {"HTTP_IDEMPOTENCY_KEY": "k-123"},
        {"idempotency_key": "k-123"},
        {"client_request_id": "k-123"},
    ],
)
def test_retries_with_the_same_key_return_the_same_request(api, key, how):
    headers = {k: v for k, v in how.items() if k.startswith("HTTP_")}
    fields = {k: v for k, v in how.items() if not k.startswith("HTTP_")}
    first = post(api, data=form(key, account_id="a1", **fields), **headers)
    second = post(api, data=form(key, account_id="a1", **fields), **headers)
    assert first.status_code == 201 and second.status_code == 200
    assert second["Idempotent-Replayed"] == "true"
    assert first.json()[0]["service_request_id"] == second.json()[0]["service_request_id"]
    assert second.json()[0]["account_id"] == "a1"
    assert Case.objects.count() == 1 and Open311Request.objects.count() == 1
    assert Case.objects.get().idempotency_key == "k-123"


def test_the_same_key_from_another_client_is_another_request(api, key):
    _, other_key = services.client_create(name="Other app")
    first = post(api, data=form(key), HTTP_IDEMPOTENCY_KEY="same")
    second = post(api, data=form(other_key), HTTP_IDEMPOTENCY_KEY="same")
    assert first.status_code == second.status_code == 201
    assert first.json()[0]["service_request_id"] != second.json()[0]["service_request_id"]


def test_a_token_is_the_idempotency_key(api, key):
    rid = post(api, data=form(key), HTTP_IDEMPOTENCY_KEY="tok-1").json()[0]["service_request_id"]
    assert api.get(f"{BASE}/tokens/tok-1.json").json() == [{"service_request_id": rid, "token": "tok-1"}]
    xml = parse(api.get(f"{BASE}/tokens/tok-1.xml"), "xml")
    assert xml.findtext("request/service_request_id") == rid and xml.findtext("request/token") == "tok-1"
    missing = api.get(f"{BASE}/tokens/nope.xml")
    assert missing.status_code == 404 and errors(missing, "xml")[0][1].startswith("token:")


def test_the_post_path_reads_clients_and_services_from_the_process_cache(api, key):
    assert post(api, data=form(key)).status_code == 201
    with CaptureQueriesContext(connection) as ctx:
        assert post(api, data=form(key), HTTP_IDEMPOTENCY_KEY="x").status_code == 201
    sql = " ".join(q["sql"] for q in ctx.captured_queries)
    assert "open311_open311client" not in sql
    assert "cases_categoryquestion" not in sql and '"cases_category"' not in sql


# ---- the api_key ---------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("bad_key", [None, "", "o311_not-a-key", "cg_someothertoken"])
def test_a_missing_or_invalid_api_key_is_403(api, key, fmt, bad_key):
    response = post(api, fmt, form(bad_key))
    assert response.status_code == 403
    [(code, description)] = errors(response, fmt)
    assert code == 403 and description.startswith("api_key:")
    assert not Case.objects.exists()


def test_a_revoked_client_is_refused(api, app):
    client, key = app
    assert post(api, data=form(key)).status_code == 201
    services.client_revoke(client=client)
    assert post(api, data=form(key)).status_code == 403
    assert Case.objects.count() == 1


def test_a_revocation_elsewhere_takes_effect_when_the_cache_expires(api, app, monkeypatch):
    client, key = app
    assert post(api, data=form(key)).status_code == 201
    Open311Client.objects.filter(pk=client.pk).update(is_active=False)  # another process revoked it
    monkeypatch.setattr(services, "CLIENT_TTL", 0.0)
    assert post(api, data=form(key)).status_code == 403


def test_only_a_digest_of_the_key_is_stored(app):
    client, key = app
    assert key.startswith("o311_") and len(key) > 40
    client.refresh_from_db()
    assert client.digest == hashlib.sha256(key.encode()).hexdigest()
    assert key not in (client.prefix, client.digest, client.name)


def test_a_clients_jurisdiction_is_checked(api):
    _, key = services.client_create(name="Wuzhou app", jurisdiction_id="wuzhou.gov.cn")
    assert post(api, data=form(key, jurisdiction_id="wuzhou.gov.cn")).status_code == 201
    response = post(api, data=form(key, jurisdiction_id="nanning.gov.cn"))
    assert response.status_code == 404
    assert errors(response, "json")[0][1].startswith("jurisdiction_id:")


# ---- bad input -----------------------------------------------------------------------------------

OUTSIDE = {"lat": "39.9042", "long": "116.4074"}  # Beijing


def _attribute_question():
    question = CategoryQuestion.objects.create(
        category=Category.objects.get(kind="event", code="0102"),
        code="seen_at",
        datatype="datetime",
        label="发现时间",
    )
    CategoryQuestion.objects.create(
        category=question.category, code="bags", datatype="number", label="袋数", order=2
    )
    selectors.clear_cache()


BAD = [
    ("unknown service", {"service_code": "X9999"}, 404, "service_code: X9999"),
    ("top-level category", {"service_code": "E01"}, 404, "service_code: E01"),
    ("no service code", {"service_code": None}, 400, "service_code:"),
    ("outside the city", OUTSIDE, 400, "lat: This point is outside the city's grids."),
    ("lat without long", {"long": None}, 400, "long:"),
    ("lat not a number", {"lat": "north"}, 400, "lat:"),
    ("lat not finite", {"lat": "nan", "long": "inf"}, 400, "lat:"),
    ("no location", {"lat": None, "long": None}, 400, "lat:"),
    (
        "unknown address",
        {"lat": None, "long": None, "address_string": "不存在的路99号"},
        400,
        "address_string:",
    ),
    ("address too long", {"address_string": "路" * 201}, 400, "address_string:"),
    ("no description", {"description": "   "}, 400, "description:"),
    ("description too long", {"description": "长" * 4001}, 400, "description: "),
    ("nul in text", {"description": "垃圾\x00"}, 400, "description:"),
    ("required attribute missing", {"service_code": "E0401"}, 400, "attribute[size]:"),
    (
        "value not in the list",
        {"service_code": "E0401", "attribute[size]": "huge", "attribute[traffic]": "no"},
        400,
        "attribute[size]:",
    ),
    (
        "two values for one",
        {"service_code": "E0401", "attribute[size]": ["small", "large"], "attribute[traffic]": "no"},
        400,
        "attribute[size]:",
    ),
    ("unknown attribute", {"attribute[colour]": "red"}, 400, "attribute[colour]:"),
    ("bad phone", {"phone": "12345"}, 400, "phone:"),
    ("bad email", {"email": "not-an-email"}, 400, "email:"),
    ("javascript media_url", {"media_url": "javascript:alert(1)"}, 400, "media_url:"),
    ("ftp media_url", {"media_url": "ftp://example.com/a.jpg"}, 400, "media_url:"),
    ("long media_url", {"media_url": "https://example.com/" + "a" * 1000}, 400, "media_url:"),
    ("long name", {"first_name": "名" * 30, "last_name": "姓" * 30}, 400, "first_name:"),
    ("long idempotency key", {"idempotency_key": "k" * 101}, 400, "idempotency_key:"),
]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("label, fields, status, prefix", BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_refused_naming_the_problem(api, key, fmt, label, fields, status, prefix):
    response = post(api, fmt, form(key, **fields))
    assert response.status_code == status, response.content
    found = errors(response, fmt)
    assert all(code == status for code, _ in found)
    assert any(description.startswith(prefix) for _, description in found), found
    assert not Case.objects.exists()


@pytest.mark.parametrize(
    "fields, prefix",
    [
        ({"attribute[bags]": "nan"}, "attribute[bags]:"),
        ({"attribute[bags]": "1e999"}, "attribute[bags]:"),
        ({"attribute[seen_at]": "2026-13-45T25:00:00"}, "attribute[seen_at]:"),
        ({"attribute[seen_at]": "yesterday"}, "attribute[seen_at]:"),
    ],
)
def test_bad_numbers_and_dates_in_attributes_are_400(api, key, fields, prefix):
    _attribute_question()
    response = post(api, data=form(key, **fields))
    assert response.status_code == 400, response.content
    assert errors(response, "json")[0][1].startswith(prefix)
    assert not Case.objects.exists()


def test_every_missing_required_attribute_is_named(api, key):
    response = post(api, data=form(key, service_code="E0401"))
    described = {d.split(":")[0] for _, d in errors(response, "json")}
    assert described == {"attribute[size]", "attribute[traffic]"}


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_file_that_is_not_an_image_is_refused(api, key, fmt):
    data = form(key)
    data["media"] = SimpleUploadedFile("p.png", b"<?php echo 1; ?>", content_type="image/png")
    response = post(api, fmt, data)
    assert response.status_code == 400
    assert errors(response, fmt)[0][1].startswith("media:")
    assert not Case.objects.exists() and not CasePhoto.objects.exists()


def test_media_url_is_never_fetched(api, key, monkeypatch):
    import socket
    import urllib.request

    def refuse(*args, **kwargs):
        raise AssertionError("the media_url must not be fetched")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    response = post(api, data=form(key, media_url="http://10.0.0.1/internal.jpg"))
    assert response.status_code == 201
    rid = response.json()[0]["service_request_id"]
    assert api.get(f"{BASE}/requests/{rid}.json").json()[0]["media_url"] == "http://10.0.0.1/internal.jpg"


def test_a_body_that_cannot_be_read_is_400(api, key):
    response = api.post(
        f"{BASE}/requests.json", b"--x\r\nbroken", content_type="multipart/form-data; boundary="
    )
    assert response.status_code == 400
    assert errors(response, "json")[0][1].startswith("The request body could not be read")


def test_too_many_fields_is_400(api, key, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    data = form(key, **{f"attribute[a{i}]": "x" for i in range(20)})
    response = post(api, data=data)
    assert response.status_code == 400
    assert not Case.objects.exists()


def test_other_methods_are_405(api):
    response = api.put(f"{BASE}/requests.xml")
    assert response.status_code == 405
    assert errors(response, "xml")[0][0] == 405
