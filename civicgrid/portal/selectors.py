"""Reads of the resident portal: the communities to choose from, a resident's community, their
own reports, and the notices they may read."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils import timezone

from civicgrid.areas.choices import AreaLevel
from civicgrid.areas.models import Area
from civicgrid.cases.models import Case, CasePhoto, Category
from civicgrid.core.scope import LEVEL_PREFIX_LENGTHS

from .models import Notice
from .services import RESIDENT_ROLE


def communities() -> QuerySet:
    """Active communities with their street and district, in code order (for the chooser)."""
    return (
        Area.objects.filter(level=AreaLevel.COMMUNITY, is_active=True)
        .select_related("parent__parent")
        .defer("geometry", "parent__geometry", "parent__parent__geometry")
        .order_by("scope_code")
    )


def resident_communities(user) -> list[Area]:
    """The communities of the user's active resident posts."""
    if user is None or not user.is_authenticated:
        return []
    cached = getattr(user, "_portal_communities", None)
    if cached is None:
        from civicgrid.accounts.models import Post

        cached = [
            p.area
            for p in Post.objects.filter(user=user, role__code=RESIDENT_ROLE, is_active=True)
            .select_related("area__parent__parent")
            .defer("area__geometry", "area__parent__geometry", "area__parent__parent__geometry")
        ]
        user._portal_communities = cached
    return cached


def _codes_above(scope_code: str) -> set[str]:
    """An area's code and its ancestors' codes (community → street, district, city)."""
    return {scope_code[:n] for n in LEVEL_PREFIX_LENGTHS if n <= len(scope_code)}


def notices_for(user, now=None) -> QuerySet:
    """Published notices of the resident's communities and of the areas above them."""
    codes: set[str] = set()
    for community in resident_communities(user):
        codes |= _codes_above(community.scope_code)
    if not codes:
        return Notice.objects.none()
    now = now or timezone.now()
    return (
        Notice.objects.filter(area_code__in=sorted(codes), published_at__lte=now)
        .select_related("area")
        .order_by("-published_at", "-id")
    )


def my_cases(user) -> QuerySet:
    """The cases the user reported: scoped as everywhere, and then only their own reports."""
    return (
        Case.objects.visible_to(user, "view")
        .filter(reporter=user)
        .select_related("category__parent", "department")
        .order_by("-id")
    )


def public_photos(case: Case) -> QuerySet:
    """Photos a reporter may see: their report's, and those of public steps (handling results)."""
    from django.db.models import Q

    return (
        CasePhoto.objects.filter(case=case)
        .filter(Q(event__isnull=True) | Q(event__is_public=True))
        .order_by("id")
    )


def report_categories() -> list[tuple[Category, list[Category]]]:
    """Public, active leaf categories grouped under their (active) parents, tree by tree."""
    leaves = (
        Category.objects.filter(is_active=True, is_public=True, parent__is_active=True)
        .select_related("parent")
        .prefetch_related("questions")
        .order_by("kind", "parent__sort", "parent__code", "sort", "code")
    )
    groups: dict[int, tuple[Category, list[Category]]] = {}
    for leaf in leaves:
        if not leaf.is_leaf:
            continue
        groups.setdefault(leaf.parent_id, (leaf.parent, []))[1].append(leaf)
    return list(groups.values())
