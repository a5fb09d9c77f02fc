"""Coverage of a grid in a month (网格走访覆盖): which of its buildings a worker was at, by any of
four signs — the track passed within reach, a case was reported there, a case was verified on site
there, a registry record in the building was verified — in total and per worker.

Track visits are stored when points arrive (``BuildingVisit``); the other three are read from the
cases and the registry when coverage is asked for, so they are always current. A case or a
verification counts for the building of its grid nearest to its point, if within
``PATROL_VISIT_RADIUS_M``. Every function here runs a fixed number of queries whatever the number
of grids, buildings or visits."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.contrib.contenttypes.models import ContentType
from django.db.models import Count

from civicgrid.areas.models import Area
from civicgrid.registry.models import Building

from . import conf, geometry
from .choices import VisitSource
from .models import BuildingVisit
from .selectors import month_bounds, next_month, users_by_id

#: (building id, worker id, source)
Visit = tuple[int, int, str]


def _located_buildings(codes: list[str]) -> dict[str, list[tuple[int, float, float]]]:
    out: dict[str, list[tuple[int, float, float]]] = defaultdict(list)
    rows = (
        Building.objects.filter(area_code__in=codes, lat__isnull=False, lng__isnull=False)
        .values_list("area_code", "pk", "lat", "lng")
        .order_by()
    )
    for code, pk, lat, lng in rows:
        out[code].append((pk, lat, lng))
    return out


def _check_buildings(codes: list[str], start, end) -> list[tuple[int, int, str, float | None, float | None]]:
    """Registry checks recorded in the grids in ``[start, end)``: (checker, building id or None,
    grid code, lat, lng) — a person or house gives its building, an organisation or shop its
    building or else its point."""
    from civicgrid.registry.models import House, Organisation, Person, Shop, VerificationCheck

    checks = list(
        VerificationCheck.objects.filter(
            area_code__in=codes, checked_at__gte=start, checked_at__lt=end, checked_by__isnull=False
        )
        .values_list("checked_by_id", "content_type_id", "object_id", "area_code")
        .order_by()
    )
    if not checks:
        return []
    ct = ContentType.objects.get_for_models(Person, House, Organisation, Shop)
    wanted: dict[int, set[int]] = defaultdict(set)
    for _, type_id, object_id, _code in checks:
        wanted[type_id].add(object_id)
    places: dict[tuple[int, int], tuple[int | None, float | None, float | None]] = {}
    for model, fields in (
        (Person, ("house__building_id", "house__building__lat", "house__building__lng")),
        (House, ("building_id", "building__lat", "building__lng")),
        (Organisation, ("building_id", "lat", "lng")),
        (Shop, ("building_id", "lat", "lng")),
    ):
        type_id = ct[model].pk
        if not wanted.get(type_id):
            continue
        for pk, building_id, lat, lng in model.objects.filter(pk__in=wanted[type_id]).values_list(
            "pk", *fields
        ):
            places[(type_id, pk)] = (building_id, lat, lng)
    out = []
    for checker, type_id, object_id, code in checks:
        building_id, lat, lng = places.get((type_id, object_id), (None, None, None))
        out.append((checker, building_id, code, lat, lng))
    return out


def visits_in(codes: list[str], first: date) -> list[tuple[str, Visit]]:
    """Every sign of a worker at a building of the grids ``codes`` in the month starting ``first``,
    as ``(grid code, (building, worker, source))``, without repeats."""
    from civicgrid.accounts.choices import UserType
    from civicgrid.cases.choices import EventKind
    from civicgrid.cases.models import Case, CaseEvent

    if not codes:
        return []
    start, end = month_bounds(first)
    radius = conf.get("PATROL_VISIT_RADIUS_M")
    found: set[tuple[str, Visit]] = set()
    for code, building, worker in (
        BuildingVisit.objects.filter(
            area_code__in=codes, visited_on__gte=first, visited_on__lt=next_month(first)
        )
        .values_list("area_code", "building_id", "worker_id")
        .distinct()
    ):
        found.add((code, (building, worker, VisitSource.TRACK)))
    pointed: list[tuple[str, int, float, float, str]] = []  # grid code, worker, lat, lng, source
    for code, worker, lat, lng in Case.objects.filter(
        area_code__in=codes,
        reported_at__gte=start,
        reported_at__lt=end,
        reporter__user_type=UserType.STAFF,
        lat__isnull=False,
    ).values_list("area_code", "reporter_id", "lat", "lng"):
        pointed.append((code, worker, lat, lng, VisitSource.CASE))
    for code, worker, lat, lng in CaseEvent.objects.filter(
        case__area_code__in=codes,
        # A verification touches its case: this bounds the cases read by the ones active since the
        # month began (indexed) instead of every case the grids ever had.
        case__updated_at__gte=start - timedelta(minutes=1),
        kind__in=[EventKind.VERIFIED, EventKind.VERIFICATION_FAILED],
        created_at__gte=start,
        created_at__lt=end,
        actor__isnull=False,
        case__lat__isnull=False,
    ).values_list("case__area_code", "actor_id", "case__lat", "case__lng"):
        pointed.append((code, worker, lat, lng, VisitSource.VERIFICATION))
    for worker, building, code, lat, lng in _check_buildings(codes, start, end):
        if building is not None:
            found.add((code, (building, worker, VisitSource.REGISTRY)))
        elif lat is not None and lng is not None:
            pointed.append((code, worker, lat, lng, VisitSource.REGISTRY))
    if pointed:
        located = _located_buildings(sorted({p[0] for p in pointed}))
        for code, worker, lat, lng, source in pointed:
            building = geometry.nearest_building(lat, lng, located.get(code, []), radius)
            if building is not None:
                found.add((code, (building, worker, source)))
    return sorted(found)


def summary(grids: list[Area], first: date) -> dict[int, dict]:
    """For each grid: buildings, buildings visited by anyone in the month, the percentage."""
    codes = [g.scope_code for g in grids]
    totals = dict(
        Building.objects.filter(area_code__in=codes)
        .values("area_code")
        .annotate(n=Count("pk"))
        .order_by()
        .values_list("area_code", "n")
    )
    visited: dict[str, set[int]] = defaultdict(set)
    for code, (building, _worker, _source) in visits_in(codes, first):
        visited[code].add(building)
    out = {}
    for grid in grids:
        total = totals.get(grid.scope_code, 0)
        n = len(visited.get(grid.scope_code, ()))
        out[grid.pk] = {"buildings": total, "visited": n, "percent": _percent(n, total)}
    return out


def _percent(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 1) if whole else 0.0


@dataclass
class WorkerCoverage:
    worker: object
    visited: int
    percent: float
    by_source: dict[str, int]


@dataclass
class GridCoverage:
    grid: Area
    month: date
    total: int
    visited: int
    percent: float
    buildings: list[dict] = field(default_factory=list)
    workers: list[WorkerCoverage] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "grid": {"id": self.grid.pk, "code": self.grid.code, "name": self.grid.name},
            "month": self.month.strftime("%Y-%m"),
            "buildings_total": self.total,
            "buildings_visited": self.visited,
            "percent": self.percent,
            "workers": [
                {
                    "id": w.worker.pk,
                    "name": str(w.worker),
                    "visited": w.visited,
                    "percent": w.percent,
                    "by_source": w.by_source,
                }
                for w in self.workers
            ],
            "buildings": self.buildings,
        }


def grid_coverage(grid: Area, first: date) -> GridCoverage:
    """Coverage of one grid in the month starting ``first``: every building with whether it was
    visited, by whom and how; per worker, how many of the grid's buildings they visited."""
    rows = list(
        Building.objects.filter(area_code=grid.scope_code)
        .select_related("compound")
        .order_by("compound_id", "name", "pk")
    )
    by_building: dict[int, dict[int, set[str]]] = defaultdict(lambda: defaultdict(set))
    for _code, (building, worker, source) in visits_in([grid.scope_code], first):
        by_building[building][worker].add(source)
    ids = {b.pk for b in rows}
    per_worker: dict[int, dict[str, set[int]]] = defaultdict(lambda: defaultdict(set))
    out_buildings = []
    for b in rows:
        seen = by_building.get(b.pk, {})
        sources = sorted({s for ss in seen.values() for s in ss})
        for worker, ss in seen.items():
            for s in ss:
                per_worker[worker][s].add(b.pk)
            per_worker[worker]["*"].add(b.pk)
        out_buildings.append(
            {
                "id": b.pk,
                "name": str(b),
                "lat": b.lat,
                "lng": b.lng,
                "visited": bool(seen),
                "workers": sorted(seen),
                "sources": sources,
            }
        )
    visited = sum(1 for b in out_buildings if b["visited"])
    people = users_by_id(per_worker)
    workers = [
        WorkerCoverage(
            worker=people[w],
            visited=len(sets["*"] & ids),
            percent=_percent(len(sets["*"] & ids), len(rows)),
            by_source={s: len(v & ids) for s, v in sorted(sets.items()) if s != "*"},
        )
        for w, sets in per_worker.items()
        if w in people
    ]
    workers.sort(key=lambda w: (-w.visited, str(w.worker)))
    return GridCoverage(
        grid=grid,
        month=first,
        total=len(rows),
        visited=visited,
        percent=_percent(visited, len(rows)),
        buildings=out_buildings,
        workers=workers,
    )
