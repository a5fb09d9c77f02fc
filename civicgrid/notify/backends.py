"""Channel backends: how a notification leaves the platform on one channel.

``settings.NOTIFY_CHANNELS`` maps a channel name to a backend class path::

    NOTIFY_CHANNELS = {
        "sms": "civicgrid.notify.backends.LogSMSBackend",
        "wechat": "civicgrid.notify.backends.LogWeChatBackend",
    }

A backend builds the payload it would send (stored on the ``Delivery`` row, with the address
masked) and sends it. ``send`` raises on any failure; the task queue retries with exponential
backoff and finally marks the delivery failed. The development backends send nothing: they log the
message and report success, so the ``Delivery`` rows record exactly what would have gone out.
A production backend (an SMS gateway, the WeChat official account API) subclasses
``ChannelBackend`` and implements ``send``."""

from __future__ import annotations

import logging
import uuid
from functools import lru_cache

from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger("civicgrid.notify")

#: Longest SMS text we compose (a long message is split and billed per 67 characters).
SMS_MAX_CHARS = 140


def mask_address(address: str) -> str:
    """An address as it may appear in logs and stored payloads: 138****5678, oAb***xyz."""
    address = str(address or "")
    if len(address) == 11 and address.isdigit():
        return f"{address[:3]}****{address[-4:]}"
    if len(address) <= 6:
        return "***"
    return f"{address[:3]}***{address[-3:]}"


def absolute_url(path: str) -> str:
    if not path or path.startswith(("http://", "https://")):
        return path
    return getattr(settings, "NOTIFY_SITE_URL", "").rstrip("/") + path


class ChannelBackend:
    """Base class of channel backends."""

    def __init__(self, channel: str):
        self.channel = channel

    def build_payload(self, notification, address: str) -> dict:
        """What would be sent for ``notification`` to ``address`` (never the plain address)."""
        return {
            "to": mask_address(address),
            "kind": notification.kind,
            "title": notification.title,
            "body": notification.body,
            "url": absolute_url(notification.url),
        }

    def send(self, *, address: str, payload: dict) -> dict:
        """Send; return the provider's receipt (e.g. its message id). Raise on failure."""
        raise NotImplementedError


class LogSMSBackend(ChannelBackend):
    """Development SMS: composes the text, logs it and records it as sent."""

    def build_payload(self, notification, address: str) -> dict:
        sign = getattr(settings, "NOTIFY_SMS_SIGN", "")
        text = notification.title
        if notification.body:
            text = f"{text}：{notification.body}"
        text = f"{sign}{text}"[:SMS_MAX_CHARS]
        return {"to": mask_address(address), "kind": notification.kind, "text": text}

    def send(self, *, address: str, payload: dict) -> dict:
        logger.info("SMS (development, not sent) to %s: %s", mask_address(address), payload.get("text", ""))
        return {"id": f"dev-sms-{uuid.uuid4().hex[:12]}"}


class LogWeChatBackend(ChannelBackend):
    """Development WeChat template message: builds the message, logs it and records it as sent."""

    def build_payload(self, notification, address: str) -> dict:
        templates = getattr(settings, "NOTIFY_WECHAT_TEMPLATES", {})
        return {
            "touser": mask_address(address),
            "template_id": templates.get(notification.kind, notification.kind),
            "url": absolute_url(notification.url),
            "data": {
                "first": {"value": notification.title},
                "keyword1": {"value": notification.body[:100]},
                "remark": {"value": ""},
            },
        }

    def send(self, *, address: str, payload: dict) -> dict:
        logger.info(
            "WeChat template message (development, not sent) to %s: %s %s",
            mask_address(address),
            payload.get("template_id"),
            payload.get("data", {}).get("first", {}).get("value", ""),
        )
        return {"msgid": f"dev-wx-{uuid.uuid4().hex[:12]}"}


def configured_channels() -> list[str]:
    return list(getattr(settings, "NOTIFY_CHANNELS", {}))


@lru_cache(maxsize=16)
def _load(channel: str, path: str) -> ChannelBackend:
    return import_string(path)(channel)


def get_backend(channel: str) -> ChannelBackend | None:
    """The backend configured for ``channel``, or None when the channel is not configured."""
    path = getattr(settings, "NOTIFY_CHANNELS", {}).get(channel)
    if not path:
        return None
    return _load(channel, path)
