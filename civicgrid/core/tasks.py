"""Periodic core work: sealing the audit chains."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from .audit import STREAMS, seal_pending


@db_periodic_task(crontab(minute="*"))
def seal_audit_logs() -> dict[str, int]:
    return {stream: seal_pending(stream) for stream in STREAMS}


@db_task()
def ping() -> str:
    """A trivial task used by health checks and tests to prove the queue and a worker are alive."""
    return "pong"
