"""One-time codes sent by SMS: a resident signs in to the portal with one, a staff member proves
with one that the mobile number they bind for notifications is theirs.

A code has 6 digits; only a keyed hash of it is stored, and the phone only as its blind index. It
expires after a few minutes, allows a few attempts (counted before the comparison, so parallel
guesses cannot exceed the limit) and works once; only the latest code of a phone (and purpose, and
user) counts. Requests are rate-limited per phone over every purpose (nobody can flood a phone with
codes), per client address and, for codes a signed-in user asks for, per user. Each purpose has its
own settings (``PORTAL_OTP_*`` for sign-in, ``NOTIFY_OTP_*`` for binding a number): ``_TTL``
(seconds), ``_MAX_ATTEMPTS``, and ``_PHONE_LIMITS``, ``_IP_LIMITS``, ``_USER_LIMITS`` as lists of
``(codes, seconds)``.

``check_code`` records the attempt in its own statement: call it outside a transaction that a
refused code would roll back, or wrong attempts would not count."""

from __future__ import annotations

import logging
import math
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import F
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from civicgrid.core.crypto import blind_index
from civicgrid.core.validators import validate_mobile

from .backends import mask_address
from .choices import CodePurpose
from .models import OneTimeCode

logger = logging.getLogger("civicgrid.notify.otp")

Limits = tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class Policy:
    ttl: int
    max_attempts: int
    phone_limits: Limits
    ip_limits: Limits
    user_limits: Limits


#: Each purpose's settings prefix and defaults. Binding a number is for signed-in staff, often
#: behind one office address: a higher limit per address, and a limit per user instead.
POLICIES: dict[str, tuple[str, Policy]] = {
    CodePurpose.SIGN_IN: ("PORTAL_OTP", Policy(300, 5, ((1, 60), (5, 3600)), ((20, 3600),), ())),
    CodePurpose.ADDRESS: (
        "NOTIFY_OTP",
        Policy(300, 5, ((1, 60), (5, 3600)), ((60, 3600),), ((1, 60), (10, 86400))),
    ),
}


def policy(purpose: str) -> Policy:
    prefix, default = POLICIES[purpose]

    def setting(name: str, value):
        return getattr(settings, f"{prefix}_{name}", value)

    return Policy(
        ttl=int(setting("TTL", default.ttl)),
        max_attempts=int(setting("MAX_ATTEMPTS", default.max_attempts)),
        phone_limits=tuple(tuple(x) for x in setting("PHONE_LIMITS", default.phone_limits)),
        ip_limits=tuple(tuple(x) for x in setting("IP_LIMITS", default.ip_limits)),
        user_limits=tuple(tuple(x) for x in setting("USER_LIMITS", default.user_limits)),
    )


class RateLimited(Exception):
    """Too many codes were requested; ``retry_after`` seconds until the next one is allowed.
    ``limit`` says which limit: "phone", "ip" or "user"."""

    def __init__(self, message: str, retry_after: int, limit: str = "phone"):
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after
        self.limit = limit


class SendFailed(Exception):
    """The SMS sender could not send the code."""


class CodeRefused(ValidationError):
    """The code does not open anything (on the field ``code``); ``reason`` for the logs: no_code,
    used, expired, attempts or wrong."""

    def __init__(self, message: str, reason: str):
        super().__init__({"code": [message]})
        self.reason = reason


def phone_index(phone: str) -> str:
    # The label dates from when the codes lived in the portal; kept so stored rows still match.
    return blind_index(phone, purpose="portal_phone")


def _code_hash(index: str, code: str) -> str:
    # Same key salt as before the move (codes sent just before an upgrade stay valid).
    return salted_hmac("civicgrid.portal.otp", f"{index}:{code}", algorithm="sha256").hexdigest()


def clean_phone(phone: str, field: str = "phone") -> str:
    """The 11 digits of a mainland mobile number, or a ValidationError on ``field``."""
    try:
        return validate_mobile(phone)
    except ValidationError as exc:
        raise ValidationError({field: exc.messages})


def _wait_message(seconds: int, *, limit: str, short: bool) -> str:
    if short:
        if limit == "user":
            return ngettext(
                "A code was just sent to you. You can ask for another in %(n)d second.",
                "A code was just sent to you. You can ask for another in %(n)d seconds.",
                seconds,
            ) % {"n": seconds}
        return ngettext(
            "A code was just sent to this number. You can ask for another in %(n)d second.",
            "A code was just sent to this number. You can ask for another in %(n)d seconds.",
            seconds,
        ) % {"n": seconds}
    minutes = max(1, math.ceil(seconds / 60))
    if limit == "ip":
        return ngettext(
            "Too many codes were requested from your network. Try again in %(n)d minute.",
            "Too many codes were requested from your network. Try again in %(n)d minutes.",
            minutes,
        ) % {"n": minutes}
    if limit == "user":
        if minutes > 120:
            hours = math.ceil(minutes / 60)
            return ngettext(
                "You asked for too many codes. Try again in %(n)d hour.",
                "You asked for too many codes. Try again in %(n)d hours.",
                hours,
            ) % {"n": hours}
        return ngettext(
            "You asked for too many codes. Try again in %(n)d minute.",
            "You asked for too many codes. Try again in %(n)d minutes.",
            minutes,
        ) % {"n": minutes}
    return ngettext(
        "Too many codes were requested for this number. Try again in %(n)d minute.",
        "Too many codes were requested for this number. Try again in %(n)d minutes.",
        minutes,
    ) % {"n": minutes}


def _check_limit(qs, limits: Limits, now: datetime, *, limit: str) -> None:
    for count, window in limits:
        since = now - timedelta(seconds=window)
        times = list(
            qs.filter(created_at__gt=since)
            .order_by("-created_at")
            .values_list("created_at", flat=True)[:count]
        )
        if len(times) >= count:
            # The oldest of the last ``count`` requests must leave the window first.
            retry = max(1, math.ceil((times[-1] + timedelta(seconds=window) - now).total_seconds()))
            raise RateLimited(_wait_message(retry, limit=limit, short=window <= 60), retry, limit)


def send_code(
    *,
    purpose: str,
    phone: str,
    text: Callable[[str, int], str],
    ip: str | None = None,
    user=None,
    now: datetime | None = None,
) -> OneTimeCode:
    """Send a new 6-digit code to ``phone``; ``text(code, minutes)`` composes the message. Raises
    ValidationError (bad number, on ``phone``), RateLimited or SendFailed."""
    phone = clean_phone(phone)
    now = now or timezone.now()
    rules = policy(purpose)
    index = phone_index(phone)
    _check_limit(OneTimeCode.objects.filter(phone_index=index), rules.phone_limits, now, limit="phone")
    if user is not None and rules.user_limits:
        by_user = OneTimeCode.objects.filter(user=user, purpose=purpose)
        _check_limit(by_user, rules.user_limits, now, limit="user")
    if ip:
        by_ip = OneTimeCode.objects.filter(ip=ip, purpose=purpose)
        _check_limit(by_ip, rules.ip_limits, now, limit="ip")
    code = f"{secrets.randbelow(10**6):06d}"
    otp = OneTimeCode.objects.create(
        purpose=purpose,
        user=user,
        phone_index=index,
        code_hash=_code_hash(index, code),
        ip=ip,
        created_at=now,
        expires_at=now + timedelta(seconds=rules.ttl),
    )
    from .sms import get_sender

    try:
        get_sender().send(phone, text(code, max(1, rules.ttl // 60)))
    except Exception as exc:
        logger.exception("otp: the %s code to %s could not be sent", purpose, mask_address(phone))
        raise SendFailed(str(exc)) from exc
    return otp


def check_code(*, purpose: str, phone: str, code: str, user=None, now: datetime | None = None) -> OneTimeCode:
    """Check ``code`` against the latest code of ``purpose`` sent to ``phone`` (asked for by
    ``user``, when given) and use it up. Raises CodeRefused saying what is wrong, or a
    ValidationError on ``phone`` / ``code`` for malformed input."""
    phone = clean_phone(phone)
    code = (code or "").strip()
    if not re.fullmatch(r"\d{6}", code):
        raise ValidationError({"code": _("The code has 6 digits.")})
    now = now or timezone.now()
    index = phone_index(phone)
    codes = OneTimeCode.objects.filter(purpose=purpose, phone_index=index)
    if user is not None:
        codes = codes.filter(user=user)
    otp = codes.order_by("-id").first()
    if otp is None:
        raise CodeRefused(_("Ask for a code first."), "no_code")
    if otp.used_at is not None:
        raise CodeRefused(_("This code was already used. Ask for a new one."), "used")
    if otp.expires_at <= now:
        raise CodeRefused(_("This code has expired. Ask for a new one."), "expired")
    limit = policy(purpose).max_attempts
    # Count the attempt before comparing: parallel guesses cannot exceed the limit.
    claimed = OneTimeCode.objects.filter(pk=otp.pk, used_at__isnull=True, attempts__lt=limit).update(
        attempts=F("attempts") + 1
    )
    if not claimed:
        raise CodeRefused(_("Too many wrong codes. Ask for a new one."), "attempts")
    if not constant_time_compare(otp.code_hash, _code_hash(index, code)):
        left = limit - otp.attempts - 1
        if left <= 0:
            raise CodeRefused(_("Wrong code, and no attempts are left. Ask for a new one."), "attempts")
        message = ngettext("Wrong code. %(n)d attempt left.", "Wrong code. %(n)d attempts left.", left) % {
            "n": left
        }
        raise CodeRefused(message, "wrong")
    if not OneTimeCode.objects.filter(pk=otp.pk, used_at__isnull=True).update(used_at=now):
        raise CodeRefused(_("This code was already used. Ask for a new one."), "used")
    otp.used_at = now
    return otp


def purge(*, older_than: timedelta = timedelta(days=1)) -> int:
    """Delete codes nobody needs any more (the longest rate-limit window is a day)."""
    deleted, _details = OneTimeCode.objects.filter(created_at__lt=timezone.now() - older_than).delete()
    return deleted
