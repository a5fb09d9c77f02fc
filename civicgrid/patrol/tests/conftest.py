"""Fixtures of the work-trajectory tests: a grid worker in the home grid with the consent text
published, officials around it, buildings, and a way to walk."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from civicgrid.areas.models import Area
from civicgrid.areas.services import grid_worker_assign
from civicgrid.core.testing import ELSEWHERE_GRID, HOME, make_user
from civicgrid.patrol import services
from civicgrid.patrol.testing import seed_consent_text


@pytest.fixture(autouse=True)
def clear_of_midnight(request, monkeypatch):
    """The tests walk "a few minutes ago" and then look at today's visits and track. In the first
    hours after local midnight those minutes straddle two days, so the clock the code reads is set
    back to the evening before. Browser tests keep the real clock: the page stamps its own points."""
    if request.node.get_closest_marker("browser"):
        return
    real_now = timezone.now
    if timezone.localtime(real_now()).hour < 3:
        monkeypatch.setattr(timezone, "now", lambda: real_now() - timedelta(hours=3))


def offset(lat: float, lng: float, north_m: float, east_m: float) -> tuple[float, float]:
    return lat + north_m / 110_574.0, lng + east_m / (111_320.0 * math.cos(math.radians(lat)))


def walk(
    start: tuple[float, float],
    n: int,
    *,
    at: datetime,
    step_m: float = 12.0,
    every_s: int = 10,
    heading_deg: float = 90.0,
    accuracy: float = 8.0,
) -> list[services.IncomingPoint]:
    """``n`` fixes walking in a straight line from ``start``, one every ``every_s`` seconds."""
    points = []
    north, east = math.cos(math.radians(heading_deg)), math.sin(math.radians(heading_deg))
    for i in range(n):
        lat, lng = offset(start[0], start[1], north * step_m * i, east * step_m * i)
        points.append(services.point_from_ms(ms(at + timedelta(seconds=every_s * i)), lat, lng, accuracy))
    return points


def ms(when: datetime) -> int:
    return int((when - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() * 1000)


def key() -> str:
    return str(uuid.uuid4())


@pytest.fixture
def consent_text(wuzhou):
    return seed_consent_text()


@pytest.fixture
def grid(wuzhou):
    return Area.objects.get(code=HOME["grid"])


@pytest.fixture
def centre(grid):
    return grid.centre_lat, grid.centre_lng


@pytest.fixture
def worker(grid, consent_text):
    user = make_user("t_gw", "grid_worker")
    grid_worker_assign(actor=None, grid=grid, user=user)
    return user


@pytest.fixture
def other_worker(wuzhou, consent_text):
    """The grid worker of a grid in another district (长洲区)."""
    user = make_user("t_gw_far", "grid_worker", ELSEWHERE_GRID)
    grid_worker_assign(actor=None, grid=Area.objects.get(code=ELSEWHERE_GRID), user=user)
    return user


@pytest.fixture
def consented(worker, consent_text):
    services.consent_give(actor=worker, version=consent_text.version)
    return worker


@pytest.fixture
def on_duty(consented):
    """The worker's running shift, started a little while ago (points can be dated back to then)."""
    shift, _ = services.shift_start(actor=consented)
    shift.started_at = timezone.now() - timedelta(hours=2)
    shift.save(update_fields=["started_at"])
    return shift


@pytest.fixture
def officials(wuzhou):
    return {
        "community": make_user("t_community", "community_official"),
        "street": make_user("t_street", "street_official"),
        "district": make_user("t_district", "district_official"),
        "far_district": make_user("t_far", "district_official", "450405"),
        "dispatcher": make_user("t_dispatcher", "dispatcher"),
        "admin": make_user("t_admin", "sysadmin"),
    }


@pytest.fixture
def building_at(grid):
    """Make a building at a point of the home grid."""
    from civicgrid.registry.services import building_create

    def make(lat: float, lng: float, name: str = "1栋", area: Area | None = None):
        return building_create(actor=None, name=name, lat=lat, lng=lng, grid=area or grid)

    return make


@pytest.fixture
def cases_ready(wuzhou):
    """The seeded case rules and the demo handling units."""
    from civicgrid.cases.demo import load_departments
    from civicgrid.cases.models import Department
    from civicgrid.cases.testing import seed_rules

    seed_rules()
    if not Department.objects.exists():
        load_departments()


@pytest.fixture
def report_case(cases_ready):
    """Report a case at a point (by ``actor``, a grid worker's channel)."""
    from civicgrid.cases import services as case_services
    from civicgrid.cases.choices import Channel
    from civicgrid.cases.models import Category

    def make(actor, lat, lng, description="楼道堆放杂物"):
        case, _ = case_services.case_report(
            actor=actor,
            category=Category.objects.get(kind="event", code="0102"),
            description=description,
            channel=Channel.GRID_WORKER,
            lat=lat,
            lng=lng,
        )
        return case

    return make


@pytest.fixture
def handled_case(cases_ready):
    """A case at a point, handled by its unit and waiting for verification on site."""
    from civicgrid.cases import services as case_services
    from civicgrid.cases.choices import Channel
    from civicgrid.cases.models import Category, Department, DepartmentMember

    unit = Department.objects.get(code="D450403-01")
    handler = make_user("t_handler", "dept_handler")
    DepartmentMember.objects.create(user=handler, department=unit)
    dispatcher = make_user("t_disp", "dispatcher")
    resident = make_user("t_resident", "resident")

    def make(lat, lng):
        case, _ = case_services.case_report(
            actor=resident,
            category=Category.objects.get(kind="event", code="0102"),
            description="垃圾没人清理",
            channel=Channel.RESIDENT,
            lat=lat,
            lng=lng,
        )
        case = case_services.case_record(case=case, actor=dispatcher)
        case = case_services.case_dispatch(case=case, actor=dispatcher, department=unit)
        return case_services.case_handle(case=case, actor=handler, result="已清理")

    return make
