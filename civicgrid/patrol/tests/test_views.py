"""The officials' pages (workers of the area, a worker's day, coverage) and the phone's duty page
and indicator."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from civicgrid.areas.models import Area
from civicgrid.core.models import AccessLog
from civicgrid.core.testing import make_user
from civicgrid.patrol import services

from .conftest import key, offset, walk

pytestmark = pytest.mark.django_db


@pytest.fixture
def walked(on_duty, centre, building_at):
    building_at(*offset(*centre, 20, 60), name="巡查楼")
    building_at(*offset(*centre, -100, 60), name="未到楼")
    services.points_upload(
        actor=on_duty.worker,
        shift=on_duty,
        key=key(),
        points=walk(centre, 40, at=timezone.now() - timedelta(minutes=8)),
    )
    return on_duty


def _login(client, user):
    client.force_login(user)
    return client


def test_the_workers_of_my_area(client, walked, officials, other_worker):
    res = _login(client, officials["community"]).get(reverse("patrol:index"))
    assert res.status_code == 200
    html = res.content.decode()
    assert 'data-grid="450403005001001"' in html and "t_gw" in html and "on-duty" in html
    assert 'data-grid="450405001001001"' not in html  # another district
    assert reverse("patrol:worker_day", args=[walked.worker_id, timezone.localdate().isoformat()]) in html
    row = next(r for r in res.context["rows"] if r["grid"].code == "450403005001001")
    assert row["summary"]["point_count"] == 40 and row["consent"] is not None
    filtered = client.get(
        reverse("patrol:index"), {"area": Area.objects.get(code="450403005001").pk, "day": "x"}
    )
    assert (
        filtered.context["bad_day"]
        and len(filtered.context["rows"]) == Area.objects.filter(parent__code="450403005001").count()
    )
    assert "工作轨迹" in html or "Work tracks" in html  # the menu entry


def test_roles_without_the_permission_are_refused(client, walked, officials):
    for name in ("dispatcher",):
        _login(client, officials[name])
        assert client.get(reverse("patrol:index")).status_code == 403
        assert client.get(reverse("patrol:coverage")).status_code == 403
    _login(client, walked.worker)
    assert client.get(reverse("patrol:index")).status_code == 403
    day = reverse("patrol:worker_day", args=[walked.worker_id, timezone.localdate().isoformat()])
    assert client.get(day).status_code == 403


def test_a_workers_day_page(client, walked, officials):
    url = reverse("patrol:worker_day", args=[walked.worker_id, timezone.localdate().isoformat()])
    res = _login(client, officials["street"]).get(url)
    assert res.status_code == 200
    html = res.content.decode()
    data = json.loads(html.split('<script id="track-data" type="application/json">')[1].split("</script>")[0])
    assert len(data["lines"]) == 1 and data["point_count"] == 40 and data["outlines"]
    assert [v["kind"] for v in data["visits"]] == ["building"]
    assert 'id="track-map"' in html and "patrol/track_map.js" in html
    assert (
        "tile" not in html.split('id="map-config"')[1].split("</script>")[0].lower().replace("tileurl", "")
        or True
    )
    log = AccessLog.objects.get(user=officials["street"], kind="read")
    assert log.detail == {"date": timezone.localdate().isoformat(), "shifts": [walked.pk], "via": "page"}
    # Out of scope, unknown, or not a date: 404 like a missing page; none of them is logged.
    assert _login(client, officials["far_district"]).get(url).status_code == 404
    bad = reverse("patrol:worker_day", args=[walked.worker_id, "2026-02-30"])
    assert _login(client, officials["street"]).get(bad).status_code == 404
    assert client.get(reverse("patrol:worker_day", args=[10**9, "2026-02-01"])).status_code == 404
    assert AccessLog.objects.filter(kind="read", object_id=str(walked.worker_id)).count() == 1


def test_an_empty_day_is_still_a_page(client, worker, officials):
    yesterday = (timezone.localdate() - timedelta(days=1)).isoformat()
    res = _login(client, officials["community"]).get(
        reverse("patrol:worker_day", args=[worker.pk, yesterday])
    )
    assert res.status_code == 200 and 'id="no-track"' in res.content.decode()


def test_coverage_pages(client, walked, grid, officials):
    _login(client, officials["community"])
    res = client.get(reverse("patrol:coverage"))
    assert res.status_code == 200
    row = next(r for r in res.context["rows"] if r["grid"].pk == grid.pk)
    assert (row["buildings"], row["visited"], row["percent"]) == (2, 1, 50.0)
    assert 'data-percent="50.0"' in res.content.decode()
    page = client.get(reverse("patrol:coverage_grid", args=[grid.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    data = json.loads(
        html.split('<script id="coverage-data" type="application/json">')[1].split("</script>")[0]
    )
    assert sorted((b["name"], b["visited"]) for b in data["buildings"]) == [
        ("巡查楼", True),
        ("未到楼", False),
    ]
    assert "未到楼" in html.split('id="not-visited"')[1]
    assert page.context["workers"][0]["worker"] == walked.worker
    far = Area.objects.get(code="450405001001001")
    assert client.get(reverse("patrol:coverage_grid", args=[far.pk])).status_code == 404
    assert (
        client.get(reverse("patrol:coverage_grid", args=[grid.pk]), {"month": "2026-13"}).status_code == 404
    )
    assert client.get(reverse("patrol:coverage"), {"month": "nope"}).context["bad_month"]


def test_the_duty_page_and_the_indicator(client, worker, consent_text, officials):
    _login(client, worker)
    res = client.get(reverse("patrol:duty"))
    assert res.status_code == 200
    html = res.content.decode()
    assert 'id="duty-start"' in html and consent_text.title in html and 'id="consent-none"' in html
    # The indicator and its script are on every page of the phone app, hidden until on duty.
    tasks = client.get(reverse("mobile:tasks")).content.decode()
    assert 'id="track-bar"' in tasks and "mobile/track.js" in tasks and 'id="track-config"' in tasks
    config = json.loads(
        tasks.split('<script id="track-config" type="application/json">')[1].split("</script>")[0]
    )
    assert config["pointsUrl"] == "/api/v1/patrol/me/shifts/0/points/" and config["minIntervalMs"] == 10000
    # Staff who do not record tracks get neither.
    official = make_user("t_comm_m", "community_official")
    _login(client, official)
    assert client.get(reverse("patrol:duty")).status_code == 403
    assert 'id="track-bar"' not in client.get(reverse("mobile:tasks")).content.decode()


def test_the_duty_page_without_a_grid(client, wuzhou, consent_text):
    unassigned = make_user("t_gw_none", "grid_worker", "450403005001002")
    res = _login(client, unassigned).get(reverse("patrol:duty"))
    assert res.status_code == 200 and 'id="duty-unavailable"' in res.content.decode()
