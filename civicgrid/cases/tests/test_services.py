"""The closed loop through the services: who may take each step, in which state, what it writes."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from civicgrid.cases import services
from civicgrid.cases.choices import Channel, DeadlineOutcome, EventKind, Level, Stage, Status
from civicgrid.cases.models import Case, CaseDeadline, CaseEvent, Category
from civicgrid.core.services import ConflictError
from civicgrid.notify.models import Notification

from .conftest import grid_point

pytestmark = pytest.mark.django_db


def kinds(case):
    return list(CaseEvent.objects.filter(case=case).order_by("id").values_list("kind", flat=True))


def test_full_loop_writes_its_timeline_deadlines_and_notifications(
    people, units, report, django_capture_on_commit_callbacks
):
    p = people

    def step(fn, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return fn(**kwargs)

    case = report()
    assert case.status == Status.REPORTED and case.area_code == "450403005001001"
    assert case.deadline_stage == Stage.RECORD and case.due_at > case.reported_at
    # Residents' reports: recorded within 1 working day (the seeded policy for the channel).
    assert CaseDeadline.objects.get(case=case).policy.channel == Channel.RESIDENT

    case = step(services.case_record, case=case, actor=p["community"])
    case = step(services.case_dispatch, case=case, actor=p["community"], department=units["D450403-01"])
    assert case.status == Status.DISPATCHED and case.deadline_stage == Stage.HANDLE
    assert Notification.objects.filter(recipient=p["handler"]).exists()  # the unit is told

    case = step(services.case_start, case=case, actor=p["handler"])
    case = step(services.case_handle, case=case, actor=p["handler"], result="已清运")
    assert case.status == Status.HANDLED and case.deadline_stage == Stage.VERIFY
    assert Notification.objects.filter(recipient=p["grid_worker"], kind="case_verify").exists()

    case = step(services.case_verify, case=case, actor=p["grid_worker"], passed=True, note="现场已干净")
    case = step(services.case_close, case=case, actor=p["community"])
    assert case.status == Status.CLOSED and case.due_at is None and case.closed_at
    case = step(services.case_rate, case=case, actor=p["resident"], rating=5, comment="很及时")
    assert case.rating == 5

    assert kinds(case) == [
        EventKind.REPORTED,
        EventKind.RECORDED,
        EventKind.DISPATCHED,
        EventKind.STARTED,
        EventKind.HANDLED,
        EventKind.VERIFIED,
        EventKind.CLOSED,
        EventKind.RATED,
    ]
    stages = list(CaseDeadline.objects.filter(case=case).values_list("stage", "outcome"))
    assert [s for s, _ in stages] == [Stage.RECORD, Stage.DISPATCH, Stage.HANDLE, Stage.VERIFY, Stage.CLOSE]
    assert all(outcome == DeadlineOutcome.MET for _, outcome in stages)
    # The reporter was told at each public step (必反馈).
    assert Notification.objects.filter(recipient=p["resident"]).count() >= 4


def test_a_step_not_allowed_in_the_state_is_a_conflict_and_changes_nothing(people, report):
    case = report()
    with pytest.raises(ConflictError):
        services.case_close(case=case, actor=people["community"])
    with pytest.raises(ConflictError):
        services.case_verify(case=case, actor=people["grid_worker"], passed=True)
    case.refresh_from_db()
    assert case.status == Status.REPORTED and case.version == 1
    assert kinds(case) == [EventKind.REPORTED]


def test_second_dispatcher_gets_a_conflict_not_a_double_dispatch(people, units, report):
    case = report()
    seen = case.version
    services.case_dispatch(
        case=case, actor=people["community"], department=units["D450403-01"], expected_version=seen
    )
    with pytest.raises(ConflictError):
        services.case_dispatch(
            case=case,
            actor=people["street_dispatcher"],
            department=units["D450403-02"],
            expected_version=seen,
        )
    # Without a version the state alone refuses it.
    with pytest.raises(ConflictError):
        services.case_dispatch(case=case, actor=people["street_dispatcher"], department=units["D450403-02"])
    assert kinds(case).count(EventKind.DISPATCHED) == 1
    case.refresh_from_db()
    assert case.department == units["D450403-01"]


def test_who_may_act(people, units, report):
    p = people
    case = report()
    # A resident cannot dispatch; a grid worker cannot record; the other district's handler never sees it.
    with pytest.raises(PermissionDenied):
        services.case_dispatch(case=case, actor=p["resident"], department=units["D450403-01"])
    with pytest.raises(PermissionDenied):
        services.case_record(case=case, actor=p["grid_worker"])
    services.case_dispatch(case=case, actor=p["community"], department=units["D450403-01"])
    with pytest.raises(PermissionDenied):
        services.case_handle(case=case, actor=p["other_handler"], result="x")
    # Officials oversee but the district official does not dispatch.
    assert Case.objects.visible_to(p["district"]).filter(pk=case.pk).exists()
    # Handlers see their unit's cases only, by membership, not by area.
    assert Case.objects.visible_to(p["handler"]).filter(pk=case.pk).exists()
    assert not Case.objects.visible_to(p["other_handler"]).filter(pk=case.pk).exists()
    other = report()
    assert not Case.objects.visible_to(p["handler"]).filter(pk=other.pk).exists()
    # The resident sees their own reports only.
    assert set(Case.objects.visible_to(p["resident"]).values_list("pk", flat=True)) == {case.pk, other.pk}


def test_reject_needs_a_reason_and_merge_links_the_duplicate(people, report):
    case = report()
    with pytest.raises(ValidationError) as exc:
        services.case_reject(case=case, actor=people["community"], reason="  ")
    assert "reason" in exc.value.message_dict
    first = report()
    services.case_merge(case=case, actor=people["community"], into=first)
    case.refresh_from_db()
    assert case.status == Status.MERGED and case.duplicate_of == first
    assert EventKind.DUPLICATE_ADDED in kinds(first)
    with pytest.raises(ValidationError):
        services.case_merge(case=first, actor=people["community"], into=first)


def test_return_redispatch_and_verification_failure(people, units, report):
    p = people
    case = report()
    services.case_dispatch(case=case, actor=p["community"], department=units["D450403-01"])
    case = services.case_return(case=case, actor=p["handler"], reason="不属于城管职责")
    assert case.status == Status.RECORDED and case.department is None
    returned = CaseDeadline.objects.filter(case=case, stage=Stage.HANDLE).get()
    assert returned.outcome == DeadlineOutcome.CANCELLED  # not the unit's on-time record
    case = services.case_dispatch(case=case, actor=p["community"], department=units["D450403-01"])
    case = services.case_handle(case=case, actor=p["handler"], result="已处理")
    with pytest.raises(ValidationError):
        services.case_verify(case=case, actor=p["grid_worker"], passed=False, note="")
    case = services.case_verify(case=case, actor=p["grid_worker"], passed=False, note="垃圾仍在")
    assert case.status == Status.DISPATCHED and case.reopen_count == 1 and case.deadline_stage == Stage.HANDLE
    assert EventKind.VERIFICATION_FAILED in kinds(case)


def test_not_solved_reopens_with_the_unit(people, units, report):
    p = people
    case = report()
    services.case_dispatch(case=case, actor=p["community"], department=units["D450403-01"])
    services.case_handle(case=case, actor=p["handler"], result="已处理")
    services.case_verify(case=case, actor=p["grid_worker"], passed=True)
    services.case_close(case=case, actor=p["community"])
    with pytest.raises(PermissionDenied):
        services.case_rate(case=case, actor=p["grid_worker"], rating=5)
    with pytest.raises(ValidationError) as exc:
        services.case_rate(case=case, actor=p["resident"], rating=9)
    assert "rating" in exc.value.message_dict
    case = services.case_rate(case=case, actor=p["resident"], rating=None, solved=False, comment="还是有垃圾")
    assert case.status == Status.DISPATCHED and case.department == units["D450403-01"]
    assert case.closed_at is None and kinds(case)[-1] == EventKind.REOPENED


def test_escalation_follows_137_and_needs_a_post_at_that_level(people, units, report):
    p = people
    case = report()
    services.case_record(case=case, actor=p["community"])
    case = services.case_escalate(case=case, actor=p["community"], reason="社区无法解决")
    assert case.level == Level.STREET and case.status == Status.RECORDED
    deadline = CaseDeadline.objects.filter(case=case).order_by("-id").first()
    assert deadline.stage == Stage.HANDLE and "街道1个工作日" in deadline.policy.name
    # The community may no longer dispatch it; the street may.
    with pytest.raises(PermissionDenied):
        services.case_dispatch(case=case, actor=p["community"], department=units["D450403-01"])
    case = services.case_dispatch(case=case, actor=p["street_dispatcher"], department=units["D450403-01"])
    # The 137 clock keeps running across the dispatch at the new level.
    assert CaseDeadline.objects.filter(case=case, outcome=DeadlineOutcome.OPEN).get().pk == deadline.pk
    services.case_escalate(case=case, actor=p["dispatcher"], reason="街道无法解决")
    services.case_escalate(case=case, actor=p["dispatcher"], reason="城区无法解决")
    with pytest.raises(ConflictError):
        services.case_escalate(case=case, actor=p["dispatcher"], reason="再上报")
    case.refresh_from_db()
    assert case.level == Level.CITY and case.escalation_count == 3


def test_coordinate_defer_review_and_supervise(people, units, report):
    from django.utils import timezone

    p = people
    case = report(code="0103", kind="governance")
    meeting = services.meeting_create(
        actor=p["street_dispatcher"],
        area=case.area,
        kind="party_joint",
        held_at=timezone.now(),
        topic="物业纠纷协调",
        departments=[units["D450403-01"], units["D450403-02"]],
    )
    case = services.case_coordinate(
        case=case,
        actor=p["street_dispatcher"],
        lead=units["D450403-02"],
        assisting=[units["D450403-01"]],
        meeting=meeting,
        note="联席会议定",
    )
    assert case.status == Status.DISPATCHED and case.department == units["D450403-02"]
    assert list(case.assisting_departments.all()) == [units["D450403-01"]]
    assert meeting.cases.filter(pk=case.pk).exists()
    # The assisting unit's handler sees it too.
    assert Case.objects.visible_to(p["handler"]).filter(pk=case.pk).exists()
    case = services.case_supervise(case=case, actor=p["district"], note="请加快")
    assert case.supervision_count == 1
    case = services.case_defer(case=case, actor=p["street_dispatcher"], reason="历史遗留，暂无法解决")
    assert case.status == Status.DEFERRED and case.deadline_stage == Stage.REVIEW
    assert CaseEvent.objects.get(case=case, kind=EventKind.DEFERRED).data["filed_with"] == "450403005"
    case = services.case_review(case=case, actor=p["street_dispatcher"], note="仍在协调")
    assert case.status == Status.DEFERRED
    case = services.case_review(case=case, actor=p["street_dispatcher"], note="条件成熟", reactivate=True)
    assert case.status == Status.RECORDED


class TestIntake:
    def test_idempotent_retry_returns_the_same_case(self, people):
        lat, lng = grid_point("450403005001001")
        args = dict(
            actor=None,
            category=Category.objects.get(kind="event", code="0102"),
            description="垃圾",
            channel=Channel.OPEN311,
            lat=lat,
            lng=lng,
            source="open311:1",
            idempotency_key="abc-1",
        )
        first, created = services.case_report(**args)
        again, created_again = services.case_report(**args)
        assert created and not created_again and first.pk == again.pk
        assert Case.objects.filter(idempotency_key="abc-1").count() == 1
        # The same key from another source is another report.
        other, created_other = services.case_report(**{**args, "source": "open311:2"})
        assert created_other and other.pk != first.pk
        # A retry that no longer passes the checks still gets its case; a new report gets the error.
        Category.objects.filter(pk=args["category"].pk).update(is_active=False)
        args["category"].refresh_from_db()
        late, created_late = services.case_report(**args)
        assert late.pk == first.pk and not created_late
        with pytest.raises(ValidationError) as error:
            services.case_report(**{**args, "idempotency_key": "abc-2"})
        assert "category" in error.value.message_dict
        assert Case.objects.count() == 2

    @pytest.mark.parametrize(
        ("change", "field"),
        [
            ({"lat": 39.9, "lng": 116.4}, "lat"),  # Beijing: outside the city
            ({"lat": None, "lng": None}, "lat"),
            ({"lat": None, "lng": None, "address": "不存在的地址"}, "address_string"),
            ({"description": "x" * 4001}, "description"),
            ({"description": "   "}, "description"),
            ({"reporter_phone": "12345"}, "phone"),
            ({"channel": "fax"}, "channel"),
            ({"urgency": "panic"}, "urgency"),
            ({"description": "垃圾\x00"}, "description"),
            ({"title": "标题\x00"}, "title"),
            ({"address": "西江路\x00"}, "address"),
            ({"reporter_name": "张\x00三"}, "reporter_name"),
            ({"source": "open311:\x00"}, "source"),
            ({"idempotency_key": "k\x00"}, "idempotency_key"),
            ({"source": "open311:\x00", "idempotency_key": "k"}, "source"),
        ],
    )
    def test_bad_input_names_the_field_and_stores_nothing(self, people, change, field):
        lat, lng = grid_point("450403005001001")
        args = dict(
            actor=people["resident"],
            category=Category.objects.get(kind="event", code="0102"),
            description="垃圾",
            channel=Channel.RESIDENT,
            lat=lat,
            lng=lng,
        )
        args.update(change)
        before = Case.objects.count()
        with pytest.raises(ValidationError) as exc:
            services.case_report(**args)
        assert field in exc.value.message_dict
        assert Case.objects.count() == before

    def test_category_questions(self, people):
        lat, lng = grid_point("450403005001001")
        category = Category.objects.get(kind="event", code="0401")  # 路面塌陷: two required questions
        base = dict(
            actor=people["resident"],
            category=category,
            description="塌陷",
            channel="resident",
            lat=lat,
            lng=lng,
        )
        with pytest.raises(ValidationError) as exc:
            services.case_report(**base, answers={"size": "huge"})
        assert set(exc.value.message_dict) == {"attribute[size]", "attribute[traffic]"}
        case, _ = services.case_report(**base, answers={"size": "large", "traffic": "yes"})
        assert case.answers == {"size": "large", "traffic": "yes"}
        # An urgent category's own limit (4 working hours) beats the channel's 5 days.
        services.case_dispatch(case=case, actor=people["community"], department=case_unit(case))
        case.refresh_from_db()
        assert (
            CaseDeadline.objects.filter(case=case).order_by("-id").first().policy.category_id == category.pk
        )

    def test_questions_by_code_are_kept_only_with_prefetched_questions(self, wuzhou):
        from django.db.models import Prefetch

        from civicgrid.cases.models import CategoryQuestion

        def prefetched():
            ordered = CategoryQuestion.objects.order_by("order", "code")
            return Category.objects.prefetch_related(Prefetch("questions", queryset=ordered)).get(
                kind="event", code="0401"
            )

        category = prefetched()
        kept = category.questions_by_code()
        assert list(kept) == ["size", "traffic"] and category.questions_by_code() is kept
        CategoryQuestion.objects.create(category=category, code="depth", datatype="string", label="深度")
        assert category.questions_by_code() is kept  # as the prefetched questions: read once
        assert "depth" in prefetched().questions_by_code()  # fetched again: the new question too
        plain = Category.objects.get(pk=category.pk)  # not prefetched: read each time
        assert "depth" in plain.questions_by_code()
        CategoryQuestion.objects.filter(category=category, code="depth").delete()
        assert "depth" not in plain.questions_by_code()

    def test_html_is_stored_as_given(self, people, report):
        case = report(description="<script>alert(1)</script>积水")
        case.refresh_from_db()
        assert case.description == "<script>alert(1)</script>积水"

    def test_address_resolves_through_the_registry(self, people):
        from civicgrid.areas.models import Area
        from civicgrid.registry.models import Building

        grid = Area.objects.get(code="450403005001001")
        Building.objects.create(
            area=grid, name="1栋", address="西江路88号1栋", lat=grid.centre_lat, lng=grid.centre_lng
        )
        case, _ = services.case_report(
            actor=people["resident"],
            category=Category.objects.get(kind="event", code="0102"),
            description="垃圾",
            channel="resident",
            address="西江路88号",
        )
        assert case.area_id == grid.pk and case.lat == grid.centre_lat


def case_unit(case):
    from civicgrid.cases.selectors import suggest_department

    return suggest_department(case.category, case.area)


def test_photos_are_checked_and_location_stripped(people, units, report):
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    def jpeg(with_gps: bool) -> SimpleUploadedFile:
        image = Image.new("RGB", (40, 30), "red")
        exif = Image.Exif()
        if with_gps:
            exif[0x8825] = {1: "N", 2: (23.0, 28.0, 0.0)}
        out = io.BytesIO()
        image.save(out, format="JPEG", exif=exif.tobytes())
        return SimpleUploadedFile("p.jpg", out.getvalue(), content_type="image/jpeg")

    case = report(photos=[jpeg(True)])
    photo = case.photos.get()
    with photo.image.open() as fh, Image.open(fh) as stored:
        assert 0x8825 not in stored.getexif()
    assert (photo.width, photo.height) == (40, 30)
    with pytest.raises(ValidationError) as exc:
        report(photos=[SimpleUploadedFile("x.jpg", b"not an image", content_type="image/jpeg")])
    assert "photos" in exc.value.message_dict
    before = Case.objects.count()
    with pytest.raises(ValidationError):
        report(photos=[jpeg(False), SimpleUploadedFile("x.png", b"\x89PNG broken")])
    assert Case.objects.count() == before  # nothing half-written


def test_suggestions_and_duplicates(people, units, report):
    from civicgrid.areas.models import Area
    from civicgrid.cases.selectors import possible_duplicates, suggest_categories

    grid = Area.objects.get(code="450403005001001")
    found = suggest_categories("小区消防通道被堵塞，还有人飞线充电", grid)
    assert found[0].category.name == "消防隐患"
    assert found[0].department is not None and found[0].department.function == "fire"
    first = report()
    second = report()
    other_kind = report(code="0201")
    dupes = [c.pk for c, _ in possible_duplicates(second)]
    assert first.pk in dupes and other_kind.pk not in dupes


def test_demo_units_match_the_seed(units):
    from civicgrid.cases.models import WorkItem

    assert len(units) == 131 and WorkItem.objects.count() == 220


def test_demo_cases_go_through_the_loop(wuzhou):
    from civicgrid.accounts.demo import load_accounts
    from civicgrid.cases.demo import generate_cases

    load_accounts()
    assert generate_cases(25) == 25
    statuses = set(Case.objects.values_list("status", flat=True))
    assert {Status.REPORTED, Status.CLOSED} <= statuses
    assert generate_cases(5) == 0  # idempotent: the demo is loaded once


def test_open_and_final_statuses_split_every_status():
    """Lists ask for "open" as a positive list of statuses (it reads the status index); that list
    and the final statuses must cover every status exactly once."""
    from civicgrid.cases.choices import FINAL_STATUSES, OPEN_STATUSES

    assert sorted([*OPEN_STATUSES, *FINAL_STATUSES]) == sorted(Status.values)


def test_a_report_locks_no_shared_row_for_a_foreign_key(report):
    """The change log's content type and the clock's policy are the same few rows for every report:
    their columns carry no database constraint, whose check would lock those rows until commit for
    every concurrent report. The case's own references keep theirs."""
    from django.db import connection

    from civicgrid.core.models.audit import ChangeLog

    def constrained(model) -> set[str]:
        with connection.cursor() as cursor:
            found = connection.introspection.get_constraints(cursor, model._meta.db_table)
        return {c["columns"][0] for c in found.values() if c["foreign_key"]}

    assert "content_type_id" not in constrained(ChangeLog)
    assert "policy_id" not in constrained(CaseDeadline)
    assert {"case_id", "department_id"} <= constrained(CaseDeadline)
    assert {"area_id", "category_id"} <= constrained(Case)
    case = report()
    clock = CaseDeadline.objects.get(case=case)
    assert clock.policy is not None and ChangeLog.objects.filter(object_id=str(case.pk)).exists()
