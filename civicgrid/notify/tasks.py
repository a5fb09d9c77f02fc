"""Delivery in the task queue. The in-app notification is stored first (in its own transaction);
each channel is then sent in its own task, retried with exponential backoff and finally marked
failed, so a failing channel never blocks or repeats anything else. Also: old one-time codes are
deleted every night."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from . import delivery
from .models import Notification

logger = logging.getLogger("civicgrid.notify")

#: Retries of one channel delivery after the first attempt, the first delay (seconds) and the
#: factor each further delay grows by: 30 s, 1, 2, 4, 8 minutes by default.
RETRIES = int(getattr(settings, "NOTIFY_RETRIES", 5))
RETRY_DELAY = int(getattr(settings, "NOTIFY_RETRY_DELAY", 30))
RETRY_BACKOFF = 2


@db_task(retries=3, retry_delay=30)
def deliver(user_ids: list[int], message: dict) -> int:
    """Store the in-app notification of each recipient, then send it on their channels."""
    with transaction.atomic():
        rows = Notification.objects.bulk_create(Notification(recipient_id=uid, **message) for uid in user_ids)
    _send_on_channels(rows)
    return len(rows)


@db_task(retries=3, retry_delay=30)
def deliver_many(batch: list) -> int:
    with transaction.atomic():
        rows = Notification.objects.bulk_create(
            [Notification(recipient_id=uid, **message) for ids, message in batch for uid in ids],
            batch_size=1000,
        )
    _send_on_channels(rows)
    return len(rows)


def _send_on_channels(rows: list[Notification]) -> None:
    """Never raises: the in-app rows are stored, and retrying the task would repeat them."""
    try:
        ids = delivery.fan_out(rows)
    except Exception:
        logger.exception("notify: channel fan-out failed (the in-app notifications are stored)")
        return
    _queue(ids)


def _queue(ids: list[int]) -> None:
    for pk in ids:
        try:
            send_delivery(pk)
        except Exception:  # the queue is down: requeue_stale_deliveries picks it up later
            logger.exception("notify: could not queue delivery %s", pk)


@db_task(retries=RETRIES, retry_delay=RETRY_DELAY, retry_backoff=RETRY_BACKOFF, context=True)
def send_delivery(delivery_id: int, task=None) -> str:
    """One attempt at one channel delivery; raising makes the queue retry it later."""
    final = task is None or not task.retries
    return delivery.attempt(delivery_id, final=final)


@db_periodic_task(crontab(minute="*/10"))
def requeue_stale_deliveries() -> dict[str, int]:
    """Deliveries whose task was lost (the queue was down) are queued again; very old ones are
    given up."""
    ids, given_up = delivery.stale_deliveries()
    _queue(ids)
    return {"requeued": len(ids), "given_up": given_up}


@db_periodic_task(crontab(minute="17", hour="3"))
def purge_one_time_codes() -> int:
    """One-time codes older than a day (every rate-limit window has passed) are deleted."""
    from . import otp

    return otp.purge()
