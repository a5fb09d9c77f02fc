"""Writes to the area tree: creating and editing areas, assigning grid workers."""

from __future__ import annotations

import json

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from shapely.geometry import Point

from civicgrid.core import scope

from .choices import LEVEL_RULES, AreaLevel
from .geometry import AREA_TOLERANCE, check_code, parse_boundary
from .models import Area


def _check_placement(*, level: str, parent: Area | None, geometry: dict | None, exclude_pk=None):
    """A boundary must lie inside its parent's and must not overlap its siblings'."""
    if geometry is None:
        return None
    geom = parse_boundary(geometry)
    if parent is not None and parent.geometry:
        parent_geom = parse_boundary(parent.geometry, "parent")
        spill = geom.difference(parent_geom).area
        if spill > geom.area * AREA_TOLERANCE:
            raise ValidationError(
                {"geometry": _("The boundary reaches outside %(parent)s.") % {"parent": parent.name}}
            )
    siblings = Area.objects.filter(parent=parent, level=level).exclude(geometry=None)
    if exclude_pk is not None:
        siblings = siblings.exclude(pk=exclude_pk)
    for sibling in siblings.only("pk", "name", "geometry"):
        other = parse_boundary(sibling.geometry, "sibling")
        if geom.intersects(other) and geom.intersection(other).area > geom.area * AREA_TOLERANCE:
            raise ValidationError({"geometry": _("The boundary overlaps %(name)s.") % {"name": sibling.name}})
    return geom


def _centre(geom, centre: tuple[float, float] | None) -> tuple[float | None, float | None]:
    if geom is None:
        return centre if centre else (None, None)
    if centre is not None:
        lat, lng = centre
        if not geom.covers(Point(lng, lat)):
            raise ValidationError({"centre": _("The centre must lie inside the boundary.")})
        return lat, lng
    point = geom.representative_point()
    return round(point.y, 6), round(point.x, 6)


def _plain(geometry: dict | None) -> dict | None:
    return json.loads(json.dumps(geometry)) if geometry is not None else None


@transaction.atomic
def area_create(
    *,
    actor,
    code: str,
    name: str,
    level: str,
    parent: Area | None,
    geometry: dict | None = None,
    centre: tuple[float, float] | None = None,
) -> Area:
    expected_parent = LEVEL_RULES.get(level, (None,))[0]
    if level not in LEVEL_RULES:
        raise ValidationError({"level": _("Unknown area level.")})
    if (parent is None) != (expected_parent is None) or (
        parent is not None and parent.level != expected_parent
    ):
        raise ValidationError(
            {
                "parent": _("A %(level)s must be placed under a %(parent)s.")
                % {
                    "level": AreaLevel(level).label,
                    "parent": AreaLevel(expected_parent).label if expected_parent else _("nothing"),
                }
            }
        )
    if actor is not None and not scope.covers_area(
        actor, "areas.add_area", parent.scope_code if parent else code[:4]
    ):
        raise ValidationError({"parent": _("You may not add areas here.")})
    scope_code = check_code(
        level, code, parent.code if parent else None, parent.scope_code if parent else None
    )
    if Area.objects.filter(code=code).exists():
        raise ValidationError({"code": _("An area with this code already exists.")})
    geom = _check_placement(level=level, parent=parent, geometry=geometry)
    lat, lng = _centre(geom, centre)
    area = Area(
        code=code,
        scope_code=scope_code,
        name=name,
        level=level,
        parent=parent,
        geometry=_plain(geometry),
        centre_lat=lat,
        centre_lng=lng,
    )
    area.full_clean()
    area.save()
    return area


@transaction.atomic
def area_update(
    *,
    actor,
    area: Area,
    name: str | None = None,
    geometry: dict | None = None,
    centre: tuple[float, float] | None = None,
    is_active: bool | None = None,
) -> Area:
    """Code, level and parent never change: records below carry the code."""
    area.snapshot()
    fields = []
    if name is not None:
        area.name = name
        fields.append("name")
    if geometry is not None or centre is not None:
        geom = _check_placement(
            level=area.level, parent=area.parent, geometry=geometry or area.geometry, exclude_pk=area.pk
        )
        if geometry is not None:
            children = area.children.exclude(geometry=None).only("name", "geometry")
            for child in children:
                child_geom = parse_boundary(child.geometry, "child")
                if child_geom.difference(geom).area > child_geom.area * AREA_TOLERANCE:
                    raise ValidationError(
                        {
                            "geometry": _("The new boundary leaves out part of %(name)s.")
                            % {"name": child.name}
                        }
                    )
            area.geometry = _plain(geometry)
            fields.append("geometry")
        area.centre_lat, area.centre_lng = _centre(geom, centre)
        fields += ["centre_lat", "centre_lng"]
    if is_active is not None:
        area.is_active = is_active
        fields.append("is_active")
    area.full_clean()
    if fields:
        area.save(update_fields=fields)
    return area


@transaction.atomic
def grid_worker_assign(*, actor, grid: Area, user) -> Area:
    """Make ``user`` the one grid worker of ``grid`` (ending the previous worker's post there)."""
    from civicgrid.accounts.models import Post, Role
    from civicgrid.accounts.services import post_create, post_end

    if grid.level != AreaLevel.GRID:
        raise ValidationError({"grid": _("Grid workers are assigned to unit grids only.")})
    if actor is not None and not scope.covers_area(actor, "areas.assign_gridworker", grid.scope_code):
        raise ValidationError({"grid": _("You may not assign grid workers here.")})
    if user is not None and user.user_type != "staff":
        raise ValidationError({"user": _("Only staff accounts can be grid workers.")})
    role = Role.objects.get(code="grid_worker")
    grid = Area.objects.select_for_update().get(pk=grid.pk)
    previous = grid.grid_worker
    if previous is not None and previous != user:
        for post in Post.objects.filter(user=previous, role=role, area=grid, is_active=True):
            post_end(actor=actor, post=post)
    if user is not None:
        other = Area.objects.filter(grid_worker=user).exclude(pk=grid.pk).first()
        if other is not None:
            raise ValidationError(
                {"user": _("This person is already the grid worker of %(grid)s.") % {"grid": other.name}}
            )
        existing = Post.objects.filter(user=user, role=role, area=grid).first()
        if existing is None:
            post_create(actor=None, user=user, role=role, area=grid)
        elif not existing.is_active:
            existing.snapshot()
            existing.is_active = True
            existing.save(update_fields=["is_active"])
    grid.snapshot()
    grid.grid_worker = user
    grid.save(update_fields=["grid_worker"])
    return grid
