"""Command-center pages: who sees which page and case, every step from the case page, conflicts,
filters, query counts, the live map's feed and inert resident text."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from civicgrid.accounts.roles import BUILTIN_ROLES
from civicgrid.areas.models import Area
from civicgrid.cases import services
from civicgrid.cases.actions import ACTIONS, available_actions
from civicgrid.cases.choices import EventKind, Level, Status
from civicgrid.cases.models import (
    Case,
    CaseEvent,
    CasePhoto,
    Category,
    Department,
    DepartmentMember,
    JointMeeting,
)
from civicgrid.cases.testing import seed_rules
from civicgrid.core.services import ConflictError
from civicgrid.core.testing import ELSEWHERE_GRID, HOME, count_queries, make_user, placement_for

pytestmark = pytest.mark.django_db

GRID = HOME["grid"]  # 三角嘴社区第01网格 (万秀区 角嘴街道)

#: A few handling units (the full demo set, ``demo.load_departments``, takes seconds to load).
UNITS = [
    ("D450403-01", "万秀区城市管理局", Level.DISTRICT, "450403", "urban_management"),
    ("D450403-03", "万秀区市场监督管理局", Level.DISTRICT, "450403", "market"),
    ("S450403005000-2", "角嘴街道城管执法中队", Level.STREET, "450403005000", "urban_management"),
    ("M450403005001", "三角嘴社区居委会", Level.COMMUNITY, "450403005001", "community_office"),
    ("D450405-01", "长洲区城市管理局", Level.DISTRICT, "450405", "urban_management"),
    ("C09", "梧州市水务集团", Level.CITY, "450400", "water"),
]


def make_units() -> dict[str, Department]:
    units = {}
    for code, name, level, area_code, function in UNITS:
        units[code], _created = Department.objects.update_or_create(
            code=code,
            defaults={
                "name": name,
                "level": level,
                "area": Area.objects.get(code=area_code),
                "function": function,
            },
        )
    return units


@pytest.fixture
def units(wuzhou):
    seed_rules()
    return make_units()


@pytest.fixture
def staff(units):
    """One user per role at the test posts; the handler works for 万秀区城市管理局, the community
    official for their community's office, a second handler for 长洲区城市管理局."""
    users = {code: make_user(f"t_{code}", code) for code in BUILTIN_ROLES}
    DepartmentMember.objects.create(department=units["D450403-01"], user=users["dept_handler"])
    DepartmentMember.objects.create(department=units["M450403005001"], user=users["community_official"])
    other = make_user("t_other_handler", "dept_handler")
    DepartmentMember.objects.create(department=units["D450405-01"], user=other)
    users["other_handler"] = other
    return users


def category(code: str = "0101", kind: str = "event") -> Category:
    return Category.objects.get(kind=kind, code=code)


def report(
    grid_code: str = GRID,
    *,
    title: str = "楼顶加建铁皮棚",
    description: str = "楼顶有人搭建铁皮棚",
    code: str = "0101",
    channel: str = "hotline",
    offset: float = 0.0,
    actor=None,
    **kwargs,
) -> Case:
    grid = Area.objects.get(code=grid_code)
    located = grid if grid.centre_lat is not None else Area.objects.get(code=GRID)
    case, _created = services.case_report(
        actor=actor,
        category=category(code),
        title=title,
        description=description,
        channel=channel,
        lat=located.centre_lat + offset,
        lng=located.centre_lng + offset,
        **kwargs,
    )
    if located != grid:  # a grid drawn without geometry (the second test city): move the case there
        Case.objects.filter(pk=case.pk).update(area=grid, area_code=grid.scope_code)
        case.refresh_from_db()
    return case


def png(name: str = "p.png") -> SimpleUploadedFile:
    buf = io.BytesIO()
    Image.new("RGB", (8, 6), (200, 30, 30)).save(buf, format="PNG")
    return SimpleUploadedFile(name, buf.getvalue(), content_type="image/png")


def detail(case: Case) -> str:
    return reverse("cases:detail", args=[case.pk])


def post_step(client, case: Case, action: str, **data):
    case.refresh_from_db()
    payload = {"action": action, "expected_version": case.version, **data}
    return client.post(detail(case), payload)


def fresh(case: Case) -> Case:
    return Case.objects.get(pk=case.pk)


def dispatched(case: Case, units, staff, unit: str = "D450403-01") -> Case:
    return services.case_dispatch(case=case, actor=staff["dispatcher"], department=units[unit])


# ---- who opens which page --------------------------------------------------------------------

PAGES = {
    "cases:triage": ("cases.record_case", "cases.dispatch_case"),
    "cases:list": ("cases.view_case",),
    "cases:map": ("cases.view_case",),
    "cases:map_feed": ("cases.view_case",),
    "cases:unit": ("cases.handle_case",),
    "cases:meetings": ("cases.view_jointmeeting",),
    "cases:risks": ("cases.view_case",),
}


@pytest.mark.parametrize("role", list(BUILTIN_ROLES))
def test_pages_open_for_the_roles_that_may_see_them(role, staff, client):
    spec = BUILTIN_ROLES[role]
    client.force_login(staff[role])
    for name, perms in PAGES.items():
        allowed = role != "resident" and (spec.all_perms or any(p in spec.perms for p in perms))
        res = client.get(reverse(name))
        assert res.status_code == (200 if allowed else 403), (role, name, res.status_code)


def test_signed_out_users_are_sent_to_sign_in(client, units):
    for name in PAGES:
        res = client.get(reverse(name))
        assert res.status_code == 302 and "login" in res["Location"]


def test_navigation_shows_the_command_pages_by_permission(staff, client):
    client.force_login(staff["dispatcher"])
    html = client.get(reverse("cases:list")).content.decode()
    for name in ("cases:triage", "cases:list", "cases:map", "cases:meetings", "cases:risks"):
        assert f'href="{reverse(name)}"' in html
    assert f'href="{reverse("cases:unit")}"' not in html
    client.force_login(staff["dept_handler"])
    html = client.get(reverse("cases:unit")).content.decode()
    assert f'href="{reverse("cases:unit")}"' in html and f'href="{reverse("cases:list")}"' not in html


@pytest.mark.parametrize("role", list(BUILTIN_ROLES))
def test_case_page_scope(role, staff, client):
    where = placement_for(role)
    inside = report(where.inside.code)
    outside = report(where.outside.code)
    client.force_login(staff[role])
    spec = BUILTIN_ROLES[role]
    if role == "resident" or not (spec.all_perms or {"cases.view_case", "cases.handle_case"} & spec.perms):
        assert client.get(detail(inside)).status_code == 403
        return
    if role in ("dept_handler",):
        assert client.get(detail(inside)).status_code == 404  # not dispatched to the unit
        assert client.get(detail(outside)).status_code == 404
        return
    assert client.get(detail(inside)).status_code == 200
    everything = spec.scope == "all"
    assert client.get(detail(outside)).status_code == (200 if everything else 404)
    assert client.get(reverse("cases:detail", args=[10**9])).status_code == 404


# ---- department handlers ---------------------------------------------------------------------


def test_handler_sees_and_works_only_the_cases_of_the_unit(staff, units, client):
    ours = dispatched(report(GRID, title="本单位案件"), units, staff)
    assisting = report(GRID, title="协办案件")
    services.case_dispatch(
        case=assisting,
        actor=staff["dispatcher"],
        department=units["S450403005000-2"],
        assisting=[units["D450403-01"]],
    )
    theirs = dispatched(report(GRID, title="别的单位案件"), units, staff, "S450403005000-2")
    waiting = report(GRID, title="未派遣案件")
    handler = staff["dept_handler"]
    client.force_login(handler)
    html = client.get(reverse("cases:unit")).content.decode()
    assert "本单位案件" in html and "协办案件" in html
    assert "别的单位案件" not in html and "未派遣案件" not in html
    assert client.get(detail(ours)).status_code == 200
    assert client.get(detail(assisting)).status_code == 200
    assert client.get(detail(theirs)).status_code == 404
    assert client.get(detail(waiting)).status_code == 404
    assert client.get(reverse("cases:list")).status_code == 403
    # The other district's handler sees none of them.
    client.force_login(staff["other_handler"])
    html = client.get(reverse("cases:unit")).content.decode()
    assert "本单位案件" not in html and "协办案件" not in html
    assert client.get(detail(ours)).status_code == 404


def test_handler_starts_handles_with_photos_and_returns(staff, units, client):
    case = dispatched(report(GRID), units, staff)
    client.force_login(staff["dept_handler"])
    page = client.get(detail(case)).content.decode()
    assert 'id="action-start"' in page and 'id="action-return"' in page and 'id="action-dispatch"' not in page
    res = post_step(client, case, "start", next=reverse("cases:unit"))
    assert res.status_code == 302 and res["Location"] == reverse("cases:unit")
    assert fresh(case).status == Status.IN_PROGRESS
    res = post_step(client, case, "handle", result="已拆除铁皮棚", photos=[png("a.png"), png("b.png")])
    assert res.status_code == 302, res.content.decode()[:2000]
    case = fresh(case)
    assert case.status == Status.HANDLED and case.result == "已拆除铁皮棚"
    assert CasePhoto.objects.filter(case=case, stage="handle").count() == 2
    # Return as wrongly dispatched: a second case; afterwards the handler no longer sees it.
    other = dispatched(report(GRID, title="派错了"), units, staff)
    res = post_step(client, other, "return", reason="")
    assert res.status_code == 400 and fresh(other).status == Status.DISPATCHED
    res = post_step(client, other, "return", reason="不属于本单位职责")
    assert res.status_code == 302 and res["Location"] == reverse("cases:unit")
    other = fresh(other)
    assert other.status == Status.RECORDED and other.department_id is None
    assert client.get(detail(other)).status_code == 404


def test_photos_stream_only_to_staff_who_may_see_the_case(staff, units, client):
    case = report(GRID, photos=[png()])
    photo = CasePhoto.objects.get(case=case)
    url = reverse("cases:photo", args=[photo.pk])
    client.force_login(staff["community_official"])
    res = client.get(url)
    assert res.status_code == 200 and res["Content-Type"] == "image/png"
    assert b"".join(res.streaming_content).startswith(b"\x89PNG")
    assert res["Cache-Control"].startswith("private")
    page = client.get(detail(case)).content.decode()
    assert url in page and "/media/" not in page
    client.force_login(make_user("t_far", "district_official", "450405"))  # 长洲区
    assert client.get(url).status_code == 404
    client.force_login(staff["dept_handler"])  # not the unit's case
    assert client.get(url).status_code == 404
    client.force_login(staff["resident"])
    assert client.get(url).status_code == 403


# ---- the steps from the case page ------------------------------------------------------------


def test_record_reject_and_merge(staff, units, client):
    client.force_login(staff["dispatcher"])
    case = report(GRID)
    res = post_step(client, case, "reject", reason="  ")
    assert res.status_code == 400
    assert "This field is required" in res.content.decode() or "reason" in res.content.decode()
    assert fresh(case).status == Status.REPORTED
    assert not CaseEvent.objects.filter(case=case, kind=EventKind.REJECTED).exists()
    res = post_step(client, case, "record", category=category("0102").pk, urgency="urgent", note="核实属实")
    assert res.status_code == 302
    case = fresh(case)
    assert case.status == Status.RECORDED and case.category.code == "0102" and case.urgency == "urgent"
    other = report(GRID, title="不属实")
    assert post_step(client, other, "reject", reason="经核实不存在").status_code == 302
    assert fresh(other).status == Status.REJECTED and fresh(other).reason == "经核实不存在"
    first = report(GRID, title="原案", code="0102", description="垃圾堆放")
    dup = report(GRID, title="重复", code="0102", description="垃圾堆放", offset=0.0001)
    page = client.get(detail(dup)).content.decode()
    assert 'id="duplicates"' in page and first.number in page
    res = post_step(client, dup, "merge", into="999999999")
    assert res.status_code == 400 and fresh(dup).status == Status.REPORTED
    res = post_step(client, dup, "merge", into=first.number, note="同一处")
    assert res.status_code == 302
    dup = fresh(dup)
    assert dup.status == Status.MERGED and dup.duplicate_of_id == first.pk
    assert CaseEvent.objects.filter(case=first, kind=EventKind.DUPLICATE_ADDED).exists()


def test_dispatch_with_assisting_units_and_the_rest_of_the_loop(staff, units, client):
    dispatcher, handler, worker = staff["dispatcher"], staff["dept_handler"], staff["grid_worker"]
    case = report(GRID)
    client.force_login(dispatcher)
    page = client.get(detail(case)).content.decode()
    assert 'id="action-dispatch"' in page and 'name="expected_version"' in page
    res = post_step(client, case, "dispatch", department="")
    assert res.status_code == 400 and fresh(case).status == Status.REPORTED
    res = post_step(
        client,
        case,
        "dispatch",
        department=units["D450403-01"].pk,
        assisting=[units["D450403-03"].pk],
        note="尽快",
    )
    assert res.status_code == 302
    case = fresh(case)
    assert case.status == Status.DISPATCHED and case.department_id == units["D450403-01"].pk
    assert list(case.assisting_departments.values_list("code", flat=True)) == ["D450403-03"]
    services.case_handle(case=case, actor=handler, result="已处置")
    # The grid worker of the grid verifies: failing needs a note, sends it back to the unit.
    client.force_login(worker)
    page = client.get(detail(case)).content.decode()
    assert 'id="action-verify"' in page and 'id="action-close"' not in page
    res = post_step(client, case, "verify", passed="0", note="")
    assert res.status_code == 400 and fresh(case).status == Status.HANDLED
    res = post_step(client, case, "verify", passed="0", note="棚子还在", photos=[png()])
    assert res.status_code == 302 and fresh(case).status == Status.DISPATCHED
    services.case_handle(case=case, actor=handler, result="已彻底拆除")
    assert post_step(client, case, "verify", passed="1", note="已拆除").status_code == 302
    assert fresh(case).status == Status.VERIFIED
    client.force_login(dispatcher)
    assert post_step(client, case, "close", note="办结").status_code == 302
    assert fresh(case).status == Status.CLOSED
    assert post_step(client, case, "rate", rating="4", comment="回访满意").status_code == 302
    assert fresh(case).rating == 4
    assert post_step(client, case, "reopen", reason="").status_code == 400
    assert post_step(client, case, "reopen", reason="居民反映又搭起来了").status_code == 302
    case = fresh(case)
    assert case.status == Status.DISPATCHED and case.reopen_count == 2


def test_oversight_steps(staff, units, client):
    client.force_login(staff["dispatcher"])
    case = report(GRID)
    assert post_step(client, case, "supervise", note="").status_code == 400
    assert post_step(client, case, "supervise", note="请今天内处理").status_code == 302
    assert fresh(case).supervision_count == 1
    assert post_step(client, case, "escalate", reason="社区无力解决").status_code == 302
    case = fresh(case)
    assert case.level == Level.STREET and case.status == Status.RECORDED
    assert post_step(client, case, "comment", note="已电话联系街道", public="on").status_code == 302
    assert CaseEvent.objects.get(case=case, kind=EventKind.COMMENT).is_public
    assert post_step(client, case, "defer", reason="历史遗留问题").status_code == 302
    case = fresh(case)
    assert case.status == Status.DEFERRED
    html = client.get(reverse("cases:risks")).content.decode()
    assert case.title in html and "历史遗留问题" in html
    assert post_step(client, case, "review", note="情况未变").status_code == 302
    assert fresh(case).status == Status.DEFERRED
    assert post_step(client, case, "review", note="条件已具备", reactivate="on").status_code == 302
    assert fresh(case).status == Status.RECORDED


def test_coordinate_records_the_joint_meeting(staff, units, client):
    client.force_login(staff["dispatcher"])
    case = report(GRID)
    res = post_step(client, case, "coordinate", lead=units["D450403-01"].pk, assisting=[])
    assert res.status_code == 400 and fresh(case).status == Status.REPORTED
    res = post_step(
        client,
        case,
        "coordinate",
        lead=units["D450403-01"].pk,
        assisting=[units["D450403-03"].pk, units["S450403005000-2"].pk],
        kind="party_joint",
        held_at="2026-11-20T09:30",
        topic="楼顶违建联合整治",
        attendees="城管局、市场监管局、街道",
        minutes="会议纪要",
        decisions="城管牵头，三日内拆除",
    )
    assert res.status_code == 302, res.content.decode()[:3000]
    case = fresh(case)
    assert case.status == Status.DISPATCHED and case.department.code == "D450403-01"
    assert set(case.assisting_departments.values_list("code", flat=True)) == {"D450403-03", "S450403005000-2"}
    meeting = JointMeeting.objects.get()
    assert meeting.topic == "楼顶违建联合整治" and list(meeting.cases.all()) == [case]
    assert meeting.area.code == "450403005001"  # the case's community
    assert CaseEvent.objects.get(case=case, kind=EventKind.COORDINATED).data["meeting"] == meeting.pk
    page = client.get(detail(case)).content.decode()
    assert reverse("cases:meeting", args=[meeting.pk]) in page


def test_a_refused_coordination_leaves_no_meeting(staff, units, client):
    client.force_login(staff["dispatcher"])
    case = report(GRID)
    stale = case.version
    services.case_record(case=case, actor=staff["dispatcher"])
    res = client.post(
        detail(case),
        {
            "action": "coordinate",
            "expected_version": stale,
            "lead": units["D450403-01"].pk,
            "assisting": [units["D450403-03"].pk],
            "kind": "party_joint",
            "held_at": "2026-11-20T09:30",
            "topic": "会商",
        },
    )
    assert res.status_code == 409
    assert not JointMeeting.objects.exists()


def test_stale_version_gives_a_conflict_and_no_second_dispatch(staff, units, client):
    case = report(GRID)
    seen = case.version
    first, second = staff["dispatcher"], make_user("t_dispatcher2", "dispatcher")
    client.force_login(first)
    res = client.post(
        detail(case), {"action": "dispatch", "expected_version": seen, "department": units["D450403-01"].pk}
    )
    assert res.status_code == 302
    client.force_login(second)
    res = client.post(
        detail(case),
        {"action": "dispatch", "expected_version": seen, "department": units["S450403005000-2"].pk},
    )
    assert res.status_code == 409
    html = res.content.decode()
    from django.utils import translation

    with translation.override(res.wsgi_request.LANGUAGE_CODE):
        conflict = translation.gettext(
            "Somebody changed this case in the meantime (it is now %(status)s); reload and try again."
        )
    assert 'id="conflict"' in html and conflict.split("%(")[0][:6] in html
    case = fresh(case)
    assert case.department.code == "D450403-01"
    assert CaseEvent.objects.filter(case=case, kind=EventKind.DISPATCHED).count() == 1
    # The page shown with the conflict carries the new version: sending again works as a re-dispatch
    # would (here: not possible any more, the dispatch form is gone).
    assert 'id="action-dispatch"' not in html


def test_hidden_steps_are_refused_when_posted(staff, units, client):
    case = report(GRID)
    client.force_login(staff["grid_worker"])
    assert "action-dispatch" not in client.get(detail(case)).content.decode()
    res = post_step(client, case, "dispatch", department=units["D450403-01"].pk)
    assert res.status_code == 403 and fresh(case).status == Status.REPORTED
    client.force_login(staff["dispatcher"])
    res = post_step(client, case, "close")
    assert res.status_code == 409 and fresh(case).status == Status.REPORTED
    assert client.post(detail(case), {"action": "explode"}).status_code == 400


# ---- available actions match the services ----------------------------------------------------


class Rollback(Exception):
    pass


def _run_service(name, case, user, units, target):
    kw = {"case": case, "actor": user}
    unit, helper = units["D450403-01"], units["D450403-03"]
    calls = {
        "record": lambda: services.case_record(**kw),
        "dispatch": lambda: services.case_dispatch(**kw, department=unit),
        "reject": lambda: services.case_reject(**kw, reason="r"),
        "merge": lambda: services.case_merge(**kw, into=target),
        "start": lambda: services.case_start(**kw),
        "handle": lambda: services.case_handle(**kw, result="done"),
        "return": lambda: services.case_return(**kw, reason="r"),
        "verify": lambda: services.case_verify(**kw, passed=True),
        "close": lambda: services.case_close(**kw),
        "rate": lambda: services.case_rate(**kw, rating=5),
        "reopen": lambda: services.case_reopen(**kw, reason="r"),
        "supervise": lambda: services.case_supervise(**kw, note="n"),
        "escalate": lambda: services.case_escalate(**kw, reason="r"),
        "coordinate": lambda: services.case_coordinate(**kw, lead=unit, assisting=[helper]),
        "defer": lambda: services.case_defer(**kw, reason="r"),
        "review": lambda: services.case_review(**kw, note="n"),
        "comment": lambda: services.case_comment(**kw, note="n"),
    }
    return calls[name]()


def cases_in_every_state(staff, units) -> dict[str, Case]:
    d, h = staff["dispatcher"], staff["dept_handler"]
    states = {"reported": report(GRID, title="reported")}
    states["recorded"] = services.case_record(case=report(GRID, title="recorded"), actor=d)
    states["dispatched"] = dispatched(report(GRID, title="dispatched"), units, staff)
    states["community_unit"] = dispatched(report(GRID, title="community"), units, staff, "M450403005001")
    c = dispatched(report(GRID, title="in_progress"), units, staff)
    states["in_progress"] = services.case_start(case=c, actor=h)
    c = dispatched(report(GRID, title="handled"), units, staff)
    states["handled"] = services.case_handle(case=c, actor=h, result="ok")
    c = dispatched(report(GRID, title="verified"), units, staff)
    services.case_handle(case=c, actor=h, result="ok")
    states["verified"] = services.case_verify(case=c, actor=staff["grid_worker"], passed=True)
    c = dispatched(report(GRID, title="closed"), units, staff)
    services.case_handle(case=c, actor=h, result="ok")
    services.case_verify(case=c, actor=staff["grid_worker"], passed=True)
    states["closed"] = services.case_close(case=c, actor=d)
    states["deferred"] = services.case_defer(case=report(GRID, title="deferred"), actor=d, reason="r")
    states["rejected"] = services.case_reject(case=report(GRID, title="rejected"), actor=d, reason="r")
    states["street_level"] = services.case_escalate(case=report(GRID, title="street"), actor=d, reason="r")
    c = report(GRID, title="city")
    for _ in range(3):
        c = services.case_escalate(case=c, actor=d, reason="r")
    states["city_level"] = c
    states["elsewhere"] = report(ELSEWHERE_GRID, title="elsewhere")
    return states


def test_shown_steps_succeed_and_hidden_ones_are_refused(staff, units):
    states = cases_in_every_state(staff, units)
    target = report(GRID, title="merge target")
    roles = [r for r in staff if r != "resident"]
    checked = {True: 0, False: 0}
    for state, case in states.items():
        for role in roles:
            user = staff[role]
            case = Case.objects.get(pk=case.pk)
            shown = set(available_actions(case, user))
            for name in ACTIONS:
                ok = True
                try:
                    with transaction.atomic():
                        _run_service(name, case, user, units, target)
                        raise Rollback
                except Rollback:
                    ok = True
                except (PermissionDenied, ConflictError):
                    ok = False
                assert ok == (name in shown), (state, role, name, "shown" if name in shown else "hidden")
                checked[ok] += 1
    assert checked[True] > 100 and checked[False] > 100


def test_officials_work_only_at_their_level(staff, units):
    community = staff["community_official"]
    case = report(GRID)
    assert {"record", "dispatch"} <= set(available_actions(case, community))
    case = services.case_escalate(case=case, actor=staff["dispatcher"], reason="上报街道")
    shown = set(available_actions(case, community))
    assert "dispatch" not in shown and "supervise" in shown
    assert "dispatch" in available_actions(case, staff["street_official"])


# ---- lists, filters and query counts ---------------------------------------------------------


def test_triage_queue_shows_suggestions_duplicates_and_quick_steps(staff, units, client):
    older = report(GRID, title="路口有流动摊贩占道摆摊", description="路口有流动摊贩占道摆摊", code="0601")
    Case.objects.filter(pk=older.pk).update(reported_at=timezone.now() - timedelta(hours=3))
    newer = report(GRID, title="又有流动摊贩", description="流动摊贩又来了", code="0601", offset=0.0001)
    recorded = services.case_record(case=report(GRID, title="已立案"), actor=staff["dispatcher"])
    client.force_login(staff["dispatcher"])
    res = client.get(reverse("cases:triage"))
    html = res.content.decode()
    rows = res.context["rows"]
    assert [c.pk for c in rows] == [older.pk, newer.pk]  # oldest first, recorded ones left out
    assert "已立案" not in html
    hint = rows[0].hint
    assert hint.category.code == "0501" and "摊贩" in "".join(hint.keywords)  # 无照游商
    assert hint.department is not None and hint.department.code == "D450403-03"  # market: the district bureau
    assert [d.pk for d, _m in rows[0].dups] == [newer.pk]
    assert "quick-record" in html and "quick-dispatch" in html
    # Quick dispatch from the row goes back to the queue.
    res = client.post(
        detail(older),
        {
            "action": "dispatch",
            "expected_version": older.version,
            "department": hint.department.pk,
            "next": reverse("cases:triage"),
        },
    )
    assert res.status_code == 302 and res["Location"] == reverse("cases:triage")
    assert fresh(older).status == Status.DISPATCHED
    assert recorded.status == Status.RECORDED


def test_list_filters(staff, units, client):
    a = report(GRID, title="甲案 垃圾", code="0102", channel="hotline")
    b = report("450403005002001", title="乙案 违建", code="0101", channel="grid_worker")
    c = dispatched(report(GRID, title="丙案 广告", code="0201", channel="resident"), units, staff)
    Case.objects.filter(pk=b.pk).update(reported_at=timezone.now() - timedelta(days=10))
    Case.objects.filter(pk=a.pk).update(due_at=timezone.now() - timedelta(hours=1))  # red
    client.force_login(staff["dispatcher"])
    url = reverse("cases:list")

    def titles(**params):
        res = client.get(url, params)
        assert res.status_code == 200
        return {r.title for r in res.context["rows"]}

    assert titles() == {"甲案 垃圾", "乙案 违建", "丙案 广告"}
    assert titles(area="450403005001") == {"甲案 垃圾", "丙案 广告"}
    assert titles(area="450403005002001") == {"乙案 违建"}
    assert titles(category=category("0102").pk) == {"甲案 垃圾"}
    parent = Category.objects.get(kind="event", code="02")
    assert titles(category=parent.pk) == {"丙案 广告"}
    assert titles(status="dispatched") == {"丙案 广告"}
    assert titles(status="open") == {"甲案 垃圾", "乙案 违建", "丙案 广告"}
    assert titles(channel="grid_worker") == {"乙案 违建"}
    assert titles(light="red") == {"甲案 垃圾"}
    assert titles(level="community") == {"甲案 垃圾", "乙案 违建", "丙案 广告"}
    assert titles(unit=units["D450403-01"].pk) == {"丙案 广告"}
    today = timezone.localdate()
    assert titles(date_from=today.isoformat()) == {"甲案 垃圾", "丙案 广告"}
    assert titles(date_to=(today - timedelta(days=5)).isoformat()) == {"乙案 违建"}
    assert titles(q="违建") == {"乙案 违建"}
    assert titles(q=c.number) == {"丙案 广告"}
    res = client.get(url)
    counts = {link["value"]: link["n"] for link in res.context["light_links"]}
    assert counts["red"] == 1 and sum(counts.values()) == 3
    # Bad filters: a message, never a 500; an area outside the scope is refused.
    far = make_user("t_far", "district_official", "450405")
    client.force_login(far)
    res = client.get(url, {"area": "450403005001", "date_from": "not a date", "category": "x"})
    assert res.status_code == 200 and res.context["rows"] == [] and res.context["form"].errors


def _count_page(client, url, make):
    make(2)
    client.get(url)  # warm-up: the caller's posts and units, the triage rules are loaded once
    first = count_queries(lambda: client.get(url))
    make(6)
    second = count_queries(lambda: client.get(url))
    assert first == second, f"{url}: queries grew with rows: {first} -> {second}"


def test_list_pages_query_count_does_not_grow_with_rows(staff, units, client):
    n = iter(range(1000))
    dispatcher = staff["dispatcher"]

    def reported(k):
        for _ in range(k):
            report(GRID, title=f"r{next(n)}", offset=0.00005 * next(n), photos=[])

    def deferred(k):
        for _ in range(k):
            services.case_defer(case=report(GRID, title=f"d{next(n)}"), actor=dispatcher, reason="r")

    def unit_cases(k):
        for _ in range(k):
            dispatched(report(GRID, title=f"u{next(n)}"), units, staff)

    def meetings(k):
        for _ in range(k):
            m = services.meeting_create(
                actor=dispatcher,
                area=Area.objects.get(code="450403005001"),
                kind="party_joint",
                held_at=timezone.now(),
                topic=f"m{next(n)}",
                departments=[units["D450403-01"]],
            )
            m.cases.add(report(GRID))

    client.force_login(dispatcher)
    _count_page(client, reverse("cases:triage"), reported)
    _count_page(client, reverse("cases:list"), reported)
    _count_page(client, reverse("cases:risks"), deferred)
    _count_page(client, reverse("cases:meetings"), meetings)
    _count_page(client, reverse("cases:map_feed"), reported)
    client.force_login(staff["dept_handler"])
    _count_page(client, reverse("cases:unit"), unit_cases)


# ---- live map feed ---------------------------------------------------------------------------


def test_map_feed_sends_only_changes_in_scope_since_the_cursor(staff, units, client):
    a = report(GRID, title="旧案")
    closed_soon = report(GRID, title="将被驳回")
    outside = report("450405001001001", title="长洲区的案")
    official = staff["district_official"]  # 万秀区 only
    client.force_login(official)
    url = reverse("cases:map_feed")
    body = client.get(url).json()
    assert body["full"] is True
    ids = {c["id"] for c in body["cases"]}
    assert a.pk in ids and closed_soon.pk in ids and outside.pk not in ids
    marker = next(c for c in body["cases"] if c["id"] == a.pk)
    assert marker["light"] in ("green", "yellow", "red", "none") and marker["url"] == detail(a)
    # Nothing changed since: with the cursor moved past the overlap, nothing comes back.
    later = (timezone.now() + timedelta(seconds=1)).isoformat()
    body = client.get(url, {"since": later}).json()
    assert body["cases"] == [] and body["removed"] == []
    # A new report, a rejection and a change outside the scope.
    since = timezone.now().isoformat()
    new = report(GRID, title="新上报", offset=0.0002)
    services.case_reject(case=closed_soon, actor=staff["dispatcher"], reason="不属实")
    services.case_supervise(case=outside, actor=staff["dispatcher"], note="快")
    body = client.get(url, {"since": since}).json()
    assert body["full"] is False
    assert [c["id"] for c in body["cases"]] == [new.pk]
    assert body["removed"] == [closed_soon.pk]
    # Filters apply to the changes: a case that no longer matches is taken off.
    since = timezone.now().isoformat()
    services.case_record(case=new, actor=staff["dispatcher"])
    body = client.get(url, {"since": since, "status": "reported"}).json()
    assert body["cases"] == [] and body["removed"] == [new.pk]
    body = client.get(url, {"since": since, "status": "recorded"}).json()
    assert [c["id"] for c in body["cases"]] == [new.pk]
    # A light turns red by the clock, not by a write: a map showing red cases gets the case whose
    # due time passed since the cursor (the sweep's marks do not touch updated_at).
    Case.objects.filter(pk=a.pk).update(warn_at=timezone.now() + timedelta(hours=1))
    since = timezone.now().isoformat()
    Case.objects.filter(pk=a.pk).update(warn_at=timezone.now(), due_at=timezone.now() + timedelta(seconds=1))
    body = client.get(url, {"since": since, "light": "red"}).json()
    assert body["cases"] == []
    Case.objects.filter(pk=a.pk).update(due_at=timezone.now())
    body = client.get(url, {"since": since, "light": "red"}).json()
    assert [(c["id"], c["light"]) for c in body["cases"]] == [(a.pk, "red")]
    # Bad input names the field.
    res = client.get(url, {"since": "yesterday"})
    assert res.status_code == 400 and "since" in res.json()["errors"]
    res = client.get(url, {"light": "purple"})
    assert res.status_code == 400 and "light" in res.json()["errors"]


def test_map_page_wires_the_feed_with_the_filters(staff, client):
    client.force_login(staff["dispatcher"])
    html = client.get(reverse("cases:map"), {"light": "red"}).content.decode()
    assert reverse("cases:map_feed") in html and 'data-query="light=red"' in html
    assert "cases/live_map.js" in html and "civicgrid/js/coords.js" in html


# ---- meetings --------------------------------------------------------------------------------


def test_meetings_are_recorded_and_scoped(staff, units, client):
    case = report(GRID, title="议题案件")
    client.force_login(staff["street_official"])
    url = reverse("cases:meetings")
    res = client.post(url, {"kind": "sentiment", "held_at": "2026-11-25T15:00", "area": "", "topic": ""})
    assert res.status_code == 400 and not JointMeeting.objects.exists()
    street = Area.objects.get(code=HOME["street"])
    res = client.post(
        url,
        {
            "kind": "sentiment",
            "held_at": "2026-11-25T15:00",
            "area": street.pk,
            "topic": "民情分析<b>会</b>",
            "minutes": "讨论了<script>x()</script>",
            "departments": [units["D450403-01"].pk],
            "cases": case.number,
        },
    )
    assert res.status_code == 302, res.content.decode()[:2000]
    meeting = JointMeeting.objects.get()
    assert list(meeting.cases.all()) == [case]
    html = client.get(reverse("cases:meeting", args=[meeting.pk])).content.decode()
    assert "&lt;script&gt;x()&lt;/script&gt;" in html and "<script>x()" not in html
    assert "议题案件" in html
    client.force_login(make_user("t_far", "district_official", "450405"))
    assert client.get(reverse("cases:meeting", args=[meeting.pk])).status_code == 404
    assert "民情分析" not in client.get(url).content.decode()
    client.force_login(staff["city_official"])  # may see, may not record
    assert client.post(url, {"topic": "x"}).status_code == 403


# ---- resident text is inert ------------------------------------------------------------------


def test_resident_text_renders_escaped_everywhere(staff, units, client):
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    case = report(GRID, title=f"标题{evil}", description=f"描述{evil}", reporter_name="张<b>三</b>")
    services.case_comment(case=case, actor=staff["dispatcher"], note=f"备注{evil}")
    client.force_login(staff["dispatcher"])
    for url in (detail(case), reverse("cases:triage"), reverse("cases:list")):
        html = client.get(url).content.decode()
        assert "<script>alert" not in html and "<img src=x" not in html, url
        assert "&lt;script&gt;alert(" in html, url
    html = client.get(detail(case)).content.decode()
    assert "张&lt;b&gt;三&lt;/b&gt;" in html
    body = client.get(reverse("cases:map_feed")).json()  # JSON: the map sets it as text
    assert any(c["title"].startswith("标题<script>") for c in body["cases"])


def test_case_page_shows_details_answers_timeline_and_deadlines(staff, units, client):
    case = report(
        GRID, title="路面塌陷", code="0401", photos=[png()], answers={"size": "medium", "traffic": "yes"}
    )
    dispatched(case, units, staff)
    services.case_supervise(case=case, actor=staff["dispatcher"], note="内部督办")
    client.force_login(staff["dispatcher"])
    res = client.get(detail(case))
    html = res.content.decode()
    assert res.status_code == 200
    assert res.context["answers"] == [("塌陷大小", "1至3米"), ("是否影响通行", "是")]
    assert 'id="case-map"' in html and 'id="case-location"' in html
    assert 'id="timeline"' in html and "内部督办" in html and 'class="tag internal"' in html
    stages = [d.stage for d in res.context["deadlines"]]
    assert stages[:1] == ["record"] and "handle" in stages
    assert 'id="deadlines"' in html
    assert len(res.context["photos"]) == 1
