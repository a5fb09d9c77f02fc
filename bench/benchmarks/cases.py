"""``cases``: event handling on a city's worth of cases (``bench.cases_dataset``: 1,000,000 cases
at the ``city`` scale, two years, 567 grids, their deadline history).

Three parts, in this order (the sweep writes inside transactions it rolls back, so it goes last):

- ``cases_lists``: the command center's lists (case list, open cases, light counts, triage queue and
  its hints, a unit's cases) per persona — p95 < 150 ms;
- ``cases_stats``: the statistics of a district over a year — p95 < 500 ms;
- ``cases_sweep``: the deadline sweep with 0.1 % and 1 % of the cases due — < 2 s at 1 %, and a
  second run changes nothing.

The dataset is built (or reused) here, not by the worker: ``NEEDS`` only asks for the users."""

from __future__ import annotations

import sys
import time

from bench.scales import Scale
from bench.timing import Result

from . import cases_lists, cases_stats, cases_sweep

_prepared: dict = {}


def prepare(scale: Scale, users: dict) -> tuple[dict, dict]:
    """The cases dataset and the command center's users (once per process); (users, build facts)."""
    from bench import cases_dataset

    if scale.name not in _prepared:
        t0 = time.perf_counter()
        build = cases_dataset.ensure_cases(scale.name)
        build["dataset_s"] = round(time.perf_counter() - t0, 3)
        how = "reused" if build["reused"] else f"built in {build['build_s']:.1f} s"
        print(
            f"cases: {build['tables']['cases_case']:,} cases, {build['tables']['cases_casedeadline']:,} deadline "  # noqa: E501
            f"rows ({how}); {len(build['indexes'])} indexes on cases_case",
            flush=True,
        )
        _prepared[scale.name] = (cases_dataset.ensure_case_users(users), build)
    return _prepared[scale.name]


def labels() -> dict[str, str]:
    from bench.cases_dataset import EXTRA_PERSONAS
    from bench.dataset import PERSONAS

    return {p.key: p.label for p in (*PERSONAS, *EXTRA_PERSONAS)}


def run(scale: Scale, users: dict) -> tuple[list[Result], dict]:
    from bench.cases_dataset import ANCHOR, SIZES

    size = SIZES[scale.name]
    users, build = prepare(scale, users)
    results: list[Result] = []
    notes: dict = {"dataset": build, "anchor": ANCHOR.isoformat(), "plans": {}, "missed": []}
    for name, part in (
        ("lists", lambda: cases_lists.run(size, users, labels(), ANCHOR)),
        ("statistics", lambda: cases_stats.run(size, users, ANCHOR)),
        ("sweep", lambda: cases_sweep.run(size, ANCHOR)),
    ):
        t0 = time.perf_counter()
        print(f"  · cases: {name}…", file=sys.stderr, flush=True)
        found, extra = part()
        results += found
        for key, plan in extra.pop("plans", {}).items():
            notes["plans"][key] = plan
        notes["missed"] += extra.pop("missed", [])
        notes[name] = {**extra, "seconds": round(time.perf_counter() - t0, 3)}
    return results, notes
