"""GeoJSON validation and area code rules."""

from __future__ import annotations

import math

import shapely
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from .choices import LEVEL_RULES, AreaLevel

#: Overlaps or spill-overs smaller than this share of the grid's area are rounding noise.
AREA_TOLERANCE = 1e-6


def parse_boundary(value, field: str = "geometry") -> BaseGeometry:
    """A Polygon or MultiPolygon from GeoJSON (WGS-84, [lng, lat]); ValidationError naming ``field``."""
    if not isinstance(value, dict) or "type" not in value or "coordinates" not in value:
        raise ValidationError({field: _("Expected a GeoJSON geometry object with type and coordinates.")})
    if value["type"] not in ("Polygon", "MultiPolygon"):
        raise ValidationError({field: _("The boundary must be a Polygon or MultiPolygon.")})
    try:
        geom = shape(value)
    except Exception:  # shapely raises several exception types for malformed coordinates
        raise ValidationError({field: _("The GeoJSON coordinates are malformed.")})
    if geom.is_empty:
        raise ValidationError({field: _("The boundary is empty.")})
    minx, miny, maxx, maxy = geom.bounds
    if not all(math.isfinite(v) for v in geom.bounds) or minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
        raise ValidationError({field: _("Coordinates must be longitude/latitude in degrees (WGS-84).")})
    if not geom.is_valid:
        reason = shapely.is_valid_reason(geom)
        raise ValidationError(
            {field: _("The boundary is not a valid polygon: %(reason)s") % {"reason": reason}}
        )
    if geom.area <= 0:
        raise ValidationError({field: _("The boundary has no area.")})
    return geom


def check_code(level: str, code: str, parent_code: str | None, parent_scope: str | None) -> str:
    """Validate an official code against its level and parent; return the hierarchical scope code."""
    if level not in LEVEL_RULES:
        raise ValidationError({"level": _("Unknown area level.")})
    _parent_level, length, scope_len = LEVEL_RULES[level]
    if not code.isdigit() or len(code) != length:
        raise ValidationError(
            {"code": _("A %(level)s code has %(n)d digits.") % {"level": AreaLevel(level).label, "n": length}}
        )
    ok = True
    if level == AreaLevel.CITY:
        ok = code.endswith("00") and not code.endswith("0000")
    elif level == AreaLevel.DISTRICT:
        ok = parent_scope is not None and code.startswith(parent_scope) and not code.endswith("00")
    elif level == AreaLevel.STREET:
        ok = (
            parent_code is not None
            and code.startswith(parent_code)
            and code[9:] == "000"
            and code[6:9] != "000"
        )
    elif level in (AreaLevel.COMMUNITY, AreaLevel.GRID):
        ok = (
            parent_scope is not None
            and code.startswith(parent_scope)
            and code[len(parent_scope) :] != "0" * (length - len(parent_scope))
        )
    if not ok:
        raise ValidationError(
            {"code": _("The code %(code)s does not fit under its parent or its level.") % {"code": code}}
        )
    return code[:scope_len]
