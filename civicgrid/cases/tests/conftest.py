"""Fixtures of the event-handling tests: the handling units, people in each role, a way to make
a reported case."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from civicgrid.cases import services
from civicgrid.cases.choices import Channel
from civicgrid.cases.models import Category, Department, DepartmentMember
from civicgrid.cases.testing import ELSEWHERE, G1, G2, fresh, overdue_now
from civicgrid.core.testing import make_user


@pytest.fixture
def units(wuzhou):
    """The demo handling units of the urban area (131 departments), with the seeded rules."""
    from civicgrid.cases.demo import load_departments
    from civicgrid.cases.testing import seed_rules

    seed_rules()
    if not Department.objects.exists():
        load_departments()
    return {d.code: d for d in Department.objects.all()}


def grid_point(code: str) -> tuple[float, float]:
    from civicgrid.areas.models import Area

    grid = Area.objects.get(code=code)
    return grid.centre_lat, grid.centre_lng


@pytest.fixture
def people(units):
    """One user per part in the loop, all around grid 450403005001001."""
    handler = make_user("t_handler", "dept_handler")
    DepartmentMember.objects.create(user=handler, department=units["D450403-01"])  # 万秀区城市管理局
    other_handler = make_user("t_handler2", "dept_handler")
    DepartmentMember.objects.create(user=other_handler, department=units["D450405-01"])  # 长洲区
    from civicgrid.areas.models import Area
    from civicgrid.areas.services import grid_worker_assign

    grid_worker = make_user("t_gw", "grid_worker")
    grid_worker_assign(actor=None, grid=Area.objects.get(code="450403005001001"), user=grid_worker)
    return {
        "dispatcher": make_user("t_dispatcher", "dispatcher"),
        "street_dispatcher": make_user("t_street", "street_official"),
        "community": make_user("t_community", "community_official"),
        "grid_worker": grid_worker,
        "resident": make_user("t_resident", "resident"),
        "handler": handler,
        "other_handler": other_handler,
        "district": make_user("t_district", "district_official"),
    }


@pytest.fixture
def report(people):
    """Make a reported case (by the resident, in the home grid, 0102 暴露垃圾 unless told)."""
    from civicgrid.cases import services

    def make(
        *, actor=None, code="0102", kind="event", grid="450403005001001", channel=Channel.RESIDENT, **extra
    ):
        lat, lng = grid_point(grid)
        case, created = services.case_report(
            actor=actor or people["resident"],
            category=Category.objects.get(kind=kind, code=code),
            description=extra.pop("description", "路边垃圾堆放两天没人清理"),
            channel=channel,
            lat=lat,
            lng=lng,
            **extra,
        )
        assert created
        return case

    return make


@pytest.fixture
def history(report, people, units):
    """A small history around 角嘴街道 (two communities), one case elsewhere, one last year."""
    dispatcher, handler, gw = people["dispatcher"], people["handler"], people["grid_worker"]
    inspector = make_user("t_inspector", "sysadmin")  # verifies on site anywhere
    a_unit, b_unit, far_unit = units["D450403-01"], units["D450403-02"], units["D450405-01"]
    street_official = people["street_dispatcher"]
    b_handler = make_user("t_handler_b", "dept_handler")
    DepartmentMember.objects.create(user=b_handler, department=b_unit)

    def through(case, unit, *, late=False, rating=None, solved=True, handler_user=handler):
        services.case_dispatch(case=case, actor=dispatcher, department=unit)
        if late:
            overdue_now(case)
        services.case_handle(case=case, actor=handler_user, result="已处理")
        services.case_verify(case=case, actor=inspector, passed=True)
        services.case_close(case=case, actor=dispatcher)
        if rating is not None or not solved:
            services.case_rate(
                case=fresh(case), actor=fresh(case).reporter, rating=rating, solved=solved, comment="未解决"
            )
        return fresh(case)

    made = {}
    made["a"] = through(report(), a_unit, rating=5)
    made["b"] = through(
        report(code="0201", grid=G1, channel=Channel.GRID_WORKER, actor=gw), a_unit, late=True
    )
    services.case_rate(case=made["b"], actor=dispatcher, rating=3)  # a follow-up call's rating
    c = report(grid=G2, channel=Channel.HOTLINE, actor=dispatcher)
    services.case_dispatch(case=c, actor=dispatcher, department=b_unit)
    overdue_now(c)
    made["c"] = fresh(c)
    made["d"] = through(
        report(code="0303", kind="governance", grid=G2), b_unit, solved=False, handler_user=b_handler
    )
    e = report()
    services.case_reject(case=e, actor=dispatcher, reason="重复")
    made["e"] = fresh(e)
    made["f"] = report(
        description="井盖缺失", code="0101", kind="component", answers={"cover_state": "missing"}
    )
    g = report(grid=ELSEWHERE)
    made["g"] = through(g, far_unit, rating=4, handler_user=people["other_handler"])
    made["h"] = report(reported_at=timezone.now() - timedelta(days=400))
    # Escalated to the street, then dispatched: the running 137 clock becomes the unit's.
    i = report(code="0201")
    services.case_record(case=i, actor=dispatcher)
    services.case_escalate(case=i, actor=dispatcher, reason="社区无法解决")
    services.case_dispatch(case=fresh(i), actor=street_official, department=a_unit)
    services.case_handle(case=fresh(i), actor=handler, result="已处理")
    made["i"] = fresh(i)
    return made
