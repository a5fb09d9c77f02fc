"""Timing helpers and the result row every benchmark reports."""

from __future__ import annotations

import math
import os
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TypeVar

T = TypeVar("T")


def percentile(samples: list[float], q: float) -> float:
    """The ``q``-th percentile (0–100) by linear interpolation between closest ranks."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    pos = (len(ordered) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


@dataclass
class Stats:
    """Summary of timings given in seconds, reported in milliseconds."""

    n: int
    median_ms: float
    p95_ms: float
    min_ms: float
    mean_ms: float

    @classmethod
    def of(cls, seconds: list[float]) -> Stats:
        ms = [s * 1000 for s in seconds]
        return cls(
            n=len(ms),
            median_ms=statistics.median(ms),
            p95_ms=percentile(ms, 95),
            min_ms=min(ms),
            mean_ms=statistics.fmean(ms),
        )


@dataclass
class Result:
    """One line of the report.

    ``ratio`` compares this operation with ``ratio_to`` (a floor measured in the same run, or the
    unscoped baseline) on the statistic named by ``ratio_basis``. ``passed`` is None when the line
    has no target (floors, baselines, diagnostics)."""

    benchmark: str
    operation: str
    stats: Stats
    ratio: float | None = None
    ratio_to: str = ""
    ratio_basis: str = ""
    target: str = ""
    passed: bool | None = None
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        data = asdict(self)
        data.update(data.pop("stats"))
        return data


def traced_peak(fn: Callable[[], T]) -> tuple[T, int]:
    """Run ``fn`` under ``tracemalloc``; return its result and the peak of the memory Python allocated
    during the call, in bytes, over what was allocated when it started. Memory outside Python's
    allocator (SQLite's page cache, libpq's buffers) is not traced. Tracing slows allocation-heavy
    code down, so the benchmarks time their runs without it and trace a separate run."""
    started = tracemalloc.is_tracing()
    if not started:
        tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    try:
        result = fn()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        if not started:
            tracemalloc.stop()
    return result, max(0, peak - base)


STATUS = "/proc/self/status"


def _status_kib(field: str) -> int | None:
    try:
        with open(STATUS, encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


class PeakRSS:
    """The process's peak resident memory during a ``with`` block, without slowing it down: Linux
    keeps the high-water mark (``VmHWM``), which writing ``5`` to ``/proc/self/clear_refs`` resets
    to the current size. ``growth`` is the peak over the size at the start, in bytes (memory Python
    freed earlier and reuses is not counted; C libraries' memory is). None where unsupported."""

    def __init__(self):
        self.start: int | None = None
        self.peak: int | None = None

    def __enter__(self) -> PeakRSS:
        try:
            with open("/proc/self/clear_refs", "w", encoding="ascii") as refs:
                refs.write("5")
        except OSError:
            return self
        self.start = _status_kib("VmRSS")
        return self

    def __exit__(self, *exc) -> None:
        if self.start is not None:
            self.peak = _status_kib("VmHWM")

    @property
    def growth(self) -> int | None:
        if self.start is None or self.peak is None:
            return None
        return max(0, self.peak - self.start) * 1024


def mib(value: int | None) -> float | None:
    return None if value is None else round(value / 2**20, 1)


#: Additions in ``machine_speed``'s Python loop, and 4 KB pages (plus a 24-byte header, as SQLite
#: writes a page to its log) in its file writes.
LOOP_ADDITIONS = 5_000_000
PAGE_WRITES = 20_000


def machine_speed(directory, repeat: int = 3) -> dict[str, float]:
    """How fast this machine is now, for comparing runs made on different machines or at different
    times (the benchmarks' machines differ from session to session, and drift within one): the
    median seconds of ``repeat`` runs of a plain Python loop, and of writing ``PAGE_WRITES`` pages to
    a new file in ``directory`` (the databases' file system) as a log does, two writes a page,
    without a flush to disk. Neither is a target; the result files keep them beside the timings."""

    def loop() -> float:
        t0 = time.perf_counter()
        total = 0
        for i in range(LOOP_ADDITIONS):
            total += i
        return time.perf_counter() - t0

    def writes() -> float:
        header, page = b"\0" * 24, b"\1" * 4096
        fd, path = tempfile.mkstemp(dir=directory, prefix="machine-speed-")
        try:
            t0 = time.perf_counter()
            offset = 0
            for _ in range(PAGE_WRITES):
                os.pwrite(fd, header, offset)
                os.pwrite(fd, page, offset + 24)
                offset += 24 + 4096
            return time.perf_counter() - t0
        finally:
            os.close(fd)
            os.unlink(path)

    return {
        "python_loop_s": round(statistics.median(loop() for _ in range(repeat)), 4),
        "page_writes_s": round(statistics.median(writes() for _ in range(repeat)), 4),
    }
