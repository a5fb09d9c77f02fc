"""Where a throughput round's CPU goes: the CPU seconds each kind of process used while the round was
counted, per answered request, read from ``/proc`` (Linux; elsewhere nothing is read). Kinds: the
web server (gunicorn's master and workers), the task consumer, the database server (PostgreSQL's
processes; SQLite works inside the web server), the load generator (this process) and the rest of
the machine; and the share of the machine left idle. On a machine of two cores the rate is bounded
by these costs, so they say what the ratio to the floor is made of."""

from __future__ import annotations

import os
from pathlib import Path

PROC = Path("/proc")


def _cpu_seconds(pid: int) -> float | None:
    """User and system CPU seconds of process ``pid`` (all its threads), or None if it is gone."""
    try:
        fields = (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _comm(pid: int) -> str:
    try:
        return (PROC / str(pid) / "comm").read_text().strip()
    except OSError:
        return ""


def _machine() -> tuple[float, float]:
    """All CPUs' (total, idle) seconds since boot."""
    values = [int(v) for v in (PROC / "stat").read_text().splitlines()[0].split()[1:]]
    tick = os.sysconf("SC_CLK_TCK")
    return sum(values) / tick, (values[3] + values[4]) / tick  # idle + iowait


def snapshot(server) -> dict | None:
    """CPU seconds so far per process, with each process's kind; None where /proc is not there."""
    if not (PROC / "stat").exists():
        return None
    web = {server.web.pid, *server.worker_pids()} if server.web is not None else set()
    huey = {server.huey.pid} if server.huey is not None else set()
    processes = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        seconds = _cpu_seconds(pid)
        if seconds is None:
            continue
        if pid in web:
            kind = "web server"
        elif pid in huey:
            kind = "task consumer"
        elif pid == os.getpid():
            kind = "load generator"
        elif _comm(pid) == "postgres":
            kind = "database server"
        else:
            kind = "other"
        processes[pid] = (kind, seconds)
    return {"processes": processes, "machine": _machine()}


def per_request(rounds: list[tuple[dict | None, dict | None, int]]) -> dict:
    """CPU milliseconds per request by kind over rounds of ``(before, after, requests answered)``
    taken together (a process started within a round counts from zero, one gone is not counted),
    the machine's busy time per request, and its idle share in percent. Empty where /proc is not."""
    rounds = [r for r in rounds if r[0] is not None and r[1] is not None]
    requests = sum(n for _b, _a, n in rounds)
    if not requests:
        return {}
    spent: dict[str, float] = {}
    total = idle = 0.0
    for before, after, _n in rounds:
        for pid, (kind, seconds) in after["processes"].items():
            start = before["processes"].get(pid, (kind, 0.0))[1]
            spent[kind] = spent.get(kind, 0.0) + max(0.0, seconds - start)
        total += after["machine"][0] - before["machine"][0]
        idle += after["machine"][1] - before["machine"][1]
    out = {kind: round(seconds * 1000 / requests, 3) for kind, seconds in sorted(spent.items())}
    out["machine, busy"] = round((total - idle) * 1000 / requests, 3)
    out["idle %"] = round(100 * idle / total, 1) if total else 0.0
    return out
