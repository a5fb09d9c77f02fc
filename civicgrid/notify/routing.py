"""The routing table, read: which channels a notification of a kind goes out on for a user.
Rows are cached for a few seconds per process (a change shows everywhere within ROUTES_TTL)."""

from __future__ import annotations

import threading
import time

from .backends import configured_channels
from .choices import Audience

ROUTES_TTL = 10.0

_lock = threading.Lock()
_routes: dict[tuple[str, str], list[str]] | None = None
_loaded_at = 0.0


def routes() -> dict[tuple[str, str], list[str]]:
    """{(kind, audience): [channel, …]} of the active routes."""
    global _routes, _loaded_at
    with _lock:
        if _routes is None or time.monotonic() - _loaded_at > ROUTES_TTL:
            from .models import NotificationRoute

            table: dict[tuple[str, str], list[str]] = {}
            rows = NotificationRoute.objects.filter(is_active=True).order_by("channel")
            for kind, audience, channel in rows.values_list("kind", "audience", "channel"):
                table.setdefault((kind, audience), []).append(channel)
            _routes, _loaded_at = table, time.monotonic()
        return _routes


def clear_cache() -> None:
    global _routes
    with _lock:
        _routes = None


def audience_of(user_type: str) -> str | None:
    if user_type == Audience.RESIDENT:
        return Audience.RESIDENT
    if user_type == Audience.STAFF:
        return Audience.STAFF
    return None  # API clients get in-app notifications only


def channels_for(kind: str, user_type: str) -> list[str]:
    """The configured channels a notification of ``kind`` goes out on for a user of ``user_type``."""
    audience = audience_of(user_type)
    if audience is None:
        return []
    available = set(configured_channels())
    return [c for c in routes().get((kind, audience), []) if c in available]
