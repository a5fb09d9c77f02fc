"""The report: a table on stdout, and the same as JSON under bench/results/."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from .scales import ENV_RESULTS_DIR
from .timing import Result

RESULTS_DIR = Path(__file__).resolve().parent / "results"
#: Extra fields worth a word in the table's last column.
NOTE_KEYS = {
    "per_second": "{:,}/s",
    "rows_in_scope": "{:,} rows",
    "wrong_grid": "{} wrong",
    "orm_to_raw_p95": "ORM {:.2f}× raw",
    "raw_p95_ms": "raw p95 {:.2f} ms",
    "found": "{} found",
    "people": "{:,} people",
    "api_overhead_ms": "API +{:.1f} ms (median)",
    "rss_growth_mib": "RSS +{:,.1f} MiB",
    "peak_mib": "Python peak {:,.1f} MiB",
    "file_mib": "{:,.1f} MiB file",
}


def results_dir() -> Path:
    return Path(os.environ.get(ENV_RESULTS_DIR) or RESULTS_DIR)


def _ms(value: float) -> str:
    return f"{value:.4f}" if value < 0.1 else f"{value:.3f}" if value < 10 else f"{value:.1f}"


def _note(result: Result) -> str:
    parts = []
    for key, fmt in NOTE_KEYS.items():
        value = result.extra.get(key)
        if value is None or (key == "wrong_grid" and value == 0):
            continue
        parts.append(fmt.format(value))
    return ", ".join(parts)


def format_table(results: list[Result]) -> str:
    header = ("operation", "n", "median ms", "p95 ms", "ratio", "target", "result", "note")
    rows = []
    for r in results:
        ratio = f"{r.ratio:.2f}× {r.ratio_to} ({r.ratio_basis})" if r.ratio is not None else ""
        verdict = "" if r.passed is None else "PASS" if r.passed else "FAIL"
        rows.append(
            (
                r.operation,
                f"{r.stats.n:,}",
                _ms(r.stats.median_ms),
                _ms(r.stats.p95_ms),
                ratio,
                r.target,
                verdict,
                _note(r),
            )
        )
    widths = [max(_width(x) for x in col) for col in zip(header, *rows, strict=True)]
    right = {1, 2, 3}
    lines = []
    for i, row in enumerate([header, *rows]):
        cells = [_pad(cell, widths[j], right=j in right) for j, cell in enumerate(row)]
        lines.append("  ".join(cells).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _width(text: str) -> int:
    """Display width: CJK characters take two columns."""
    return sum(2 if ord(ch) >= 0x2E80 else 1 for ch in text)


def _pad(text: str, width: int, *, right: bool) -> str:
    fill = " " * (width - _width(text))
    return fill + text if right else text + fill


def write_json(report: dict, *, scale: str, db: str, stamp: str) -> tuple[Path, Path]:
    """Write the timestamped result file and refresh ``latest-<scale>-<db>.json``."""
    out = results_dir()
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{scale}-{db}-{stamp}.json"
    path.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    latest = out / f"latest-{scale}-{db}.json"
    shutil.copyfile(path, latest)
    return path, latest
