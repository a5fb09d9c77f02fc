"""The event-handling API: scope for every role, each step of the loop, conflicts, errors that
name the field, the unit handler's view, idempotent reports, query counts of the lists."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from civicgrid.accounts.roles import BUILTIN_ROLES
from civicgrid.areas.models import Area
from civicgrid.cases import services
from civicgrid.cases.choices import Channel, EventKind, Level, Status
from civicgrid.cases.models import Case, CaseEvent, Category, Department, DepartmentMember, JointMeeting
from civicgrid.core.testing import (
    HOME,
    ScopedEndpointTests,
    api_client,
    count_queries,
    make_user,
    placement_for,
)

from .conftest import grid_point

pytestmark = pytest.mark.django_db

API = "/api/v1/cases/"
CASE_PERMS = {"cases.view_case", "cases.handle_case"}


def url(case, step: str = "") -> str:
    return f"{API}{case.pk}/" + (f"{step}/" if step else "")


def post(user, case, step, **body):
    return api_client(user).post(url(case, step), body, format="json")


def png(name: str = "p.png") -> SimpleUploadedFile:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buf, "PNG")
    return SimpleUploadedFile(name, buf.getvalue(), content_type="image/png")


def fresh(case: Case) -> Case:
    return Case.objects.get(pk=case.pk)


# ---- scope for every role ------------------------------------------------------------------------


class TestCaseEndpoints(ScopedEndpointTests):
    """Every built-in role: the in-scope case listed and opened, the out-of-scope one 404 like a
    missing id. Department handlers (``cases.handle_case`` only) see the case of their unit."""

    model = Case

    def api_list(self):
        return API

    def api_detail(self, obj):
        return url(obj)

    def marker(self, obj):
        return f'"number":"{obj.number}"'

    def make_object(self, area, n=0, reporter=None, department=None):
        # Directly: the other city's test grid has no boundary for the report service to place a point.
        return Case.objects.create(
            area=area,
            title=f"测试事件{n}",
            description="路边垃圾堆放",
            category=Category.objects.get(kind="event", code="0102"),
            channel=Channel.GRID_WORKER,
            reporter=reporter,
            department=department,
            status=Status.DISPATCHED if department else Status.REPORTED,
        )

    def _perm(self, role_code):
        spec = BUILTIN_ROLES[role_code]
        return spec.all_perms or bool(CASE_PERMS & spec.perms)

    @pytest.fixture(params=list(BUILTIN_ROLES))
    def role_case(self, request, wuzhou):
        role_code = request.param
        user = make_user(f"t_{role_code}", role_code)
        where = placement_for(role_code)
        unit = None
        if role_code == "dept_handler":
            unit = Department.objects.create(
                code="T-UNIT", name="测试单位", level=Level.DISTRICT, area=wuzhou, function="urban_management"
            )
            DepartmentMember.objects.create(user=user, department=unit)
        inside = self.make_object(
            where.inside, 1, reporter=user if role_code == "resident" else None, department=unit
        )
        outside = self.make_object(where.outside, 2)
        return role_code, user, inside, outside


# ---- fixtures of the loop --------------------------------------------------------------------------


@pytest.fixture
def unit(units):
    return units["D450403-01"]  # 万秀区城市管理局; people["handler"] is a member


@pytest.fixture
def dispatched(report, people, unit):
    def make(**kwargs):
        case = report(**kwargs)
        services.case_dispatch(case=case, actor=people["dispatcher"], department=unit)
        return fresh(case)

    return make


@pytest.fixture
def closed(dispatched, people):
    def make(**kwargs):
        case = dispatched(**kwargs)
        services.case_handle(case=case, actor=people["handler"], result="已清理")
        services.case_verify(case=case, actor=people["grid_worker"], passed=True)
        services.case_close(case=case, actor=people["dispatcher"])
        return fresh(case)

    return make


# ---- the whole loop through the API ------------------------------------------------------------------


def test_the_loop_through_the_api(people, unit):
    resident, dispatcher, handler = people["resident"], people["dispatcher"], people["handler"]
    lat, lng = grid_point(HOME["grid"])
    category = Category.objects.get(kind="event", code="0102")
    res = api_client(resident).post(
        API,
        {
            "category": category.pk,
            "description": "路边垃圾堆放两天没人清理",
            "lat": lat,
            "lng": lng,
            "reporter_name": "王小明",
            "reporter_phone": "13812345678",
        },
        format="json",
    )
    assert res.status_code == 201, res.content
    body = res.json()
    case = Case.objects.get(pk=body["id"])
    assert body["status"] == Status.REPORTED and body["channel"] == Channel.RESIDENT
    assert body["reporter_phone"] == "138****5678" and "13812345678" not in res.content.decode()
    assert body["reporter_name"] == "王**" and body["number"] == case.number
    assert body["deadline"]["stage"] == "record" and body["light"] == "green"

    res = post(dispatcher, case, "record", expected_version=body["version"], note="属实")
    assert res.status_code == 200, res.content
    assert res.json()["status"] == Status.RECORDED
    res = post(dispatcher, case, "dispatch", expected_version=res.json()["version"], department=unit.pk)
    assert res.status_code == 200, res.content
    body = res.json()
    assert body["status"] == Status.DISPATCHED and body["unit"]["id"] == unit.pk
    assert body["deadline"]["stage"] == "handle"

    res = post(handler, case, "start", expected_version=body["version"])
    assert res.status_code == 200, res.content
    res = api_client(handler).post(
        url(case, "handle"),
        {"result": "已清理完毕", "expected_version": res.json()["version"], "photos": [png(), png("b.png")]},
        format="multipart",
    )
    assert res.status_code == 200, res.content
    body = res.json()
    assert body["status"] == Status.HANDLED and len(body["photos"]) == 2
    photo = api_client(handler).get(body["photos"][0]["url"])
    assert photo.status_code == 200 and photo["Content-Type"] == "image/png"

    res = post(people["grid_worker"], case, "verify", expected_version=body["version"], passed=True)
    assert res.status_code == 200 and res.json()["status"] == Status.VERIFIED, res.content
    res = post(dispatcher, case, "close", expected_version=res.json()["version"])
    assert res.status_code == 200 and res.json()["status"] == Status.CLOSED, res.content
    res = post(resident, case, "rate", rating=5, comment="很及时")
    assert res.status_code == 200, res.content
    assert res.json()["rating"] == 5

    timeline = api_client(dispatcher).get(url(case, "timeline")).json()
    kinds = [e["kind"] for e in timeline]
    assert kinds == [
        "reported",
        "recorded",
        "dispatched",
        "started",
        "handled",
        "verified",
        "closed",
        "rated",
    ]
    assert timeline[1]["actor_name"] == "t_dispatcher"
    assert len(timeline[4]["photos"]) == 2
    deadlines = api_client(dispatcher).get(url(case, "deadlines")).json()
    assert [d["stage"] for d in deadlines] == ["record", "dispatch", "handle", "verify", "close"]
    assert all(d["outcome"] == "met" for d in deadlines)


def test_residents_see_public_steps_without_names(report, people):
    case = report()
    services.case_supervise(case=case, actor=people["dispatcher"], note="尽快处理")
    mine = api_client(people["resident"]).get(url(case, "timeline")).json()
    assert [e["kind"] for e in mine] == ["reported"]
    staff = api_client(people["dispatcher"]).get(url(case, "timeline")).json()
    assert [e["kind"] for e in staff] == ["reported", "supervised"]
    assert staff[1]["actor_name"] == "t_dispatcher" and staff[1]["is_public"] is False
    assert all(e["actor_name"] == "" for e in mine)


# ---- every other step --------------------------------------------------------------------------------


def test_reject(report, people):
    case = report()
    res = post(people["dispatcher"], case, "reject", expected_version=case.version, reason="不属于受理范围")
    assert res.status_code == 200 and res.json()["status"] == Status.REJECTED
    assert res.json()["reason"] == "不属于受理范围"


def test_merge(report, people):
    first, second = report(), report(description="垃圾堆放没有清理")
    res = post(people["dispatcher"], second, "merge", expected_version=second.version, into=first.pk)
    assert res.status_code == 200, res.content
    assert res.json()["status"] == Status.MERGED and res.json()["duplicate_of"] == first.pk
    assert CaseEvent.objects.filter(case=first, kind=EventKind.DUPLICATE_ADDED).exists()


def test_merge_into_an_unseen_case_names_the_field(report, people):
    other = report(grid="450405001001001")
    case = report()
    res = post(people["community"], case, "merge", expected_version=case.version, into=other.pk)
    assert res.status_code == 400 and "into" in res.json()


def test_return_answers_the_unit_that_no_longer_sees_it(dispatched, people):
    case = dispatched()
    res = post(people["handler"], case, "return", expected_version=case.version, reason="不是本单位职责")
    assert res.status_code == 200, res.content
    assert res.json()["status"] == Status.RECORDED and res.json()["unit"] is None
    assert api_client(people["handler"]).get(url(case)).status_code == 404


def test_verification_failed_goes_back_to_the_unit(dispatched, people):
    case = dispatched()
    services.case_handle(case=case, actor=people["handler"], result="已处理")
    case = fresh(case)
    res = post(people["grid_worker"], case, "verify", expected_version=case.version, passed=False)
    assert res.status_code == 400 and "note" in res.json()
    res = post(
        people["grid_worker"], case, "verify", expected_version=case.version, passed=False, note="仍有垃圾"
    )
    assert res.status_code == 200 and res.json()["status"] == Status.DISPATCHED


def test_rate_not_solved_reopens(closed, people):
    case = closed()
    res = post(people["resident"], case, "rate", solved=False)
    assert res.status_code == 400 and "comment" in res.json()
    res = post(people["resident"], case, "rate", solved=False, comment="垃圾又堆起来了")
    assert res.status_code == 200 and res.json()["status"] == Status.DISPATCHED
    assert res.json()["reopen_count"] == 1


def test_only_the_reporter_rates(closed, people):
    case = closed()
    assert post(people["handler"], case, "rate", rating=5).status_code == 403


def test_reopen(closed, people):
    case = closed()
    res = post(people["dispatcher"], case, "reopen", expected_version=case.version, reason="回访发现未解决")
    assert res.status_code == 200 and res.json()["status"] == Status.DISPATCHED


def test_escalate_then_only_the_higher_level_dispatches(report, people, unit):
    case = report()
    services.case_record(case=case, actor=people["dispatcher"])
    case = fresh(case)
    res = post(people["community"], case, "escalate", expected_version=case.version, reason="社区无法解决")
    assert res.status_code == 200, res.content
    body = res.json()
    assert body["level"] == Level.STREET and body["status"] == Status.RECORDED
    # The community may no longer dispatch a street-level case; the street may.
    res = post(people["community"], case, "dispatch", expected_version=body["version"], department=unit.pk)
    assert res.status_code == 403
    res = post(
        people["street_dispatcher"], case, "dispatch", expected_version=body["version"], department=unit.pk
    )
    assert res.status_code == 200, res.content


def test_supervise(dispatched, people):
    case = dispatched()
    res = post(people["district"], case, "supervise", expected_version=case.version)
    assert res.status_code == 400 and "note" in res.json()
    res = post(people["district"], case, "supervise", expected_version=case.version, note="请今日办结")
    assert res.status_code == 200 and res.json()["supervision_count"] == 1


def test_coordinate(report, people, units, unit, wuzhou):
    case = report()
    meeting = JointMeeting.objects.create(
        area=Area.objects.get(code=HOME["community"]),
        kind="party_joint",
        held_at=case.reported_at,
        topic="联席会",
    )
    helper = units["D450403-02"]
    res = post(
        people["dispatcher"],
        case,
        "coordinate",
        expected_version=case.version,
        lead=unit.pk,
        assisting=[helper.pk],
        meeting=meeting.pk,
    )
    assert res.status_code == 200, res.content
    body = res.json()
    assert body["status"] == Status.DISPATCHED and [u["id"] for u in body["assisting_units"]] == [helper.pk]
    assert meeting.cases.filter(pk=case.pk).exists()


def test_coordinate_needs_an_assisting_unit(report, people, unit):
    case = report()
    res = post(
        people["dispatcher"], case, "coordinate", expected_version=case.version, lead=unit.pk, assisting=[]
    )
    assert res.status_code == 400 and "assisting" in res.json()


def test_defer_and_review(report, people):
    case = report()
    res = post(people["dispatcher"], case, "defer", expected_version=case.version, reason="历史遗留问题")
    assert res.status_code == 200 and res.json()["status"] == Status.DEFERRED
    version = res.json()["version"]
    res = post(people["dispatcher"], case, "review", expected_version=version, note="仍需观察")
    assert res.status_code == 200 and res.json()["status"] == Status.DEFERRED
    res = post(
        people["dispatcher"],
        case,
        "review",
        expected_version=res.json()["version"],
        note="可处理",
        reactivate=True,
    )
    assert res.status_code == 200 and res.json()["status"] == Status.RECORDED


def test_comment_by_the_unit(dispatched, people):
    case = dispatched()
    res = post(people["handler"], case, "comment", expected_version=case.version, note="明早到场")
    assert res.status_code == 200, res.content
    event = CaseEvent.objects.filter(case=case, kind=EventKind.COMMENT).get()
    assert event.note == "明早到场" and not event.is_public
    res = post(people["handler"], case, "comment", expected_version=case.version - 1, note="过期版本")
    assert res.status_code == 409


# ---- conflicts, refusals, bad input -------------------------------------------------------------------


def test_stale_version_is_a_conflict(report, people, unit):
    case = report()
    seen = case.version
    services.case_record(case=case, actor=people["dispatcher"])
    res = post(people["dispatcher"], case, "dispatch", expected_version=seen, department=unit.pk)
    assert res.status_code == 409
    assert res.json()["code"] == "conflict" and "detail" in res.json()
    assert fresh(case).status == Status.RECORDED


def test_step_not_allowed_in_this_state_is_a_conflict(report, people):
    case = report()
    res = post(people["dispatcher"], case, "close", expected_version=case.version)
    assert res.status_code == 409 and res.json()["code"] == "invalid_state"
    res = post(people["dispatcher"], case, "reopen", expected_version=case.version, reason="x")
    assert res.status_code == 409


def test_escalating_a_city_case_is_a_conflict(report, people):
    case = report()
    Case.objects.filter(pk=case.pk).update(level=Level.CITY)
    res = post(people["dispatcher"], case, "escalate", expected_version=case.version, reason="再上报")
    assert res.status_code == 409


@pytest.mark.parametrize(
    ("step", "body", "field"),
    [
        ("reject", {}, "reason"),
        ("reject", {"reason": ""}, "reason"),
        ("dispatch", {}, "department"),
        ("dispatch", {"department": 10**9}, "department"),
        ("dispatch", {"department": "x"}, "department"),
        ("record", {"category": 10**9}, "category"),
        ("record", {"urgency": "whenever"}, "urgency"),
        ("escalate", {"reason": "   "}, "reason"),
        ("defer", {}, "reason"),
        ("merge", {}, "into"),
        ("dispatch", {"expected_version": "new"}, "expected_version"),
    ],
)
def test_bad_input_names_the_field(report, people, step, body, field):
    case = report()
    res = post(people["dispatcher"], case, step, **body)
    assert res.status_code == 400, res.content
    assert field in res.json()


def test_bad_report_names_the_field(people):
    client = api_client(people["grid_worker"])
    lat, lng = grid_point(HOME["grid"])
    collapse = Category.objects.get(kind="event", code="0401")  # asks two required questions
    garbage = Category.objects.get(kind="event", code="0102")
    cases = [
        ({"description": "x", "lat": lat, "lng": lng}, "category"),
        ({"category": garbage.pk, "lat": lat, "lng": lng}, "description"),
        (
            {
                "category": garbage.pk,
                "description": "垃圾",
                "lat": lat,
                "lng": lng,
                "reporter_phone": "12345",
            },
            "reporter_phone",
        ),
        ({"category": garbage.pk, "description": "垃圾"}, "lat"),
        ({"category": garbage.pk, "description": "垃圾", "lat": 10.0, "lng": 10.0}, "lat"),
        (
            {"category": garbage.pk, "description": "垃圾", "lat": lat, "lng": lng, "channel": "pigeon"},
            "channel",
        ),
        ({"category": collapse.pk, "description": "路面塌陷", "lat": lat, "lng": lng}, "answers"),
    ]
    for body, field in cases:
        res = client.post(API, body, format="json")
        assert res.status_code == 400, (body, res.content)
        assert field in res.json(), (body, res.json())
    res = client.post(
        API,
        {
            "category": collapse.pk,
            "description": "路面塌陷",
            "lat": lat,
            "lng": lng,
            "answers": {"size": "huge"},
        },
        format="json",
    )
    assert set(res.json()["answers"]) == {"size", "traffic"}
    assert not Case.objects.exists()


def test_a_photo_that_is_not_an_image_names_the_field(dispatched, people):
    case = dispatched()
    bogus = SimpleUploadedFile("x.png", b"not an image", content_type="image/png")
    res = api_client(people["handler"]).post(
        url(case, "handle"), {"result": "done", "photos": [bogus]}, format="multipart"
    )
    assert res.status_code == 400 and "photos" in res.json()
    assert fresh(case).status == Status.DISPATCHED


def test_roles_without_the_step_are_refused(report, people, unit):
    case = report()
    # Grid workers report and verify; they do not dispatch. Residents do not record.
    assert post(people["grid_worker"], case, "dispatch", department=unit.pk).status_code == 403
    assert post(people["resident"], case, "record").status_code == 403
    assert post(people["handler"], case, "record").status_code == 403


def test_a_case_outside_the_scope_of_the_step_is_404(report, people, unit):
    case = report(grid="450405001001001")  # 长洲区: outside the community official's area
    assert post(people["community"], case, "dispatch", department=unit.pk).status_code == 404
    assert (
        post(people["community"], case, "dispatch", department=unit.pk).json()
        == post(people["community"], Case(pk=10**9), "dispatch", department=unit.pk).json()
    )


def test_handler_sees_and_works_only_their_units_cases(report, people, units, unit):
    mine = report()
    theirs = report(grid="450405001001001")
    waiting = report()
    services.case_dispatch(case=mine, actor=people["dispatcher"], department=unit)
    services.case_dispatch(case=theirs, actor=people["dispatcher"], department=units["D450405-01"])
    client = api_client(people["handler"])
    listing = client.get(API).json()
    assert [c["id"] for c in listing["results"]] == [mine.pk]
    assert client.get(url(theirs)).status_code == 404 and client.get(url(waiting)).status_code == 404
    assert post(people["handler"], theirs, "start").status_code == 404
    assert post(people["handler"], mine, "start").status_code == 200
    assert listing["results"][0]["actions"] == ["start", "handle", "return", "comment"]
    other = api_client(people["other_handler"]).get(API).json()
    assert [c["id"] for c in other["results"]] == [theirs.pk]


# ---- reporting ---------------------------------------------------------------------------------------


def _report_body(code="0102", grid=HOME["grid"], **extra):
    lat, lng = grid_point(grid)
    category = Category.objects.get(kind="event", code=code)
    return {"category": category.pk, "description": "路边垃圾堆放", "lat": lat, "lng": lng, **extra}


def test_a_retried_report_returns_the_same_case(people):
    client = api_client(people["grid_worker"])
    first = client.post(API, _report_body(), format="json", HTTP_IDEMPOTENCY_KEY="abc-1")
    again = client.post(API, _report_body(), format="json", HTTP_IDEMPOTENCY_KEY="abc-1")
    assert first.status_code == 201 and again.status_code == 200
    assert first.json()["id"] == again.json()["id"]
    assert Case.objects.count() == 1
    case = Case.objects.get()
    assert case.source == f"user:{people['grid_worker'].pk}" and case.idempotency_key == "abc-1"
    # Another sender with the same key makes its own case; no key: a new case each time.
    other = api_client(people["community"]).post(
        API, _report_body(), format="json", HTTP_IDEMPOTENCY_KEY="abc-1"
    )
    assert other.status_code == 201 and other.json()["id"] != first.json()["id"]
    assert client.post(API, _report_body(), format="json").status_code == 201
    assert Case.objects.count() == 3
    long_key = client.post(API, _report_body(), format="json", HTTP_IDEMPOTENCY_KEY="k" * 101)
    assert long_key.status_code == 400 and "Idempotency-Key" in long_key.json()


def test_channel_follows_the_kind_of_user(people):
    def channel(user, **extra):
        res = api_client(user).post(API, _report_body(**extra), format="json")
        assert res.status_code == 201, res.content
        return res.json()["channel"]

    assert channel(people["grid_worker"]) == Channel.GRID_WORKER
    assert channel(people["community"]) == Channel.STAFF
    assert channel(people["community"], channel=Channel.HOTLINE) == Channel.HOTLINE
    assert channel(people["resident"]) == Channel.RESIDENT
    assert channel(people["resident"], channel=Channel.HOTLINE) == Channel.RESIDENT


def test_report_outside_the_reporters_scope_is_refused(people):
    # A grid worker reports in their grid; a point in another district is outside their scope.
    res = api_client(people["grid_worker"]).post(API, _report_body(grid="450405001001001"), format="json")
    assert res.status_code == 403
    assert not Case.objects.exists()


def test_units_without_reporting_rights_cannot_report(people):
    assert api_client(people["handler"]).post(API, _report_body(), format="json").status_code == 403


# ---- lists ---------------------------------------------------------------------------------------------


def test_list_filters(report, people, unit):
    a = report()
    b = report(code="0201", channel=Channel.HOTLINE, grid="450403005002001")
    c = report(grid="450405001001001")
    services.case_dispatch(case=a, actor=people["dispatcher"], department=unit)
    client = api_client(people["dispatcher"])

    def ids(**params):
        res = client.get(API, params)
        assert res.status_code == 200, res.content
        return {r["id"] for r in res.json()["results"]}

    assert ids() == {a.pk, b.pk, c.pk}
    assert ids(status="dispatched") == {a.pk}
    assert ids(status="open") == {a.pk, b.pk, c.pk}
    assert ids(channel="hotline") == {b.pk}
    assert ids(department=unit.pk) == {a.pk}
    assert ids(category=Category.objects.get(kind="event", code="02").pk) == {b.pk}
    assert ids(area="450403005000") == {a.pk, b.pk}
    assert ids(area_code="450403005002") == {b.pk}
    assert ids(area_code="450405") == {c.pk}
    assert ids(q=a.number) == {a.pk}
    assert ids(light="green") == {a.pk, b.pk, c.pk}
    assert ids(light="red") == set()
    assert ids(level="community") == {a.pk, b.pk, c.pk}
    assert ids(date_from="2000-01-01", date_to="2000-12-31") == set()
    for params, field in (
        ({"status": "bogus"}, "status"),
        ({"department": "x"}, "department"),
        ({"date_from": "yesterday"}, "date_from"),
        ({"area_code": "45x"}, "area_code"),
        ({"area": "999999999999"}, "area"),
        ({"date_from": "2026-02-01", "date_to": "2026-01-01"}, "date_to"),
    ):
        res = client.get(API, params)
        assert res.status_code == 400 and field in res.json(), (params, res.content)


def test_list_query_count_is_constant_for_every_kind_of_reader(report, dispatched, people):
    for _n in range(2):
        dispatched()
    readers = [people["dispatcher"], people["handler"], people["community"], people["resident"]]
    before = {}
    for user in readers:
        client = api_client(user)
        client.get(API)
        before[user.pk] = count_queries(lambda c=client: c.get(API))
    for _n in range(4):
        dispatched()
        report()
    for user in readers:
        client = api_client(user)
        assert count_queries(lambda c=client: c.get(API)) == before[user.pk], user


def test_triage_lists_reported_cases_with_suggestions(report, people, unit):
    first = report(description="路边垃圾堆放两天没人清理")
    dup = report(description="这里也有垃圾堆放")
    done = report()
    services.case_record(case=done, actor=people["dispatcher"])
    client = api_client(people["dispatcher"])
    res = client.get(f"{API}triage/")
    assert res.status_code == 200, res.content
    rows = {r["id"]: r for r in res.json()["results"]}
    assert set(rows) == {first.pk, dup.pk}
    hint = rows[dup.pk]["suggestion"]
    assert hint["category"]["code"] == "E0102" and "垃圾" in "".join(hint["keywords"])
    assert first.pk in [d["id"] for d in rows[dup.pk]["duplicates"]]
    before = count_queries(lambda: client.get(f"{API}triage/"))
    for _n in range(4):
        report(description="垃圾堆放")
    assert count_queries(lambda: client.get(f"{API}triage/")) == before
    assert api_client(people["grid_worker"]).get(f"{API}triage/").status_code == 403


def test_phone_is_never_sent_in_full(report, people):
    case = report(reporter_phone="13987654321", reporter_name="李四")
    for path in (API, url(case), f"{API}triage/"):
        text = api_client(people["dispatcher"]).get(path).content.decode()
        assert "13987654321" not in text and "139****4321" in text
        assert "李四" not in text


# ---- rules, statistics, schema ---------------------------------------------------------------------------


def test_rules_are_readable(people, units):
    client = api_client(people["dispatcher"])
    cats = client.get(f"{API}categories/", {"kind": "event", "page_size": 500}).json()["results"]
    collapse = next(c for c in cats if c["code"] == "0401")
    assert {q["code"] for q in collapse["questions"]} == {"size", "traffic"}
    # Residents report, so they read the categories; not the units.
    assert api_client(people["resident"]).get(f"{API}categories/").status_code == 200
    assert api_client(people["resident"]).get(f"{API}departments/").status_code == 403
    depts = api_client(people["handler"]).get(f"{API}departments/", {"level": "district"}).json()
    assert depts["count"] > 0 and all(d["level"] == "district" for d in depts["results"])
    policies = client.get(f"{API}deadline-policies/", {"stage": "handle"}).json()["results"]
    assert policies and all(p["stage"] == "handle" for p in policies)
    assert client.get(f"{API}categories/{collapse['id']}/").json()["service_code"] == "E0401"


def test_statistics_endpoint(closed, people):
    closed()
    client = api_client(people["dispatcher"])
    body = client.get(f"{API}statistics/").json()
    assert body["total"] == 1 and body["area"]["code"] == "450400"
    assert body["overall"]["on_time"]["met"] == 1
    street = Area.objects.get(code=HOME["street"])
    body = client.get(
        f"{API}statistics/", {"area": street.pk, "start": "2020-01-01", "end": "2020-12-31"}
    ).json()
    assert body["total"] == 0 and body["period"] == {"start": "2020-01-01", "end": "2020-12-31"}
    other = Area.objects.get(code="450405")
    assert client.get(f"{API}statistics/", {"area": 10**9}).status_code == 400
    community = api_client(people["community"])
    res = community.get(f"{API}statistics/", {"area": other.pk})
    assert res.status_code == 400 and "area" in res.json()
    res = client.get(f"{API}statistics/", {"start": "2026-05-01", "end": "2026-04-01"})
    assert res.status_code == 400 and "end" in res.json()
    assert api_client(people["handler"]).get(f"{API}statistics/").status_code == 403


def test_schema_documents_the_case_endpoints(people):
    res = api_client(make_user("t_admin", "sysadmin")).get("/api/schema/", {"format": "json"})
    assert res.status_code == 200
    paths = res.json()["paths"]
    for path in (
        "/api/v1/cases/",
        "/api/v1/cases/{id}/dispatch/",
        "/api/v1/cases/{id}/return/",
        "/api/v1/cases/triage/",
    ):
        assert path in paths, path
