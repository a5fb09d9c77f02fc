"""``locate``: point → grid resolution with GridIndex, against the bare point-in-polygon test.

Points are drawn uniformly over the union of all active grids (a grid picked by area, then a
point inside it by rejection), so each point's correct grid is known independently of the index.

- ``GridIndex.locate``: one call per point, as a request resolving one address does. Target
  ≥ 50,000 lookups/s on one core (throughput of a plain loop over all points).
- floor: ``shapely.contains_xy`` against the one correct prepared polygon per point, in the same
  kind of loop: the cost of the polygon test alone, without finding the candidate.
- ``GridIndex.locate_many``: the vectorised path, all points per call.

Per-call medians and p95 come from timing every call on its own; throughput from separate untimed
passes over all points (best of ``PASSES``), so the timer's own cost does not count against it.
"""

from __future__ import annotations

import statistics
import time

import numpy as np
import shapely
from shapely.geometry import shape

from bench.scales import Scale
from bench.timing import Result, Stats

TARGET_PER_SECOND = 50_000
SEED = 7
WARMUP_CALLS = 2_000
PASSES = 3


def _grid_polygons() -> tuple[list[int], list]:
    from civicgrid.areas.choices import AreaLevel
    from civicgrid.areas.models import Area

    rows = (
        Area.objects.filter(level=AreaLevel.GRID, is_active=True)
        .exclude(geometry=None)
        .order_by("pk")
        .values_list("pk", "geometry")
    )
    ids, polygons = [], []
    for pk, geometry in rows:
        polygon = shape(geometry)
        shapely.prepare(polygon)
        ids.append(pk)
        polygons.append(polygon)
    return ids, polygons


def sample_points(polygons: list, n: int, seed: int = SEED) -> tuple[list[float], list[float], list[int]]:
    """``n`` points uniform over the union of ``polygons``: (lats, lngs, index of the containing polygon)."""
    rng = np.random.default_rng(seed)
    geoms = np.array(polygons, dtype=object)
    areas = shapely.area(geoms)
    bounds = shapely.bounds(geoms)
    lats, lngs, owners = [], [], []
    missing = n
    while missing:
        owner = rng.choice(len(geoms), size=missing, p=areas / areas.sum())
        x = rng.uniform(bounds[owner, 0], bounds[owner, 2])
        y = rng.uniform(bounds[owner, 1], bounds[owner, 3])
        inside = shapely.contains_xy(geoms[owner], x, y)
        lngs += x[inside].tolist()
        lats += y[inside].tolist()
        owners += owner[inside].tolist()
        missing = n - len(owners)
    return lats, lngs, owners


def _per_call(fn, args: list[tuple]) -> list[float]:
    clock = time.perf_counter
    samples = []
    append = samples.append
    for a in args:
        t0 = clock()
        fn(*a)
        append(clock() - t0)
    return samples


def _best_rate(fn, args: list[tuple]) -> float:
    """Calls per second of a plain loop over ``args`` (best of PASSES)."""
    rates = []
    for _ in range(PASSES):
        t0 = time.perf_counter()
        for a in args:
            fn(*a)
        rates.append(len(args) / (time.perf_counter() - t0))
    return max(rates)


def run(scale: Scale, users: dict | None = None) -> tuple[list[Result], dict]:
    from civicgrid.areas.selectors import grid_index

    t0 = time.perf_counter()
    index = grid_index()
    build_s = time.perf_counter() - t0
    ids, polygons = _grid_polygons()
    lats, lngs, owners = sample_points(polygons, scale.points)
    expected = [ids[o] for o in owners]

    locate_args = list(zip(lats, lngs, strict=True))
    floor_args = [(polygons[o], lng, lat) for o, lat, lng in zip(owners, lats, lngs, strict=True)]
    for a in locate_args[:WARMUP_CALLS]:
        index.locate(*a)
    for a in floor_args[:WARMUP_CALLS]:
        shapely.contains_xy(*a)

    locate_stats = Stats.of(_per_call(index.locate, locate_args))
    floor_stats = Stats.of(_per_call(shapely.contains_xy, floor_args))
    locate_rate = _best_rate(index.locate, locate_args)
    floor_rate = _best_rate(shapely.contains_xy, floor_args)
    wrong = sum(index.locate(*a) != e for a, e in zip(locate_args, expected, strict=True))

    index.locate_many(lats[:WARMUP_CALLS], lngs[:WARMUP_CALLS])
    batch_times, many_wrong = [], 0
    for _ in range(scale.batches):
        t0 = time.perf_counter()
        got = index.locate_many(lats, lngs)
        batch_times.append(time.perf_counter() - t0)
        many_wrong = sum(g != e for g, e in zip(got, expected, strict=True))
    many_stats = Stats.of(batch_times)
    many_rate = len(lats) / statistics.median(batch_times)

    n = len(lats)
    results = [
        Result(
            "locate",
            "GridIndex.locate, one call per point",
            locate_stats,
            ratio=locate_stats.median_ms / floor_stats.median_ms,
            ratio_to="floor",
            ratio_basis="median per call",
            target=f"≥ {TARGET_PER_SECOND:,}/s",
            passed=locate_rate >= TARGET_PER_SECOND and wrong == 0,
            extra={
                "per_second": round(locate_rate),
                "throughput_ratio_to_floor": round(floor_rate / locate_rate, 3),
                "wrong_grid": wrong,
                "points": n,
                "grids": len(index),
            },
        ),
        Result(
            "locate",
            "floor: contains_xy on the right prepared polygon",
            floor_stats,
            extra={"per_second": round(floor_rate), "points": n},
        ),
        Result(
            "locate",
            f"GridIndex.locate_many, {n:,} points per call",
            many_stats,
            ratio=(many_stats.median_ms / n) / floor_stats.median_ms,
            ratio_to="floor",
            ratio_basis="median per point",
            passed=None if many_wrong == 0 else False,
            target="" if many_wrong == 0 else "no wrong grid",
            extra={"per_second": round(many_rate), "wrong_grid": many_wrong, "points": n},
        ),
        Result(
            "locate",
            "grid_index() build from the database",
            Stats.of([build_s]),
            extra={"grids": len(index)},
        ),
    ]
    return results, {}
