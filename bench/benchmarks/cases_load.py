"""``cases_load``: the case intake over HTTP, on a live server (gunicorn, 2 workers × 4 threads, as
``manage.py serve`` runs it) over the cases dataset — see ``bench.loadtest``:

- Open311 ``POST requests.json`` sustained by concurrent clients, against a floor endpoint that only
  inserts one row (same server, middleware and database): **≥ 0.5 × the floor's rate**;
- reliability: N reports with retries give exactly N cases, no 5xx (SQLite's "database is locked"
  included); again while a worker and then the whole server are SIGKILLed (acknowledged reports are
  never lost, none is duplicated);
- two dispatchers dispatching one case at once through the API: one 200, one 409.

The reports made are deleted afterwards, so the dataset stays as built."""

from __future__ import annotations

from pathlib import Path

from bench.scales import Scale
from bench.timing import Result

from .cases import prepare


def run(scale: Scale, users: dict) -> tuple[list[Result], dict]:
    from django.conf import settings

    from bench.cases_dataset import SIZES
    from bench.loadtest.suite import Plan, run_suite

    size = SIZES[scale.name]
    users, build = prepare(scale, users)
    plan = Plan(
        clients=size.load_clients,
        seconds=size.load_seconds,
        warmup=min(5.0, max(1.0, size.load_seconds / 6)),
        reports=size.reliability_reports,
        report_clients=size.reliability_clients,
        race_cases=10 if scale.name == "tiny" else 40,
    )
    results, notes = run_suite(
        plan, users, keep_after=size.cases, log_root=Path(settings.VAR_DIR) / "bench" / "loadtest"
    )
    notes["plan"] = plan.__dict__
    return results, notes
