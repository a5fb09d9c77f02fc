"""Patrol settings: read from Django settings when set there, else from the environment, else the
defaults below (``PATROL_RETENTION_DAYS=90`` in the environment shortens retention)."""

from __future__ import annotations

import os

from django.conf import settings

DEFAULTS: dict[str, float] = {
    #: Tracks (shifts, points, track visits) older than this many days are deleted.
    "PATROL_RETENTION_DAYS": 180,
    #: A building counts as visited when a kept point was within this many metres of it.
    "PATROL_VISIT_RADIUS_M": 30,
    #: Points whose reported accuracy (metres) is worse than this are not drawn or measured.
    "PATROL_MAX_ACCURACY_M": 100,
    #: Faster than this (m/s, after allowing for both points' accuracy) is a GPS jump, not a walk.
    "PATROL_MAX_SPEED_MS": 40,
    #: Distance counts only once the worker is this many metres from where it last moved (the
    #: jitter of a phone standing still is not a walk).
    "PATROL_DEADBAND_M": 10,
    #: Tolerance (metres) of the line simplification used for drawing.
    "PATROL_SIMPLIFY_M": 4,
    #: Gap (seconds) between two kept points that breaks the drawn line (signal lost, phone off).
    "PATROL_GAP_S": 300,
    #: An open shift without a point for this many hours is closed at its last point.
    "PATROL_STALE_HOURS": 12,
    #: The phone keeps at most one point per this many seconds (a day of walking: ~3,000 points).
    "PATROL_MIN_INTERVAL_S": 10,
    #: The phone uploads what it has buffered this often (and when the signal returns).
    "PATROL_UPLOAD_EVERY_S": 30,
}


def get(name: str) -> float:
    if hasattr(settings, name):
        return float(getattr(settings, name))
    raw = os.environ.get(name)
    return float(raw) if raw not in (None, "") else float(DEFAULTS[name])


def retention_days() -> int:
    return max(1, int(get("PATROL_RETENTION_DAYS")))
