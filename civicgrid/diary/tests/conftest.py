"""Fixtures of the diary tests: people in each role around the home grid, a registered household in
it and one in another district, and a way to make records."""

from __future__ import annotations

import io
from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from civicgrid.areas.models import Area
from civicgrid.areas.services import grid_worker_assign
from civicgrid.cases.testing import seed_rules
from civicgrid.core.testing import ELSEWHERE_GRID, HOME, make_user
from civicgrid.core.validators import make_resident_id
from civicgrid.registry import services as registry

#: A second grid of the home community (another grid worker's).
NEIGHBOUR_GRID = "450403005001002"


def rid(seq: int, region: str = "450403") -> str:
    return make_resident_id(region, date(1980, 3, 1), seq)


def make_household(grid: Area, *, head: str, seq: int, compound: str = "江滨小区", room: str = "101"):
    """A house in ``grid`` with a household whose head is ``head`` (returns household, head)."""
    c = registry.compound_create(actor=None, name=compound, grid=grid)
    b = registry.building_create(actor=None, name="1栋", compound=c)
    house = registry.house_create(actor=None, building=b, room_no=room, unit_no="1", floor=1)
    household = registry.household_create(actor=None, house=house, number=f"H{seq:04d}")
    person = registry.person_register(
        actor=None, name=head, id_number=rid(seq), house=house, household=household, relation="head"
    )
    household.refresh_from_db()
    return household, person


def png(size=(40, 30), colour=(30, 120, 200)) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="PNG")
    return out.getvalue()


def upload(data: bytes | None = None, name="p.png", content_type="image/png"):
    return SimpleUploadedFile(name, data if data is not None else png(), content_type=content_type)


@pytest.fixture
def home(wuzhou):
    return Area.objects.get(code=HOME["grid"])


@pytest.fixture
def people(wuzhou):
    """One user per role around grid 450403005001001 (HOME), and a grid worker elsewhere."""
    seed_rules()
    gw = make_user("d_gw", "grid_worker")
    grid_worker_assign(actor=None, grid=Area.objects.get(code=HOME["grid"]), user=gw)
    neighbour = make_user("d_gw_next", "grid_worker", NEIGHBOUR_GRID)
    grid_worker_assign(actor=None, grid=Area.objects.get(code=NEIGHBOUR_GRID), user=neighbour)
    far = make_user("d_gw_far", "grid_worker", ELSEWHERE_GRID)
    grid_worker_assign(actor=None, grid=Area.objects.get(code=ELSEWHERE_GRID), user=far)
    return {
        "gw": gw,
        "neighbour": neighbour,
        "far": far,
        "community": make_user("d_community", "community_official"),
        "street": make_user("d_street", "street_official"),
        "district": make_user("d_district", "district_official"),
        "auditor": make_user("d_auditor", "auditor"),
        "dispatcher": make_user("d_dispatcher", "dispatcher"),
        "resident": make_user("d_resident", "resident"),
    }


@pytest.fixture
def household(people, home):
    """A registered household in the home grid: (household, head)."""
    return make_household(home, head="张建国", seq=11)


@pytest.fixture
def far_household(people):
    return make_household(Area.objects.get(code=ELSEWHERE_GRID), head="李远方", seq=21, compound="远方小区")


@pytest.fixture
def record(people, household):
    """Make a record by the home grid's worker (a visit to the household unless told)."""
    from civicgrid.diary import services

    def make(*, actor=None, kind="visit", summary="入户走访，了解家庭近况", **extra):
        if kind not in ("party_meeting", "council"):
            extra.setdefault("households", [household[0]])
            extra.setdefault("people", [household[1]])
        rec, created = services.record_create(
            actor=actor or people["gw"], kind=kind, summary=summary, **extra
        )
        assert created
        return rec

    return make
