"""Writes of the work trajectory: consent, duty sessions, point uploads, retention.

Tracking needs consent: a shift starts only while the worker's consent to the current text is in
force, and withdrawing consent ends the running shift in the same transaction (both change-logged).
Uploads are idempotent twice over: a batch key seen before answers what the first upload did, and
a point already stored for the same shift and instant is skipped (unique ``(shift, recorded_at)``).
Every upload is one transaction: the points, their filter marks, the shift's totals and the
buildings reached are written together or not at all."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from civicgrid.areas.models import Area
from civicgrid.areas.selectors import grid_index
from civicgrid.core import scope
from civicgrid.core.services import ConflictError
from civicgrid.registry.models import Building

from . import conf, geometry
from .choices import ConsentEnd, PointStatus, ShiftEnd
from .models import BuildingVisit, ConsentText, PatrolShift, TrackBatch, TrackingConsent, TrackPoint
from .selectors import worker_grid

RECORD_PERM = "patrol.record_track"
#: Most points one upload may carry (a phone that was offline for hours sends several batches).
MAX_BATCH = 1000
#: Phone clocks drift: points this much before the shift's start, or after the server's "now",
#: are still accepted.
CLOCK_SKEW = timedelta(minutes=2)
FUTURE_SKEW = timedelta(minutes=5)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# ---- helpers ---------------------------------------------------------------------------------------


def _require_recorder(actor) -> Area:
    """The grid whose worker ``actor`` is, after checking they may record tracks there."""
    if actor is None or not actor.is_authenticated:
        raise PermissionDenied(_("Sign in to record a patrol."))
    if not actor.has_perm(RECORD_PERM):
        raise PermissionDenied(_("Your role does not record patrol tracks."))
    grid = worker_grid(actor)
    if grid is None:
        raise ConflictError(_("You are not the grid worker of any grid."), code="no_grid")
    if not scope.covers_area(actor, RECORD_PERM, grid.scope_code):
        raise PermissionDenied(_("Your post does not cover your grid."))
    return grid


def _clean_key(raw, field: str = "key") -> str:
    try:
        return str(uuid.UUID(str(raw or "").strip()))
    except ValueError:
        raise ValidationError({field: _("Missing or malformed key (a UUID).")})


def consent_in_force(worker, *, lock: bool = False) -> TrackingConsent | None:
    qs = TrackingConsent.objects.filter(worker=worker, withdrawn_at__isnull=True).select_related("text")
    if lock:
        qs = qs.select_for_update(of=("self",))
    return qs.first()


def _end_shift(shift: PatrolShift, at: datetime, reason: str, now: datetime) -> PatrolShift:
    """Close a locked open shift at ``at``, kept between its last point and now."""
    floor = max(shift.started_at, shift.last_point_at or shift.started_at)
    shift.snapshot()
    shift.ended_at = min(max(at, floor), max(now, floor))
    shift.end_reason = reason
    shift.save(update_fields=["ended_at", "end_reason", "updated_at"])
    return shift


# ---- consent ---------------------------------------------------------------------------------------


@transaction.atomic
def consent_text_publish(*, actor, version: str, title: str, body: str) -> ConsentText:
    """Publish a new consent text; every worker agrees to it before their next shift."""
    if actor is not None and not actor.has_perm("patrol.add_consenttext"):
        raise PermissionDenied(_("You may not publish consent texts."))
    for previous in ConsentText.objects.select_for_update().filter(is_current=True):
        previous.snapshot()
        previous.is_current = False
        previous.save(update_fields=["is_current", "updated_at"])
    text = ConsentText(
        version=(version or "").strip(), title=(title or "").strip(), body=body or "", is_current=True
    )
    text.full_clean()
    text.save()
    return text


def consent_give(*, actor, version: str, ip: str | None = None) -> tuple[TrackingConsent, bool]:
    """The worker agrees to the current consent text (``version`` is the one they read: a text
    published in the meantime is a conflict). Returns ``(consent, created)``; agreeing again to the
    same text changes nothing, agreeing to a newer one replaces the older consent."""
    grid = _require_recorder(actor)
    try:
        with transaction.atomic():
            text = ConsentText.objects.filter(is_current=True).first()
            if text is None:
                raise ConflictError(_("No tracking consent text has been published."), code="no_consent_text")
            if (version or "").strip() != text.version:
                raise ConflictError(
                    _("The consent text has changed; read the new version and agree again."),
                    code="stale_consent_text",
                )
            now = timezone.now()
            active = consent_in_force(actor, lock=True)
            if active is not None and active.text_id == text.pk:
                return active, False
            if active is not None:
                active.snapshot()
                active.withdrawn_at, active.end_reason = now, ConsentEnd.SUPERSEDED
                active.save(update_fields=["withdrawn_at", "end_reason", "updated_at"])
            consent = TrackingConsent(
                worker=actor, text=text, given_at=now, ip=ip or None, area=grid, created_by=actor
            )
            consent.full_clean(exclude=["worker", "text", "area", "created_by"], validate_constraints=False)
            consent.save()
            return consent, True
    except IntegrityError:  # the same worker agreed twice at once: the other request won
        active = consent_in_force(actor)
        if active is None:
            raise
        return active, False


@transaction.atomic
def consent_withdraw(*, actor, ip: str | None = None) -> TrackingConsent | None:
    """The worker withdraws consent: the running shift ends now and no point recorded later is
    accepted. Returns the withdrawn consent (None when none was in force). Needs no permission:
    whoever gave consent may always take it back."""
    if actor is None or not actor.is_authenticated:
        raise PermissionDenied(_("Sign in to withdraw consent."))
    active = consent_in_force(actor, lock=True)
    if active is None:
        return None
    now = timezone.now()
    for shift in PatrolShift.objects.select_for_update().filter(worker=actor, ended_at__isnull=True):
        _end_shift(shift, now, ShiftEnd.CONSENT_WITHDRAWN, now)
    active.snapshot()
    active.withdrawn_at, active.end_reason = now, ConsentEnd.WITHDRAWN
    active.save(update_fields=["withdrawn_at", "end_reason", "updated_at"])
    return active


# ---- shifts ----------------------------------------------------------------------------------------


def shift_start(*, actor, key: str = "") -> tuple[PatrolShift, bool]:
    """Start duty (在岗). Needs consent in force to the current text. Returns ``(shift, created)``:
    a repeated start (same ``key``) or a start while a shift is open in the same grid returns that
    shift."""
    grid = _require_recorder(actor)
    key = _clean_key(key) if key else ""
    try:
        with transaction.atomic():
            if key:
                existing = PatrolShift.objects.filter(worker=actor, client_key=key).first()
                if existing is not None:
                    return existing, False
            consent = consent_in_force(actor, lock=True)
            if consent is None or not consent.text.is_current:
                raise ConflictError(
                    _("Agree to the tracking consent before starting duty."), code="consent_required"
                )
            now = timezone.now()
            running = (
                PatrolShift.objects.select_for_update().filter(worker=actor, ended_at__isnull=True).first()
            )
            if running is not None:
                if running.area_id == grid.pk:
                    return running, False
                _end_shift(running, now, ShiftEnd.REASSIGNED, now)
            shift = PatrolShift(
                worker=actor, consent=consent, started_at=now, client_key=key, area=grid, created_by=actor
            )
            shift.full_clean(
                exclude=["worker", "consent", "area", "created_by"],
                validate_unique=False,
                validate_constraints=False,
            )
            shift.save()
            return shift, True
    except IntegrityError:  # two starts at once
        running = PatrolShift.objects.filter(worker=actor, ended_at__isnull=True).first()
        if running is None:
            raise
        return running, False


@transaction.atomic
def shift_end(*, actor, shift: PatrolShift, ended_at: datetime | None = None) -> PatrolShift:
    """End duty. ``ended_at`` is the phone's time of the tap (an end sent later, when the signal
    returned, still ends the shift when the worker asked); ending an ended shift changes nothing."""
    locked = PatrolShift.objects.select_for_update().filter(pk=shift.pk, worker=actor).first()
    if locked is None:
        raise PermissionDenied(_("This is not your shift."))
    if locked.ended_at is not None:
        return locked
    now = timezone.now()
    return _end_shift(locked, ended_at or now, ShiftEnd.WORKER, now)


def close_stale_shifts(*, now: datetime | None = None) -> int:
    """Shifts left open (the worker forgot to end duty, the phone died) with no point for
    ``PATROL_STALE_HOURS`` are closed at their last point. Returns how many."""
    now = now or timezone.now()
    cut = now - timedelta(hours=conf.get("PATROL_STALE_HOURS"))
    closed = 0
    stale = PatrolShift.objects.filter(ended_at__isnull=True).filter(
        Q(last_point_at__lt=cut) | Q(last_point_at__isnull=True, started_at__lt=cut)
    )
    for pk in list(stale.values_list("pk", flat=True)[:1000]):
        with transaction.atomic():
            shift = PatrolShift.objects.select_for_update().filter(pk=pk, ended_at__isnull=True).first()
            if shift is None:
                continue
            last = shift.last_point_at or shift.started_at
            if last >= cut:  # a point arrived in the meantime
                continue
            _end_shift(shift, last, ShiftEnd.STALE, now)
            closed += 1
    return closed


# ---- point uploads ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class IncomingPoint:
    at: datetime
    lat: float
    lng: float
    accuracy: float
    speed: float | None = None

    @property
    def fix(self) -> geometry.Fix:
        return geometry.Fix((self.at - EPOCH).total_seconds(), self.lat, self.lng, self.accuracy)


def point_from_ms(
    t_ms: int, lat: float, lng: float, accuracy: float, speed: float | None = None
) -> IncomingPoint:
    """A point with the phone's time in milliseconds since the epoch (exact: no float rounding)."""
    return IncomingPoint(
        EPOCH + timedelta(milliseconds=int(t_ms)), float(lat), float(lng), float(accuracy), speed
    )


@dataclass(frozen=True)
class UploadResult:
    batch: TrackBatch
    created: bool
    shift: PatrolShift


def points_upload(*, actor, shift: PatrolShift, key: str, points: Sequence[IncomingPoint]) -> UploadResult:
    """Store a batch of points recorded on the phone during ``shift`` (the actor's own).

    A batch whose key was seen before answers the first upload's result and writes nothing. Points
    already stored (same instant) count as duplicates; points outside the shift (before it started,
    after it ended or in the future) are refused and not stored: they were not recorded on duty.
    The rest are stored, marked by the filter (accuracy, implausible jumps), added to the shift's
    distance, and the buildings they came within reach of are recorded as visits."""
    key = _clean_key(key)
    if len(points) > MAX_BATCH:
        raise ValidationError({"points": _("At most %(n)d points per upload.") % {"n": MAX_BATCH}})
    try:
        with transaction.atomic():
            return _upload(actor, shift, key, points)
    except IntegrityError:  # the same batch raced itself: the first one won
        batch = TrackBatch.objects.filter(shift_id=shift.pk, key=key).first()
        if batch is None:
            raise
        return UploadResult(batch, False, PatrolShift.objects.get(pk=shift.pk))


def _upload(actor, shift: PatrolShift, key: str, points: Sequence[IncomingPoint]) -> UploadResult:
    locked = (
        PatrolShift.objects.select_for_update(of=("self",))
        .select_related("consent")
        .filter(pk=shift.pk, worker=actor)
        .first()
    )
    if locked is None:
        raise PermissionDenied(_("This is not your shift."))
    batch = TrackBatch.objects.filter(shift=locked, key=key).first()
    if batch is not None:
        return UploadResult(batch, False, locked)
    now = timezone.now()
    window_start = locked.started_at - CLOCK_SKEW
    window_end = locked.ended_at or now + FUTURE_SKEW
    if locked.consent.withdrawn_at is not None and locked.consent.end_reason == ConsentEnd.WITHDRAWN:
        window_end = min(window_end, locked.consent.withdrawn_at)
    seen: set[datetime] = set()
    inside: list[IncomingPoint] = []
    rejected = repeated = 0
    for p in points:
        if p.at in seen:
            repeated += 1
            continue
        seen.add(p.at)
        if window_start <= p.at <= window_end:
            inside.append(p)
        else:
            rejected += 1
    stored: set[datetime] = set()
    if inside:
        stored = set(
            TrackPoint.objects.filter(shift=locked, recorded_at__in=[p.at for p in inside]).values_list(
                "recorded_at", flat=True
            )
        )
    new = sorted((p for p in inside if p.at not in stored), key=lambda p: p.at)
    _ingest(locked, new)
    batch = TrackBatch.objects.create(
        shift=locked,
        key=key,
        received=len(points),
        accepted=len(new),
        duplicates=repeated + len(inside) - len(new),
        rejected=rejected,
    )
    if rejected:
        PatrolShift.objects.filter(pk=locked.pk).update(rejected_count=locked.rejected_count + rejected)
    locked.refresh_from_db()
    return UploadResult(batch, True, locked)


def _fix(at: datetime, lat: float, lng: float, accuracy: float) -> geometry.Fix:
    return geometry.Fix((at - EPOCH).total_seconds(), lat, lng, accuracy)


def _ingest(shift: PatrolShift, new: list[IncomingPoint]) -> None:
    """Classify and store ``new`` (sorted, none stored yet) and update the shift's totals. In time
    order (the usual case) only the points after the last kept one are looked at again and the
    distance carries on from the shift's odometer; a batch older than what is stored (uploads out
    of order) re-runs the filter and the distance over the whole shift."""
    if not new:
        return
    max_accuracy = conf.get("PATROL_MAX_ACCURACY_M")
    max_speed = conf.get("PATROL_MAX_SPEED_MS")
    points = TrackPoint.objects.filter(shift=shift)
    latest = points.order_by("-recorded_at").values_list("recorded_at", flat=True).first()
    # Stored points whose mark changes, by new mark; the kept points new to the track (for visits).
    remark: dict[int, list[int]] = {}
    newly_kept: list[tuple[datetime, float, float]] = []
    statuses: list[int] = []
    if latest is None or new[0].at > latest:
        odometer = geometry.Odometer(
            deadband=conf.get("PATROL_DEADBAND_M"),
            max_speed=max_speed,
            state=shift.odometer,
        )
        anchor_row = (
            points.filter(status=PointStatus.OK)
            .order_by("-recorded_at")
            .values_list("recorded_at", "lat", "lng", "accuracy")
            .first()
        )
        anchor = _fix(*anchor_row) if anchor_row else None
        tail = points.filter(status=PointStatus.JUMP)  # the unconfirmed run after the last kept point
        if anchor_row:
            tail = tail.filter(recorded_at__gt=anchor_row[0])
        tail_rows = list(
            tail.order_by("recorded_at").values_list("pk", "recorded_at", "lat", "lng", "accuracy")
        )
        fixes = [_fix(*r[1:]) for r in tail_rows] + [p.fix for p in new]
        result = geometry.classify(fixes, anchor, max_accuracy=max_accuracy, max_speed=max_speed)
        n_tail = len(tail_rows)
        for i in result.kept:
            if i < n_tail:
                remark.setdefault(PointStatus.OK, []).append(tail_rows[i][0])
                newly_kept.append((tail_rows[i][1], tail_rows[i][2], tail_rows[i][3]))
            else:
                p = new[i - n_tail]
                newly_kept.append((p.at, p.lat, p.lng))
        statuses = result.statuses[n_tail:]
        odometer.run([fixes[i] for i in result.kept], anchor)
        distance = shift.distance_m + odometer.distance_m
        count = shift.point_count + len(result.kept)
        times = [t for t in (shift.first_point_at, shift.last_point_at, *(k[0] for k in newly_kept)) if t]
        first, last = (min(times), max(times)) if times else (None, None)
    else:
        odometer = geometry.Odometer(deadband=conf.get("PATROL_DEADBAND_M"), max_speed=max_speed)
        rows = list(
            points.order_by("recorded_at").values_list(
                "pk", "recorded_at", "lat", "lng", "accuracy", "status"
            )
        )
        merged: list[tuple[datetime, object]] = sorted(
            [(r[1], r) for r in rows] + [(p.at, p) for p in new], key=lambda item: item[0]
        )
        fixes = [
            item.fix if isinstance(item, IncomingPoint) else _fix(at, item[2], item[3], item[4])
            for at, item in merged
        ]
        result = geometry.classify(fixes, None, max_accuracy=max_accuracy, max_speed=max_speed)
        position = {p.at: i for i, p in enumerate(new)}
        statuses = [PointStatus.OK] * len(new)
        for i, (at, item) in enumerate(merged):
            status = result.statuses[i]
            if isinstance(item, IncomingPoint):
                statuses[position[at]] = status
                if status == PointStatus.OK:
                    newly_kept.append((at, item.lat, item.lng))
            elif item[5] != status:
                remark.setdefault(status, []).append(item[0])
                if status == PointStatus.OK:
                    newly_kept.append((at, item[2], item[3]))
        odometer.run([fixes[i] for i in result.kept])
        distance = odometer.distance_m
        count = len(result.kept)
        first = merged[result.kept[0]][0] if result.kept else None
        last = merged[result.kept[-1]][0] if result.kept else None
    TrackPoint.objects.bulk_create(
        [
            TrackPoint(
                shift=shift,
                recorded_at=p.at,
                lat=p.lat,
                lng=p.lng,
                accuracy=p.accuracy,
                speed=p.speed,
                status=status,
            )
            for p, status in zip(new, statuses, strict=True)
        ],
        batch_size=500,
        ignore_conflicts=True,
    )
    for status, pks in remark.items():
        TrackPoint.objects.filter(pk__in=pks).update(status=status)
    PatrolShift.objects.filter(pk=shift.pk).update(
        point_count=count,
        distance_m=distance,
        first_point_at=first,
        last_point_at=last,
        odometer=odometer.state,
    )
    _record_visits(shift, sorted(newly_kept))


def _buildings_near(shift: PatrolShift, lats: list[float], lngs: list[float], radius: float):
    """Located buildings that may be within ``radius`` of the points: those in the communities the
    points (and the shift's grid) lie in, inside the points' bounding box widened by the radius."""
    grid_ids = {g for g in grid_index().locate_many(lats, lngs) if g is not None}
    codes = set(Area.objects.filter(pk__in=grid_ids).values_list("scope_code", flat=True)) | {shift.area_code}
    communities = sorted({c[:12] for c in codes})
    where = Q()
    for code in communities:
        where |= scope.prefix_q("area_code", code)
    dlat, dlng = geometry.degrees_for(radius, sum(lats) / len(lats))
    return list(
        Building.objects.filter(where)
        .filter(
            lat__gte=min(lats) - dlat,
            lat__lte=max(lats) + dlat,
            lng__gte=min(lngs) - dlng,
            lng__lte=max(lngs) + dlng,
        )
        .values_list("pk", "lat", "lng", "area_id", "area_code")
    )


def _record_visits(shift: PatrolShift, kept: list[tuple[datetime, float, float]]) -> int:
    """Buildings the newly kept points came within reach of, one visit per building, worker and day
    (a visit already recorded stays as it is)."""
    if not kept:
        return 0
    radius = conf.get("PATROL_VISIT_RADIUS_M")
    lats = [k[1] for k in kept]
    lngs = [k[2] for k in kept]
    buildings = _buildings_near(shift, lats, lngs, radius)
    if not buildings:
        return 0
    info = {b[0]: b for b in buildings}
    located = [(b[0], b[1], b[2]) for b in buildings]
    by_day: dict[date, list[tuple[datetime, float, float]]] = {}
    for k in kept:
        by_day.setdefault(timezone.localdate(k[0]), []).append(k)
    rows = []
    for day, day_points in by_day.items():
        for reach in geometry.within_reach([(p[1], p[2]) for p in day_points], located, radius):
            b = info[reach.building_id]
            rows.append(
                BuildingVisit(
                    building_id=b[0],
                    worker_id=shift.worker_id,
                    shift=shift,
                    visited_on=day,
                    first_at=day_points[reach.first_index][0],
                    distance_m=round(reach.distance_m, 1),
                    area_id=b[3],
                    area_code=b[4],
                )
            )
    BuildingVisit.objects.bulk_create(rows, batch_size=500, ignore_conflicts=True)
    return len(rows)


# ---- retention -------------------------------------------------------------------------------------


def _raw_delete(qs) -> int:
    """DELETE without loading rows (the change-log signals would otherwise load every point)."""
    return qs._raw_delete(connection.alias) or 0


def purge_expired(*, now: datetime | None = None, chunk: int = 200) -> dict[str, int]:
    """Delete tracks older than ``PATROL_RETENTION_DAYS``: shifts that ended before the cut-off with
    their points, uploads and track visits. Points go in bulk; each shift's deletion is change-logged.
    Consent records stay (they are the record of the legal basis)."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=conf.retention_days())
    counts = {"shifts": 0, "points": 0, "visits": 0}
    while True:
        ids = list(
            PatrolShift.objects.filter(ended_at__lt=cutoff)
            .order_by("pk")
            .values_list("pk", flat=True)[:chunk]
        )
        if not ids:
            break
        with transaction.atomic():
            counts["points"] += _raw_delete(TrackPoint.objects.filter(shift_id__in=ids))
            _raw_delete(TrackBatch.objects.filter(shift_id__in=ids))
            counts["visits"] += _raw_delete(BuildingVisit.objects.filter(shift_id__in=ids))
            for shift in PatrolShift.objects.filter(pk__in=ids):
                shift.delete()
                counts["shifts"] += 1
    counts["visits"] += _raw_delete(BuildingVisit.objects.filter(visited_on__lt=timezone.localdate(cutoff)))
    return counts
