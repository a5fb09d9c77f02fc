"""Reads about accounts: a user's scopes, permissions and agreement status."""

from __future__ import annotations

from collections import defaultdict

from civicgrid.core.scope import PostScope

from .choices import UserType
from .models import Agreement, AgreementAcceptance, Post, Role


def load_post_scopes(user) -> list[PostScope]:
    posts = list(
        Post.objects.filter(user_id=user.pk, is_active=True).values_list("role_id", "data_scope", "area_code")
    )
    if not posts:
        return []
    perms: dict[int, set[str]] = defaultdict(set)
    rows = Role.permissions.through.objects.filter(role_id__in={p[0] for p in posts}).values_list(
        "role_id", "permission__content_type__app_label", "permission__codename"
    )
    for role_id, app_label, codename in rows:
        perms[role_id].add(f"{app_label}.{codename}")
    return [PostScope(frozenset(perms[r]), scope, code) for r, scope, code in posts]


def user_permissions(user) -> set[str]:
    from civicgrid.core.scope import user_scopes

    cached = getattr(user, "_civic_perms", None)
    if cached is None:
        cached = set().union(*(s.perms for s in user_scopes(user))) if user_scopes(user) else set()
        user._civic_perms = cached
    return cached


def has_any_post(user) -> bool:
    from civicgrid.core.scope import user_scopes

    return user.is_superuser or bool(user_scopes(user))


def current_agreement() -> Agreement | None:
    return Agreement.objects.filter(is_current=True).first()


def needs_agreement(user) -> bool:
    """Staff must accept the current agreement before any data page opens."""
    if not user.is_authenticated or user.user_type != UserType.STAFF:
        return False
    agreement = current_agreement()
    return (
        agreement is not None
        and not AgreementAcceptance.objects.filter(user=user, agreement=agreement).exists()
    )
