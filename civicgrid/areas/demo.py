"""Load the Wuzhou demo area tree through the area services (validated like any other input)."""

from __future__ import annotations

from django.db import transaction

from . import services
from .models import Area
from .wuzhou import build_wuzhou_tree


@transaction.atomic
def load_wuzhou(*, actor=None) -> int:
    """Create every Wuzhou area not present yet; returns how many were created."""
    existing = {a.code: a for a in Area.objects.all()}
    created = 0
    for node in build_wuzhou_tree():
        if node["code"] in existing:
            continue
        parent = existing.get(node["parent_code"]) if node["parent_code"] else None
        area = services.area_create(
            actor=actor,
            code=node["code"],
            name=node["name"],
            level=node["level"],
            parent=parent,
            geometry=node["geometry"],
            centre=tuple(node["centre"]) if node["centre"] else None,
        )
        existing[area.code] = area
        created += 1
    return created
