"""Periodic work of the work trajectory: retention and closing forgotten shifts."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task

from civicgrid.core.context import acting_as

from . import services


@db_periodic_task(crontab(hour="3", minute="20"))
@lock_task("patrol-purge")
def purge_expired_tracks() -> dict[str, int]:
    """Delete tracks older than ``PATROL_RETENTION_DAYS`` (default 180)."""
    with acting_as(None):
        return services.purge_expired()


@db_periodic_task(crontab(minute="*/30"))
@lock_task("patrol-stale-shifts")
def close_stale_shifts() -> int:
    """Close shifts left open with no point for ``PATROL_STALE_HOURS``."""
    with acting_as(None):
        return services.close_stale_shifts()
