"""Demo patrol tracks: a week of duty for the demo grid worker and the other grid workers of the
same community — consent given, a morning and an afternoon shift a day, one point every 10 s walking
from building to building with GPS jitter (and the odd inaccurate fix or jump, which the filter
drops). Deterministic; generated data writes no change-log rows (like the registry demo); the points
go through the same filter, distance and visit computation as uploads do."""

from __future__ import annotations

import math
import random
from datetime import date, datetime, time, timedelta

from django.db import transaction
from django.utils import timezone
from shapely.geometry import shape

from civicgrid.accounts.models import User
from civicgrid.areas.choices import AreaLevel
from civicgrid.areas.models import Area
from civicgrid.registry.models import Building

from . import services
from .models import PatrolShift, TrackingConsent
from .testing import seed_consent_text

WALK_SPEED = 1.2  # m/s
STEP_S = 10
SHIFTS = ((time(8, 30), time(11, 30)), (time(14, 30), time(17, 0)))


M_LAT = 110_574.0


class _Frame:
    """Local metres over a grid: x east, y north from the south-west corner of its bounds."""

    def __init__(self, grid: Area):
        self.poly = shape(grid.geometry)
        minx, miny, maxx, maxy = self.poly.bounds
        self.lat0, self.lng0 = miny, minx
        self.m_lng = 111_320.0 * math.cos(math.radians((miny + maxy) / 2))
        self.width, self.height = (maxx - minx) * self.m_lng, (maxy - miny) * M_LAT

    def to_xy(self, lat: float, lng: float) -> tuple[float, float]:
        return (lng - self.lng0) * self.m_lng, (lat - self.lat0) * M_LAT

    def to_latlng(self, x: float, y: float) -> tuple[float, float]:
        return self.lat0 + y / M_LAT, self.lng0 + x / self.m_lng


def _streets(frame: _Frame, spacing: float = 55.0) -> tuple[list[float], list[float]]:
    """The lanes of the grid: a lattice of streets ``spacing`` metres apart."""
    xs = [spacing / 2 + i * spacing for i in range(max(1, int(frame.width // spacing)))]
    ys = [spacing / 2 + j * spacing for j in range(max(1, int(frame.height // spacing)))]
    return xs, ys


def _nearest(values: list[float], v: float) -> float:
    return min(values, key=lambda a: abs(a - v))


def _targets(rng: random.Random, grid: Area, frame: _Frame) -> list[tuple[float, float, bool]]:
    """Where the worker goes: most of the grid's buildings (not always all, so coverage varies) and
    some street corners."""
    buildings = [
        (*frame.to_xy(lat, lng), True)
        for lat, lng in Building.objects.filter(area=grid, lat__isnull=False)
        .values_list("lat", "lng")
        .order_by("pk")
    ]
    rng.shuffle(buildings)
    keep = buildings[: max(1, len(buildings) - rng.randint(0, len(buildings) // 3))] if buildings else []
    xs, ys = _streets(frame)
    corners = [(rng.choice(xs), rng.choice(ys), False) for _ in range(4)]
    out = keep + corners
    rng.shuffle(out)
    return out


def _walk(rng: random.Random, grid: Area, start: datetime, end: datetime) -> list[services.IncomingPoint]:
    """Along the grid's streets from building to building (a visit of a few minutes inside each),
    one fix every 10 s; the GPS error drifts slowly as it does on a phone, and grows indoors."""
    frame = _Frame(grid)
    xs, ys = _streets(frame)
    targets = _targets(rng, grid, frame)
    points: list[services.IncomingPoint] = []
    t = start
    x, y = xs[0], ys[0]
    ex = ey = 0.0  # the slowly drifting GPS error (m)

    def fix(px: float, py: float, indoors: bool) -> None:
        nonlocal t, ex, ey
        sigma = 9.0 if indoors else 3.0
        ex = 0.9 * ex + rng.gauss(0, sigma * 0.44)
        ey = 0.9 * ey + rng.gauss(0, sigma * 0.44)
        accuracy = rng.uniform(15, 40) if indoors else rng.uniform(4, 14)
        lat, lng = frame.to_latlng(px + ex, py + ey)
        roll = rng.random()
        if roll < 0.008:
            accuracy = rng.uniform(150, 800)  # a poor fix
        elif roll < 0.011:
            lat, lng = frame.to_latlng(px + rng.uniform(-1500, 1500), py + rng.uniform(600, 1500))  # a jump
        ms = int((t - services.EPOCH).total_seconds() * 1000)
        points.append(services.point_from_ms(ms, lat, lng, accuracy, 0.0 if indoors else WALK_SPEED))
        t += timedelta(seconds=STEP_S + rng.choice((0, 0, 0, 1, -1)))

    def go(tx: float, ty: float) -> None:
        nonlocal x, y
        step = WALK_SPEED * STEP_S
        while (abs(tx - x) > step or abs(ty - y) > step) and t < end:
            if abs(tx - x) > step:
                x += math.copysign(step, tx - x)
            else:
                y += math.copysign(step, ty - y)
            fix(x, y, False)
        x, y = tx, ty

    i = 0
    while t < end and targets:
        tx, ty, building = targets[i % len(targets)]
        i += 1
        street_x, street_y = _nearest(xs, tx), _nearest(ys, ty)
        go(street_x, y if abs(y - street_y) > 1 else street_y)  # along the current street
        go(street_x, street_y)
        go(tx, street_y)  # to the door
        go(tx, ty)
        for _ in range(rng.randint(12, 60) if building else 3):
            if t >= end:
                break
            fix(tx, ty, building)  # a visit: 2 to 10 minutes inside; at a corner, a look around
        go(tx, street_y)
    return points


def _demo_workers(limit: int) -> list[tuple[User, Area]]:
    demo_grid = Area.objects.filter(grid_worker__username="gridworker").first()
    grids = Area.objects.filter(level=AreaLevel.GRID, grid_worker__isnull=False).exclude(geometry=None)
    if demo_grid is not None:
        grids = grids.filter(parent_id=demo_grid.parent_id)
    return [(g.grid_worker, g) for g in grids.select_related("grid_worker").order_by("code")[:limit]]


@transaction.atomic
def generate_tracks(*, days: int = 7, workers: int = 4, seed: int = 4504, today: date | None = None) -> int:
    """Tracks for ``days`` days before ``today`` (and today's shifts that are over) for up to
    ``workers`` grid workers that have none yet. Returns how many shifts were made."""
    text = seed_consent_text()
    today = today or timezone.localdate()
    rng = random.Random(seed)
    tz = timezone.get_current_timezone()
    made = 0
    for worker, grid in _demo_workers(workers):
        if PatrolShift.objects.filter(worker=worker).exists():
            continue
        first_day = today - timedelta(days=days)
        given = datetime.combine(first_day, time(8, 0), tzinfo=tz)
        consent = TrackingConsent.objects.filter(worker=worker, withdrawn_at__isnull=True).first()
        if consent is None:
            [consent] = TrackingConsent.objects.bulk_create(
                [
                    TrackingConsent(
                        worker=worker,
                        text=text,
                        given_at=given,
                        area=grid,
                        area_code=grid.scope_code,
                        created_by=worker,
                    )
                ]
            )
        now = timezone.now()
        for n in range(days, -1, -1):
            day = today - timedelta(days=n)
            for begin, finish in SHIFTS:
                if rng.random() < 0.1:
                    continue  # a meeting instead of a patrol
                start = datetime.combine(day, begin, tzinfo=tz) + timedelta(minutes=rng.randint(-10, 20))
                end = datetime.combine(day, finish, tzinfo=tz) + timedelta(minutes=rng.randint(-20, 15))
                if end > now:
                    continue  # today's shifts that are over only
                [shift] = PatrolShift.objects.bulk_create(
                    [
                        PatrolShift(
                            worker=worker,
                            consent=consent,
                            started_at=start,
                            ended_at=end,
                            end_reason="worker",
                            area=grid,
                            area_code=grid.scope_code,
                            created_by=worker,
                        )
                    ]
                )
                points = _walk(rng, grid, start + timedelta(seconds=20), end)
                for i in range(0, len(points), services.MAX_BATCH):
                    shift.refresh_from_db()
                    services._ingest(shift, points[i : i + services.MAX_BATCH])
                made += 1
    return made
