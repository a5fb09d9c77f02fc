"""The patrol API: the phone's own endpoints (consent, duty, uploads) and the officials' reads,
scoped like every endpoint; bad input names the field; a day of points uploads in few queries."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from civicgrid.areas.models import Area
from civicgrid.areas.services import grid_worker_assign
from civicgrid.core.models import AccessLog
from civicgrid.core.testing import HOME, ScopedEndpointTests, api_client, count_queries, make_user
from civicgrid.patrol import services
from civicgrid.patrol.models import PatrolShift, TrackingConsent, TrackPoint

from .conftest import key, ms, offset, walk

pytestmark = pytest.mark.django_db

ME = "/api/v1/patrol/me/"


def payload(points, k=None):
    return {
        "key": k or key(),
        "points": [
            {"t": ms(p.at), "lat": p.lat, "lng": p.lng, "acc": p.accuracy, "speed": 1.2} for p in points
        ],
    }


def test_the_phone_flow(worker, consent_text, centre):
    client = api_client(worker)
    state = client.get(ME).json()
    assert state["can_record"] and state["shift"] is None
    assert state["consent"] == {"in_force": False, "current": False, "version": None, "given_at": None}
    assert state["text"]["version"] == consent_text.version

    refused = client.post(f"{ME}shifts/", {"key": key()}, format="json")
    assert refused.status_code == 409 and refused.json()["code"] == "consent_required"
    stale = client.post(f"{ME}consent/", {"version": "old"}, format="json")
    assert stale.status_code == 409 and stale.json()["code"] == "stale_consent_text"
    given = client.post(f"{ME}consent/", {"version": consent_text.version}, format="json")
    assert given.status_code == 201 and given.json()["consent"]["current"]
    assert client.post(f"{ME}consent/", {"version": consent_text.version}, format="json").status_code == 200

    k = key()
    started = client.post(f"{ME}shifts/", {"key": k}, format="json")
    assert started.status_code == 201
    shift_id = started.json()["id"]
    assert client.post(f"{ME}shifts/", {"key": k}, format="json").json()["id"] == shift_id
    assert client.get(ME).json()["shift"]["id"] == shift_id

    body = payload(walk(centre, 30, at=timezone.now() - timedelta(seconds=115)))  # since the start
    up = client.post(f"{ME}shifts/{shift_id}/points/", body, format="json")
    assert up.status_code == 201, up.content
    assert {k: up.json()[k] for k in ("accepted", "duplicates", "rejected", "created")} == {
        "accepted": 30,
        "duplicates": 0,
        "rejected": 0,
        "created": True,
    }
    replay = client.post(f"{ME}shifts/{shift_id}/points/", body, format="json")
    assert replay.status_code == 200 and replay.json()["accepted"] == 30 and not replay.json()["created"]
    assert TrackPoint.objects.filter(shift_id=shift_id).count() == 30

    ended = client.post(f"{ME}shifts/{shift_id}/end/", {}, format="json")
    assert ended.status_code == 200 and ended.json()["end_reason"] == "worker"
    assert client.get(ME).json()["shift"] is None
    mine = client.get(f"{ME}shifts/").json()
    assert mine["count"] == 1 and mine["results"][0]["point_count"] == 30

    withdrawn = client.post(f"{ME}consent/withdraw/", {}, format="json")
    assert withdrawn.status_code == 200 and not withdrawn.json()["consent"]["in_force"]


def test_bad_uploads_name_the_field(on_duty, centre):
    client = api_client(on_duty.worker)
    url = f"{ME}shifts/{on_duty.pk}/points/"
    points = payload(walk(centre, 3, at=timezone.now()))
    points["points"][1]["lat"] = 123.0
    res = client.post(url, points, format="json")
    assert res.status_code == 400 and "lat" in res.json()["points"]["1"]
    res = client.post(url, {"points": payload(walk(centre, 1, at=timezone.now()))["points"]}, format="json")
    assert res.status_code == 400 and "key" in res.json()
    res = client.post(url, payload(walk(centre, 1001, at=timezone.now())), format="json")
    assert res.status_code == 400 and "points" in res.json()
    res = client.post(url, {"key": key(), "points": []}, format="json")
    assert res.status_code == 400 and "points" in res.json()
    res = client.post(url, {"key": key(), "points": [{"t": "soon", "lat": 1, "lng": 1}]}, format="json")
    assert res.status_code == 400 and {"t", "acc"} <= set(res.json()["points"]["0"])
    assert not TrackPoint.objects.exists()  # nothing half-written


def test_nobody_reaches_another_workers_shift(on_duty, other_worker, consent_text, centre):
    services.consent_give(actor=other_worker, version=consent_text.version)
    client = api_client(other_worker)
    url = f"{ME}shifts/{on_duty.pk}/"
    assert (
        client.post(f"{url}points/", payload(walk(centre, 2, at=timezone.now())), format="json").status_code
        == 404
    )
    assert client.post(f"{url}end/", {}, format="json").status_code == 404
    official = api_client(make_user("t_comm", "community_official"))
    assert official.post(f"{ME}shifts/", {}, format="json").status_code == 403
    assert official.get(ME).json()["can_record"] is False


def test_a_day_of_points_uploads_and_draws_in_few_queries(on_duty, centre, building_at, officials):
    """3,000 points (a day at one per 10 s) in uploads of up to 1,000: an upload runs a fixed
    handful of queries whatever its size (only the multi-row INSERTs come in chunks: SQLite caps the
    parameters of a statement)."""
    for i in range(8):
        building_at(*offset(*centre, 15 * (i % 2) - 5, 25 * i - 100), name=f"{i + 1}栋")
    client = api_client(on_duty.worker)
    url = f"{ME}shifts/{on_duty.pk}/points/"
    PatrolShift.objects.filter(pk=on_duty.pk).update(started_at=timezone.now() - timedelta(hours=9))
    start = timezone.now() - timedelta(hours=8, minutes=30)
    points = []
    for i in range(3000):  # back and forth along the street of the grid
        east = (i % 40) * 6 - 120 if (i // 40) % 2 == 0 else 120 - (i % 40) * 6
        lat, lng = offset(*centre, 0, east)
        points.append(services.point_from_ms(ms(start + timedelta(seconds=10 * i)), lat, lng, 8))
    counts = []
    for chunk in (points[:100], points[100:1000], points[1000:2000], points[2000:]):
        counts.append(count_queries(lambda c=chunk: client.post(url, payload(c), format="json")))
    assert TrackPoint.objects.filter(shift=on_duty).count() == 3000
    assert max(counts) - min(counts) <= 8 and max(counts) <= 30, counts
    # Drawn: the day's track comes simplified, in a fixed number of queries.
    client = api_client(officials["community"])
    url = f"/api/v1/patrol/workers/{on_duty.worker_id}/days/{timezone.localdate(start).isoformat()}/"
    queries = count_queries(lambda: client.get(url))
    body = client.get(url).json()
    assert body["point_count"] == sum(
        1 for p in points if timezone.localdate(p.at) == timezone.localdate(start)
    )
    assert body["points_drawn"] < body["point_count"] / 5
    assert queries <= 20, queries


class TestShiftEndpoints(ScopedEndpointTests):
    """Officials see the shifts of their area only; roles without the permission see none."""

    from civicgrid.patrol.models import PatrolShift as model

    def api_list(self):
        return "/api/v1/patrol/shifts/"

    def api_detail(self, obj):
        return f"/api/v1/patrol/shifts/{obj.pk}/"

    def make_object(self, area, n=0):
        from civicgrid.patrol.testing import seed_consent_text

        text = seed_consent_text()
        worker = make_user(f"t_worker{n}_{area.pk}", None)
        consent = TrackingConsent.objects.create(worker=worker, text=text, area=area)
        return PatrolShift.objects.create(worker=worker, consent=consent, area=area)

    def marker(self, obj):
        return f'"id":{obj.pk},"worker":'

    def page_detail(self, obj):
        return reverse("patrol:worker_day", args=[obj.worker_id, timezone.localdate().isoformat()])


def test_shift_filters(on_duty, officials, other_worker, consent_text):
    services.consent_give(actor=other_worker, version=consent_text.version)
    far, _ = services.shift_start(actor=other_worker)
    admin = api_client(officials["admin"])
    day = timezone.localdate().isoformat()
    ids = {r["id"] for r in admin.get("/api/v1/patrol/shifts/", {"date": day}).json()["results"]}
    assert ids == {on_duty.pk, far.pk}
    home = Area.objects.get(code=HOME["street"])
    res = admin.get("/api/v1/patrol/shifts/", {"area": home.pk, "open": "true"}).json()["results"]
    assert [r["id"] for r in res] == [on_duty.pk] and res[0]["on_duty"]
    assert admin.get("/api/v1/patrol/shifts/", {"worker": far.worker_id}).json()["count"] == 1
    assert admin.get("/api/v1/patrol/shifts/", {"date": "yesterday"}).status_code == 400
    assert admin.get("/api/v1/patrol/shifts/", {"area": "x"}).status_code == 400
    community = api_client(officials["community"])
    assert (
        community.get("/api/v1/patrol/shifts/", {"area": Area.objects.get(code="450405").pk}).status_code
        == 400
    )


def test_a_workers_day_is_read_in_scope_and_logged(on_duty, centre, officials):
    services.points_upload(
        actor=on_duty.worker,
        shift=on_duty,
        key=key(),
        points=walk(centre, 40, at=timezone.now() - timedelta(minutes=9)),
    )
    url = f"/api/v1/patrol/workers/{on_duty.worker_id}/days/{timezone.localdate().isoformat()}/"
    res = api_client(officials["community"]).get(url)
    assert res.status_code == 200
    body = res.json()
    assert body["point_count"] == 40 and len(body["lines"]) == 1 and body["shifts"][0]["id"] == on_duty.pk
    log = AccessLog.objects.filter(user=officials["community"], object_id=str(on_duty.worker_id)).get()
    assert log.kind == "read" and log.detail["date"] == timezone.localdate().isoformat()
    raw = api_client(officials["community"]).get(url, {"raw": "1", "tolerance": "0"}).json()
    assert len(raw["points"]) == 40 and len(raw["lines"][0]) == 40
    assert api_client(officials["far_district"]).get(url).status_code == 404
    assert api_client(officials["dispatcher"]).get(url).status_code == 403
    assert api_client(on_duty.worker).get(url).status_code == 403  # workers read their own via me/
    assert (
        api_client(officials["community"])
        .get(url.replace(timezone.localdate().isoformat(), "2026-13-01"))
        .status_code
        == 400
    )
    missing = f"/api/v1/patrol/workers/{10**9}/days/2026-11-01/"
    assert api_client(officials["community"]).get(missing).status_code == 404
    assert AccessLog.objects.filter(object_id=str(on_duty.worker_id)).count() == 2  # refusals are not reads


def test_coverage_api(on_duty, grid, centre, building_at, officials):
    building_at(*offset(*centre, 20, 60))
    building_at(*offset(*centre, -100, 60))
    services.points_upload(
        actor=on_duty.worker,
        shift=on_duty,
        key=key(),
        points=walk(centre, 20, at=timezone.now() - timedelta(minutes=5)),
    )
    client = api_client(officials["community"])
    res = client.get("/api/v1/patrol/coverage/", {"grid": grid.pk})
    assert res.status_code == 200
    body = res.json()
    assert (body["buildings_total"], body["buildings_visited"], body["percent"]) == (2, 1, 50.0)
    assert body["workers"][0]["id"] == on_duty.worker_id
    listing = client.get("/api/v1/patrol/coverage/", {"month": timezone.localdate().strftime("%Y-%m")}).json()
    row = next(r for r in listing["results"] if r["grid"]["id"] == grid.pk)
    assert (row["buildings"], row["visited"], row["percent"]) == (2, 1, 50.0)
    assert listing["count"] == Area.objects.filter(code__startswith="450403005001", level="grid").count()
    assert client.get("/api/v1/patrol/coverage/", {"month": "2026-13"}).status_code == 400
    far = Area.objects.get(code="450405001001001")
    assert client.get("/api/v1/patrol/coverage/", {"grid": far.pk}).status_code == 404
    assert api_client(officials["dispatcher"]).get("/api/v1/patrol/coverage/").status_code == 403


def test_consents_are_listed_in_scope(consented, other_worker, consent_text, officials):
    services.consent_give(actor=other_worker, version=consent_text.version)
    services.consent_withdraw(actor=other_worker)
    community = api_client(officials["community"]).get("/api/v1/patrol/consents/").json()
    assert [r["worker"]["id"] for r in community["results"]] == [consented.pk]
    admin = api_client(officials["admin"])
    assert admin.get("/api/v1/patrol/consents/").json()["count"] == 2
    assert admin.get("/api/v1/patrol/consents/", {"in_force": "true"}).json()["count"] == 1


def test_schema_documents_the_patrol_endpoints(officials):
    paths = api_client(officials["admin"]).get("/api/schema/", {"format": "json"}).json()["paths"]
    for path in (
        "/api/v1/patrol/me/",
        "/api/v1/patrol/me/shifts/{id}/points/",
        "/api/v1/patrol/shifts/",
        "/api/v1/patrol/workers/{id}/days/{day}/",
        "/api/v1/patrol/coverage/",
    ):
        assert path in paths, path


def test_a_reassigned_worker_starts_in_the_new_grid(on_duty, consent_text):
    worker = on_duty.worker
    grid_worker_assign(actor=None, grid=Area.objects.get(code=HOME["grid"]), user=None)
    new_grid = Area.objects.get(code="450403005001002")
    grid_worker_assign(actor=None, grid=new_grid, user=worker)
    shift, created = services.shift_start(actor=worker, key=str(uuid.uuid4()))
    assert created and shift.area == new_grid
    on_duty.refresh_from_db()
    assert on_duty.end_reason == "reassigned"


def test_publishing_a_consent_text(consented, consent_text, officials):
    url = "/api/v1/patrol/consent-texts/"
    assert api_client(officials["community"]).get(url).json()["results"][0]["version"] == consent_text.version
    assert api_client(officials["community"]).post(url, {}, format="json").status_code == 403
    admin = api_client(officials["admin"])
    res = admin.post(url, {"version": "", "title": "新版", "body": "正文"}, format="json")
    assert res.status_code == 400 and "version" in res.json()
    res = admin.post(url, {"version": "2027-1", "title": "新版", "body": "正文"}, format="json")
    assert res.status_code == 201 and res.json()["is_current"]
    state = api_client(consented).get(ME).json()
    assert state["consent"] == {**state["consent"], "in_force": True, "current": False}
    assert state["text"]["version"] == "2027-1"
    assert api_client(consented).post(f"{ME}shifts/", {}, format="json").json()["code"] == "consent_required"
