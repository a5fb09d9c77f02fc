"""Diary services: recording within scope and permission, idempotent replay, the author's edits and
voiding, and turning a record into a case exactly once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from civicgrid.areas.models import Area
from civicgrid.cases.choices import Channel, Status, Urgency
from civicgrid.cases.models import Case, Category
from civicgrid.core.context import acting_as
from civicgrid.core.models.audit import ChangeAction, ChangeLog
from civicgrid.core.services import ConflictError
from civicgrid.core.testing import HOME
from civicgrid.diary import services
from civicgrid.diary.models import DiaryRecord

from .conftest import NEIGHBOUR_GRID, png, upload

pytestmark = pytest.mark.django_db


def field_errors(exc: ValidationError) -> set[str]:
    return set(exc.value.message_dict)


def changes(record, action=None):
    qs = ChangeLog.objects.filter(
        content_type=ContentType.objects.get_for_model(DiaryRecord), object_id=str(record.pk)
    )
    return qs.filter(action=action) if action else qs


class TestRecord:
    def test_a_visit_is_recorded_in_the_households_grid_with_its_links(self, people, household, home):
        hh, head = household
        record, created = services.record_create(
            actor=people["gw"],
            kind="visit",
            summary="走访独居老人",
            content="身体状况良好",
            mood="positive",
            households=[hh.pk],
            people=[head],
            photos=[upload()],
        )
        assert created
        assert record.area == home and record.area_code == HOME["grid"]
        assert record.created_by == people["gw"]
        assert list(record.households.all()) == [hh] and list(record.people.all()) == [head]
        assert record.photos.count() == 1 and record.photos.get().width == 40
        assert changes(record, ChangeAction.CREATE).count() == 1
        assert changes(record).filter(before__households=[], after__households=[hh.pk]).exists()

    def test_the_point_decides_the_grid_when_no_area_or_link_is_given(self, people):
        grid = Area.objects.get(code=NEIGHBOUR_GRID)
        record, _ = services.record_create(
            actor=people["community"],
            kind="sentiment",
            summary="居民反映路灯不亮",
            lat=grid.centre_lat,
            lng=grid.centre_lng,
        )
        assert record.area == grid

    def test_a_grid_worker_without_area_records_in_their_grid(self, people, home):
        record, _ = services.record_create(actor=people["gw"], kind="party", summary="走访老党员")
        assert record.area == home

    def test_a_community_meeting_belongs_to_the_community(self, people, household):
        community = Area.objects.get(code=HOME["community"])
        record, _ = services.record_create(
            actor=people["community"],
            kind="council",
            summary="邻里议事会：停车位划分",
            area=community,
            attendee_names="王芳\n李明",
            attendees=[household[1]],
        )
        assert record.area_code == HOME["community"]
        assert list(record.attendees.all()) == [household[1]]

    def test_replaying_the_same_key_returns_the_first_record(self, people, household):
        kwargs = {
            "kind": "visit",
            "summary": "入户走访",
            "households": [household[0]],
            "idempotency_key": "k-1",
        }
        first, created = services.record_create(actor=people["gw"], **kwargs)
        again, created_again = services.record_create(actor=people["gw"], **{**kwargs, "summary": "改了"})
        assert created and not created_again
        assert again.pk == first.pk and again.summary == "入户走访"
        assert DiaryRecord.objects.filter(idempotency_key="k-1").count() == 1
        # The key is the author's: another author's same key is another record.
        other, created_other = services.record_create(actor=people["community"], **kwargs)
        assert created_other and other.pk != first.pk

    @pytest.mark.parametrize(
        ("changes_", "field"),
        [
            ({"kind": "gossip"}, "kind"),
            ({"summary": "   "}, "summary"),
            ({"summary": "x" * 201}, "summary"),
            ({"severity": "serious"}, "severity"),
            ({"mood": "happy"}, "mood"),
            ({"attendee_names": "王芳"}, "attendee_names"),
            ({"occurred_at": "tomorrow"}, "occurred_at"),
            ({"lat": 23.47}, "lng"),
            ({"lat": 123, "lng": 111}, "lat"),
            ({"households": ["abc"]}, "households"),
            ({"people": [10**9]}, "people"),
            ({"photos": [upload(b"not an image")]}, "photos"),
        ],
    )
    def test_bad_input_names_the_field_and_writes_nothing(self, people, changes_, field):
        kwargs = {"kind": "visit", "summary": "入户走访", **changes_}
        with pytest.raises(ValidationError) as exc:
            services.record_create(actor=people["gw"], **kwargs)
        assert field in field_errors(exc)
        assert not DiaryRecord.objects.exists()

    def test_a_time_in_the_future_is_refused(self, people):
        with pytest.raises(ValidationError) as exc:
            services.record_create(
                actor=people["gw"], kind="visit", summary="x", occurred_at=timezone.now() + timedelta(hours=2)
            )
        assert field_errors(exc) == {"occurred_at"}

    def test_a_phone_time_as_iso_text_is_kept(self, people):
        record, _ = services.record_create(
            actor=people["gw"], kind="visit", summary="x", occurred_at="2026-01-05T09:30:00+08:00"
        )
        assert timezone.localtime(record.occurred_at).strftime("%Y-%m-%d %H:%M") == "2026-01-05 09:30"

    def test_scope_a_grid_worker_records_only_in_their_grid(self, people, far_household):
        with pytest.raises(ValidationError) as exc:
            services.record_create(
                actor=people["gw"], kind="visit", summary="x", area=Area.objects.get(code=NEIGHBOUR_GRID)
            )
        assert field_errors(exc) == {"area"}
        # A household elsewhere cannot be linked: refused like a missing one, naming the field.
        with pytest.raises(ValidationError) as exc:
            services.record_create(
                actor=people["gw"], kind="visit", summary="x", households=[far_household[0]]
            )
        assert field_errors(exc) == {"households"}
        assert not DiaryRecord.objects.exists()

    def test_the_community_records_in_each_of_its_grids(self, people):
        record, _ = services.record_create(
            actor=people["community"],
            kind="hazard",
            summary="楼道堆物",
            area=Area.objects.get(code=NEIGHBOUR_GRID),
        )
        assert record.area_code == NEIGHBOUR_GRID

    @pytest.mark.parametrize("role", ["street", "district", "auditor", "dispatcher", "resident"])
    def test_roles_that_only_read_or_have_no_diary_cannot_record(self, people, role):
        with pytest.raises(PermissionDenied):
            services.record_create(
                actor=people[role], kind="visit", summary="x", area=Area.objects.get(code=HOME["grid"])
            )

    def test_a_record_must_be_in_a_grid_or_community(self, people):
        with pytest.raises(ValidationError) as exc:
            services.record_create(
                actor=people["community"],
                kind="visit",
                summary="x",
                area=Area.objects.get(code=HOME["street"]),
            )
        assert field_errors(exc) == {"area"}


class TestEdit:
    def test_the_author_corrects_a_record_versioned_and_logged(self, people, record):
        rec = record()
        with acting_as(people["gw"]):  # what the request middleware does for a page or the API
            updated = services.record_update(
                actor=people["gw"],
                record=rec,
                expected_version=1,
                summary="走访后补记",
                follow_up_note="下周回访",
            )
        assert updated.version == 2 and updated.summary == "走访后补记" and updated.follow_up
        log = changes(rec, ChangeAction.UPDATE).filter(after__summary="走访后补记").get()
        assert log.before["summary"] == "入户走访，了解家庭近况" and log.user == people["gw"]

    def test_only_the_author_may_change_even_with_the_scope(self, people, record):
        rec = record()
        with pytest.raises(PermissionDenied):
            services.record_update(actor=people["community"], record=rec, summary="改")
        with pytest.raises(PermissionDenied):  # outside the scope: as if it did not exist
            services.record_update(actor=people["neighbour"], record=rec, summary="改")
        rec.refresh_from_db()
        assert rec.summary == "入户走访，了解家庭近况" and rec.version == 1

    def test_a_stale_version_is_a_conflict(self, people, record):
        rec = record()
        services.record_update(actor=people["gw"], record=rec, expected_version=1, summary="一")
        with pytest.raises(ConflictError):
            services.record_update(actor=people["gw"], record=rec, expected_version=1, summary="二")
        rec.refresh_from_db()
        assert rec.summary == "一"

    def test_links_and_photos_change(self, people, record, household, home):
        from .conftest import make_household

        rec = record(photos=[upload()])
        other_hh, other_head = make_household(home, head="王小明", seq=31, compound="河畔小区")
        services.record_update(
            actor=people["gw"],
            record=rec,
            households=[other_hh.pk],
            people=[other_head.pk],
            add_photos=[upload(png(colour=(200, 0, 0)))],
            remove_photos=[rec.photos.get().pk],
        )
        assert list(rec.households.all()) == [other_hh] and list(rec.people.all()) == [other_head]
        assert rec.photos.count() == 1

    def test_changing_the_kind_keeps_the_rules(self, people, record):
        rec = record()
        with pytest.raises(ValidationError) as exc:
            services.record_update(actor=people["gw"], record=rec, kind="visit", severity="minor")
        assert field_errors(exc) == {"severity"}

    def test_unknown_fields_are_named(self, people, record):
        with pytest.raises(ValidationError) as exc:
            services.record_update(actor=people["gw"], record=record(), created_by=people["community"])
        assert field_errors(exc) == {"created_by"}


class TestVoid:
    def test_the_author_voids_with_a_reason(self, people, record):
        rec = record()
        with pytest.raises(ValidationError) as exc:
            services.record_void(actor=people["gw"], record=rec, reason=" ")
        assert field_errors(exc) == {"reason"}
        services.record_void(actor=people["gw"], record=rec, reason="重复录入")
        rec.refresh_from_db()
        assert rec.is_void and rec.void_reason == "重复录入" and rec.voided_by == people["gw"]
        assert changes(rec).filter(after__void_reason="重复录入").exists()
        with pytest.raises(ConflictError):
            services.record_update(actor=people["gw"], record=rec, summary="x")
        with pytest.raises(ConflictError):
            services.record_void(actor=people["gw"], record=rec, reason="again")

    def test_others_cannot_void(self, people, record):
        rec = record()
        with pytest.raises(PermissionDenied):
            services.record_void(actor=people["community"], record=rec, reason="x")
        with pytest.raises(PermissionDenied):
            services.record_void(actor=people["street"], record=rec, reason="x")


class TestToCase:
    def test_a_dispute_becomes_a_case_once(self, people, record, home):
        rec = record(kind="dispute", summary="邻居吵架，楼上漏水", severity="serious", photos=[upload()])
        case = services.record_to_case(actor=people["gw"], record=rec)
        rec.refresh_from_db()
        assert rec.case == case and rec.case_made_at is not None and rec.version == 2
        assert case.category.kind == "governance" and case.category.code == "0101"  # 邻里纠纷 by keyword
        assert case.status == Status.REPORTED and case.area == home
        assert case.channel == Channel.GRID_WORKER and case.urgency == Urgency.URGENT
        assert "邻居吵架，楼上漏水" in case.description and case.reporter == people["gw"]
        assert case.photos.count() == 1
        with pytest.raises(services.RecordAlreadyCase) as exc:
            services.record_to_case(actor=people["community"], record=rec)
        assert exc.value.case == case and exc.value.code == "already_case"
        assert Case.objects.filter(source="diary").count() == 1

    def test_a_hazard_without_a_keyword_match_goes_to_its_group(self, people, record):
        rec = record(kind="hazard", summary="楼梯扶手松动")
        case = services.record_to_case(actor=people["community"], record=rec)
        assert (case.category.kind, case.category.code) == ("governance", "02")
        assert case.channel == Channel.STAFF

    def test_a_visit_needs_a_category(self, people, record):
        rec = record()
        with pytest.raises(ValidationError) as exc:
            services.record_to_case(actor=people["gw"], record=rec)
        assert field_errors(exc) == {"category"}
        category = Category.objects.get(kind="governance", code="0602")
        case = services.record_to_case(actor=people["gw"], record=rec, category=category)
        assert case.category == category and case.channel == Channel.VISIT

    def test_the_categorys_questions_must_be_answered(self, people, record):
        rec = record(kind="hazard", summary="楼道电动车充电")
        fire = Category.objects.get(kind="governance", code="0201")
        with pytest.raises(ValidationError) as exc:
            services.record_to_case(actor=people["gw"], record=rec, category=fire)
        assert field_errors(exc) == {"attribute[hazard]"}
        assert not Case.objects.filter(source="diary").exists()
        rec.refresh_from_db()
        assert rec.case is None
        case = services.record_to_case(
            actor=people["gw"], record=rec, category=fire, answers={"hazard": ["charging"]}
        )
        assert case.answers == {"hazard": ["charging"]}

    def test_the_case_stays_in_the_records_grid(self, people, record, home):
        # The phone's point fell just across the edge, in the neighbouring grid: the case is still
        # the home grid's (the worker's), at the grid's centre.
        neighbour = Area.objects.get(code=NEIGHBOUR_GRID)
        rec = record(kind="hazard", summary="灭火器过期")
        DiaryRecord.objects.filter(pk=rec.pk).update(lat=neighbour.centre_lat, lng=neighbour.centre_lng)
        case = services.record_to_case(actor=people["gw"], record=rec.pk)
        assert case.area == home
        assert (case.lat, case.lng) == (home.centre_lat, home.centre_lng)

    @pytest.mark.parametrize("role", ["street", "district", "auditor", "neighbour", "far"])
    def test_who_may_not(self, people, record, role):
        rec = record(kind="dispute", summary="纠纷")
        with pytest.raises(PermissionDenied):
            services.record_to_case(actor=people[role], record=rec)
        assert not Case.objects.filter(source="diary").exists()

    def test_a_voided_record_is_not_a_case(self, people, record):
        rec = record(kind="dispute", summary="纠纷")
        services.record_void(actor=people["gw"], record=rec, reason="误报")
        with pytest.raises(ConflictError):
            services.record_to_case(actor=people["gw"], record=rec)
