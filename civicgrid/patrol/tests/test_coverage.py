"""Coverage of a grid in a month, and a worker's day: every sign of a visit, per worker, in scope."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone

from civicgrid.areas.models import Area
from civicgrid.cases import services as case_services
from civicgrid.patrol import coverage, selectors, services

from .conftest import key, offset, walk

pytestmark = pytest.mark.django_db


@pytest.fixture
def places(centre, building_at):
    """Five buildings of the home grid and one of the next grid."""
    return {
        "A": building_at(*offset(*centre, 20, 60), name="A栋"),  # the walk passes it
        "B": building_at(*offset(*centre, -80, -60), name="B栋"),  # a case is reported there
        "C": building_at(*offset(*centre, 80, -80), name="C栋"),  # a case is verified there
        "D": building_at(*offset(*centre, -90, 90), name="D栋"),  # a house in it is verified
        "E": building_at(*offset(*centre, 100, 100), name="E栋"),  # nobody goes there
        "other": building_at(
            *offset(*centre, -200, 60), name="F栋", area=Area.objects.get(code="450403005001002")
        ),
    }


def _verify_house_in(building, worker, grid):
    from civicgrid.registry.models import VerificationCheck
    from civicgrid.registry.services import house_create
    from civicgrid.registry.verification import campaign_start, check_confirm

    house = house_create(actor=None, building=building, room_no="101", unit_no="1")
    campaign = campaign_start(actor=None, area=grid, name="2026年集中核实", year=2026)
    check = VerificationCheck.objects.get(campaign=campaign, object_id=house.pk)
    return check_confirm(actor=worker, check=check)


def test_coverage_counts_every_sign_of_a_visit(
    on_duty, grid, centre, places, report_case, handled_case, officials
):
    worker = on_duty.worker
    at = timezone.now() - timedelta(minutes=40)
    services.points_upload(actor=worker, shift=on_duty, key=key(), points=walk(centre, 20, at=at))
    b = places["B"]
    report_case(worker, b.lat, b.lng)
    c = places["C"]
    case_services.case_verify(case=handled_case(c.lat, c.lng), actor=worker, passed=True)
    _verify_house_in(places["D"], worker, grid)

    result = coverage.grid_coverage(grid, selectors.month_start(timezone.localdate()))
    assert (result.total, result.visited, result.percent) == (5, 4, 80.0)
    visited = {row["name"]: row for row in result.buildings}
    assert not visited["E栋"]["visited"] and "F栋" not in visited
    assert visited["A栋"]["sources"] == ["track"]
    assert visited["B栋"]["sources"] == ["case"]
    assert visited["C栋"]["sources"] == ["verification"]
    assert visited["D栋"]["sources"] == ["registry"]
    [row] = result.workers
    assert row.worker == worker and row.visited == 4 and row.percent == 80.0
    assert row.by_source == {"case": 1, "registry": 1, "track": 1, "verification": 1}

    # The overview agrees, one grid at a time or several at once; the next grid is its own.
    other_grid = Area.objects.get(code="450403005001002")
    summary = coverage.summary([grid, other_grid], selectors.month_start(timezone.localdate()))
    assert summary[grid.pk] == {"buildings": 5, "visited": 4, "percent": 80.0}
    assert summary[other_grid.pk] == {"buildings": 1, "visited": 0, "percent": 0.0}
    # Another month knows nothing of it.
    last_month = selectors.month_start(selectors.month_start(timezone.localdate()) - timedelta(days=1))
    assert coverage.grid_coverage(grid, last_month).visited == 0


def test_coverage_runs_a_fixed_number_of_queries(on_duty, grid, centre, places, report_case):
    from civicgrid.core.testing import count_queries

    first = selectors.month_start(timezone.localdate())
    grids = list(Area.objects.filter(code__startswith="450403005001", level="grid"))
    before = count_queries(lambda: coverage.summary(grids, first))
    services.points_upload(
        actor=on_duty.worker, shift=on_duty, key=key(), points=walk(centre, 30, at=timezone.now())
    )
    for name in ("B", "C", "D"):
        report_case(on_duty.worker, places[name].lat, places[name].lng)
    assert count_queries(lambda: coverage.summary(grids, first)) == before + 1  # + the buildings to match


def test_a_workers_day(on_duty, centre, places, report_case, officials):
    from civicgrid.patrol.geometry import haversine_m
    from civicgrid.patrol.models import PatrolShift

    worker = on_duty.worker
    yesterday = timezone.localdate() - timedelta(days=1)
    start = datetime.combine(yesterday, time(8, 0), tzinfo=timezone.get_current_timezone())
    PatrolShift.objects.filter(pk=on_duty.pk).update(started_at=start)
    on_duty.refresh_from_db()
    at = start + timedelta(hours=1)
    morning = walk(centre, 30, at=at)
    later = walk(offset(*centre, -60, 0), 30, at=at + timedelta(minutes=25))  # after a 20-minute gap
    services.points_upload(actor=worker, shift=on_duty, key=key(), points=morning + later)
    services.shift_end(actor=worker, shift=on_duty, ended_at=at + timedelta(hours=1))
    report_case(worker, places["B"].lat, places["B"].lng)  # today: not on yesterday's page

    day = selectors.worker_day(officials["community"], worker, yesterday)
    assert len(day.lines) == 2  # not drawn across the gap
    assert day.point_count == 60 and day.points_drawn < 60  # straight walks draw as a few vertices
    # Walked 2 × 29 steps of 12 m, and from the end of the first walk to the start of the second
    # (the gap is long enough to have walked it).
    gap = haversine_m(morning[-1].lat, morning[-1].lng, later[0].lat, later[0].lng)
    assert day.distance_m == pytest.approx(2 * 29 * 12 + gap, rel=0.02)
    assert day.on_duty_seconds == 2 * 3600
    assert [v["kind"] for v in day.visits] == ["building"]
    assert "case" in [
        v["kind"] for v in selectors.worker_day(officials["community"], worker, timezone.localdate()).visits
    ]
    assert selectors.day_summaries([worker.pk], yesterday)[worker.pk]["point_count"] == 60
    assert selectors.day_summaries([worker.pk], yesterday)[worker.pk]["on_duty_seconds"] == 2 * 3600
    raw = selectors.worker_day(officials["community"], worker, yesterday, raw=True)
    assert len(raw.raw) == 60

    # Out of scope: the other district's official sees no shift and may not open the worker.
    assert not selectors.worker_in_scope(officials["far_district"], worker)
    assert selectors.worker_day(officials["far_district"], worker, yesterday).shifts == []
    assert selectors.worker_in_scope(officials["street"], worker)
    # Department-less roles do not hold the permission at all.
    assert not selectors.worker_in_scope(officials["dispatcher"], worker)
