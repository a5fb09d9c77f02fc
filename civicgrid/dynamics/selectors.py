"""Reads of work-dynamics posts: staff lists (scoped), the residents' and grid workers' feeds
(published posts of their community and of its street), a post's pictures and history, and the
areas a user writes posts for."""

from __future__ import annotations

from django.db.models import Prefetch, Q, QuerySet

from civicgrid.areas.models import Area
from civicgrid.core import scope

from .choices import PictureKind, Status
from .models import Post, PostEvent, PostPicture
from .services import AUTHOR_LEVELS

#: Length of a street's hierarchical code (the first 9 digits of its communities' codes).
STREET_CODE_LENGTH = 9
COMMUNITY_CODE_LENGTH = 12


def lead_pictures() -> Prefetch:
    """The pictures a list needs per post (its cover and its first picture), as ``lead_pictures``."""
    return Prefetch(
        "pictures",
        queryset=PostPicture.objects.filter(
            Q(kind=PictureKind.COVER) | Q(kind=PictureKind.PICTURE, position=0)
        ).order_by("kind", "position", "id"),
        to_attr="lead_pictures",
    )


def staff_posts(user, action: str = "view") -> QuerySet:
    """Posts in the user's scope for ``action``, with what the lists show."""
    return (
        Post.objects.visible_to(user, action)
        .select_related("area__parent", "author")
        .prefetch_related(lead_pictures())
    )


def feed_codes(area_codes) -> list[str]:
    """The area codes whose posts the people of the areas with ``area_codes`` (communities, or
    grids) read: their community's and its street's."""
    codes: set[str] = set()
    for code in area_codes:
        if len(code) >= COMMUNITY_CODE_LENGTH:
            codes.add(code[:COMMUNITY_CODE_LENGTH])
            codes.add(code[:STREET_CODE_LENGTH])
    return sorted(codes)


def published_in(codes: list[str]) -> QuerySet:
    """Published posts of the areas with ``codes``: pinned first, then newest first."""
    if not codes:
        return Post.objects.none()
    return (
        Post.objects.filter(area_code__in=codes, status=Status.PUBLISHED)
        .select_related("area")
        .prefetch_related(lead_pictures())
        .order_by("-pinned", "-published_at", "-id")
    )


def resident_codes(user) -> list[str]:
    """The resident's community (from their resident post, as the portal's notices do) and its street."""
    from civicgrid.portal.selectors import resident_communities

    return feed_codes(c.scope_code for c in resident_communities(user))


def posts_for_resident(user) -> QuerySet:
    """What a resident reads in the portal: published posts of their community and its street.
    Anything else (a draft, a withdrawn post, another community's) is not there: a 404."""
    return published_in(resident_codes(user))


def grid_worker_codes(user) -> list[str]:
    """The community and street of the grids where ``user`` holds a grid-worker post."""
    if user is None or not user.is_authenticated:
        return []
    return feed_codes(
        s.area_code for s in scope.user_scopes(user) if len(s.area_code) > COMMUNITY_CODE_LENGTH
    )


def posts_for_grid_worker(user) -> QuerySet:
    """What a grid worker reads in the phone app: the published posts of their grid's community
    and street."""
    return published_in(grid_worker_codes(user))


def readable_posts(user) -> QuerySet:
    """Every post ``user`` may open: in scope for staff who view posts, plus the published posts of
    their feed (residents, grid workers). Pictures are served from these only."""
    codes = sorted({*resident_codes(user), *grid_worker_codes(user)})
    feed = Q(area_code__in=codes, status=Status.PUBLISHED) if codes else None
    staff_q = scope.scope_filter(user, "dynamics.view_post", field="area_code", owner_field=None)
    if staff_q is not None and not staff_q:  # all data
        return Post.objects.all()
    parts = [q for q in (staff_q, feed) if q is not None]
    if not parts:
        return Post.objects.none()
    combined = parts[0]
    for q in parts[1:]:
        combined |= q
    return Post.objects.filter(combined)


def pictures_of(post: Post) -> list[PostPicture]:
    """The cover first, then the pictures in order."""
    return list(PostPicture.objects.filter(post=post).order_by("kind", "position", "id"))


def history(post: Post) -> QuerySet:
    return PostEvent.objects.filter(post=post).select_related("actor").order_by("id")


def authorable_areas(user, perm: str = "dynamics.add_post", *, include: int | None = None) -> QuerySet:
    """The communities and streets ``user`` writes posts for (where they hold ``perm`` in a post at
    that very area; every one of them for all-data posts), and the area with id ``include`` (the
    area of the post being edited)."""
    base = (
        Area.objects.filter(level__in=AUTHOR_LEVELS, is_active=True)
        .select_related("parent")
        .defer("geometry", "parent__geometry")
        .order_by("scope_code")
    )
    if user is None or not user.is_authenticated:
        return base.none()
    if user.is_superuser:
        return base
    codes: set[str] = set()
    for post in scope.user_scopes(user):
        if perm not in post.perms:
            continue
        if post.data_scope == scope.DataScope.ALL:
            return base
        codes.add(post.area_code)
    q = Q(scope_code__in=sorted(codes))
    if include is not None:
        q |= Q(pk=include)
    return base.filter(q)


def filter_areas(user) -> QuerySet:
    """Communities and streets in the user's view scope (the staff list's area filter)."""
    return (
        Area.objects.visible_to(user).filter(level__in=AUTHOR_LEVELS).defer("geometry").order_by("scope_code")
    )


def available_steps(post: Post, user) -> dict[str, bool]:
    """The steps ``user`` may take on ``post`` now (what the pages and the API offer); the services
    decide again when a step is taken. No query: posts are read from the user's cached scopes."""
    from .services import can_author

    def author(perm: str) -> bool:
        return user.has_perm(perm) and can_author(user, perm, post.area_code)

    status = post.status
    return {
        "edit": author("dynamics.change_post"),
        "publish": status in (Status.DRAFT, Status.WITHDRAWN) and author("dynamics.publish_post"),
        "pin": status == Status.PUBLISHED and not post.pinned and author("dynamics.pin_post"),
        "unpin": status == Status.PUBLISHED and post.pinned and author("dynamics.pin_post"),
        "withdraw": status == Status.PUBLISHED
        and scope.covers_area(user, "dynamics.withdraw_post", post.area_code),
        "delete": status == Status.DRAFT and author("dynamics.delete_post"),
    }
