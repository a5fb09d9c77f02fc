"""Benchmark scales and the environment variables the runner passes to its workers.

Importable without Django: the runner (``bench.run``) and ``bench.settings`` both read it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scale:
    name: str
    #: Rows in the BenchRecord table.
    rows: int
    #: Random points for the ``locate`` benchmark.
    points: int
    #: Timed repetitions per scope_list variant (after ``warmup`` untimed ones).
    repetitions: int
    warmup: int
    #: Calls of GridIndex.locate_many (each on all ``points``).
    batches: int
    #: Timed repetitions per registry search / statistics page (after ``search_warmup`` untimed ones),
    #: and per search through the HTTP layer. The registry's size per scale: bench.registry_dataset.
    searches: int
    search_warmup: int
    http_repetitions: int
    #: People in the workbook the ``imports`` benchmark imports (then rolls back), and its timed runs.
    import_rows: int
    import_repetitions: int
    #: Rows the ``exports`` benchmark writes to .xlsx, and its timed runs.
    export_rows: int
    export_repetitions: int
    #: Rows of the one import and export run under ``tracemalloc`` (which makes them several times
    #: slower): Python's peak memory for that many rows.
    traced_rows: int


SCALES: dict[str, Scale] = {
    # For the smoke test only: exercises every code path in a few seconds; figures mean little.
    "tiny": Scale(
        "tiny", rows=2_000, points=5_000, repetitions=20, warmup=3, batches=3,
        searches=5, search_warmup=1, http_repetitions=2,
        import_rows=300, import_repetitions=1, export_rows=500, export_repetitions=2, traced_rows=500,
    ),
    "small": Scale(
        "small", rows=50_000, points=100_000, repetitions=200, warmup=20, batches=10,
        searches=60, search_warmup=5, http_repetitions=30,
        import_rows=5_000, import_repetitions=2, export_rows=10_000, export_repetitions=3,
        traced_rows=2_000,
    ),
    "city": Scale(
        "city", rows=1_000_000, points=100_000, repetitions=100, warmup=10, batches=10,
        searches=40, search_warmup=3, http_repetitions=20,
        import_rows=100_000, import_repetitions=1, export_rows=100_000, export_repetitions=3,
        traced_rows=10_000,
    ),
}  # fmt: skip

DATABASES = ("sqlite", "postgres")

# Environment variables (the runner sets the first three for each worker).
ENV_SCALE = "BENCH_SCALE"
ENV_DB = "BENCH_DB"
ENV_RESULTS_DIR = "BENCH_RESULTS_DIR"
#: Override the SQLite file (default ``var/bench/bench-<scale>.sqlite3``).
ENV_SQLITE_PATH = "BENCH_SQLITE_PATH"
#: A task queue file: the worker's tasks are queued there, not run at once (the committed sweep's
#: process, ``bench.benchmarks.cases_sweep``, as production queues them for the consumer).
ENV_QUEUE_PATH = "BENCH_QUEUE_PATH"
#: Override the PostgreSQL URL (default below).
ENV_PG_URL = "BENCH_PG_URL"
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/civicgrid_bench"


def pg_schema(scale: str) -> str:
    """Each scale keeps its tables in a schema of its own, so switching scales reuses both datasets."""
    return f"bench_{scale}"
