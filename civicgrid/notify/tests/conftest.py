"""The event-handling fixtures (units, people in each role, a way to report a case), the development
SMS outbox and a clean task queue for each test."""

import pytest

from civicgrid.cases.tests.conftest import people, report, units  # noqa: F401
from civicgrid.portal.tests.conftest import outbox  # noqa: F401


@pytest.fixture
def huey_queue():
    """The in-memory queue of immediate mode, emptied before and after the test; ``drain()``
    runs every scheduled retry now and returns the delays (seconds) they were scheduled with."""
    from datetime import UTC, datetime, timedelta

    from huey.contrib.djhuey import HUEY

    HUEY.flush()

    def drain(limit: int = 50) -> list[float]:
        delays = []
        for _ in range(limit):
            now = datetime.now(UTC).replace(tzinfo=None)
            later = now + timedelta(days=1)
            tasks = HUEY.read_schedule(later)
            if not tasks:
                return delays
            for task in tasks:
                delays.append(round((task.eta - now).total_seconds()))
                HUEY.execute(task, timestamp=later)
        raise AssertionError("the schedule never emptied")

    yield drain
    HUEY.flush()


def seed_routes() -> None:
    """The seeded routing table (a transactional test elsewhere may have flushed it)."""
    import importlib

    from django.apps import apps

    from civicgrid.notify import routing
    from civicgrid.notify.models import NotificationRoute

    if not NotificationRoute.objects.exists():
        importlib.import_module("civicgrid.notify.migrations.0003_seed_routes").seed(apps, None)
    routing.clear_cache()


@pytest.fixture(autouse=True)
def routes(db):
    seed_routes()
    yield
    from civicgrid.notify import routing

    routing.clear_cache()
