"""Timing helpers and the result row every benchmark reports."""

from __future__ import annotations

import math
import statistics
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
