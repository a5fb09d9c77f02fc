"""Track geometry, independent of the database: distances on the WGS-84 sphere, the point filter
(accuracy and implausible jumps), line simplification for drawing and the "within reach of a
building" test. Points are ``(t, lat, lng, accuracy)`` tuples with ``t`` in seconds."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import shapely

from .choices import PointStatus

EARTH_RADIUS_M = 6_371_008.8
#: Consecutive points that agree with each other but not with the last kept point: after this many
#: the kept point was the outlier (or the worker really moved while the phone saw nothing), and the
#: run is kept from then on.
RECOVER_AFTER = 3


def haversine_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


@dataclass(frozen=True)
class Fix:
    """One recorded position: time (epoch seconds), WGS-84 point, accuracy radius (m)."""

    t: float
    lat: float
    lng: float
    accuracy: float


def plausible(a: Fix, b: Fix, max_speed: float) -> bool:
    """Whether moving from ``a`` to ``b`` is possible at ``max_speed`` once both points' accuracy is
    allowed for (two jittery fixes a second apart are not a 40 m/s sprint)."""
    dt = abs(b.t - a.t)
    moved = haversine_m(a.lat, a.lng, b.lat, b.lng) - a.accuracy - b.accuracy
    return moved <= max_speed * max(dt, 1.0)


@dataclass
class Classified:
    statuses: list[int]
    #: Index of every input point that ends up kept (in input order).
    kept: list[int] = field(default_factory=list)


def classify(
    fixes: Sequence[Fix], anchor: Fix | None, *, max_accuracy: float, max_speed: float
) -> Classified:
    """Mark each fix (sorted by time) kept, inaccurate or a jump, following on from ``anchor`` (the
    last kept point before them, if any).

    A fix worse than ``max_accuracy`` is inaccurate. A fix that could not have been reached from the
    last kept one at ``max_speed`` is a jump, unless it starts or continues a run of fixes that agree
    with each other: once ``RECOVER_AFTER`` of them agree, the whole run is kept (the earlier kept
    point was the outlier, e.g. a bad first fix, or the worker moved while the phone saw nothing)."""
    statuses = [PointStatus.OK] * len(fixes)
    out = Classified(statuses=statuses)
    last = anchor
    run: list[int] = []
    for i, fix in enumerate(fixes):
        if fix.accuracy > max_accuracy:
            statuses[i] = PointStatus.INACCURATE
            continue
        if last is None or plausible(last, fix, max_speed):
            out.kept.append(i)
            last, run = fix, []
            continue
        if run and plausible(fixes[run[-1]], fix, max_speed):
            run.append(i)
        else:
            run = [i]
        if len(run) >= RECOVER_AFTER:
            for j in run:
                statuses[j] = PointStatus.OK
            out.kept.extend(run)
            last, run = fixes[run[-1]], []
        else:
            statuses[i] = PointStatus.JUMP
    out.kept.sort()
    return out


class Odometer:
    """Distance walked along kept points, with a dead band against the jitter of a phone standing
    still (a few metres every fix, which summed hop by hop makes hundreds of metres an hour).

    The count stays at an anchor (where it last moved) while the fixes stay within ``deadband``
    metres of the centroid of the fixes since then; the first fix beyond that adds its distance
    from the anchor and becomes the new anchor. A walk of one fix every 10 s (12 m apart) counts
    in full, a slow walk counts once it has left the cluster, standing still counts nothing. A hop
    that is implausible (the way into a recovered run) restarts the count without adding to it.

    ``state`` carries the count from one upload to the next (kept on the shift)."""

    def __init__(self, *, deadband: float, max_speed: float, state: dict | None = None):
        self.deadband, self.max_speed = deadband, max_speed
        self.distance_m = 0.0
        self.anchor: tuple[float, float] | None = None
        self.centroid: tuple[float, float] | None = None
        self.n = 0
        if state:
            self.anchor, self.centroid, self.n = tuple(state["a"]), tuple(state["c"]), int(state["n"])

    @property
    def state(self) -> dict | None:
        if self.anchor is None:
            return None
        return {"a": list(self.anchor), "c": list(self.centroid), "n": self.n}

    def _restart(self, fix: Fix) -> None:
        self.anchor = self.centroid = (fix.lat, fix.lng)
        self.n = 1

    def step(self, previous: Fix | None, fix: Fix) -> None:
        if self.anchor is None or previous is None or not plausible(previous, fix, self.max_speed):
            self._restart(fix)
            return
        if haversine_m(self.centroid[0], self.centroid[1], fix.lat, fix.lng) >= self.deadband:
            self.distance_m += haversine_m(self.anchor[0], self.anchor[1], fix.lat, fix.lng)
            self._restart(fix)
            return
        n = self.n
        self.centroid = (
            (self.centroid[0] * n + fix.lat) / (n + 1),
            (self.centroid[1] * n + fix.lng) / (n + 1),
        )
        self.n = n + 1

    def run(self, fixes: Sequence[Fix], previous: Fix | None = None) -> float:
        """Step through kept ``fixes`` in time order (after ``previous``); returns the distance added."""
        before = self.distance_m
        for fix in fixes:
            self.step(previous, fix)
            previous = fix
        return self.distance_m - before


# ---- local metric projection ---------------------------------------------------------------------

M_PER_DEG_LAT = 110_574.0
M_PER_DEG_LNG_EQUATOR = 111_320.0


def _projector(lat0: float):
    kx = M_PER_DEG_LNG_EQUATOR * math.cos(math.radians(lat0))
    return kx, M_PER_DEG_LAT


def simplify(points: Sequence[tuple[float, float]], tolerance_m: float) -> list[tuple[float, float]]:
    """Douglas–Peucker on a local metric projection: the drawn line keeps its shape within
    ``tolerance_m`` with a fraction of the points (a walked day of 3,000 points draws as a few
    hundred). Points are ``(lat, lng)``; the result keeps the first and last point."""
    if len(points) < 3 or tolerance_m <= 0:
        return [tuple(p) for p in points]
    arr = np.asarray(points, dtype=float)
    kx, ky = _projector(float(arr[:, 0].mean()))
    xy = np.column_stack(((arr[:, 1]) * kx, arr[:, 0] * ky))
    line = shapely.LineString(xy)
    simple = shapely.simplify(line, tolerance_m, preserve_topology=False)
    coords = shapely.get_coordinates(simple)
    return [(round(y / ky, 6), round(x / kx, 6)) for x, y in coords]


def split_at_gaps(times: Sequence[float], gap_s: float) -> list[tuple[int, int]]:
    """``[start, end)`` index ranges of the runs of points with no time gap longer than ``gap_s``
    (the line is not drawn across a stretch without signal)."""
    if not times:
        return []
    ranges, start = [], 0
    for i in range(1, len(times)):
        if times[i] - times[i - 1] > gap_s:
            ranges.append((start, i))
            start = i
    ranges.append((start, len(times)))
    return ranges


# ---- reach: which buildings a track came near -------------------------------------------------------


@dataclass(frozen=True)
class Reach:
    """A building that a track came within reach of: the first point's index and the closest distance."""

    building_id: int
    first_index: int
    distance_m: float


def within_reach(
    points: Sequence[tuple[float, float]],
    buildings: Sequence[tuple[int, float, float]],
    radius_m: float,
) -> list[Reach]:
    """Buildings ``(id, lat, lng)`` within ``radius_m`` of any of ``points`` ``(lat, lng)`` (in time
    order): an STRtree over the buildings on a local metric projection, then the exact distance
    for the candidate pairs only."""
    if not points or not buildings:
        return []
    pts = np.asarray(points, dtype=float)
    bld = np.asarray([(b[1], b[2]) for b in buildings], dtype=float)
    kx, ky = _projector(float(pts[:, 0].mean()))
    p_geoms = shapely.points(pts[:, 1] * kx, pts[:, 0] * ky)
    b_geoms = shapely.points(bld[:, 1] * kx, bld[:, 0] * ky)
    tree = shapely.STRtree(b_geoms)
    p_idx, b_idx = tree.query(p_geoms, predicate="dwithin", distance=radius_m)
    best: dict[int, Reach] = {}
    for p, b in zip(p_idx.tolist(), b_idx.tolist(), strict=True):
        d = haversine_m(pts[p, 0], pts[p, 1], bld[b, 0], bld[b, 1])
        if d > radius_m:
            continue
        bid = buildings[b][0]
        seen = best.get(bid)
        if seen is None:
            best[bid] = Reach(bid, p, d)
        else:
            best[bid] = Reach(bid, min(seen.first_index, p), min(seen.distance_m, d))
    return sorted(best.values(), key=lambda r: (r.first_index, r.building_id))


def nearest_building(
    lat: float, lng: float, buildings: Sequence[tuple[int, float, float]], radius_m: float
) -> int | None:
    """The building ``(id, lat, lng)`` closest to a point, if within ``radius_m``."""
    best, best_d = None, radius_m
    for bid, blat, blng in buildings:
        if abs(blat - lat) * M_PER_DEG_LAT > radius_m:
            continue
        d = haversine_m(lat, lng, blat, blng)
        if d <= best_d:
            best, best_d = bid, d
    return best


def degrees_for(radius_m: float, lat: float) -> tuple[float, float]:
    """The latitude and longitude spans (degrees) of ``radius_m`` at ``lat``: a bounding-box margin."""
    kx, ky = _projector(lat)
    return radius_m / ky, radius_m / kx
