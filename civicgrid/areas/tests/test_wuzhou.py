"""Tests for the Wuzhou demo administrative tree (pure Python, no Django)."""

import re
from collections import Counter, defaultdict
from itertools import combinations

import pytest
from shapely.geometry import Point, Polygon, shape
from shapely.ops import unary_union

from civicgrid.areas.wuzhou import build_wuzhou_tree

LEVELS = ["city", "district", "street", "community", "grid"]
PARENT_LEVEL = {"district": "city", "street": "district", "community": "street", "grid": "community"}
CODE_PATTERNS = {
    "city": r"\d{6}",
    "district": r"\d{6}",
    "street": r"\d{9}000",
    "community": r"\d{12}",
    "grid": r"\d{15}",
}
WANXIU, CHANGZHOU, LONGXU = "450403", "450405", "450406"
URBAN_STREETS = {
    "450403005000": "角嘴街道",
    "450403006000": "东兴街道",
    "450403007000": "富民街道",
    "450403008000": "城南街道",
    "450403009000": "城北街道",
    "450405001000": "大塘街道",
    "450405002000": "兴龙街道",
    "450405003000": "红岭街道",
}
GUI_RIVER_LNG = 111.30
AREA_TOL = 1e-9


@pytest.fixture(scope="module")
def tree():
    return build_wuzhou_tree()


@pytest.fixture(scope="module")
def by_code(tree):
    return {node["code"]: node for node in tree}


@pytest.fixture(scope="module")
def children(tree):
    result = defaultdict(list)
    for node in tree:
        result[node["parent_code"]].append(node)
    return result


@pytest.fixture(scope="module")
def shapes(tree):
    return {n["code"]: shape(n["geometry"]) for n in tree if n["geometry"] is not None}


def _of_level(tree, level):
    return [node for node in tree if node["level"] == level]


def _assert_tiles(parent, parts):
    """``parts`` lie inside ``parent``, do not overlap and cover it exactly."""
    for part in parts:
        assert parent.covers(part)
    for a, b in combinations(parts, 2):
        assert a.intersection(b).area <= AREA_TOL * parent.area
    assert sum(p.area for p in parts) == pytest.approx(parent.area, rel=AREA_TOL)
    union = unary_union(parts)
    assert union.area == pytest.approx(parent.area, rel=AREA_TOL)
    assert union.symmetric_difference(parent).area <= AREA_TOL * parent.area


# --- structure -------------------------------------------------------------


def test_node_count_per_level(tree):
    counts = Counter(node["level"] for node in tree)
    assert set(counts) == set(LEVELS)
    assert counts["city"] == 1
    assert counts["district"] == 7
    assert counts["street"] == 17  # 8 urban streets + 9 towns
    assert counts["community"] == 57
    assert 57 * 8 <= counts["grid"] <= 57 * 12


def test_node_keys_and_types(tree):
    for node in tree:
        assert set(node) == {"code", "name", "level", "parent_code", "geometry", "centre"}
        assert node["level"] in LEVELS
        assert isinstance(node["code"], str) and isinstance(node["name"], str)
        assert node["name"]


def test_city_and_districts(tree, by_code):
    city = by_code["450400"]
    assert city["name"] == "梧州市" and city["level"] == "city"
    assert city["parent_code"] is None
    districts = {n["code"]: n["name"] for n in _of_level(tree, "district")}
    assert districts == {
        "450403": "万秀区",
        "450405": "长洲区",
        "450406": "龙圩区",
        "450421": "苍梧县",
        "450422": "藤县",
        "450423": "蒙山县",
        "450481": "岑溪市",
    }


def test_urban_streets_and_towns(tree, children):
    streets = {n["code"]: n["name"] for n in _of_level(tree, "street") if int(n["code"][6:9]) < 100}
    assert streets == URBAN_STREETS
    towns = {n["code"]: n["name"] for n in _of_level(tree, "street") if int(n["code"][6:9]) >= 100}
    assert towns["450403101000"] == "城东镇"
    assert towns["450405102000"] == "倒水镇"
    assert all(name.endswith("镇") for name in towns.values())
    assert all(name.endswith("街道") for name in streets.values())
    assert len(children[LONGXU]) == 4
    assert all(int(n["code"][6:9]) >= 100 for n in children[LONGXU])
    for town in towns:
        assert children[town] == []
    for county in ("450421", "450422", "450423", "450481"):
        assert children[county] == []


def test_communities_per_street(children):
    counts = {code: len(children[code]) for code in URBAN_STREETS}
    assert sum(counts.values()) == 57
    assert all(7 <= count <= 8 for count in counts.values())


def test_grids_per_community(tree, children):
    for community in _of_level(tree, "community"):
        assert 8 <= len(children[community["code"]]) <= 12, community["name"]


def test_code_formats(tree):
    for node in tree:
        assert re.fullmatch(CODE_PATTERNS[node["level"]], node["code"]), node
    for node in _of_level(tree, "street"):
        number = int(node["code"][6:9])
        if node["name"].endswith("街道"):
            assert 1 <= number <= 99
        else:
            assert node["name"].endswith("镇")
            assert 100 <= number <= 199


def test_code_prefixes(tree, by_code):
    prefix_length = {"district": 4, "street": 6, "community": 9, "grid": 12}
    for node in tree:
        if node["level"] == "city":
            continue
        parent = by_code[node["parent_code"]]
        length = prefix_length[node["level"]]
        assert node["code"][:length] == parent["code"][:length]
        if node["level"] == "grid":
            assert node["code"][:12] == parent["code"]


def test_sequences_are_contiguous(tree, children):
    for node in tree:
        if node["level"] in ("street", "community"):
            kids = children[node["code"]]
            seqs = [int(kid["code"][-3:]) for kid in kids]
            assert seqs == list(range(1, len(kids) + 1))


def test_codes_unique_and_parents_first(tree, by_code):
    codes = [node["code"] for node in tree]
    assert len(codes) == len(set(codes))
    seen = set()
    for node in tree:
        if node["level"] == "city":
            assert node["parent_code"] is None
        else:
            assert node["parent_code"] in seen
            assert by_code[node["parent_code"]]["level"] == PARENT_LEVEL[node["level"]]
        seen.add(node["code"])


def test_names(tree, by_code):
    communities = _of_level(tree, "community")
    names = [node["name"] for node in communities]
    assert len(names) == len(set(names)) == 57
    assert all(name.endswith("社区") for name in names)
    for grid in _of_level(tree, "grid"):
        parent = by_code[grid["parent_code"]]
        assert grid["name"] == f"{parent['name']}第{int(grid['code'][-3:]):02d}网格"


def test_deterministic(tree):
    assert build_wuzhou_tree() == build_wuzhou_tree() == tree


# --- geometry --------------------------------------------------------------


def test_geometry_path_to_communities(tree, by_code):
    for node in _of_level(tree, "community") + _of_level(tree, "grid"):
        code = node["code"]
        while code is not None:
            assert by_code[code]["geometry"] is not None, code
            code = by_code[code]["parent_code"]


def test_geometry_and_centre_present_together(tree):
    for node in tree:
        assert (node["geometry"] is None) == (node["centre"] is None), node["code"]


def test_geojson_format(tree):
    for node in tree:
        geometry = node["geometry"]
        if geometry is None:
            continue
        assert geometry["type"] == "Polygon"
        rings = geometry["coordinates"]
        assert len(rings) == 1
        ring = rings[0]
        assert len(ring) >= 5
        assert ring[0] == ring[-1]
        for lng, lat in ring:
            assert round(lng, 6) == lng and round(lat, 6) == lat
        polygon = shape(geometry)
        assert isinstance(polygon, Polygon)
        assert polygon.is_valid and not polygon.is_empty
        assert polygon.exterior.is_ccw


def test_coordinates_in_urban_wuzhou(shapes):
    for polygon in shapes.values():
        min_lng, min_lat, max_lng, max_lat = polygon.bounds
        assert min_lat >= 23.40 and max_lat <= 23.60
        assert min_lng >= 111.15 and max_lng <= 111.45


def test_rivers_separate_districts(tree, shapes):
    """万秀区 lies east of the 桂江, 长洲区 west of it."""
    assert shapes[WANXIU].bounds[0] >= GUI_RIVER_LNG - 1e-9
    assert shapes[CHANGZHOU].bounds[2] <= GUI_RIVER_LNG + 1e-9
    for code in URBAN_STREETS:
        centre_lng = shapes[code].centroid.x
        if code.startswith(WANXIU):
            assert centre_lng > GUI_RIVER_LNG
        else:
            assert centre_lng < GUI_RIVER_LNG


def test_centres_inside(tree, shapes):
    for node in tree:
        if node["centre"] is None:
            continue
        lat, lng = node["centre"]
        assert isinstance(lat, float) and isinstance(lng, float)
        assert shapes[node["code"]].contains(Point(lng, lat)), node["code"]


def test_city_contains_districts(tree, shapes):
    city = shapes["450400"]
    for node in _of_level(tree, "district"):
        if node["code"] in shapes:
            assert city.covers(shapes[node["code"]])
    assert WANXIU in shapes and CHANGZHOU in shapes


def test_districts_contain_streets(tree, shapes):
    for code in URBAN_STREETS:
        assert shapes[code[:6]].covers(shapes[code])
    for code in (WANXIU, CHANGZHOU):
        streets = [shapes[s] for s in URBAN_STREETS if s.startswith(code)]
        _assert_tiles(shapes[code], streets)


def test_communities_tile_streets(children, shapes):
    for code in URBAN_STREETS:
        parts = [shapes[node["code"]] for node in children[code]]
        _assert_tiles(shapes[code], parts)


def test_grids_tile_communities(tree, children, shapes):
    for community in _of_level(tree, "community"):
        parts = [shapes[node["code"]] for node in children[community["code"]]]
        _assert_tiles(shapes[community["code"]], parts)
