"""Writes for accounts. Keyword-only, validated, atomic; change logging follows from the models."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from civicgrid.core import scope
from civicgrid.core.services import ensure_in_scope

from .choices import UserType
from .models import Agreement, AgreementAcceptance, ApiToken, Post, Role, User

TOKEN_PREFIX = "cg_"


@transaction.atomic
def user_create(
    *,
    actor: User | None,
    username: str,
    password: str | None,
    display_name: str = "",
    user_type: str = UserType.STAFF,
    email: str = "",
) -> User:
    user = User(username=username, display_name=display_name, user_type=user_type, email=email)
    if password:
        from django.contrib.auth.password_validation import validate_password

        validate_password(password, user)
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.full_clean()
    user.save()
    return user


@transaction.atomic
def user_update(*, actor: User, user: User, **fields) -> User:
    allowed = {"display_name", "email", "is_active", "user_type"}
    unknown = set(fields) - allowed
    if unknown:
        raise ValidationError({f: _("This field cannot be changed here.") for f in unknown})
    user.snapshot()
    for name, value in fields.items():
        setattr(user, name, value)
    user.full_clean()
    user.save(update_fields=list(fields))
    return user


@transaction.atomic
def user_set_password(*, actor: User, user: User, password: str) -> User:
    from django.contrib.auth.password_validation import validate_password

    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages})
    user.set_password(password)
    user.save(update_fields=["password"])
    return user


@transaction.atomic
def post_create(
    *, actor: User | None, user: User, role: Role, area, data_scope: str | None = None, title: str = ""
) -> Post:
    post = Post(
        user=user,
        role=role,
        area=area,
        data_scope=data_scope or role.default_scope,
        title=title,
        created_by=actor,
    )
    post.full_clean()
    if actor is not None and not scope.covers_area(actor, "accounts.add_post", area.scope_code):
        raise ValidationError({"area": _("You may not create posts in this area.")})
    post.save()
    if actor is not None:
        ensure_in_scope(post, actor, "add")
    scope.clear_cached_scopes(user)
    return post


@transaction.atomic
def post_end(*, actor: User, post: Post) -> Post:
    post.snapshot()
    post.is_active = False
    post.save(update_fields=["is_active"])
    return post


@transaction.atomic
def agreement_publish(*, actor: User | None, version: str, title: str, body: str) -> Agreement:
    """Publish a new agreement version; every staff member must accept it before working on."""
    for previous in Agreement.objects.select_for_update().filter(is_current=True):
        previous.snapshot()
        previous.is_current = False
        previous.save(update_fields=["is_current"])
    agreement = Agreement(version=version, title=title, body=body, is_current=True)
    agreement.full_clean()
    agreement.save()
    return agreement


@transaction.atomic
def agreement_accept(*, user: User, agreement: Agreement, ip: str | None) -> AgreementAcceptance:
    existing = AgreementAcceptance.objects.filter(user=user, agreement=agreement).first()
    if existing:
        return existing
    if not agreement.is_current:
        raise ValidationError({"agreement": _("This agreement version is no longer current.")})
    return AgreementAcceptance.objects.create(user=user, agreement=agreement, ip=ip)


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@transaction.atomic
def api_token_create(*, user: User, name: str, expires_at: datetime | None = None) -> tuple[ApiToken, str]:
    """Create a token; the plain key is returned once and never stored."""
    if not name.strip():
        raise ValidationError({"name": _("A token needs a name.")})
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError({"expires_at": _("The expiry must be in the future.")})
    key = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user=user, name=name.strip(), prefix=key[:8], digest=_digest(key), expires_at=expires_at)
    token.full_clean()
    token.save()
    return token, key


@transaction.atomic
def api_token_revoke(*, actor: User, token: ApiToken) -> ApiToken:
    token.snapshot()
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    return token


def api_token_lookup(key: str) -> ApiToken | None:
    if not key.startswith(TOKEN_PREFIX):
        return None
    token = ApiToken.objects.select_related("user").filter(digest=_digest(key)).first()
    if token is None or not token.is_usable or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


@transaction.atomic
def role_save(
    *, actor: User, role: Role | None, code: str, name: str, description: str, default_scope: str, permissions
) -> Role:
    """Create or edit an administrator-defined role. Built-in roles follow the code's table."""
    if role is not None and role.is_builtin:
        raise ValidationError({"code": _("Built-in roles cannot be edited; create a role of your own.")})
    if role is None:
        role = Role()
    else:
        role.snapshot()
    role.code, role.name, role.description, role.default_scope = code, name, description, default_scope
    role.full_clean()
    role.save()
    role.permissions.set(permissions)
    return role


@transaction.atomic
def post_update(*, actor: User, post: Post, **fields) -> Post:
    """Change a post's role, area, scope or title. The result must stay inside the actor's scope."""
    allowed = {"role", "area", "data_scope", "title", "is_active"}
    unknown = set(fields) - allowed
    if unknown:
        raise ValidationError({f: _("This field cannot be changed here.") for f in unknown})
    post.snapshot()
    for name, value in fields.items():
        setattr(post, name, value)
    post.full_clean()
    post.save(update_fields=list(fields))
    ensure_in_scope(post, actor, "change")
    scope.clear_cached_scopes(post.user)
    return post
