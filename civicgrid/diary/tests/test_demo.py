"""The demo diary: records made through the services in the grids with a grid worker and base data,
some turned into cases; loading it twice makes nothing new."""

from __future__ import annotations

import pytest

from civicgrid.areas.models import Area
from civicgrid.core.testing import HOME
from civicgrid.diary.demo import generate_records
from civicgrid.diary.models import DiaryRecord
from civicgrid.registry.demo import Scale, generate

pytestmark = pytest.mark.django_db


def test_demo_records(people):
    home = Area.objects.get(code=HOME["grid"])
    generate(Scale(people=60, buildings=4), grids=[home])
    assert generate_records(count=40) == 40
    records = DiaryRecord.objects.all()
    assert records.count() == 40
    assert set(records.values_list("area_code", flat=True)) == {HOME["grid"]}
    assert set(records.values_list("created_by", flat=True)) == {people["gw"].pk}
    assert records.filter(kind="visit", households__isnull=False).exists()
    assert records.filter(case__isnull=False).exists()
    assert all(r.case.area_id == home.pk for r in records.filter(case__isnull=False).select_related("case"))
    occurred = list(records.order_by("id").values_list("occurred_at", flat=True))
    assert occurred == sorted(occurred)
    assert generate_records(count=40) == 0
