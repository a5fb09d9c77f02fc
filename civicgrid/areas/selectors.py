"""Reads over the area tree, including point → grid resolution through a spatial index."""

from __future__ import annotations

import itertools
import math
import operator
import threading
import time

import numpy as np
import shapely
from django.db.models import Count, Max
from shapely import STRtree
from shapely.geometry import shape

from civicgrid.core import bulk

from .choices import AreaLevel
from .models import Area

#: Cells of ``GridIndex``'s raster per grid (about three quarters of a city's points then fall in a
#: cell inside one grid), and the lookups an index serves before it builds the raster (an index
#: that is rebuilt soon after, as in tests, never pays for it).
RASTER_CELLS_PER_GRID = 64
RASTER_AFTER = 64
#: The raster's largest size (a city of thousands of grids: its cells grow, the build stays under a
#: second; at city scale, 567 grids, it takes 0.07 s).
RASTER_MAX_CELLS = 1 << 18


class GridIndex:
    """An STRtree over every active grid's polygon. ``locate`` answers a grid id or None.

    Candidates come from the tree by bounding box; the exact test uses prepared polygons
    (``contains_xy``), so a lookup costs a few microseconds. Points on a shared edge go to the grid
    with the lowest code, so every point has one answer.

    A busy index also keeps a raster over the grids' extent (``_build_raster``): a point in a cell
    that lies inside one grid and touches no other is that grid's, found by arithmetic and a list
    index. Measured in a running server, the exact test costs far more than in a loop (the
    geometry library's code and data are no longer in the processor's caches when a request
    reaches it: about 0.15 ms of an Open311 report), the raster a few microseconds."""

    def __init__(self, rows: list[tuple[int, str, dict]]):
        rows = sorted(rows, key=lambda r: r[1])
        self.ids = [r[0] for r in rows]
        self._values: dict[int, tuple] = {}
        self.geoms = np.array([shape(r[2]) for r in rows], dtype=object)
        for geom in self.geoms:
            shapely.prepare(geom)
        self.tree = STRtree(self.geoms)
        self._raster: tuple | None = None
        self._lookups = 0

    def __len__(self) -> int:
        return len(self.ids)

    def locate(self, lat: float, lng: float) -> int | None:
        raster = self._raster
        if raster is not None:
            minx, miny, cell_width, cell_height, nx, ny, cells = raster
            fx, fy = (lng - minx) / cell_width, (lat - miny) / cell_height
            if 0 <= fx < nx and 0 <= fy < ny:
                k = cells[int(fy) * nx + int(fx)]
                if type(k) is int:
                    return self.ids[k]
                # The grids that touch the cell, in code order: the first the point lies in or on
                # is the exact test's answer, without building a point and asking the tree.
                for i in k:
                    if shapely.intersects_xy(self.geoms[i], lng, lat):
                        return self.ids[i]
                return None
        elif self._lookups < RASTER_AFTER:
            self._lookups += 1
        else:
            self._raster = self._build_raster()
        return self._locate_exactly(lat, lng)

    def _build_raster(self) -> tuple:
        """Cells of about ``RASTER_CELLS_PER_GRID`` per grid over the grids' extent, each the index
        of the one grid it lies in and touches, or else the grids it touches (a tuple in code order,
        maybe empty), among which the point's grid is. A cell counts a little larger than it is, so
        that a point rounded into it from just outside still lies in what was tested."""
        if not len(self.geoms):
            return (0.0, 0.0, 1.0, 1.0, 0, 0, [])
        minx, miny, maxx, maxy = shapely.total_bounds(self.geoms)
        cells = min(RASTER_CELLS_PER_GRID * len(self.geoms), RASTER_MAX_CELLS)
        size = math.sqrt(max((maxx - minx) * (maxy - miny), 1e-18) / cells)
        nx, ny = max(1, math.ceil((maxx - minx) / size)), max(1, math.ceil((maxy - miny) / size))
        cell_width, cell_height = (maxx - minx) / nx or size, (maxy - miny) / ny or size
        x0 = minx + np.tile(np.arange(nx), ny) * cell_width
        y0 = miny + np.repeat(np.arange(ny), nx) * cell_height
        eps = max(cell_width, cell_height) * 1e-6
        boxes = shapely.box(x0 - eps, y0 - eps, x0 + cell_width + eps, y0 + cell_height + eps)
        box_of, grid_of = self.tree.query(boxes, predicate="intersects")
        touching: list = [()] * len(boxes)  # a cell touching no grid: None without a test
        order = np.lexsort((grid_of, box_of))  # by cell, then by grid (the grids are in code order)
        pairs = zip(box_of[order].tolist(), grid_of[order].tolist(), strict=True)
        for box, grids in itertools.groupby(pairs, key=operator.itemgetter(0)):
            touching[box] = tuple(g for _b, g in grids)
        alone = np.bincount(box_of, minlength=len(boxes))[box_of] == 1
        box_of, grid_of = box_of[alone], grid_of[alone]
        inside = shapely.within(boxes[box_of], self.geoms[grid_of])
        for box, grid in zip(box_of[inside].tolist(), grid_of[inside].tolist(), strict=True):
            touching[box] = grid
        return (float(minx), float(miny), float(cell_width), float(cell_height), nx, ny, touching)

    def _locate_exactly(self, lat: float, lng: float) -> int | None:
        point = shapely.Point(lng, lat)
        for i in sorted(self.tree.query(point)):
            geom = self.geoms[i]
            if shapely.contains_xy(geom, lng, lat) or geom.boundary.distance(point) == 0:
                return self.ids[i]
        return None

    def area(self, grid_id: int) -> Area | None:
        """The grid as a fresh Area instance (boundary deferred), from its values read once for the
        life of this index (rebuilt when grids change): an intake does not query the areas table."""
        if grid_id not in self._values:  # the first time: every grid of the index in one query
            rows = Area.objects.filter(pk__in=[*self.ids, grid_id]).values_list(*_AREA_COLUMNS)
            self._values.update({row[0]: row for row in rows})
        values = self._values.get(grid_id)
        return bulk.loaded(Area, _AREA_COLUMNS, values) if values is not None else None

    def locate_many(self, lats, lngs) -> list[int | None]:
        """Vectorised lookup for many points at once (imports, benchmarks)."""
        points = shapely.points(np.asarray(lngs, dtype=float), np.asarray(lats, dtype=float))
        point_idx, geom_idx = self.tree.query(points, predicate="intersects")
        out: list[int | None] = [None] * len(points)
        for p, g in sorted(zip(point_idx.tolist(), geom_idx.tolist(), strict=True), reverse=True):
            out[p] = self.ids[g]
        return out


#: Every column of an area but its boundary, in the model's order (as ``Model.from_db`` wants).
_AREA_COLUMNS = tuple(f.attname for f in Area._meta.concrete_fields if f.name != "geometry")

_lock = threading.Lock()
_index: GridIndex | None = None
_stamp: tuple | None = None
_checked_at = 0.0
#: How often (seconds) a process checks whether another process changed the grids.
RECHECK_SECONDS = 2.0


def _grid_rows():
    return list(
        Area.objects.filter(level=AreaLevel.GRID, is_active=True)
        .exclude(geometry=None)
        .values_list("pk", "code", "geometry")
    )


def _current_stamp() -> tuple:
    agg = Area.objects.filter(level=AreaLevel.GRID).aggregate(n=Count("pk"), last=Max("updated_at"))
    return (agg["n"], agg["last"])


def grid_index() -> GridIndex:
    """The process-wide index, rebuilt when grids change (here or in another process)."""
    global _index, _stamp, _checked_at
    now = time.monotonic()
    if _index is not None and now - _checked_at < RECHECK_SECONDS:
        return _index
    with _lock:
        stamp = _current_stamp()
        if _index is None or stamp != _stamp:
            _index = GridIndex(_grid_rows())
            _stamp = stamp
        _checked_at = time.monotonic()
        return _index


def invalidate_grid_index(sender=None, instance=None, **kwargs) -> None:
    global _index
    if instance is None or instance.level == AreaLevel.GRID:
        with _lock:
            _index = None


def locate_grid(lat: float, lng: float) -> Area | None:
    grid_id = grid_index().locate(lat, lng)
    if grid_id is None:
        return None
    return Area.objects.select_related("parent__parent__parent__parent").get(pk=grid_id)


def ancestors(area: Area) -> list[Area]:
    """From the root down to the area's parent (parents are followed through select_related)."""
    chain = []
    node = area.parent
    while node is not None:
        chain.append(node)
        node = node.parent
    return list(reversed(chain))


def top_visible_areas(user):
    """The highest areas the user can see: the roots of their visible part of the tree."""
    visible = Area.objects.visible_to(user)
    return visible.exclude(parent__in=visible)
