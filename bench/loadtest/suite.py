"""The whole load-test suite on one database, as the ``cases_load`` benchmark and
``python -m bench.loadtest`` run it: throughput (Open311 vs the floor), reliability (plain, then with
kills), two dispatchers racing. Needs Django set up on the benchmark's database (``bench.settings``)
and the cases dataset in place; leaves the dataset as it found it (the reports made are deleted)."""

from __future__ import annotations

import functools
import io
import re
import signal
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench.timing import Result, Stats

from . import cpu, floor, scenarios
from .server import THREADS, WORKERS, Server

#: Target: the Open311 endpoint sustains at least this share of the floor's rate.
TARGET_RATIO = 0.5
#: Throughput is measured in this many alternating rounds (floor, Open311, floor, …), so a change in
#: the machine's load affects both alike.
ROUNDS = 2


@dataclass
class Plan:
    """Sizes of one suite run."""

    clients: int
    seconds: float  # of throughput per endpoint (split over ROUNDS), after a warm-up per round
    warmup: float
    reports: int  # per reliability scenario
    report_clients: int
    race_cases: int
    kill: bool = True
    throughput: bool = True


def log(message: str) -> None:
    print(f"  · {message}", file=sys.stderr, flush=True)


def _terminate(signum, frame):
    raise SystemExit(f"terminated by signal {signum}")


def make_client(name: str):
    """An Open311 client registered as an operator would: ``manage.py open311_client create NAME``."""
    from django.core.management import call_command

    from civicgrid.open311.models import Open311Client

    out = io.StringIO()
    call_command("open311_client", "create", name, stdout=out)
    key = re.search(r"api_key: (\S+)", out.getvalue()).group(1)
    return Open311Client.objects.get(name=name), key


def _dispatchers(users: dict) -> list:
    from civicgrid.accounts.models import User
    from civicgrid.core.testing import make_user

    second = User.objects.filter(username="bench_dispatcher2").first() or make_user(
        "bench_dispatcher2", "dispatcher", "450400"
    )
    return [users["dispatcher"], second]


def _throughput(server, maker, plan: Plan, stamp: str) -> tuple[scenarios.Throughput, scenarios.Throughput]:
    """Alternating rounds on the floor and on Open311; the rounds of each added up."""
    per_round = plan.seconds / ROUNDS
    fl = op = None
    mark = functools.partial(cpu.snapshot, server)  # the CPU read at each counted window's edges
    for r in range(ROUNDS):
        log(
            f"throughput {r + 1}/{ROUNDS}: floor, then Open311 ({plan.clients} clients, {per_round:.0f} s each)"  # noqa: E501
        )
        got = scenarios.run_async(
            scenarios.throughput(
                server.port, scenarios.FLOOR_PATH, maker.body,
                clients=plan.clients, seconds=per_round, warmup=plan.warmup, mark=mark,
            )
        )  # fmt: skip
        fl = got if fl is None else fl.merge(got)
        got = scenarios.run_async(
            scenarios.throughput(
                server.port, scenarios.OPEN311_PATH, maker.body,
                clients=plan.clients, seconds=per_round, warmup=plan.warmup, mark=mark,
                headers=lambda i, r=r: {"Idempotency-Key": f"tp-{stamp}-{r}-{i}"},
            )
        )  # fmt: skip
        op = got if op is None else op.merge(got)
    return fl, op


def _throughput_results(plan: Plan, fl, op, floor_rows: int) -> list[Result]:
    ratio = op.per_second / fl.per_second if fl.per_second else 0.0
    fl_stats, op_stats = fl.stats(), op.stats()
    fl_cpu, op_cpu = cpu.per_request(fl.marks), cpu.per_request(op.marks)
    five = sum(n for s, n in op.statuses.items() if s >= 500)
    log(
        f"floor {fl.per_second:.0f} req/s (p95 {fl_stats.p95_ms:.0f} ms), Open311 {op.per_second:.0f} req/s "
        f"(p95 {op_stats.p95_ms:.0f} ms): {ratio:.2f}× the floor; statuses {dict(op.statuses)}, "
        f"errors {dict(op.errors)}"
    )
    for name, spent in (("floor", fl_cpu), ("Open311", op_cpu)):
        if spent:
            log(f"CPU ms per request, {name}: " + ", ".join(f"{kind} {ms}" for kind, ms in spent.items()))
    return [
        Result(
            "cases_load",
            f"floor: bare endpoint inserting one row ({plan.clients} clients)",
            fl_stats,
            target="floor",
            extra={
                "per_second": round(fl.per_second, 1),
                **fl.as_dict(),
                "rows_inserted": floor_rows,
                "cpu_ms_per_request": fl_cpu,
            },
        ),
        Result(
            "cases_load",
            f"Open311 POST requests.json ({plan.clients} clients)",
            op_stats,
            ratio=ratio,
            ratio_to="floor",
            ratio_basis="req/s",
            target=f"≥ {TARGET_RATIO:.2f}× floor req/s",
            passed=ratio >= TARGET_RATIO and five == 0 and not op.errors,
            extra={"per_second": round(op.per_second, 1), **op.as_dict(), "cpu_ms_per_request": op_cpu},
        ),
    ]


def _reliability(server, maker, plan: Plan, client, name: str, kill: bool, stamp: str):
    from django.db import close_old_connections

    run = f"{name}-{stamp}"
    what = "killing a worker, then the whole server" if kill else "no kill"
    log(f"reliability ({name}): {plan.reports:,} reports from {plan.report_clients} clients, {what}…")
    rel = scenarios.run_async(
        scenarios.reliability(
            server, maker, run=run, reports=plan.reports, clients=plan.report_clients, kill=kill
        )
    )
    close_old_connections()
    scenarios.check_reliability(rel, source=client.source, run=run)
    summary = rel.as_dict()
    log(
        f"  {rel.cases:,} cases for {plan.reports:,} reports; 5xx {rel.five_xx}; lost {len(rel.lost)}; "
        f"mismatched {len(rel.mismatched)}; incomplete {rel.incomplete}; retries {rel.retries} "
        f"(errors {dict(rel.errors)}); replayed {rel.replayed}; {rel.kills}"
    )
    result = Result(
        "cases_load",
        f"reliability{' with kills' if kill else ''}: {plan.reports:,} reports, {plan.report_clients} clients, retries",  # noqa: E501
        Stats.of(rel.latencies or [0.0]),
        target=f"exactly {plan.reports:,} cases, no 5xx, none lost",
        passed=rel.passed,
        extra={"per_second": summary["per_second"], **summary},
    )
    return run, summary, result


def _race(server, plan: Plan, users: dict, client, run: str):
    from django.db import close_old_connections

    from civicgrid.cases.models import Case

    case_ids = list(
        Case.objects.filter(source=client.source, idempotency_key__startswith=f"{run}-", status="reported")
        .order_by("id")
        .values_list("pk", flat=True)[: plan.race_cases]
    )
    tokens, race_plan = scenarios.race_fixtures(_dispatchers(users), case_ids)
    log(f"dispatch race: {len(race_plan)} cases, two dispatchers at once…")
    race = scenarios.run_async(scenarios.dispatch_race(server.port, tokens, race_plan))
    close_old_connections()
    scenarios.check_race(race, race_plan)
    log(f"  outcomes {dict(race.outcomes)}; wrong {race.wrong[:3]}")
    result = Result(
        "cases_load",
        f"dispatch race: {len(race_plan)} cases × 2 dispatchers (API)",
        Stats.of(race.latencies or [0.0]),
        target="one 200 and one 409 each",
        passed=race.passed and len(race_plan) > 0,
        extra=race.as_dict(),
    )
    return race.as_dict(), result


def run_suite(plan: Plan, users: dict, *, keep_after: int, log_root: Path) -> tuple[list[Result], dict]:
    """Run everything; afterwards delete every case above ``keep_after`` (the dataset's last id)."""
    from django.db import close_old_connections

    from bench.cases_dataset import settle, trim_after

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    floor.ensure_table()
    floor.empty_table()
    # Both endpoints start on settled tables, whatever ran before in this process: the cases
    # benchmark's rolled-back sweeps leave tens of thousands of dead rows in the cases' tables and
    # indexes on PostgreSQL (Open311 measured 0.44× the floor right after them, 0.53× once settled),
    # and the floor's table holds the rows a previous run deleted.
    settle_s = settle(floor.TABLE)
    client, key = make_client(f"bench-load-{stamp}")
    maker = scenarios.ReportMaker.build(key)
    server = Server(log_dir=log_root / stamp)
    notes: dict = {
        "server": {"workers": WORKERS, "threads": THREADS, "log_dir": str(server.log_dir)},
        "settle_s": settle_s,
    }
    results: list[Result] = []
    log(f"starting gunicorn ({WORKERS} workers × {THREADS} threads) and the Huey consumer…")
    previous = signal.signal(signal.SIGTERM, _terminate)  # stop the servers and clean up on SIGTERM too
    server.start()
    try:
        if plan.throughput:
            fl, op = _throughput(server, maker, plan, stamp)
            notes["throughput"] = {"floor": fl.as_dict(), "open311": op.as_dict()}
            results += _throughput_results(plan, fl, op, floor.count())
        first_run = None
        for name, kill in [("plain", False)] + ([("kill", True)] if plan.kill else []):
            run, summary, result = _reliability(server, maker, plan, client, name, kill, stamp)
            first_run = first_run or run
            notes[f"reliability_{name}"] = summary
            results.append(result)
        if plan.race_cases:
            notes["dispatch_race"], result = _race(server, plan, users, client, first_run)
            results.append(result)
    finally:
        t0 = time.perf_counter()
        server.stop()
        notes["server"]["stop_s"] = round(time.perf_counter() - t0, 3)
        close_old_connections()
        notes["trimmed"] = trim_after(keep_after)
        floor.empty_table()
        signal.signal(signal.SIGTERM, previous)
    return results, notes
