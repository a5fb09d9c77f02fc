from datetime import date

import pytest

from civicgrid.areas.models import Area
from civicgrid.core.validators import make_resident_id
from civicgrid.registry import services


def rid(seq: int, birth: date = date(1985, 6, 15), region: str = "450403") -> str:
    return make_resident_id(region, birth, seq)


@pytest.fixture
def grid(wuzhou):
    return Area.objects.get(code="450403005001001")


@pytest.fixture
def other_grid(wuzhou):
    return Area.objects.get(code="450405001001001")


def make_house(grid, room="101", building_name="1栋", compound_name="测试小区"):
    compound = services.compound_create(actor=None, name=compound_name, grid=grid)
    building = services.building_create(actor=None, name=building_name, compound=compound)
    return services.house_create(actor=None, building=building, room_no=room, unit_no="1", floor=1)


@pytest.fixture
def house(grid):
    return make_house(grid)


@pytest.fixture
def far_house(other_grid):
    return make_house(other_grid, compound_name="远方小区")
