"""core.bulk: rows written without model instances are the rows the ORM would have written."""

from __future__ import annotations

import pytest
from django.db import transaction

from civicgrid.cases.choices import EventKind
from civicgrid.cases.models import CaseEvent
from civicgrid.cases.testing import seed_rules
from civicgrid.core import bulk
from civicgrid.core.testing import HOME

pytestmark = pytest.mark.django_db


@pytest.fixture
def case(wuzhou):
    from civicgrid.areas.models import Area
    from civicgrid.cases import services
    from civicgrid.cases.models import Category

    seed_rules()
    grid = Area.objects.get(code=HOME["grid"])
    made, _ = services.case_report(
        actor=None,
        category=Category.objects.get(kind="event", code="0102"),
        description="路边垃圾",
        channel="open311",
        lat=grid.centre_lat,
        lng=grid.centre_lng,
    )
    return made


def test_insert_values_fills_defaults_stamps_and_prepares(case):
    with transaction.atomic():
        ids = bulk.insert_values(
            CaseEvent,
            [
                {"case_id": case.pk, "kind": EventKind.WARNED, "is_public": False},
                {"case": case, "kind": EventKind.ESCALATED, "note": "上报", "data": {"from": "a", "to": "b"}},
            ],
        )
    assert len(ids) == 2 and ids[1] == ids[0] + 1
    warned, escalated = CaseEvent.objects.filter(pk__in=ids).order_by("id")
    assert (warned.case_id, warned.kind, warned.is_public, warned.note, warned.data) == (
        case.pk,
        EventKind.WARNED,
        False,
        "",
        {},
    )
    assert warned.actor_id is None and warned.created_at is not None and warned.updated_at is not None
    assert escalated.case_id == case.pk and escalated.data == {"from": "a", "to": "b"}
    assert escalated.is_public is True  # the field's default
    # A later ORM insert continues after the reserved ids.
    later = CaseEvent.objects.create(case=case, kind=EventKind.COMMENT)
    assert later.pk > ids[1]


def test_insert_values_refuses_an_unknown_field(case):
    with pytest.raises(TypeError, match="no field 'colour'"), transaction.atomic():
        bulk.insert_values(CaseEvent, [{"case_id": case.pk, "kind": EventKind.WARNED, "colour": "red"}])
    assert not CaseEvent.objects.filter(kind=EventKind.WARNED).exists()


def test_insert_values_many_rows_take_reserved_ids(case):
    """From COPY_FROM rows the ids are reserved first and the rows streamed (COPY on PostgreSQL)."""
    n = bulk.COPY_FROM + 5
    with transaction.atomic():
        ids = bulk.insert_values(CaseEvent, [{"case_id": case.pk, "kind": EventKind.WARNED}] * n)
    assert ids == list(range(ids[0], ids[0] + n))
    rows = CaseEvent.objects.filter(pk__in=ids)
    assert rows.count() == n and set(rows.values_list("case_id", "kind", "note")) == {
        (case.pk, EventKind.WARNED, "")
    }
    later = CaseEvent.objects.create(case=case, kind=EventKind.COMMENT)
    assert later.pk > ids[-1]
