"""The track geometry on its own: filter, odometer, simplification, reach."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from civicgrid.patrol import geometry
from civicgrid.patrol.choices import PointStatus

from .conftest import offset

CENTRE = (23.4888, 111.3012)


def fixes_along(n, step=12.0, every=10.0, accuracy=8.0, start=CENTRE):
    return [geometry.Fix(1000 + every * i, *offset(*start, 0, step * i), accuracy) for i in range(n)]


def test_haversine_on_the_mean_earth_sphere():
    assert geometry.haversine_m(23.0, 111.0, 24.0, 111.0) == pytest.approx(111_195, abs=1)
    assert geometry.haversine_m(0.0, 111.0, 0.0, 112.0) == pytest.approx(111_195, abs=1)


def test_classify_marks_inaccuracy_and_a_lone_jump():
    fixes = fixes_along(10)
    fixes[3] = geometry.Fix(fixes[3].t, fixes[3].lat, fixes[3].lng, 500)
    far = offset(fixes[6].lat, fixes[6].lng, 2000, 0)
    fixes[6] = geometry.Fix(fixes[6].t, far[0], far[1], 10)
    result = geometry.classify(fixes, None, max_accuracy=100, max_speed=40)
    assert result.statuses[3] == PointStatus.INACCURATE
    assert result.statuses[6] == PointStatus.JUMP
    assert result.kept == [0, 1, 2, 4, 5, 7, 8, 9]


def test_a_consistent_run_after_a_jump_is_recovered():
    fixes = fixes_along(3) + fixes_along(5, start=offset(*CENTRE, 4000, 0))
    for i in range(3, 8):
        fixes[i] = geometry.Fix(1000 + 10 * i, fixes[i].lat, fixes[i].lng, 8)
    result = geometry.classify(fixes, None, max_accuracy=100, max_speed=40)
    assert result.kept == list(range(8))
    odometer = geometry.Odometer(deadband=10, max_speed=40)
    odometer.run([fixes[i] for i in result.kept])
    assert odometer.distance_m == pytest.approx(6 * 12, rel=0.01)  # no 4 km hop


def test_the_odometer_carries_on_between_uploads():
    fixes = fixes_along(40)
    whole = geometry.Odometer(deadband=10, max_speed=40)
    whole.run(fixes)
    part = geometry.Odometer(deadband=10, max_speed=40)
    part.run(fixes[:17])
    carried = geometry.Odometer(deadband=10, max_speed=40, state=part.state)
    carried.run(fixes[17:], fixes[16])
    assert part.distance_m + carried.distance_m == pytest.approx(whole.distance_m)
    assert whole.distance_m == pytest.approx(39 * 12, rel=0.01)


def test_a_slow_walk_counts_in_full():
    odometer = geometry.Odometer(deadband=10, max_speed=40)
    odometer.run(fixes_along(61, step=4.0))  # 0.4 m/s for ten minutes
    assert odometer.distance_m == pytest.approx(240, rel=0.1)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.floats(-300, 300), st.floats(-300, 300)), min_size=3, max_size=200),
    st.floats(1, 20),
)
def test_simplified_line_keeps_its_ends_and_shape(offsets, tolerance):
    points = [offset(*CENTRE, n, e) for n, e in offsets]
    simple = geometry.simplify(points, tolerance)
    assert len(simple) <= len(points)
    assert simple[0] == (round(points[0][0], 6), round(points[0][1], 6))
    assert simple[-1] == (round(points[-1][0], 6), round(points[-1][1], 6))


def test_a_walked_day_draws_with_few_points():
    points, lat, lng = [], *CENTRE
    for i in range(3000):  # a day at one fix per 10 s: streets with turns every ~100 m
        heading = (i // 8) % 4 * 90
        dn, de = 12 * math.cos(math.radians(heading)), 12 * math.sin(math.radians(heading))
        lat, lng = offset(lat, lng, dn, de)
        points.append((lat, lng))
    simple = geometry.simplify(points, 4)
    assert len(simple) < 900


def test_split_at_gaps():
    assert geometry.split_at_gaps([0, 10, 20, 400, 410, 2000], 300) == [(0, 3), (3, 5), (5, 6)]
    assert geometry.split_at_gaps([], 300) == []


def test_within_reach_and_nearest():
    walk = [offset(*CENTRE, 0, 12 * i) for i in range(20)]
    near = (1, *offset(*CENTRE, 25, 100))
    far = (2, *offset(*CENTRE, 60, 100))
    reach = geometry.within_reach(walk, [near, far], 30)
    assert [r.building_id for r in reach] == [1]
    assert 20 < reach[0].distance_m <= 30 and reach[0].first_index in (6, 7, 8, 9, 10)
    assert geometry.nearest_building(*offset(*CENTRE, 20, 100), [near, far], 30) == 1
    assert geometry.nearest_building(*offset(*CENTRE, -50, 100), [near, far], 30) is None
