"""Sending notifications, and the writes of the notification centre. Callers name the recipients
and the message; delivery happens after the caller's transaction commits, in the task queue with
retries, so a failing channel never blocks or rolls back the workflow that caused it."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from civicgrid.core.crypto import blind_index

from .backends import mask_address
from .choices import Channel

logger = logging.getLogger("civicgrid.notify")

#: An openid under an official account (28 characters in practice: letters, digits, - and _).
WECHAT_OPENID_RE = re.compile(r"[A-Za-z0-9_-]{6,64}")


def _ids(recipients: Iterable) -> list[int]:
    return sorted({getattr(r, "pk", r) for r in recipients if r is not None})


def _on_commit(fn) -> None:
    """Run ``fn`` after the commit; if queueing fails, log it and let the workflow go on."""
    transaction.on_commit(fn, robust=True)


def notify(recipients: Iterable, *, kind: str, title: str, body: str = "", url: str = "") -> None:
    """Tell ``recipients`` (users or user ids) about something, once the current transaction commits."""
    ids = _ids(recipients)
    if not ids:
        return
    from .tasks import deliver

    message = {"kind": kind, "title": str(title)[:200], "body": str(body), "url": url}
    _on_commit(lambda: deliver(ids, message))


def notify_many(messages: Iterable[tuple[Iterable, dict]]) -> None:
    """Several messages, each ``(recipients, {"kind", "title", "body", "url"})``, in one task."""
    batch = []
    for recipients, message in messages:
        ids = _ids(recipients)
        if ids:
            batch.append((ids, {**message, "title": str(message["title"])[:200]}))
    if not batch:
        return
    from .tasks import deliver_many

    _on_commit(lambda: deliver_many(batch))


def mark_read(*, user, ids: Iterable[int] | None = None) -> int:
    """Mark the user's unread notifications read: those with ``ids``, or all when ids is None.
    Other users' notifications are never touched."""
    from .models import Notification

    qs = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if ids is not None:
        qs = qs.filter(pk__in=list(ids))
    return qs.update(read_at=timezone.now())


# ---- channel addresses -----------------------------------------------------------------------


def address_index(channel: str, address: str) -> str:
    return blind_index(address, purpose=f"notify_address:{channel}")


def normalise_address(channel: str, address: str) -> str:
    address = (address or "").strip()
    if channel == Channel.SMS:
        from civicgrid.core.validators import validate_mobile

        try:
            return validate_mobile(address)
        except ValidationError as exc:
            raise ValidationError({"address": exc.messages})
    if not address:
        raise ValidationError({"address": _("Give the address.")})
    if channel == Channel.WECHAT and not WECHAT_OPENID_RE.fullmatch(address):
        raise ValidationError(
            {"address": _("A WeChat openid has 6 to 64 letters, digits, hyphens or underscores.")}
        )
    return address


@transaction.atomic
def address_set(*, user, channel: str, address: str, verified: bool = False):
    """Set ``user``'s address on ``channel`` (one per channel). A verified address belongs to one
    user only: verifying an address another user holds verified is refused."""
    from .models import ChannelAddress

    if channel not in Channel.values:
        raise ValidationError({"channel": _("Unknown channel.")})
    address = normalise_address(channel, address)
    index = address_index(channel, address)
    row = ChannelAddress.objects.select_for_update().filter(user=user, channel=channel).first()
    if row is None:
        row = ChannelAddress(user=user, channel=channel)
    else:
        row.snapshot()
    changed = row.address_index != index
    row.address, row.address_index = address, index
    if verified:
        row.verified = True
        row.verified_at = row.verified_at if not changed and row.verified_at else timezone.now()
    elif changed:
        row.verified, row.verified_at = False, None
    row.full_clean(exclude=["user"], validate_constraints=False)
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError:
        raise ValidationError({"address": _("This address is already verified by another account.")})
    return row


def user_by_address(channel: str, address: str):
    """The user holding ``address`` verified on ``channel``, or None."""
    from .models import ChannelAddress

    row = (
        ChannelAddress.objects.filter(
            channel=channel, address_index=address_index(channel, address), verified=True
        )
        .select_related("user")
        .first()
    )
    return row.user if row is not None else None


# ---- binding one's own addresses, and the administrators' part ------------------------------


def _address_error(exc: ValidationError, field: str) -> ValidationError:
    """``address_set``'s errors on ``address``, named as the caller's field."""
    if not hasattr(exc, "error_dict"):
        return exc
    errors = exc.message_dict
    if "address" in errors:
        errors[field] = errors.pop("address")
    return ValidationError(errors)


def _require_staff(user) -> None:
    from civicgrid.accounts.choices import UserType

    if user is None or not user.is_authenticated or user.user_type != UserType.STAFF:
        raise PermissionDenied(_("Only staff bind their notification addresses here."))


def _phone_free_for(user, phone: str) -> None:
    holder = user_by_address(Channel.SMS, phone)
    if holder is None:
        return
    if holder.pk == user.pk:
        raise ValidationError({"phone": _("This number is already verified on your account.")})
    raise ValidationError({"phone": _("This number is already verified by another account.")})


def _verification_text(code: str, minutes: int) -> str:
    return _(
        "Your CivicGrid verification code is %(code)s. Enter it to receive notifications by SMS. "
        "It is valid for %(n)d minutes; do not tell anyone."
    ) % {"code": code, "n": minutes}


def sms_verification_start(*, user, phone: str, ip: str | None = None, now=None):
    """Send ``user`` (staff) a one-time code to ``phone``, the mobile number they want SMS
    notifications on. Their current number, if any, stays in use until the new one is confirmed.
    Raises ValidationError on ``phone`` (bad number, already verified by another account or
    already theirs), ``otp.RateLimited`` or ``otp.SendFailed``."""
    from . import otp
    from .choices import CodePurpose

    _require_staff(user)
    phone = otp.clean_phone(phone, "phone")
    _phone_free_for(user, phone)
    return otp.send_code(
        purpose=CodePurpose.ADDRESS, phone=phone, ip=ip, user=user, now=now, text=_verification_text
    )


def sms_verification_confirm(*, user, phone: str, code: str, now=None):
    """Check the code ``user`` received on ``phone`` and make ``phone`` their verified SMS address
    (replacing the previous one). Raises ValidationError on ``code`` (``otp.CodeRefused``: wrong,
    expired, used, too many attempts) or on ``phone``. Call it outside a transaction: a wrong code
    must stay counted."""
    from . import otp
    from .choices import CodePurpose

    _require_staff(user)
    phone = otp.clean_phone(phone, "phone")
    _phone_free_for(user, phone)  # before the code is used up
    otp.check_code(purpose=CodePurpose.ADDRESS, phone=phone, code=code, user=user, now=now)
    try:
        row = address_set(user=user, channel=Channel.SMS, address=phone, verified=True)
    except ValidationError as exc:  # verified by someone else in the meantime
        raise _address_error(exc, "phone")
    logger.info("notify: user %s verified SMS address %s", user.pk, mask_address(phone))
    return row


def _require_address_admin(actor, user) -> None:
    """``actor`` may manage ``user``'s addresses: the permission, and ``user`` within the users
    ``actor`` may change."""
    from civicgrid.accounts.models import User

    if actor is None or not actor.has_perm("notify.change_channeladdress"):
        raise PermissionDenied(_("Your role does not include managing notification addresses."))
    if not User.objects.visible_to(actor, "change").filter(pk=user.pk).exists():
        raise PermissionDenied(_("This user is outside your data scope."))


def wechat_openid_set(*, actor, user, openid: str):
    """An administrator binds ``user``'s (staff) WeChat account: the openid of the user under the
    platform's official account, as the WeChat OAuth or the official account's follower list
    shows it. It is verified at once (the administrator vouches for it). Raises ValidationError on
    ``openid`` (malformed, or bound to another account)."""
    from civicgrid.accounts.choices import UserType

    _require_address_admin(actor, user)
    if user.user_type != UserType.STAFF:
        raise PermissionDenied(_("Administrators bind WeChat for staff accounts only."))
    try:
        openid = normalise_address(Channel.WECHAT, openid)
        return address_set(user=user, channel=Channel.WECHAT, address=openid, verified=True)
    except ValidationError as exc:
        raise _address_error(exc, "openid")


@transaction.atomic
def address_delete(*, actor, user, channel: str) -> None:
    """Remove ``user``'s address on ``channel`` (nothing is sent there any more). Users remove
    their own (staff only: a resident's phone is how they sign in); administrators those of the
    users they manage. Raises ValidationError on ``channel`` when there is none."""
    from .models import ChannelAddress

    if actor is not None and actor.pk == user.pk:
        _require_staff(actor)
    else:
        _require_address_admin(actor, user)
    if channel not in Channel.values:
        raise ValidationError({"channel": _("Unknown channel.")})
    row = ChannelAddress.objects.select_for_update().filter(user=user, channel=channel).first()
    if row is None:
        raise ValidationError({"channel": _("There is no address on this channel.")})
    row.delete()


# ---- the routing table -----------------------------------------------------------------------


@transaction.atomic
def route_set(*, actor, kind: str, audience: str, channel: str, active: bool):
    """Switch one route of the routing table on or off (creating it when missing)."""
    from .models import NotificationRoute
    from .routing import clear_cache

    route = (
        NotificationRoute.objects.select_for_update()
        .filter(kind=kind, audience=audience, channel=channel)
        .first()
    )
    if route is None:
        route = NotificationRoute(kind=kind, audience=audience, channel=channel, is_active=active)
        route.full_clean()
        route.save()
    elif route.is_active != active:
        route.snapshot()
        route.is_active = active
        route.save(update_fields=["is_active", "updated_at"])
    transaction.on_commit(clear_cache)
    return route
