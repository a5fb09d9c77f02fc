"""Writes of the resident portal: signing in with a phone and a one-time code, joining a
community, and the notices staff publish to residents."""

from __future__ import annotations

import logging
from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from civicgrid.accounts.choices import UserType
from civicgrid.accounts.models import Post, Role, User
from civicgrid.areas.choices import AreaLevel
from civicgrid.areas.models import Area
from civicgrid.core import scope
from civicgrid.core.audit import log_access
from civicgrid.core.crypto import blind_index
from civicgrid.core.models.audit import AccessKind
from civicgrid.core.services import ensure_in_scope
from civicgrid.notify import otp
from civicgrid.notify.backends import mask_address
from civicgrid.notify.choices import Channel as NotifyChannel
from civicgrid.notify.choices import CodePurpose
from civicgrid.notify.models import OneTimeCode

from .models import Notice

logger = logging.getLogger("civicgrid.portal")

RESIDENT_ROLE = "resident"


# ---- one-time sign-in codes (the machinery is civicgrid.notify.otp, shared with staff) ---------

#: The portal's names for the shared one-time-code errors and phone index.
RateLimited = otp.RateLimited
SendFailed = otp.SendFailed
phone_index = otp.phone_index


def _clean_phone(phone: str) -> str:
    return otp.clean_phone(phone, "phone")


def _sign_in_text(code: str, minutes: int) -> str:
    return _(
        "Your CivicGrid sign-in code is %(code)s. It is valid for %(n)d minutes; do not tell anyone."
    ) % {"code": code, "n": minutes}


def otp_request(*, phone: str, ip: str | None, now: datetime | None = None) -> OneTimeCode:
    """Send a new 6-digit sign-in code to ``phone``. Raises ValidationError (bad number),
    RateLimited (too many requests for the phone or from ``ip``) or SendFailed."""
    return otp.send_code(purpose=CodePurpose.SIGN_IN, phone=phone, ip=ip, now=now, text=_sign_in_text)


def otp_verify(*, phone: str, code: str, now: datetime | None = None) -> None:
    """Check ``code`` against the latest sign-in code sent to ``phone`` and use it up. Raises a
    ValidationError on ``code`` saying what is wrong (and logs the failed sign-in)."""
    phone = _clean_phone(phone)
    try:
        otp.check_code(purpose=CodePurpose.SIGN_IN, phone=phone, code=code, now=now)
    except otp.CodeRefused as exc:
        log_access(
            AccessKind.LOGIN_FAILED,
            detail={"method": "sms_code", "phone": mask_address(phone), "reason": exc.reason},
        )
        raise


# ---- residents -------------------------------------------------------------------------------


def resident_sign_in(*, phone: str) -> tuple[User, bool]:
    """The resident account of a verified ``phone``, created on first sign-in (without a post:
    the resident then chooses their community). Returns ``(user, created)``."""
    from civicgrid.accounts.services import user_create
    from civicgrid.notify.services import address_set, user_by_address

    phone = _clean_phone(phone)
    user = user_by_address(NotifyChannel.SMS, phone)
    if user is None:
        username = "r_" + blind_index(phone, purpose="portal_username")[:16]
        try:
            with transaction.atomic():
                user = User.objects.filter(username=username).first()
                created = user is None
                if created:
                    user = user_create(
                        actor=None,
                        username=username,
                        password=None,
                        display_name=mask_address(phone),
                        user_type=UserType.RESIDENT,
                    )
                address_set(user=user, channel=NotifyChannel.SMS, address=phone, verified=True)
            return user, created
        except (IntegrityError, ValidationError):
            # Signed in twice at once: the other request created the account.
            user = user_by_address(NotifyChannel.SMS, phone)
            if user is None:
                raise
    if user.user_type != UserType.RESIDENT:
        raise ValidationError(
            {"phone": _("This number belongs to a staff account. Staff sign in with their password.")}
        )
    if not user.is_active:
        raise ValidationError({"phone": _("This account is disabled.")})
    return user, False


def resident_posts(user) -> list[Post]:
    return list(
        Post.objects.filter(user=user, role__code=RESIDENT_ROLE, is_active=True).select_related("area")
    )


@transaction.atomic
def resident_join_community(*, user: User, community: Area) -> Post:
    """Make ``community`` the resident's community: a resident post there (scope: own records),
    ending the post at their previous community."""
    from civicgrid.accounts.services import post_create, post_end, post_update

    if user.user_type != UserType.RESIDENT:
        raise PermissionDenied(_("Only residents choose a community here."))
    if community is None or community.level != AreaLevel.COMMUNITY or not community.is_active:
        raise ValidationError({"community": _("Choose a community.")})
    role = Role.objects.get(code=RESIDENT_ROLE)
    kept = None
    for post in Post.objects.select_for_update().filter(user=user, role=role, is_active=True):
        if post.area_id == community.pk and kept is None:
            kept = post
        else:
            post_end(actor=user, post=post)
    if kept is None:
        earlier = Post.objects.filter(user=user, role=role, area=community).first()
        if earlier is not None:
            kept = post_update(actor=None, post=earlier, is_active=True)
        else:
            kept = post_create(actor=None, user=user, role=role, area=community)
    scope.clear_cached_scopes(user)
    return kept


# ---- notices ---------------------------------------------------------------------------------


def _check_notice_area(actor, area: Area, perm: str) -> None:
    if area is None or area.level == AreaLevel.GRID:
        raise ValidationError({"area": _("Publish to a community or a larger area.")})
    if actor is not None and not scope.covers_area(actor, perm, area.scope_code):
        raise ValidationError({"area": _("This is outside your data scope.")})


@transaction.atomic
def notice_create(
    *, actor, area: Area, title: str, body: str, published_at: datetime | None = None
) -> Notice:
    _check_notice_area(actor, area, "portal.add_notice")
    notice = Notice(
        area=area,
        title=(title or "").strip(),
        body=(body or "").strip(),
        published_at=published_at or timezone.now(),
        created_by=actor,
    )
    notice.full_clean(exclude=["area", "created_by"])
    notice.save()
    ensure_in_scope(notice, actor, "add")
    return notice


@transaction.atomic
def notice_update(*, actor, notice: Notice, **fields) -> Notice:
    allowed = {"area", "title", "body", "published_at"}
    unknown = set(fields) - allowed
    if unknown:
        raise ValidationError({f: _("This field cannot be changed here.") for f in unknown})
    if "area" in fields:
        _check_notice_area(actor, fields["area"], "portal.change_notice")
    notice.snapshot()
    for name, value in fields.items():
        setattr(notice, name, value.strip() if isinstance(value, str) else value)
    notice.full_clean(exclude=["area", "created_by"])
    notice.save(update_fields=[*fields, "updated_at"])
    ensure_in_scope(notice, actor, "change")
    return notice


@transaction.atomic
def notice_delete(*, actor, notice: Notice) -> None:
    ensure_in_scope(notice, actor, "delete")
    notice.delete()
