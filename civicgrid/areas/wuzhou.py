"""Demo administrative structure of Wuzhou (梧州市), Guangxi.

The module deterministically generates a five-level tree

    city -> district/county -> street/town -> community -> grid

with official GB/T 2260 and statistical division codes, and with approximate
but geographically plausible WGS-84 polygons for the urban core: 万秀区 east of
the 桂江 (Gui River) and north of the 西江 (Xi River), 长洲区 west of the 桂江
along the north bank of the 浔江/西江.

Boundaries are axis-aligned rectangles.  Every street rectangle is cut into
community rectangles and every community into grid rectangles using shared,
pre-rounded cut lines, so children tile their parent exactly (no gaps, no
overlaps, identical shared edges).  Counties, the 龙圩区 district and all towns
have no drawn boundary (``geometry`` and ``centre`` are ``None``).

The module is pure Python (stdlib + shapely) and has no Django dependency.
"""

from __future__ import annotations

import math
import random
from typing import TypedDict

from shapely.geometry import Polygon, box, mapping
from shapely.geometry.polygon import orient
from shapely.ops import unary_union

__all__ = ["build_wuzhou_tree", "WuzhouNode"]

# ---------------------------------------------------------------------------
# Data tables
# ---------------------------------------------------------------------------

#: Decimal places used for every coordinate (about 0.1 m).
PRECISION = 6

CITY_CODE = "450400"
CITY_NAME = "梧州市"

#: Districts and counties (GB/T 2260): (code, name).
DISTRICTS: list[tuple[str, str]] = [
    ("450403", "万秀区"),
    ("450405", "长洲区"),
    ("450406", "龙圩区"),
    ("450421", "苍梧县"),
    ("450422", "藤县"),
    ("450423", "蒙山县"),
    ("450481", "岑溪市"),
]

#: Streets (街道, codes 001-099) and towns (镇, codes 100-199) per district:
#: (3-digit code, name, bounds).  Bounds are ``(min_lng, min_lat, max_lng,
#: max_lat)`` for urban streets and ``None`` for towns without a boundary.
#: The urban streets of each district tile a simple polygon; the 桂江 runs
#: along lng 111.300 between 长洲区 (west) and 万秀区 (east).
STREETS: dict[str, list[tuple[str, str, tuple[float, float, float, float] | None]]] = {
    "450403": [  # 万秀区
        ("005", "角嘴街道", (111.300, 23.470, 111.318, 23.490)),
        ("006", "东兴街道", (111.330, 23.490, 111.360, 23.505)),
        ("007", "富民街道", (111.300, 23.490, 111.330, 23.505)),
        ("008", "城南街道", (111.318, 23.470, 111.360, 23.490)),
        ("009", "城北街道", (111.300, 23.505, 111.360, 23.525)),
        ("101", "城东镇", None),
        ("103", "龙湖镇", None),
        ("104", "夏郢镇", None),
    ],
    "450405": [  # 长洲区
        ("001", "大塘街道", (111.270, 23.470, 111.300, 23.515)),
        ("002", "兴龙街道", (111.225, 23.470, 111.270, 23.492)),
        ("003", "红岭街道", (111.225, 23.492, 111.270, 23.515)),
        ("101", "长洲镇", None),
        ("102", "倒水镇", None),
    ],
    "450406": [  # 龙圩区
        ("101", "龙圩镇", None),
        ("102", "大坡镇", None),
        ("103", "广平镇", None),
        ("104", "新地镇", None),
    ],
}

#: Community names per urban street (9-digit street prefix); 57 in total.
COMMUNITIES: dict[str, list[str]] = {
    "450403005": [  # 角嘴街道
        "三角嘴社区",
        "西江路社区",
        "鸳江路社区",
        "桂江路社区",
        "大南路社区",
        "沙街社区",
        "九坊路社区",
        "河堤路社区",
    ],
    "450403006": [  # 东兴街道
        "东兴路社区",
        "新兴路社区",
        "蝶山路社区",
        "钱鉴路社区",
        "东正路社区",
        "塘源路社区",
        "白鹤山社区",
    ],
    "450403007": [  # 富民街道
        "大中路社区",
        "南中路社区",
        "民主路社区",
        "居仁路社区",
        "五坊路社区",
        "四坊路社区",
        "富民路社区",
    ],
    "450403008": [  # 城南街道
        "竹湾社区",
        "小河路社区",
        "大东路社区",
        "小东路社区",
        "西堤社区",
        "南环路社区",
        "沙头社区",
    ],
    "450403009": [  # 城北街道
        "桂北路社区",
        "文化路社区",
        "北山路社区",
        "中山路社区",
        "火山社区",
        "云盖山社区",
        "大学路社区",
    ],
    "450405001": [  # 大塘街道
        "大塘社区",
        "龙华社区",
        "新湖社区",
        "西堤路社区",
        "珠山社区",
        "平浪社区",
        "桂西社区",
    ],
    "450405002": [  # 兴龙街道
        "兴龙社区",
        "高地路社区",
        "泗洲社区",
        "思良江社区",
        "龙新社区",
        "旺步社区",
        "新村社区",
    ],
    "450405003": [  # 红岭街道
        "红岭社区",
        "白云山社区",
        "扶典社区",
        "红星社区",
        "岭脚社区",
        "云龙社区",
        "金鸡冲社区",
    ],
}

#: Inclusive range for the number of grids per community.
GRIDS_PER_COMMUNITY = (8, 12)

# ---------------------------------------------------------------------------
# Generator
# ---------------------------------------------------------------------------

Bounds = tuple[float, float, float, float]


class WuzhouNode(TypedDict):
    """One node of the generated tree."""

    code: str
    name: str
    level: str
    parent_code: str | None
    geometry: dict | None
    centre: tuple[float, float] | None


def _rng(code: str) -> random.Random:
    """Return a generator seeded only by ``code`` (stable across runs)."""
    return random.Random(f"civicgrid:wuzhou:{code}")


def _cuts(lo: float, hi: float, weights: list[float]) -> list[float]:
    """Split ``[lo, hi]`` proportionally to ``weights``; return rounded cut lines.

    The first and last entries are ``lo`` and ``hi`` themselves, so adjacent
    pieces (and the parent edges) share bit-identical coordinates.
    """
    total = sum(weights)
    cuts = [lo]
    acc = 0.0
    for weight in weights[:-1]:
        acc += weight
        cuts.append(round(lo + (hi - lo) * acc / total, PRECISION))
    cuts.append(hi)
    return cuts


def _worst_aspect(bands: int, count: int, long_side: float, short_side: float) -> float:
    """Return the worst cell aspect ratio when ``count`` cells form ``bands`` bands."""
    worst = 0.0
    for size in {count // bands, -(-count // bands)} - {0}:
        thickness = long_side * size / count
        length = short_side / size
        worst = max(worst, thickness / length, length / thickness)
    return worst


def _subdivide(bounds: Bounds, count: int, rng: random.Random) -> list[Bounds]:
    """Cut a rectangle into ``count`` uneven, roughly square rectangles.

    The rectangle is sliced into bands across its longer side and each band
    is cut into cells; band and cell sizes are jittered deterministically.
    Cells are returned north to south, then west to east.
    """
    min_x, min_y, max_x, max_y = bounds
    mid_lat = math.radians((min_y + max_y) / 2)
    width = (max_x - min_x) * math.cos(mid_lat)
    height = max_y - min_y
    rows = height >= width  # bands are horizontal rows when taller than wide
    long_side, short_side = (height, width) if rows else (width, height)

    bands = min(range(1, count + 1), key=lambda b: _worst_aspect(b, count, long_side, short_side))
    sizes = [count // bands] * bands
    for index in rng.sample(range(bands), count % bands):
        sizes[index] += 1

    band_weights = [size * rng.uniform(0.85, 1.15) for size in sizes]
    cells: list[Bounds] = []
    if rows:
        # North first: reverse the weights so band i keeps its own weight.
        y_cuts = _cuts(min_y, max_y, band_weights[::-1])[::-1]
        for band, size in enumerate(sizes):
            top, bottom = y_cuts[band], y_cuts[band + 1]
            weights = [rng.uniform(0.75, 1.25) for _ in range(size)]
            x_cuts = _cuts(min_x, max_x, weights)
            cells.extend((x_cuts[i], bottom, x_cuts[i + 1], top) for i in range(size))
    else:
        x_cuts = _cuts(min_x, max_x, band_weights)
        for band, size in enumerate(sizes):
            left, right = x_cuts[band], x_cuts[band + 1]
            weights = [rng.uniform(0.75, 1.25) for _ in range(size)]
            y_cuts = _cuts(min_y, max_y, weights)[::-1]  # north first
            cells.extend((left, y_cuts[i + 1], right, y_cuts[i]) for i in range(size))
    return cells


def _round_coords(coords) -> list[list[float]]:
    """Round a coordinate sequence to ``PRECISION`` decimals as ``[lng, lat]``."""
    return [[round(x, PRECISION), round(y, PRECISION)] for x, y in coords]


def _geojson(polygon: Polygon) -> dict:
    """Return a GeoJSON Polygon with a counter-clockwise, rounded exterior."""
    polygon = orient(polygon, sign=1.0)
    geometry = mapping(polygon)
    return {
        "type": "Polygon",
        "coordinates": [_round_coords(ring) for ring in geometry["coordinates"]],
    }


def _centre(polygon: Polygon) -> tuple[float, float]:
    """Return a ``(lat, lng)`` point inside ``polygon`` (centroid if possible)."""
    point = polygon.centroid
    if not polygon.contains(point):
        point = polygon.representative_point()
    return (round(point.y, PRECISION), round(point.x, PRECISION))


def _union(polygons: list[Polygon]) -> Polygon:
    """Union polygons that share exact edges into one simple polygon."""
    merged = unary_union(polygons).simplify(0)
    if not isinstance(merged, Polygon):
        raise ValueError("children do not form a single contiguous polygon")
    return merged


def _node(code: str, name: str, level: str, parent: str | None, polygon: Polygon | None) -> WuzhouNode:
    """Build one tree node; nodes without a polygon get no geometry and no centre."""
    return {
        "code": code,
        "name": name,
        "level": level,
        "parent_code": parent,
        "geometry": _geojson(polygon) if polygon is not None else None,
        "centre": _centre(polygon) if polygon is not None else None,
    }


def build_wuzhou_tree() -> list[WuzhouNode]:
    """Return every node, parents before children.

    Order: the city, then each district/county followed by its streets and
    towns, each urban street followed by its communities and each community
    followed by its grids.  The output is fully deterministic.
    """
    street_shapes: dict[str, Polygon] = {
        county + street: box(*bounds)
        for county, streets in STREETS.items()
        for street, _name, bounds in streets
        if bounds is not None
    }
    district_shapes: dict[str, Polygon] = {}
    for county, _name in DISTRICTS:
        parts = [shape for code, shape in street_shapes.items() if code[:6] == county]
        if parts:
            district_shapes[county] = _union(parts)
    city_shape = _union(list(district_shapes.values()))

    nodes: list[WuzhouNode] = [_node(CITY_CODE, CITY_NAME, "city", None, city_shape)]
    for county, county_name in DISTRICTS:
        nodes.append(_node(county, county_name, "district", CITY_CODE, district_shapes.get(county)))
        for street, street_name, _bounds in STREETS.get(county, []):
            street_code = f"{county}{street}000"
            street_shape = street_shapes.get(county + street)
            nodes.append(_node(street_code, street_name, "street", county, street_shape))
            if street_shape is None:
                continue
            nodes.extend(_communities(street_code, street_shape))
    return nodes


def _communities(street_code: str, street_shape: Polygon) -> list[WuzhouNode]:
    """Generate the communities of one urban street, each followed by its grids."""
    names = COMMUNITIES[street_code[:9]]
    cells = _subdivide(street_shape.bounds, len(names), _rng(street_code))
    nodes: list[WuzhouNode] = []
    for seq, (name, cell) in enumerate(zip(names, cells, strict=True), start=1):
        code = f"{street_code[:9]}{seq:03d}"
        nodes.append(_node(code, name, "community", street_code, box(*cell)))
        rng = _rng(code)
        grids = _subdivide(cell, rng.randint(*GRIDS_PER_COMMUNITY), rng)
        for grid_seq, grid in enumerate(grids, start=1):
            grid_code = f"{code}{grid_seq:03d}"
            grid_name = f"{name}第{grid_seq:02d}网格"
            nodes.append(_node(grid_code, grid_name, "grid", code, box(*grid)))
    return nodes
