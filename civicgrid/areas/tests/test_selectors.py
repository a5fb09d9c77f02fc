"""The grid index's raster answers as its exact test does."""

import random

from civicgrid.areas import selectors
from civicgrid.areas.selectors import GridIndex


def _square(lng: float, lat: float, size: float) -> dict:
    ring = [[lng, lat], [lng + size, lat], [lng + size, lat + size], [lng, lat + size], [lng, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


def _triangle(lng: float, lat: float, size: float) -> dict:
    ring = [[lng, lat], [lng + size, lat], [lng, lat + size], [lng, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


def test_the_raster_answers_every_point_as_the_exact_test_does():
    # A 4 × 3 block of squares sharing edges, a triangle, a square overlapping two others (its code
    # sorts first, so it wins where they overlap) and a gap: edges, corners, overlaps and outside.
    rows = [
        (10 + i * 3 + j, f"G{i}{j}", _square(111.0 + i * 0.01, 23.0 + j * 0.01, 0.01))
        for i in range(4)
        for j in range(3)
    ]
    rows += [(50, "T", _triangle(111.06, 23.0, 0.02)), (60, "A", _square(111.005, 23.005, 0.01))]
    index = GridIndex(rows)
    raster = index._build_raster()
    minx, miny, cell_width, cell_height, nx, ny, cells = raster
    assert sum(type(k) is int for k in cells) > len(cells) / 3  # most of the block: one grid per cell
    assert any(len(k) > 1 for k in cells if type(k) is tuple)  # edges and overlaps: the grids to test
    rng = random.Random(7)
    points = [
        (23.0 + rng.random() * 0.035 - 0.0025, 111.0 + rng.random() * 0.085 - 0.0025) for _ in range(5000)
    ]
    # Points on the grids' edges and corners, and on the raster's own cell edges.
    points += [(23.0 + j * 0.005, 111.0 + i * 0.005) for i in range(18) for j in range(7)]
    points += [(miny + j * cell_height, minx + i * cell_width) for i in range(nx + 1) for j in range(ny + 1)]
    exact = [index._locate_exactly(lat, lng) for lat, lng in points]
    index._raster = raster
    assert [index.locate(lat, lng) for lat, lng in points] == exact
    assert index.locate(23.0045, 111.0045) == 10  # inside G00 only
    assert index.locate(23.007, 111.007) == 60  # inside G00 and A: A's code sorts first
    assert index.locate(23.5, 111.5) is None


def test_an_index_builds_its_raster_once_it_is_busy(monkeypatch):
    monkeypatch.setattr(selectors, "RASTER_AFTER", 3)
    index = GridIndex([(1, "G", _square(111.0, 23.0, 0.01))])
    for _ in range(3):
        assert index.locate(23.005, 111.005) == 1
        assert index._raster is None
    assert index.locate(23.005, 111.005) == 1
    assert index._raster is not None
    assert index.locate(23.005, 111.005) == 1
    assert index.locate(24.0, 111.005) is None


def test_an_index_of_no_grids_answers_none():
    index = GridIndex([])
    index._raster = index._build_raster()
    assert index.locate(23.0, 111.0) is None


def test_the_raster_has_at_most_its_largest_size(monkeypatch):
    monkeypatch.setattr(selectors, "RASTER_MAX_CELLS", 100)
    rows = [(i, f"G{i:03d}", _square(111.0 + i * 0.01, 23.0, 0.01)) for i in range(50)]
    index = GridIndex(rows)
    *_bounds, nx, ny, cells = index._build_raster()
    assert len(cells) == nx * ny <= 101 + nx + ny  # (a + 1)(b + 1) for sides of a, b cells, ab = 100
    index._raster = index._build_raster()
    assert [index.locate(23.005, 111.005 + i * 0.01) for i in range(50)] == list(range(50))
