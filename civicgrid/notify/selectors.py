"""Reads of the notification centre. A user only ever reads their own notifications."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import ChannelAddress, Delivery, Notification

#: The unread badge counts up to this many, then shows "99+".
UNREAD_CAP = 99


def inbox(user, *, unread_only: bool = False) -> QuerySet:
    qs = Notification.objects.filter(recipient=user)
    if unread_only:
        qs = qs.filter(read_at__isnull=True)
    return qs.order_by("-id")


def unread_count(user) -> int:
    """Unread notifications of ``user``, counted up to UNREAD_CAP + 1 (one walk of the
    (recipient, read_at, id) index, stopped early)."""
    if user is None or not user.is_authenticated:
        return 0
    return Notification.objects.filter(recipient=user, read_at__isnull=True)[: UNREAD_CAP + 1].count()


def badge(count: int) -> str:
    return f"{UNREAD_CAP}+" if count > UNREAD_CAP else str(count)


def recent_deliveries(*, status: str = "", channel: str = "") -> QuerySet:
    qs = Delivery.objects.select_related("notification__recipient").order_by("-id")
    if status:
        qs = qs.filter(status=status)
    if channel:
        qs = qs.filter(channel=channel)
    return qs


def addresses_of(user) -> list[ChannelAddress]:
    """``user``'s addresses, one per channel at most, in the order of ``Channel``; each with
    ``masked`` (138****5678, oAb***xyz), the form shown on pages and in the API."""
    from .backends import mask_address
    from .choices import Channel

    order = {c: i for i, c in enumerate(Channel.values)}
    rows = sorted(ChannelAddress.objects.filter(user=user), key=lambda r: order.get(r.channel, 99))
    for row in rows:
        row.masked = mask_address(row.address)
    return rows
