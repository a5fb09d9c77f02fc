"""Consent, duty and uploads: no tracking without consent, withdrawing stops it (audited), a
replayed batch stores nothing twice, the filter and the distance, visits, retention."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from civicgrid.core.models import ChangeLog
from civicgrid.core.services import ConflictError
from civicgrid.core.testing import make_user
from civicgrid.patrol import services
from civicgrid.patrol.choices import ConsentEnd, PointStatus, ShiftEnd
from civicgrid.patrol.models import BuildingVisit, PatrolShift, TrackBatch, TrackingConsent, TrackPoint

from .conftest import key, offset, walk

pytestmark = pytest.mark.django_db


def _changes(obj, action=None):
    qs = ChangeLog.objects.filter(content_type=ContentType.objects.get_for_model(obj), object_id=str(obj.pk))
    return qs.filter(action=action) if action else qs


# ---- consent ---------------------------------------------------------------------------------------


def test_no_shift_without_consent(worker):
    with pytest.raises(ConflictError) as err:
        services.shift_start(actor=worker)
    assert err.value.code == "consent_required"
    assert not PatrolShift.objects.exists()


def test_consent_names_the_text_read(worker, consent_text):
    with pytest.raises(ConflictError) as err:
        services.consent_give(actor=worker, version="1999-1")
    assert err.value.code == "stale_consent_text"
    consent, created = services.consent_give(actor=worker, version=consent_text.version, ip="10.0.0.7")
    assert created and consent.in_force and consent.area.code == "450403005001001"
    again, created = services.consent_give(actor=worker, version=consent_text.version)
    assert again.pk == consent.pk and not created
    assert _changes(consent, "create").count() == 1


def test_a_new_consent_text_asks_again(consented, consent_text):
    new = services.consent_text_publish(actor=None, version="2027-1", title="新版", body="新版同意书")
    with pytest.raises(ConflictError) as err:
        services.shift_start(actor=consented)
    assert err.value.code == "consent_required"
    consent, created = services.consent_give(actor=consented, version=new.version)
    assert created
    old = TrackingConsent.objects.get(text=consent_text, worker=consented)
    assert old.end_reason == ConsentEnd.SUPERSEDED and old.withdrawn_at is not None
    assert services.shift_start(actor=consented)[1]


def test_withdrawing_ends_the_shift_and_refuses_later_points(on_duty, centre):
    worker = on_duty.worker
    before = timezone.now() - timedelta(minutes=30)
    services.points_upload(actor=worker, shift=on_duty, key=key(), points=walk(centre, 5, at=before))
    consent = services.consent_withdraw(actor=worker)
    assert consent.end_reason == ConsentEnd.WITHDRAWN
    on_duty.refresh_from_db()
    assert on_duty.ended_at is not None and on_duty.end_reason == ShiftEnd.CONSENT_WITHDRAWN
    # Both steps are in the change log.
    assert _changes(consent, "update").filter(after__end_reason="withdrawn").exists()
    assert _changes(on_duty, "update").filter(after__end_reason="consent_withdrawn").exists()
    # Points recorded after the withdrawal are refused; buffered ones from before still arrive.
    late = walk(centre, 3, at=timezone.now() + timedelta(seconds=30))
    early = walk(centre, 3, at=before + timedelta(minutes=5))
    result = services.points_upload(actor=worker, shift=on_duty, key=key(), points=late + early)
    assert (result.batch.accepted, result.batch.rejected) == (3, 3)
    assert TrackPoint.objects.filter(shift=on_duty, recorded_at__gt=consent.withdrawn_at).count() == 0
    with pytest.raises(ConflictError):
        services.shift_start(actor=worker)
    assert services.consent_withdraw(actor=worker) is None  # nothing left to withdraw


def test_who_may_record(wuzhou, consent_text, on_duty, centre):
    official = make_user("t_comm", "community_official")
    with pytest.raises(PermissionDenied):
        services.shift_start(actor=official)
    unassigned = make_user("t_gw2", "grid_worker", "450403005001002")  # a post, but not the grid's worker
    with pytest.raises(ConflictError) as err:
        services.consent_give(actor=unassigned, version=consent_text.version)
    assert err.value.code == "no_grid"
    with pytest.raises(PermissionDenied):
        services.points_upload(
            actor=official, shift=on_duty, key=key(), points=walk(centre, 2, at=timezone.now())
        )


# ---- shifts ----------------------------------------------------------------------------------------


def test_start_is_idempotent_and_one_shift_runs(consented):
    k = key()
    shift, created = services.shift_start(actor=consented, key=k)
    assert created
    assert services.shift_start(actor=consented, key=k) == (shift, False)
    assert services.shift_start(actor=consented) == (shift, False)  # already on duty
    ended = services.shift_end(actor=consented, shift=shift)
    assert ended.end_reason == ShiftEnd.WORKER
    assert services.shift_end(actor=consented, shift=shift).ended_at == ended.ended_at
    second, created = services.shift_start(actor=consented)
    assert created and second.pk != shift.pk
    with pytest.raises(ValidationError) as err:
        services.shift_start(actor=consented, key="not-a-uuid")
    assert "key" in err.value.message_dict


def test_end_time_is_the_tap_but_not_before_the_last_point(on_duty, centre):
    start = timezone.now() - timedelta(minutes=20)
    services.points_upload(actor=on_duty.worker, shift=on_duty, key=key(), points=walk(centre, 10, at=start))
    on_duty.refresh_from_db()
    ended = services.shift_end(actor=on_duty.worker, shift=on_duty, ended_at=start)
    assert ended.ended_at == on_duty.last_point_at
    with pytest.raises(PermissionDenied):
        services.shift_end(actor=make_user("t_x", "grid_worker", "450403005001002"), shift=on_duty)


def test_stale_shifts_close_at_their_last_point(on_duty, centre):
    start = timezone.now() - timedelta(minutes=90)
    services.points_upload(actor=on_duty.worker, shift=on_duty, key=key(), points=walk(centre, 3, at=start))
    assert services.close_stale_shifts() == 0
    assert services.close_stale_shifts(now=timezone.now() + timedelta(hours=13)) == 1
    on_duty.refresh_from_db()
    assert on_duty.end_reason == ShiftEnd.STALE and on_duty.ended_at == on_duty.last_point_at


# ---- uploads ---------------------------------------------------------------------------------------


def test_a_replayed_batch_is_not_stored_twice(on_duty, centre):
    points = walk(centre, 50, at=timezone.now() - timedelta(minutes=30))
    k = key()
    first = services.points_upload(actor=on_duty.worker, shift=on_duty, key=k, points=points)
    assert first.created and first.batch.accepted == 50
    replay = services.points_upload(actor=on_duty.worker, shift=on_duty, key=k, points=points)
    assert not replay.created and replay.batch.pk == first.batch.pk
    # The same points under a new key (the phone rebuilt its batch): duplicates, nothing stored.
    again = services.points_upload(
        actor=on_duty.worker, shift=on_duty, key=key(), points=points[10:] + points[:5]
    )
    assert (again.batch.accepted, again.batch.duplicates) == (0, 45)
    assert TrackPoint.objects.filter(shift=on_duty).count() == 50
    assert TrackBatch.objects.filter(shift=on_duty).count() == 2
    shift = PatrolShift.objects.get(pk=on_duty.pk)
    assert shift.point_count == 50
    assert shift.distance_m == pytest.approx(49 * 12, rel=0.02)


def test_points_outside_the_shift_are_refused(on_duty, centre):
    now = timezone.now()
    before = walk(centre, 2, at=on_duty.started_at - timedelta(minutes=10))
    future = walk(centre, 2, at=now + timedelta(hours=1))
    inside = walk(centre, 2, at=now - timedelta(minutes=1))
    result = services.points_upload(
        actor=on_duty.worker, shift=on_duty, key=key(), points=before + future + inside
    )
    assert (result.batch.received, result.batch.accepted, result.batch.rejected) == (6, 2, 4)
    assert PatrolShift.objects.get(pk=on_duty.pk).rejected_count == 4


def test_inaccurate_fixes_and_jumps_are_kept_aside(on_duty, centre):
    at = timezone.now() - timedelta(minutes=30)
    points = walk(centre, 20, at=at)
    bad_accuracy = services.IncomingPoint(points[5].at, points[5].lat, points[5].lng, 450.0)
    far = offset(points[12].lat, points[12].lng, 3000, 0)
    jump = services.IncomingPoint(points[12].at, far[0], far[1], 10.0)
    points[5], points[12] = bad_accuracy, jump
    services.points_upload(actor=on_duty.worker, shift=on_duty, key=key(), points=points)
    statuses = dict(TrackPoint.objects.filter(shift=on_duty).values_list("recorded_at", "status"))
    assert statuses[points[5].at] == PointStatus.INACCURATE
    assert statuses[points[12].at] == PointStatus.JUMP
    shift = PatrolShift.objects.get(pk=on_duty.pk)
    assert shift.point_count == 18
    assert shift.distance_m == pytest.approx(19 * 12, rel=0.03)  # the jump added nothing


def test_a_bad_first_fix_does_not_block_the_track(on_duty, centre):
    """The first fix is 5 km off; the next ones agree with each other: after three of them the
    track is kept from there on, in one batch or spread over several."""
    at = timezone.now() - timedelta(minutes=30)
    far = offset(*centre, 5000, 0)
    bad = services.IncomingPoint(at, far[0], far[1], 10.0)
    rest = walk(centre, 10, at=at + timedelta(seconds=10))
    for chunk in ([bad], rest[:2], rest[2:3], rest[3:]):
        services.points_upload(actor=on_duty.worker, shift=on_duty, key=key(), points=chunk)
    kept = TrackPoint.objects.filter(shift=on_duty, status=PointStatus.OK).count()
    assert kept == 11  # the bad first one stays (nothing contradicted it alone) and all ten after it
    shift = PatrolShift.objects.get(pk=on_duty.pk)
    assert shift.distance_m == pytest.approx(9 * 12, rel=0.03)  # the 5 km hop is not walking


def test_standing_still_is_not_walking(on_duty, centre):
    import random

    rng = random.Random(7)
    at = timezone.now() - timedelta(minutes=60)
    points = []
    for i in range(180):  # half an hour in one place, fixes jittering by a few metres
        lat, lng = offset(*centre, rng.gauss(0, 3), rng.gauss(0, 3))
        points.append(services.IncomingPoint(at + timedelta(seconds=10 * i), lat, lng, 8.0))
    services.points_upload(actor=on_duty.worker, shift=on_duty, key=key(), points=points)
    assert PatrolShift.objects.get(pk=on_duty.pk).distance_m < 30


def test_batches_out_of_order_give_the_same_track(on_duty, consent_text, centre, grid):
    at = timezone.now() - timedelta(minutes=60)
    points = walk(centre, 90, at=at)
    far = offset(points[40].lat, points[40].lng, 2500, 0)
    points[40] = services.IncomingPoint(points[40].at, far[0], far[1], 10.0)
    for chunk in (points[60:], points[:30], points[30:60]):
        services.points_upload(actor=on_duty.worker, shift=on_duty, key=key(), points=chunk)
    shuffled = PatrolShift.objects.get(pk=on_duty.pk)
    marks = list(
        TrackPoint.objects.filter(shift=on_duty).order_by("recorded_at").values_list("status", flat=True)
    )

    services.shift_end(actor=on_duty.worker, shift=on_duty)
    second, _ = services.shift_start(actor=on_duty.worker)
    PatrolShift.objects.filter(pk=second.pk).update(started_at=at - timedelta(minutes=1))
    second.refresh_from_db()
    services.points_upload(actor=on_duty.worker, shift=second, key=key(), points=points)
    in_order = PatrolShift.objects.get(pk=second.pk)
    assert marks == list(
        TrackPoint.objects.filter(shift=second).order_by("recorded_at").values_list("status", flat=True)
    )
    assert shuffled.point_count == in_order.point_count == 89
    assert shuffled.distance_m == pytest.approx(in_order.distance_m, rel=0.01)
    assert (shuffled.first_point_at, shuffled.last_point_at) == (
        in_order.first_point_at,
        in_order.last_point_at,
    )


def test_at_most_a_thousand_points_per_batch(on_duty, centre):
    with pytest.raises(ValidationError) as err:
        services.points_upload(
            actor=on_duty.worker, shift=on_duty, key=key(), points=walk(centre, 1001, at=timezone.now())
        )
    assert "points" in err.value.message_dict
    assert not TrackBatch.objects.exists()


# ---- visits ----------------------------------------------------------------------------------------


def test_buildings_within_reach_are_visited(on_duty, centre, building_at):
    near = building_at(*offset(*centre, 20, 60), name="近楼")  # 20 m north of the walk
    far = building_at(*offset(*centre, -100, 60), name="远楼")
    at = timezone.now() - timedelta(minutes=30)
    services.points_upload(actor=on_duty.worker, shift=on_duty, key=key(), points=walk(centre, 20, at=at))
    visits = list(BuildingVisit.objects.filter(worker=on_duty.worker))
    assert [v.building_id for v in visits] == [near.pk]
    visit = visits[0]
    assert visit.area_code == near.area_code and visit.visited_on == timezone.localdate(visit.first_at)
    assert 15 < visit.distance_m <= 30
    # Passing again the same day adds nothing.
    services.points_upload(
        actor=on_duty.worker, shift=on_duty, key=key(), points=walk(centre, 20, at=at + timedelta(minutes=10))
    )
    assert BuildingVisit.objects.count() == 1
    assert far.pk not in set(BuildingVisit.objects.values_list("building_id", flat=True))


# ---- retention -------------------------------------------------------------------------------------


def test_old_tracks_are_deleted_after_the_retention_period(on_duty, centre, building_at, settings):
    settings.PATROL_RETENTION_DAYS = 30
    building_at(*offset(*centre, 10, 30))
    at = timezone.now() - timedelta(minutes=30)
    services.points_upload(actor=on_duty.worker, shift=on_duty, key=key(), points=walk(centre, 10, at=at))
    services.shift_end(actor=on_duty.worker, shift=on_duty)
    recent, _ = services.shift_start(actor=on_duty.worker)
    services.points_upload(
        actor=on_duty.worker, shift=recent, key=key(), points=walk(centre, 5, at=timezone.now())
    )
    assert services.purge_expired() == {"shifts": 0, "points": 0, "visits": 0}
    counts = services.purge_expired(now=timezone.now() + timedelta(days=31))
    assert counts == {"shifts": 1, "points": 10, "visits": 1}
    assert not PatrolShift.objects.filter(pk=on_duty.pk).exists()
    assert PatrolShift.objects.filter(pk=recent.pk).exists()  # still running: never cut
    assert TrackPoint.objects.filter(shift=recent).count() == 5
    assert _changes(on_duty, "delete").count() == 1  # the deletion is in the change log
    assert TrackingConsent.objects.filter(worker=on_duty.worker).exists()  # the legal basis stays
