"""Timing helpers and the result row every benchmark reports."""

from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass, field


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
