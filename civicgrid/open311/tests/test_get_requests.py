"""GET requests and GET a request: only public cases, the standard filters, paging, the public
timeline as notes with extensions=true, and never anything personal."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest
from django.http import QueryDict
from django.utils import timezone

from civicgrid.areas.models import Area
from civicgrid.cases.choices import EventKind, Status
from civicgrid.cases.models import Case, CaseEvent, Department
from civicgrid.core.testing import count_queries
from civicgrid.open311 import params
from civicgrid.open311.serializers import open_or_closed

from .conftest import BASE, errors, form, parse

pytestmark = pytest.mark.django_db
FORMATS = ["json", "xml"]


@pytest.fixture
def api(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def make(api, key, **fields) -> Case:
    response = api.post(f"{BASE}/requests.json", form(key, **fields))
    assert response.status_code == 201, response.content
    return Case.objects.get(pk=params.request_pk(response.json()[0]["service_request_id"]))


def listed(api, fmt="json", **query) -> list[str]:
    response = api.get(f"{BASE}/requests.{fmt}", query)
    assert response.status_code == 200, response.content
    body = parse(response, fmt)
    if fmt == "json":
        return [r["service_request_id"] for r in body]
    assert body.tag == "service_requests"
    return [r.findtext("service_request_id") for r in body.findall("request")]


@pytest.fixture
def cases(api, key):
    """open: a fresh open report; closed: a closed pothole; old: 120 days old; private: a
    neighbour dispute (not public)."""
    open_ = make(api, key)
    closed = make(api, key, service_code="E0401", **{"attribute[size]": "small", "attribute[traffic]": "no"})
    Case.objects.filter(pk=closed.pk).update(status=Status.CLOSED, due_at=None)
    old = make(api, key, description="很久以前的垃圾")
    Case.objects.filter(pk=old.pk).update(reported_at=timezone.now() - timedelta(days=120))
    old.refresh_from_db()
    private = make(api, key, service_code="G0101", description="邻居吵架")
    assert not private.is_public
    return {"open": open_, "closed": closed, "old": old, "private": private}


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_default_list_is_the_public_requests_of_the_last_90_days(api, cases, fmt):
    assert listed(api, fmt) == [cases["closed"].number, cases["open"].number]


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_request_in_both_formats(api, key, fmt):
    dept = Department.objects.create(
        code="T-01",
        name="万秀区城市管理局",
        level="district",
        area=Area.objects.get(code="450403"),
        function="urban_management",
    )
    case = make(api, key, address_string="大学路口", media_url="https://img.example.com/1.jpg")
    Case.objects.filter(pk=case.pk).update(department=dept)
    response = api.get(f"{BASE}/requests/{case.number}.{fmt}")
    assert response.status_code == 200
    body = parse(response, fmt)
    if fmt == "json":
        [r] = body
    else:
        r = {child.tag: child.text for child in body.find("request")}
        r["lat"], r["long"] = float(r["lat"]), float(r["long"])
    assert r["service_request_id"] == case.number and r["status"] == "open"
    assert r["service_code"] == "E0102" and r["service_name"] == "暴露垃圾"
    assert r["agency_responsible"] == "万秀区城市管理局"
    assert r["address"] == "大学路口" and r["media_url"] == "https://img.example.com/1.jpg"
    assert (r["lat"], r["long"]) == (case.lat, case.lng)
    assert r["requested_datetime"] == timezone.localtime(case.reported_at).isoformat(timespec="seconds")
    assert r["requested_datetime"].endswith("+08:00")
    assert r["expected_datetime"] == timezone.localtime(case.due_at).isoformat(timespec="seconds")
    assert r["service_notice"]  # the detailed status


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_private_or_unknown_request_is_404(api, cases, fmt):
    for rid in (cases["private"].number, "2026010199999999", "abc", cases["open"].number[:8] + "x"):
        response = api.get(f"{BASE}/requests/{rid}.{fmt}")
        assert response.status_code == 404, rid
        assert errors(response, fmt) == [(404, "service_request_id: No such service request.")]
    # The id must carry the case's own report date.
    wrong_date = "19990101" + cases["open"].number[8:]
    assert api.get(f"{BASE}/requests/{wrong_date}.json").status_code == 404


def test_filters(api, cases):
    c = cases
    assert listed(api, service_code="E0102") == [c["open"].number]
    assert listed(api, service_code="E0102,E0401") == [c["closed"].number, c["open"].number]
    assert listed(api, service_code="G0101") == []  # not public
    assert listed(api, status="open") == [c["open"].number]
    assert listed(api, status="closed") == [c["closed"].number]
    assert listed(api, status="open,closed") == [c["closed"].number, c["open"].number]
    old_day = timezone.localtime(c["old"].reported_at)
    window = {
        "start_date": (old_day - timedelta(days=1)).isoformat(timespec="seconds"),
        "end_date": (old_day + timedelta(days=1)).isoformat(timespec="seconds"),
    }
    assert listed(api, **window) == [c["old"].number]
    assert listed(api, start_date=old_day.date().isoformat(), end_date=old_day.date().isoformat()) == [
        c["old"].number
    ]
    utc = (old_day - timedelta(hours=1)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert c["old"].number in listed(api, start_date=utc)
    # service_request_id overrides every other argument (the date window included).
    ids = f"{c['old'].number},{c['private'].number},{c['open'].number}"
    assert listed(api, service_request_id=ids, status="closed") == [c["old"].number, c["open"].number]


@pytest.mark.parametrize(
    "query, prefix",
    [
        ({"status": "pending"}, "status:"),
        ({"start_date": "last week"}, "start_date:"),
        ({"end_date": "2026-02-30"}, "end_date:"),
        ({"start_date": "2026-03-01", "end_date": "2026-02-01"}, "end_date:"),
        ({"service_request_id": "12,abc"}, "service_request_id:"),
        ({"page": "0"}, "page:"),
        ({"page_size": "-5"}, "page_size:"),
        ({"page": "x"}, "page:"),
        ({"service_code": "E01\x00"}, "service_code:"),
    ],
)
@pytest.mark.parametrize("fmt", FORMATS)
def test_bad_filters_are_400(api, query, prefix, fmt):
    response = api.get(f"{BASE}/requests.{fmt}", query)
    assert response.status_code == 400
    [(code, description)] = errors(response, fmt)
    assert code == 400 and description.startswith(prefix)


def test_paging(api, key):
    made = [make(api, key, description=f"垃圾{i}") for i in range(5)]
    newest_first = [c.number for c in reversed(made)]
    response = api.get(f"{BASE}/requests.json", {"page_size": 2})
    assert [r["service_request_id"] for r in response.json()] == newest_first[:2]
    assert 'rel="next"' in response["Link"] and "page=2" in response["Link"]
    assert listed(api, page_size=2, page=2) == newest_first[2:4]
    assert listed(api, page_size=2, page=3) == newest_first[4:]
    assert listed(api, page_size=2, page=4) == []
    assert params.request_query(QueryDict("page_size=1000")).page_size == params.PAGE_SIZE_MAX
    assert params.request_query(QueryDict("")).page_size == params.PAGE_SIZE


def test_extensions_show_the_public_timeline_and_nothing_personal(api, key):
    case = make(
        api,
        key,
        first_name="三",
        last_name="张",
        phone="13800138000",
        email="zhang@example.com",
        device_id="device-secret",
        account_id="acct-secret",
    )
    CaseEvent.objects.create(case=case, kind=EventKind.RECORDED, note="已立案，安排清运", is_public=True)
    CaseEvent.objects.create(
        case=case, kind=EventKind.SUPERVISED, note="内部督办：联系人李四", is_public=False
    )
    CaseEvent.objects.create(case=case, kind=EventKind.DISPATCHED, note="", is_public=True)
    for fmt in FORMATS:
        response = api.get(f"{BASE}/requests/{case.number}.{fmt}", {"extensions": "true"})
        assert response.status_code == 200
        body = parse(response, fmt)
        if fmt == "json":
            r = body[0]
            notes = [(n["type"], n["description"]) for n in r["notes"]]
            assert all(n["datetime"].endswith("+08:00") for n in r["notes"])
            status_notes = r["status_notes"]
        else:
            r = body.find("request")
            notes = [(n.findtext("type"), n.findtext("description")) for n in r.findall("notes/note")]
            status_notes = r.findtext("status_notes")
        assert [t for t, _ in notes] == ["reported", "recorded", "dispatched"]
        assert ("recorded", "已立案，安排清运") in notes
        assert status_notes == "已立案，安排清运"  # the latest public note
        text = response.content.decode()
        for secret in (
            "内部督办",
            "李四",
            "张三",
            "13800138000",
            "zhang@example.com",
            "device-secret",
            "acct-secret",
        ):
            assert secret not in text, secret
    # Listing with extensions too; without, there are no notes.
    assert listed(api, extensions="true") == [case.number]
    assert "notes" not in api.get(f"{BASE}/requests.json").json()[0]
    assert "内部督办" not in api.get(f"{BASE}/requests.json").content.decode()


def test_the_list_costs_the_same_queries_for_any_number_of_rows(api, key):
    make(api, key)
    url = f"{BASE}/requests.json?extensions=true"
    first = count_queries(lambda: api.get(url))
    for i in range(4):
        case = make(api, key, description=f"更多垃圾{i}", media_url="https://img.example.com/a.jpg")
        CaseEvent.objects.create(case=case, kind=EventKind.COMMENT, note="备注", is_public=True)
    second = count_queries(lambda: api.get(url))
    assert first == second <= 2
    assert len(api.get(url).json()) == 5


def test_statuses_map_to_open_and_closed():
    assert {s: open_or_closed(s) for s in Status.values} == {
        "reported": "open",
        "recorded": "open",
        "dispatched": "open",
        "in_progress": "open",
        "handled": "open",
        "verified": "open",
        "deferred": "open",
        "closed": "closed",
        "rejected": "closed",
        "merged": "closed",
    }


def test_a_closed_request_shows_closed_and_no_expected_time(api, cases):
    [r] = api.get(f"{BASE}/requests/{cases['closed'].number}.json").json()
    assert r["status"] == "closed" and r["expected_datetime"] is None


def test_a_private_request_has_no_token(api, key):
    api.post(
        f"{BASE}/requests.json",
        form(key, service_code="G0101", description="邻居吵架"),
        HTTP_IDEMPOTENCY_KEY="p1",
    )
    assert Case.objects.count() == 1
    assert api.get(f"{BASE}/tokens/p1.json").status_code == 404
