"""Delivery beyond the app: fan a stored notification out to the channels the routing table names
for its recipient, and make one attempt at sending one delivery. The tasks in ``tasks.py`` call
these; nothing here raises into the workflow that caused the notification."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db.models import F
from django.utils import timezone

from .backends import get_backend
from .choices import DeliveryStatus
from .models import ChannelAddress, Delivery, Notification
from .routing import channels_for

logger = logging.getLogger("civicgrid.notify")

#: A pending delivery untouched this long lost its task (the queue was down): it is queued again.
STALE_AFTER = timedelta(hours=1)
#: A delivery still pending after this long is given up and marked failed.
GIVE_UP_AFTER = timedelta(days=1)


class DeliveryError(Exception):
    """An attempt failed and will be retried."""


def fan_out(notifications: list[Notification]) -> list[int]:
    """Create a pending delivery for each channel the routing table names for each notification,
    where the recipient has a verified address on that channel. Returns the new deliveries' ids."""
    from civicgrid.accounts.models import User

    if not notifications:
        return []
    user_types = dict(
        User.objects.filter(pk__in={n.recipient_id for n in notifications}).values_list("pk", "user_type")
    )
    plan = []
    for n in notifications:
        wanted = channels_for(n.kind, user_types.get(n.recipient_id, ""))
        if wanted:
            plan.append((n, wanted))
    if not plan:
        return []
    addresses = {
        (user_id, channel): address
        for user_id, channel, address in ChannelAddress.objects.filter(
            user_id__in={n.recipient_id for n, _ in plan},
            channel__in={c for _, wanted in plan for c in wanted},
            verified=True,
        ).values_list("user_id", "channel", "address")
    }
    rows = []
    for n, wanted in plan:
        for channel in wanted:
            address = addresses.get((n.recipient_id, channel))
            if not address:
                continue
            rows.append(Delivery(notification=n, channel=channel, payload=_payload(n, channel, address)))
    created = Delivery.objects.bulk_create(rows, batch_size=500)
    return [d.pk for d in created]


def _payload(notification: Notification, channel: str, address: str) -> dict:
    backend = get_backend(channel)
    try:
        return backend.build_payload(notification, address)
    except Exception as exc:  # a broken backend must not stop the other channels
        logger.exception("notify: %s could not build a payload for notification %s", channel, notification.pk)
        return {"error": f"{type(exc).__name__}: {exc}"[:300]}


def _address(delivery: Delivery) -> str | None:
    return (
        ChannelAddress.objects.filter(
            user_id=delivery.notification.recipient_id, channel=delivery.channel, verified=True
        )
        .values_list("address", flat=True)
        .first()
    )


def _finish(delivery: Delivery, status: str, **fields) -> str:
    Delivery.objects.filter(pk=delivery.pk).update(
        status=status, attempts=F("attempts") + 1, updated_at=timezone.now(), **fields
    )
    return status


def attempt(delivery_id: int, *, final: bool) -> str:
    """Try to send one delivery once. Success marks it sent (with the provider's receipt); a
    failure records the error and raises ``DeliveryError`` so the queue retries it, unless this
    was the ``final`` attempt, which marks it failed instead."""
    delivery = Delivery.objects.select_related("notification").filter(pk=delivery_id).first()
    if delivery is None or delivery.status != DeliveryStatus.PENDING:
        return delivery.status if delivery is not None else "missing"
    backend = get_backend(delivery.channel)
    if backend is None:
        return _finish(delivery, DeliveryStatus.FAILED, last_error="channel not configured")
    address = _address(delivery)
    if not address:
        return _finish(delivery, DeliveryStatus.FAILED, last_error="no verified address")
    try:
        receipt = backend.send(address=address, payload=delivery.payload)
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
        if final:
            logger.warning(
                "notify: delivery %s on %s failed for good: %s", delivery.pk, delivery.channel, error
            )
            return _finish(delivery, DeliveryStatus.FAILED, last_error=error)
        _finish(delivery, DeliveryStatus.PENDING, last_error=error)
        raise DeliveryError(error) from exc
    payload = {**delivery.payload, "receipt": receipt} if receipt else delivery.payload
    return _finish(delivery, DeliveryStatus.SENT, sent_at=timezone.now(), last_error="", payload=payload)


def stale_deliveries(now=None) -> tuple[list[int], int]:
    """Pending deliveries whose task was lost, to queue again; and how many were given up
    (pending for more than GIVE_UP_AFTER, marked failed)."""
    now = now or timezone.now()
    given_up = Delivery.objects.filter(
        status=DeliveryStatus.PENDING, created_at__lt=now - GIVE_UP_AFTER
    ).update(status=DeliveryStatus.FAILED, last_error="gave up: still pending after a day", updated_at=now)
    ids = list(
        Delivery.objects.filter(status=DeliveryStatus.PENDING, updated_at__lt=now - STALE_AFTER)
        .order_by("id")
        .values_list("pk", flat=True)[:5000]
    )
    if ids:
        Delivery.objects.filter(pk__in=ids).update(updated_at=now)
    return ids, given_up
