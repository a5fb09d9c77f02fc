"""Plain SMS sending (one-time sign-in codes and other texts that are not notifications).

``settings.SMS_SENDER`` names the sender class. The development sender sends nothing: it writes
the text to the log and keeps the last messages in ``OUTBOX`` (read by tests and the demo)."""

from __future__ import annotations

import logging
from collections import deque

from django.conf import settings
from django.utils.module_loading import import_string

from .backends import mask_address

logger = logging.getLogger("civicgrid.notify.sms")

#: The development sender's last messages, newest last: (phone, text).
OUTBOX: deque[tuple[str, str]] = deque(maxlen=200)


class SMSSender:
    """Base class: ``send`` delivers ``text`` to ``phone`` (11 digits) or raises."""

    def send(self, phone: str, text: str) -> None:
        raise NotImplementedError


class LogSMSSender(SMSSender):
    """Development sender: logs the message (with the phone masked) instead of sending it."""

    def send(self, phone: str, text: str) -> None:
        OUTBOX.append((phone, text))
        logger.info("SMS (development, not sent) to %s: %s", mask_address(phone), text)


def get_sender() -> SMSSender:
    return import_string(getattr(settings, "SMS_SENDER", "civicgrid.notify.sms.LogSMSSender"))()


def last_text_to(phone: str) -> str | None:
    """The development sender's last message to ``phone`` (for tests and local use)."""
    for to, text in reversed(OUTBOX):
        if to == phone:
            return text
    return None
