"""Data scope: which rows a user may act on, decided by the user's posts.

A post is a role (a set of function permissions) held at an area node with a data scope. Area codes
are hierarchical: a node's ``scope_code`` is a prefix of all its descendants' codes. "This node and
below" is an equality on the code's level prefix, ``SUBSTR(area_code, 1, n) = prefix``, which every
scoped table indexes together with ``id`` (``scope_indexes``): a list ordered by ``-id`` then reads its
first page straight off the index instead of sorting the whole subtree. Prefixes of other lengths fall
back to the range ``code >= prefix AND code < next(prefix)``; a grid (a leaf) is an equality.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Index, Q
from django.db.models.lookups import Exact, GreaterThanOrEqual, LessThan
from django.db.models.sql.where import AND, WhereNode

from .expressions import CodePrefix

#: Lengths of the scope codes of the levels that have children: city, district, street, community.
LEVEL_PREFIX_LENGTHS = (4, 6, 9, 12)
#: Length of a grid's scope code (a leaf of the tree).
GRID_CODE_LENGTH = 15


class DataScope:
    """Values of Post.data_scope (kept here so querysets need not import the accounts app)."""

    ALL = "all"
    SUBTREE = "subtree"
    NODE = "node"
    OWN = "own"


@dataclass(frozen=True)
class PostScope:
    """What one post grants: a set of permissions over a part of the area tree."""

    perms: frozenset[str]
    data_scope: str
    area_code: str


def next_prefix(prefix: str) -> str | None:
    """The smallest digit string greater than every string starting with ``prefix``
    ('450403' -> '450404', '4509' -> '451'); None when no such string exists ('999')."""
    stripped = prefix.rstrip("9")
    if not stripped:
        return None
    return stripped[:-1] + str(int(stripped[-1]) + 1)


def prefix_q(field: str, prefix: str) -> Q:
    """Rows whose ``field`` starts with ``prefix`` (see the module docstring for the shapes)."""
    if len(prefix) in LEVEL_PREFIX_LENGTHS:
        return Q(Exact(CodePrefix(field, len(prefix)), prefix))
    if len(prefix) == GRID_CODE_LENGTH:
        return Q(**{field: prefix})
    return range_q(field, prefix)


def range_q(field: str, prefix: str) -> Q:
    upper = next_prefix(prefix)
    q = Q(**{f"{field}__gte": prefix})
    if upper is not None:
        q &= Q(**{f"{field}__lt": upper})
    return q


def prefixes_as_ranges(node):
    """A copy of a query's WHERE tree in which each level-prefix test ``SUBSTR(code, 1, n) = p``
    becomes the range ``code >= p AND code < next(p)``.

    Both select the same rows. The prefix form lets a page ordered by id walk the ``(SUBSTR(code, 1,
    n), id)`` index; a count has no order, and the range reads the narrower ``(code, id)`` index
    instead of computing SUBSTR row by row (PostgreSQL does the latter for a count)."""
    if isinstance(node, Exact) and isinstance(node.lhs, CodePrefix) and isinstance(node.rhs, str):
        column = node.lhs.get_source_expressions()[0]
        parts = [GreaterThanOrEqual(column, node.rhs)]
        upper = next_prefix(node.rhs)
        if upper is not None:
            parts.append(LessThan(column, upper))
        return WhereNode(parts, AND)
    if isinstance(node, WhereNode):
        return WhereNode([prefixes_as_ranges(child) for child in node.children], node.connector, node.negated)
    return node


def user_scopes(user) -> list[PostScope]:
    """The user's posts as scopes, loaded once per user object (i.e. once per request)."""
    cached = getattr(user, "_civic_scopes", None)
    if cached is None:
        from civicgrid.accounts.selectors import load_post_scopes

        cached = load_post_scopes(user)
        user._civic_scopes = cached
    return cached


def clear_cached_scopes(user) -> None:
    for attr in ("_civic_scopes", "_civic_perms", "_civic_units"):
        if hasattr(user, attr):
            delattr(user, attr)


def permission_name(model, action: str) -> str:
    if "." in action:
        return action
    opts = model._meta
    return f"{opts.app_label}.{action}_{opts.model_name}"


def _merge_prefixes(codes: set[str]) -> list[str]:
    """Drop prefixes covered by a shorter one: {'4504', '450403'} -> ['4504']."""
    kept: list[str] = []
    for code in sorted(codes, key=len):
        if not any(code.startswith(k) for k in kept):
            kept.append(code)
    return sorted(kept)


def scope_filter(user, perm: str, *, field: str, owner_field: str | None) -> Q | None:
    """A Q selecting what ``user`` may do ``perm`` on; ``Q()`` for everything, None for nothing."""
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    if user.is_superuser:
        return Q()
    subtrees: set[str] = set()
    nodes: set[str] = set()
    own = False
    for post in user_scopes(user):
        if perm not in post.perms:
            continue
        if post.data_scope == DataScope.ALL:
            return Q()
        if post.data_scope == DataScope.SUBTREE:
            subtrees.add(post.area_code)
        elif post.data_scope == DataScope.NODE:
            nodes.add(post.area_code)
        elif post.data_scope == DataScope.OWN:
            own = True
    merged = _merge_prefixes(subtrees)
    nodes = {n for n in nodes if not any(n.startswith(p) for p in merged)}
    q: Q | None = None
    for prefix in merged:
        q = prefix_q(field, prefix) if q is None else q | prefix_q(field, prefix)
    if nodes:
        node_q = Q(**{f"{field}__in": sorted(nodes)})
        q = node_q if q is None else q | node_q
    if own and owner_field:
        own_q = Q(**{owner_field: user.pk})
        q = own_q if q is None else q | own_q
    return q


def covers_area(user, perm: str, area_code: str) -> bool:
    """Whether some post grants ``perm`` over the area with ``area_code`` (e.g. to add a record there)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    for post in user_scopes(user):
        if perm not in post.perms:
            continue
        if post.data_scope == DataScope.ALL:
            return True
        if post.data_scope == DataScope.SUBTREE and area_code.startswith(post.area_code):
            return True
        if post.data_scope in (DataScope.NODE, DataScope.OWN) and area_code == post.area_code:
            return True
    return False


def scope_indexes(prefix: str, field: str = "area_code") -> list[Index]:
    """The indexes a scoped table needs: ``(code, id)`` for a grid's rows and for "this node only",
    and ``(SUBSTR(code, 1, n), id)`` for each level prefix, so every scoped list's first page is an
    index walk. ``prefix`` names them (index names are unique per database)."""
    return [
        Index(fields=[field, "id"], name=f"{prefix}_scope"),
        *(Index(CodePrefix(field, n), "id", name=f"{prefix}_scope{n}") for n in LEVEL_PREFIX_LENGTHS),
    ]
