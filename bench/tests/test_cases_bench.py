"""Smoke tests of the cases benchmarks at the ``tiny`` scale (3,000 cases), in subprocesses as
``make bench`` runs them, on SQLite files of their own:

- ``cases``: dataset built, then reused; every list, statistics and sweep operation ran and agreed
  with its check (the benchmark raises otherwise); the sweep's second runs changed nothing;
- the load test (``python -m bench.loadtest``): 500 reports from 10 clients with retries, then 500
  more while a gunicorn worker and then the whole server are SIGKILLed, then two dispatchers racing:
  exactly one case per report, no 5xx, nothing acknowledged lost, one 200 and one 409 per race;
- its throughput rounds (a few seconds): both endpoints answered, and the CPU each kind of process
  spent per request was read (on Linux).

Figures are not checked (too small and too noisy to mean anything)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _env(tmp_path: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {
        **os.environ,
        "BENCH_SQLITE_PATH": str(tmp_path / "bench-tiny.sqlite3"),
        "BENCH_RESULTS_DIR": str(tmp_path / "results"),
        "CIVICGRID_VAR_DIR": str(tmp_path / "var"),
        "BENCH_HUEY_PATH": str(tmp_path / "huey.sqlite3"),
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)  # the runners set theirs
    env.pop("DATABASE_URL", None)
    return {**env, **(extra or {})}


def _run(
    args: list[str], tmp_path: Path, timeout: int, ok=(0,), env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        env=_env(tmp_path, env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode in ok, proc.stdout[-5000:] + proc.stderr[-5000:]
    return proc


def test_cases_benchmark_tiny(tmp_path):
    _run(["bench.run", "--scale", "tiny", "--db", "sqlite", "--only", "cases"], tmp_path, 600)
    report = json.loads((tmp_path / "results" / "latest-tiny-sqlite.json").read_text(encoding="utf-8"))
    notes = report["notes"]["cases"]
    dataset = notes["dataset"]
    assert not dataset["reused"] and dataset["tables"]["cases_case"] == 3_000
    assert dataset["tables"]["cases_casedeadline"] > 3_000  # every stage a case went through
    rows = {r["operation"]: r for r in report["results"]}
    lists = [r for op, r in rows.items() if op.startswith(("case list", "open cases", "triage queue"))]
    assert len(lists) == 7 + 7 + 4
    assert all(r["n"] == 10 and r["median_ms"] > 0 for r in lists)
    city = rows["case list, page 1 + count [city] city official 梧州市 450400, subtree"]
    assert city["extra"]["rows_in_scope"] == 3_000
    stats = [r for op, r in rows.items() if op.startswith("statistics")]
    assert len(stats) == 4 and all(r["extra"]["cases"] > 0 for r in stats)
    again = [r for op, r in rows.items() if op.startswith("deadline sweep again")]
    assert len(again) == 2 and all(r["passed"] for r in again)
    due = rows["deadline sweep, 1% due (30 of 3,000 cases)"]
    assert due["extra"]["warned"] == due["extra"]["overdue"] == 30
    # The same sweep with every batch committed, on a copy of the database (then deleted).
    committed = rows["deadline sweep, 1% due (30 of 3,000 cases), each batch committed"]
    assert committed["n"] == 1 and committed["extra"]["warned"] == committed["extra"]["overdue"] == 30
    # Both processes warmed up (a sweep rolled back) before anything was timed.
    assert notes["sweep"]["warm_up_s"] > 0
    assert notes["sweep"]["runs"]["0.01 committed"][0]["warm_up_s"] > 0
    # Its notices were queued, not delivered inside the timing; run afterwards, every recipient the
    # tasks named got a notification (the benchmark checks the count).
    notify = notes["sweep"]["runs"]["0.01 committed"][0]["notify"]
    assert notify["tasks"] >= 1 and notify["notifications"] >= 1
    assert not list(tmp_path.glob("*.sweep-copy*"))
    assert "nothing_due" in notes["plans"] and notes["plans"]["list/district"]["page"]

    # The second run reuses the dataset.
    _run(["bench.run", "--scale", "tiny", "--db", "sqlite", "--only", "cases"], tmp_path, 600)
    report = json.loads((tmp_path / "results" / "latest-tiny-sqlite.json").read_text(encoding="utf-8"))
    assert report["notes"]["cases"]["dataset"]["reused"]


def test_cases_benchmark_tiny_postgres(tmp_path):
    """On PostgreSQL (the suite's run against it): the committed sweep runs on a copy of the bench
    database, made from it as a template and dropped afterwards."""
    import psycopg

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        pytest.skip("runs in the suite's PostgreSQL run (DATABASE_URL)")
    bench_url = url.rsplit("/", 1)[0] + "/civicgrid_bench_tiny_ci"
    env = {"BENCH_PG_URL": bench_url}
    args = ["bench.run", "--scale", "tiny", "--db", "postgres", "--only", "cases"]
    _run(args, tmp_path, 600, env=env)
    report = json.loads((tmp_path / "results" / "latest-tiny-postgres.json").read_text(encoding="utf-8"))
    rows = {r["operation"]: r for r in report["results"]}
    committed = rows["deadline sweep, 1% due (30 of 3,000 cases), each batch committed"]
    assert committed["n"] == 1 and committed["extra"]["warned"] == committed["extra"]["overdue"] == 30
    assert report["notes"]["cases"]["sweep"]["runs"]["0.01 committed"][0]["warm_up_s"] > 0
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres") as conn:
        names = {
            r[0]
            for r in conn.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE 'civicgrid_bench_tiny_ci%'"
            )
        }
    assert names == {"civicgrid_bench_tiny_ci"}  # the copy is gone


def test_load_reliability_sqlite(tmp_path):
    """The acceptance checks of the load test at a small size: 500 reports, 10 clients."""
    out = tmp_path / "load.json"
    _run(
        [
            "bench.loadtest", "--scale", "tiny", "--db", "sqlite", "--no-dataset", "--no-throughput",
            "--reports", "500", "--report-clients", "10", "--race-cases", "5", "--json", str(out),
        ],
        tmp_path,
        300,
    )  # fmt: skip
    data = json.loads(out.read_text(encoding="utf-8"))
    plain, killed = data["notes"]["reliability_plain"], data["notes"]["reliability_kill"]
    for run in (plain, killed):
        assert run["passed"], run
        assert run["cases_in_database"] == run["distinct_keys_in_database"] == 500
        assert run["answers_5xx"] == 0 and not run["lost_acknowledged"] and not run["ids_not_matching_key"]
    assert len(killed["kills"]) == 3  # a worker, the server, the restart
    assert data["notes"]["dispatch_race"]["outcomes"] == {"200+409": 5}
    assert data["notes"]["trimmed"] == 1_000  # the reports were deleted again


def test_load_throughput_sqlite(tmp_path):
    """Two short throughput rounds per endpoint; the CPU per request is accounted by process kind."""
    out = tmp_path / "load.json"
    _run(
        [
            "bench.loadtest", "--scale", "tiny", "--db", "sqlite", "--no-dataset", "--seconds", "2",
            "--clients", "4", "--reports", "20", "--report-clients", "2", "--race-cases", "1", "--no-kill",
            "--json", str(out),
        ],
        tmp_path,
        300,
        ok=(0, 1),  # 1: a target missed; at this size the ratio to the floor means nothing
    )  # fmt: skip
    data = json.loads(out.read_text(encoding="utf-8"))
    rows = {r["operation"].split(":")[0].split(" (")[0]: r for r in data["results"]}
    floor, open311 = rows["floor"], rows["Open311 POST requests.json"]
    assert all(r["passed"] for name, r in rows.items() if name not in ("floor", "Open311 POST requests.json"))
    for row in (floor, open311):
        assert row["extra"]["answered_2xx"] > 0 and not row["extra"]["errors"]
        spent = row["extra"]["cpu_ms_per_request"]
        if sys.platform.startswith("linux"):
            assert spent["web server"] > 0 and spent["load generator"] > 0
            assert 0 <= spent["idle %"] <= 100
