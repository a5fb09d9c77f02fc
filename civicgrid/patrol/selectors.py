"""Reads of the work trajectory: a worker's day (track, totals, places visited), the list of
workers of an area with their day, and the phone's own view. Officials read through
``visible_to``; a worker reads only their own shifts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from civicgrid.areas.choices import AreaLevel
from civicgrid.areas.models import Area
from civicgrid.core import scope

from . import conf, geometry
from .choices import PointStatus
from .models import BuildingVisit, ConsentText, PatrolShift, TrackingConsent, TrackPoint

VIEW_SHIFT = "patrol.view_patrolshift"
VIEW_VISIT = "patrol.view_buildingvisit"


# ---- dates -----------------------------------------------------------------------------------------


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The day's start and the next day's start, local time (Asia/Shanghai), aware."""
    tz = timezone.get_current_timezone()
    start = datetime.combine(day, time.min, tzinfo=tz)
    return start, datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz)


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(first: date) -> date:
    return (first.replace(day=28) + timedelta(days=4)).replace(day=1)


def month_bounds(first: date) -> tuple[datetime, datetime]:
    return day_bounds(first)[0], day_bounds(next_month(first))[0]


def overlapping(qs: QuerySet, start: datetime, end: datetime) -> QuerySet:
    """Shifts that were running at some time in ``[start, end)``."""
    return qs.filter(started_at__lt=end).filter(Q(ended_at__isnull=True) | Q(ended_at__gte=start))


def duty_seconds(
    started_at: datetime, ended_at: datetime | None, start: datetime, end: datetime, now
) -> float:
    """Seconds of a shift inside ``[start, end)`` (an open shift runs until now)."""
    stop = min(ended_at or now, end, max(now, start))
    return max(0.0, (stop - max(started_at, start)).total_seconds())


# ---- the worker's own state (phone) ----------------------------------------------------------------


def worker_grid(user) -> Area | None:
    if user is None or not user.is_authenticated:
        return None
    return Area.objects.filter(grid_worker=user, level=AreaLevel.GRID).select_related("parent").first()


def current_text() -> ConsentText | None:
    return ConsentText.objects.filter(is_current=True).first()


def consent_state(worker) -> dict:
    """Whether the worker's consent is in force, and to which text (the phone's consent screen)."""
    text = current_text()
    active = (
        TrackingConsent.objects.filter(worker=worker, withdrawn_at__isnull=True)
        .select_related("text")
        .first()
    )
    return {
        "in_force": active is not None,
        "current": active is not None and text is not None and active.text_id == text.pk,
        "version": active.text.version if active else None,
        "given_at": active.given_at if active else None,
        "text": text,
    }


def open_shift(worker) -> PatrolShift | None:
    return PatrolShift.objects.filter(worker=worker, ended_at__isnull=True).first()


def own_day(worker, day: date | None = None) -> dict:
    """The worker's own totals for a day (the phone's duty page)."""
    now = timezone.now()
    day = day or timezone.localdate()
    start, end = day_bounds(day)
    shifts = list(overlapping(PatrolShift.objects.filter(worker=worker), start, end).order_by("started_at"))
    return {
        "day": day,
        "shifts": len(shifts),
        "on_duty_seconds": round(
            sum(duty_seconds(s.started_at, s.ended_at, start, end, now) for s in shifts)
        ),
        "distance_m": round(sum(s.distance_m for s in shifts)),
        "point_count": sum(s.point_count for s in shifts),
    }


# ---- officials: scope ------------------------------------------------------------------------------


def grids_in_scope(user, perm: str = VIEW_SHIFT) -> QuerySet:
    """Active grids where ``user`` holds ``perm`` (ordered by code)."""
    q = scope.scope_filter(user, perm, field="scope_code", owner_field=None)
    if q is None:
        return Area.objects.none()
    return Area.objects.filter(level=AreaLevel.GRID, is_active=True).filter(q).order_by("scope_code")


def areas_for_filter(user, perm: str = VIEW_SHIFT) -> QuerySet:
    """Streets and communities in the user's scope for ``perm`` (to narrow a list)."""
    q = scope.scope_filter(user, perm, field="scope_code", owner_field=None)
    if q is None:
        return Area.objects.none()
    return (
        Area.objects.filter(level__in=[AreaLevel.STREET, AreaLevel.COMMUNITY])
        .filter(q)
        .order_by("scope_code")
    )


def worker_in_scope(viewer, worker) -> bool:
    """Whether ``viewer`` may look at ``worker``'s tracks: the worker is the grid worker of a grid in
    the viewer's scope, or has a shift there."""
    grid = worker_grid(worker)
    if grid is not None and scope.covers_area(viewer, VIEW_SHIFT, grid.scope_code):
        return True
    return PatrolShift.objects.visible_to(viewer).filter(worker=worker).exists()


def day_summaries(worker_ids: list[int], day: date, *, viewer=None) -> dict[int, dict]:
    """Each worker's totals for ``day`` in one query: shifts, time on duty, distance, points, on duty
    now. (Distance and points are the shifts' totals, so a shift across midnight counts on both
    days; the worker's day page measures the day exactly.)"""
    now = timezone.now()
    start, end = day_bounds(day)
    qs = PatrolShift.objects.filter(worker_id__in=worker_ids)
    if viewer is not None:
        qs = qs.visible_to(viewer)
    out: dict[int, dict] = {}
    for worker_id, started, ended, dist, points in overlapping(qs, start, end).values_list(
        "worker_id", "started_at", "ended_at", "distance_m", "point_count"
    ):
        row = out.setdefault(
            worker_id,
            {"shifts": 0, "on_duty_seconds": 0.0, "distance_m": 0.0, "point_count": 0, "on_duty": False},
        )
        row["shifts"] += 1
        row["on_duty_seconds"] += duty_seconds(started, ended, start, end, now)
        row["distance_m"] += dist
        row["point_count"] += points
        row["on_duty"] = row["on_duty"] or ended is None
    return out


def consents_in_force(worker_ids: list[int]) -> dict[int, TrackingConsent]:
    return {
        c.worker_id: c
        for c in TrackingConsent.objects.filter(
            worker_id__in=worker_ids, withdrawn_at__isnull=True
        ).select_related("text")
    }


# ---- officials: a worker's day -----------------------------------------------------------------------


@dataclass
class WorkerDay:
    worker: object
    day: date
    shifts: list[PatrolShift]
    #: Polylines to draw: ``[[lat, lng], …]``, simplified, broken at gaps and between shifts.
    lines: list[list[tuple[float, float]]] = field(default_factory=list)
    points_drawn: int = 0
    point_count: int = 0
    filtered_count: int = 0
    distance_m: float = 0.0
    on_duty_seconds: float = 0.0
    visits: list[dict] = field(default_factory=list)
    raw: list[dict] | None = None

    def as_dict(self) -> dict:
        return {
            "worker": {"id": self.worker.pk, "name": str(self.worker)},
            "date": self.day.isoformat(),
            "distance_m": round(self.distance_m),
            "on_duty_seconds": round(self.on_duty_seconds),
            "point_count": self.point_count,
            "filtered_count": self.filtered_count,
            "points_drawn": self.points_drawn,
            "shifts": [
                {
                    "id": s.pk,
                    "started_at": _local(s.started_at),
                    "ended_at": _local(s.ended_at) if s.ended_at else None,
                    "end_reason": s.end_reason,
                    "grid": s.area.name,
                    "point_count": s.point_count,
                    "distance_m": round(s.distance_m),
                }
                for s in self.shifts
            ],
            "lines": [[list(p) for p in line] for line in self.lines],
            "visits": self.visits,
            **({"points": self.raw} if self.raw is not None else {}),
        }


def worker_day(
    viewer, worker, day: date, *, tolerance_m: float | None = None, raw: bool = False
) -> WorkerDay:
    """``worker``'s shifts on ``day`` that ``viewer`` may see, the track drawn from their kept points
    (simplified to ``tolerance_m``, default ``PATROL_SIMPLIFY_M``; ``raw`` adds every kept point
    with its time), the day's distance and time on duty, and the places the worker visited."""
    now = timezone.now()
    start, end = day_bounds(day)
    shifts = list(
        overlapping(PatrolShift.objects.visible_to(viewer).filter(worker=worker), start, end)
        .select_related("area")
        .order_by("started_at")
    )
    result = WorkerDay(worker=worker, day=day, shifts=shifts)
    result.on_duty_seconds = sum(duty_seconds(s.started_at, s.ended_at, start, end, now) for s in shifts)
    tolerance = conf.get("PATROL_SIMPLIFY_M") if tolerance_m is None else tolerance_m
    gap = conf.get("PATROL_GAP_S")
    ids = [s.pk for s in shifts]
    rows = list(
        TrackPoint.objects.filter(shift_id__in=ids, recorded_at__gte=start, recorded_at__lt=end)
        .order_by("shift_id", "recorded_at")
        .values_list("shift_id", "recorded_at", "lat", "lng", "status", "accuracy")
    )
    kept = [r for r in rows if r[4] == PointStatus.OK]
    result.point_count = len(kept)
    result.filtered_count = len(rows) - len(kept)
    if raw:
        result.raw = [{"t": timezone.localtime(r[1]).isoformat(), "lat": r[2], "lng": r[3]} for r in kept]
    for shift_id in ids:
        pts = [r for r in kept if r[0] == shift_id]
        if not pts:
            continue
        odometer = geometry.Odometer(
            deadband=conf.get("PATROL_DEADBAND_M"), max_speed=conf.get("PATROL_MAX_SPEED_MS")
        )
        odometer.run([geometry.Fix(r[1].timestamp(), r[2], r[3], r[5]) for r in pts])
        result.distance_m += odometer.distance_m
        times = [r[1].timestamp() for r in pts]
        for a, b in geometry.split_at_gaps(times, gap):
            line = geometry.simplify([(r[2], r[3]) for r in pts[a:b]], tolerance)
            result.lines.append(line)
            result.points_drawn += len(line)
    result.visits = day_visits(viewer, worker, day)
    return result


def _check_locations(checks: list) -> dict[int, tuple[float, float]]:
    """Where each registry verification check's record is: a person's or house's building, an
    organisation's or shop's own point (else its building)."""
    from civicgrid.registry.models import House, Organisation, Person, Shop

    by_type: dict[int, list] = {}
    for c in checks:
        by_type.setdefault(c.content_type_id, []).append(c)
    out: dict[int, tuple[float, float]] = {}
    for model, fields in (
        (Person, ("house__building__lat", "house__building__lng")),
        (House, ("building__lat", "building__lng")),
        (Organisation, ("lat", "lng")),
        (Shop, ("lat", "lng")),
    ):
        group = by_type.get(ContentType.objects.get_for_model(model).pk)
        if not group:
            continue
        ids = {c.object_id for c in group}
        where = {r[0]: (r[1], r[2]) for r in model.objects.filter(pk__in=ids).values_list("pk", *fields)}
        for c in group:
            point = where.get(c.object_id)
            if point and point[0] is not None and point[1] is not None:
                out[c.pk] = point
    return out


def _local(when: datetime) -> str:
    return timezone.localtime(when).isoformat(timespec="seconds")


def day_visits(viewer, worker, day: date) -> list[dict]:
    """What ``worker`` did where on ``day``, as far as ``viewer`` may see it: cases reported,
    cases verified on site, registry records verified, buildings the track came near."""
    from civicgrid.cases.choices import EventKind
    from civicgrid.cases.models import Case, CaseEvent
    from civicgrid.registry.models import VerificationCheck

    start, end = day_bounds(day)
    visits: list[dict] = []
    for case in (
        Case.objects.visible_to(viewer)
        .filter(reporter=worker, reported_at__gte=start, reported_at__lt=end, lat__isnull=False)
        .select_related("category")
        .order_by("reported_at")[:500]
    ):
        visits.append(
            {
                "kind": "case",
                "at": _local(case.reported_at),
                "lat": case.lat,
                "lng": case.lng,
                "label": f"{case.number} {case.title}",
                "detail": case.category.name,
                "url": reverse("cases:detail", args=[case.pk]),
            }
        )
    events = (
        CaseEvent.objects.filter(
            actor=worker,
            kind__in=[EventKind.VERIFIED, EventKind.VERIFICATION_FAILED],
            created_at__gte=start,
            created_at__lt=end,
            case__in=Case.objects.visible_to(viewer).values("pk"),
            case__lat__isnull=False,
        )
        .select_related("case")
        .order_by("created_at")[:500]
    )
    for event in events:
        visits.append(
            {
                "kind": "verification",
                "at": _local(event.created_at),
                "lat": event.case.lat,
                "lng": event.case.lng,
                "label": f"{event.case.number} {event.case.title}",
                "detail": event.get_kind_display(),
                "url": reverse("cases:detail", args=[event.case_id]),
            }
        )
    checks = list(
        VerificationCheck.objects.visible_to(viewer)
        .filter(checked_by=worker, checked_at__gte=start, checked_at__lt=end)
        .order_by("checked_at")[:500]
    )
    where = _check_locations(checks)
    for check in checks:
        if check.pk not in where:
            continue
        lat, lng = where[check.pk]
        visits.append(
            {
                "kind": "registry",
                "at": _local(check.checked_at),
                "lat": lat,
                "lng": lng,
                "label": check.object_repr,
                "detail": check.get_status_display(),
                "url": "",
            }
        )
    for visit in (
        BuildingVisit.objects.visible_to(viewer)
        .filter(worker=worker, visited_on=day)
        .select_related("building__compound")
        .order_by("first_at")[:2000]
    ):
        b = visit.building
        if b.lat is None or b.lng is None:
            continue
        visits.append(
            {
                "kind": "building",
                "at": _local(visit.first_at),
                "lat": b.lat,
                "lng": b.lng,
                "label": str(b),
                "detail": f"{visit.distance_m:.0f} m",
                "url": f"{reverse('registry:places')}?building={b.pk}"
                if viewer.has_perm("registry.view_building")
                else "",
            }
        )
    visits.sort(key=lambda v: v["at"])
    return visits


def users_by_id(ids) -> dict[int, object]:
    return {u.pk: u for u in get_user_model().objects.filter(pk__in=list(ids))}
