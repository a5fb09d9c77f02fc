"""Smoke test: the whole benchmark path at the ``tiny`` scale (2,000 rows, ~1,200 people), in a
subprocess as ``make bench`` runs it — runner → worker (bench.settings, its own SQLite file) →
migrate, Wuzhou areas, bulk insert, registry data from ``demo.generate`` → every benchmark (an
import and an export of people included) → table and JSON; then a second run on a dataset stamped
with an older schema version, which must be dropped and rebuilt while the registry data is reused.
Nothing is mocked; it takes about a minute. The figures are not checked (too small to mean
anything), only that every part ran and agreed."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_runner_knows_every_benchmark():
    from bench.benchmarks import BENCHMARKS
    from bench.run import BENCHMARK_NAMES

    assert set(BENCHMARK_NAMES) == set(BENCHMARKS)


def _run(tmp_path, *only: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "BENCH_SQLITE_PATH": str(tmp_path / "bench-tiny.sqlite3"),
        "BENCH_RESULTS_DIR": str(tmp_path / "results"),
        "CIVICGRID_VAR_DIR": str(tmp_path / "var"),
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)  # the runner sets bench.settings itself
    args = [arg for name in only for arg in ("--only", name)]
    proc = subprocess.run(
        [sys.executable, "-m", "bench.run", "--scale", "tiny", "--db", "sqlite", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def test_tiny_run_end_to_end(tmp_path):
    results = tmp_path / "results"
    proc = _run(tmp_path)
    assert "GridIndex.locate" in proc.stdout and "page+count [unscoped]" in proc.stdout
    assert "search by ID number (blind index) [district]" in proc.stdout

    stamped = list(results.glob("tiny-sqlite-*.json"))
    assert len(stamped) == 1
    report = json.loads((results / "latest-tiny-sqlite.json").read_text(encoding="utf-8"))
    assert report == json.loads(stamped[0].read_text(encoding="utf-8"))
    assert report["db"] == "sqlite" and report["scale"] == "tiny"
    machine = report["machine"]
    for speed in (machine["speed_before"], machine["speed_after"]):
        assert speed["python_loop_s"] > 0 and speed["page_writes_s"] > 0
    assert not list((tmp_path / "var" / "bench").glob("machine-speed-*"))  # its file is removed
    assert "machine: Python loop" in proc.stdout
    dataset = report["dataset"]
    assert dataset["rows"] == 2_000 and dataset["grids"] == 567
    assert not dataset["reused"] and "rebuilt_because" not in dataset
    assert any("SUBSTR" in index.upper() for index in dataset["indexes"])
    registry = dataset["registry"]
    assert not registry["reused"] and registry["build_s"] > 0
    assert registry["tables"]["registry_person"] == registry["generated"]["people"] > 1_000

    rows = {r["operation"]: r for r in report["results"]}
    locate = rows["GridIndex.locate, one call per point"]
    assert locate["n"] == 5_000 and locate["extra"]["wrong_grid"] == 0
    assert locate["extra"]["per_second"] > 0 and locate["ratio"] > 0

    lists = [r for r in report["results"] if r["operation"].startswith("page+count [")]
    in_scope = {r["operation"].split("]")[0].split("[")[1]: r["extra"]["rows_in_scope"] for r in lists}
    assert in_scope["unscoped"] == in_scope["city"] == 2_000
    assert in_scope["unscoped"] >= in_scope["district"] >= in_scope["street"] >= in_scope["community"]
    assert in_scope["community"] >= in_scope["grid"]
    for r in lists:
        assert r["n"] == 20 and 0 < r["median_ms"] <= r["p95_ms"]
        assert r["passed"] in (True, False) or r["target"] == "baseline"
    plans = report["notes"]["scope_list"]["plans"]
    assert set(plans) == set(in_scope) and "SUBSTR" in plans["district"]["page_sql"].upper()

    searches = [r for r in report["results"] if r["operation"].startswith("search by ")]
    assert len(searches) == 12  # six kinds, two officials
    for r in searches + [r for r in report["results"] if r["operation"].startswith("statistics page")]:
        assert r["n"] == 5 and r["passed"] in (True, False)
    assert all(r["extra"]["matches"] >= 1 for r in searches)
    http = [r for r in report["results"] if r["operation"].startswith("HTTP GET people")]
    assert len(http) == 6 and all(r["ratio_to"] == "selector" for r in http)
    registry_plans = report["notes"]["registry"]["plans"]
    assert registry_plans["district/id_number"]["page"] and registry_plans["statistics/street"]["population"]

    # Import and export: every row imported (then rolled back) and exported; memory reported.
    imported = rows["import 300 people from .xlsx (run_import)"]
    assert imported["n"] == 1 and imported["extra"]["rows"] == 300 and imported["extra"]["per_second"] > 0
    assert imported["passed"] is None  # too few rows for the pro-rata target
    assert rows["import 300 people under tracemalloc (peak Python memory)"]["extra"]["peak_bytes"] > 0
    exported = rows["export 500 people to .xlsx (people_for_export + write_people_workbook)"]
    assert exported["n"] == 2 and exported["passed"] in (True, False) and exported["extra"]["file_mib"] >= 0
    assert rows["export 500 people under tracemalloc (peak Python memory)"]["extra"]["peak_bytes"] > 0
    # The phone app's report with a 3 MB photo: every run accepted (the benchmark raises otherwise).
    [photo] = [r for r in report["results"] if r["benchmark"] == "photo_report"]
    assert photo["n"] == 11 and photo["extra"]["photo_bytes"] > 2_500_000 and photo["passed"] in (True, False)

    # A dataset from an older benchmark table is dropped and rebuilt; the registry data is reused.
    from bench.dataset import SCHEMA_VERSION

    with sqlite3.connect(tmp_path / "bench-tiny.sqlite3") as db:
        db.execute("UPDATE bench_dataset SET version = ? WHERE name = 'benchrecord'", [SCHEMA_VERSION - 1])
    proc = _run(tmp_path, "scope_list", "registry")
    assert "old scopebench tables dropped and rebuilt" in proc.stdout
    again = json.loads((results / "latest-tiny-sqlite.json").read_text(encoding="utf-8"))
    assert f"schema version {SCHEMA_VERSION - 1} → {SCHEMA_VERSION}" in again["dataset"]["rebuilt_because"]
    assert not again["dataset"]["reused"] and again["dataset"]["registry"]["reused"]
