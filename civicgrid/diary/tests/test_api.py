"""The diary API: scope for every role, idempotent creation, the author's corrections and voiding,
to-case once, bad input naming the field, photos, the schema."""

from __future__ import annotations

import pytest
from django.urls import reverse

from civicgrid.cases.models import Case, Category
from civicgrid.core.testing import ScopedEndpointTests, api_client
from civicgrid.diary import services
from civicgrid.diary.models import DiaryRecord

from .conftest import upload

pytestmark = pytest.mark.django_db

LIST = "/api/v1/diary/records/"


def detail(pk) -> str:
    return f"{LIST}{pk}/"


class TestRecordScope(ScopedEndpointTests):
    model = DiaryRecord

    def api_list(self):
        return LIST

    def api_detail(self, obj):
        return detail(obj.pk)

    def page_detail(self, obj):
        return reverse("diary:detail", args=[obj.pk])

    def make_object(self, area, n=0):
        record = DiaryRecord.objects.create(area=area, kind="visit", summary=f"记录{n}")
        if n >= 10:  # the query-count rows carry links and photos too
            from civicgrid.registry.models import Person

            record.people.set(Person.objects.filter(area=area)[:2])
        return record


class TestCreate:
    def test_create_with_an_idempotency_key(self, people, household):
        client = api_client(people["gw"])
        body = {
            "kind": "visit",
            "summary": "走访",
            "households": [household[0].pk],
            "people": [household[1].pk],
        }
        first = client.post(LIST, body, format="json", HTTP_IDEMPOTENCY_KEY="abc-1")
        assert first.status_code == 201, first.content
        data = first.json()
        assert data["links"]["households"] == [{"id": household[0].pk, "label": "H0011 · 张建国"}]
        assert data["author"]["id"] == people["gw"].pk and data["case"] is None and data["version"] == 1
        again = client.post(LIST, {**body, "summary": "改"}, format="json", HTTP_IDEMPOTENCY_KEY="abc-1")
        assert (
            again.status_code == 200
            and again.json()["id"] == data["id"]
            and again.json()["summary"] == "走访"
        )
        assert DiaryRecord.objects.count() == 1

    def test_multipart_with_photos_and_repeated_ids(self, people, household):
        client = api_client(people["gw"])
        res = client.post(
            LIST,
            {
                "kind": "hazard",
                "summary": "楼道堆物",
                "severity": "moderate",
                "households": [str(household[0].pk)],
                "lat": "",
                "photos": [upload(), upload()],
            },
            format="multipart",
        )
        assert res.status_code == 201, res.content
        data = res.json()
        assert len(data["photos"]) == 2
        photo = client.get(data["photos"][0]["url"])
        assert photo.status_code == 200 and b"".join(photo.streaming_content).startswith(b"\x89PNG")
        assert api_client(people["far"]).get(data["photos"][0]["url"]).status_code == 404

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"kind": "nonsense", "summary": "x"}, "kind"),
            ({"kind": "visit", "summary": ""}, "summary"),
            ({"kind": "visit", "summary": "x", "severity": "minor"}, "severity"),
            ({"kind": "visit", "summary": "x", "occurred_at": "not a time"}, "occurred_at"),
            ({"kind": "visit", "summary": "x", "people": [10**9]}, "people"),
            ({"kind": "visit", "summary": "x", "lat": 23.4}, "lng"),
            ({"kind": "visit", "summary": "x", "area": 10**9}, "area"),
        ],
    )
    def test_bad_input_is_400_naming_the_field(self, people, body, field):
        res = api_client(people["gw"]).post(LIST, body, format="json")
        assert res.status_code == 400, res.content
        assert field in res.json()
        assert not DiaryRecord.objects.exists()

    def test_a_household_out_of_scope_is_named(self, people, far_household):
        res = api_client(people["gw"]).post(
            LIST, {"kind": "visit", "summary": "x", "households": [far_household[0].pk]}, format="json"
        )
        assert res.status_code == 400 and "households" in res.json()

    def test_readers_may_not_record(self, people):
        res = api_client(people["street"]).post(LIST, {"kind": "visit", "summary": "x"}, format="json")
        assert res.status_code == 403


class TestChange:
    def test_the_author_patches_with_the_version(self, people, record):
        rec = record()
        client = api_client(people["gw"])
        res = client.patch(detail(rec.pk), {"summary": "补记", "expected_version": 1}, format="json")
        assert res.status_code == 200 and res.json()["summary"] == "补记" and res.json()["version"] == 2
        stale = client.patch(detail(rec.pk), {"summary": "旧", "expected_version": 1}, format="json")
        assert stale.status_code == 409 and stale.json()["code"] == "conflict"
        bad = client.patch(detail(rec.pk), {"mood": "ecstatic"}, format="json")
        assert bad.status_code == 400 and "mood" in bad.json()

    def test_others_may_not(self, people, record):
        rec = record()
        assert (
            api_client(people["community"]).patch(detail(rec.pk), {"summary": "x"}, format="json").status_code
            == 403
        )
        assert (
            api_client(people["neighbour"]).patch(detail(rec.pk), {"summary": "x"}, format="json").status_code
            == 404
        )
        assert (
            api_client(people["street"]).patch(detail(rec.pk), {"summary": "x"}, format="json").status_code
            == 403
        )

    def test_void(self, people, record):
        rec = record()
        client = api_client(people["gw"])
        assert client.post(f"{detail(rec.pk)}void/", {}, format="json").json().keys() >= {"reason"}
        res = client.post(f"{detail(rec.pk)}void/", {"reason": "重复录入"}, format="json")
        assert res.status_code == 200 and res.json()["is_void"]
        listing = client.get(LIST).json()
        assert listing["count"] == 0
        assert client.get(LIST, {"voided": "true"}).json()["count"] == 1


class TestToCase:
    def test_once(self, people, record):
        rec = record(kind="dispute", summary="邻居吵架", photos=[upload()])
        client = api_client(people["community"])
        res = client.post(f"{detail(rec.pk)}to-case/", {}, format="json")
        assert res.status_code == 201, res.content
        body = res.json()
        case = Case.objects.get(pk=body["case"]["id"])
        assert body["record"]["case"]["id"] == case.pk and body["created"]
        assert case.category.code == "0101" and case.photos.count() == 1
        again = client.post(f"{detail(rec.pk)}to-case/", {}, format="json")
        assert again.status_code == 409
        assert again.json()["code"] == "already_case" and again.json()["case"]["id"] == case.pk
        assert Case.objects.filter(source="diary").count() == 1

    def test_category_and_answers(self, people, record):
        rec = record(kind="visit", summary="老人反映楼道灯坏了")
        client = api_client(people["gw"])
        res = client.post(f"{detail(rec.pk)}to-case/", {}, format="json")
        assert res.status_code == 400 and "category" in res.json()
        fire = Category.objects.get(kind="governance", code="0201")
        res = client.post(f"{detail(rec.pk)}to-case/", {"category": fire.pk}, format="json")
        assert res.status_code == 400 and "hazard" in res.json()["answers"]
        res = client.post(
            f"{detail(rec.pk)}to-case/",
            {"category": fire.pk, "answers": {"hazard": ["wiring"]}},
            format="json",
        )
        assert res.status_code == 201

    def test_readers_may_not(self, people, record):
        rec = record(kind="dispute", summary="纠纷")
        assert (
            api_client(people["street"]).post(f"{detail(rec.pk)}to-case/", {}, format="json").status_code
            == 403
        )


class TestList:
    def test_filters_and_bad_filters(self, people, record, household):
        visit = record()
        dispute = record(kind="dispute", summary="纠纷", households=[], people=[])
        client = api_client(people["community"])
        ids = [r["id"] for r in client.get(LIST, {"kind": "dispute"}).json()["results"]]
        assert ids == [dispute.pk]
        ids = [r["id"] for r in client.get(LIST, {"person": household[1].pk}).json()["results"]]
        assert ids == [visit.pk]
        res = client.get(LIST, {"date_from": "yesterday"})
        assert res.status_code == 400 and "date_from" in res.json()
        mine = api_client(people["gw"]).get(LIST, {"mine": "true"}).json()
        assert mine["count"] == 2

    def test_schema_documents_the_endpoints(self, people):
        from civicgrid.core.testing import make_user

        res = api_client(make_user("d_admin", "sysadmin")).get("/api/schema/", {"format": "json"})
        assert res.status_code == 200
        paths = res.json()["paths"]
        for path in (
            "/api/v1/diary/records/",
            "/api/v1/diary/records/{id}/",
            "/api/v1/diary/records/{id}/to-case/",
            "/api/v1/diary/records/{id}/void/",
        ):
            assert path in paths, path
        params = {p["name"] for p in paths["/api/v1/diary/records/"]["post"]["parameters"]}
        assert "Idempotency-Key" in params


def test_service_made_records_show_in_the_api(people, record):
    rec = record()
    services.record_update(actor=people["gw"], record=rec, summary="再记")
    data = api_client(people["auditor"]).get(detail(rec.pk)).json()
    assert data["summary"] == "再记" and data["version"] == 2
