"""``python -m bench.loadtest [--scale tiny|small|city] [--db sqlite|postgres] …``: the load-test
suite (``bench.loadtest.suite``) on the benchmark database of that scale, which it builds or reuses
like ``bench.run`` does (Wuzhou areas, the cases dataset, the users). Prints the results as a table;
``--json PATH`` writes them too. Exit status 1 when a check fails."""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict
from pathlib import Path

from bench.scales import DEFAULT_PG_URL, ENV_DB, ENV_PG_URL, ENV_SCALE, SCALES, pg_schema


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.loadtest", description=__doc__.split("\n\n")[0])
    p.add_argument("--scale", choices=SCALES, default="small")
    p.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    p.add_argument("--clients", type=int, help="throughput clients (default: the scale's)")
    p.add_argument("--seconds", type=float, help="throughput seconds per endpoint (default: the scale's)")
    p.add_argument("--reports", type=int, help="reports per reliability scenario (default: the scale's)")
    p.add_argument("--report-clients", type=int, help="clients of the reliability scenarios")
    p.add_argument("--race-cases", type=int, default=None, help="cases of the dispatch race")
    p.add_argument("--no-kill", action="store_true", help="skip the scenario that kills the server")
    p.add_argument("--no-throughput", action="store_true", help="skip the throughput test")
    p.add_argument(
        "--no-dataset",
        action="store_true",
        help="do not build the cases dataset (the reliability checks need none; the throughput figures do)",
    )
    p.add_argument("--json", type=Path, help="also write the results to this file")
    return p.parse_args(argv)


def plan_for(args, size):
    from .suite import Plan

    return Plan(
        clients=args.clients or size.load_clients,
        seconds=args.seconds or size.load_seconds,
        warmup=min(5.0, max(1.0, (args.seconds or size.load_seconds) / 6)),
        reports=args.reports or size.reliability_reports,
        report_clients=args.report_clients or size.reliability_clients,
        race_cases=args.race_cases if args.race_cases is not None else 10 if args.scale == "tiny" else 40,
        kill=not args.no_kill,
        throughput=not args.no_throughput,
    )


def main(argv=None) -> int:
    args = parse_args(argv)
    os.environ.pop("DATABASE_URL", None)
    os.environ[ENV_SCALE], os.environ[ENV_DB] = args.scale, args.db
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    if args.db == "postgres":
        from bench.pg import ensure_database

        ensure_database(os.environ.get(ENV_PG_URL, DEFAULT_PG_URL), schema=pg_schema(args.scale))
    import django

    django.setup()
    from django.conf import settings

    from bench import cases_dataset, dataset, report

    from .suite import run_suite

    dataset.ensure_areas()
    size = cases_dataset.SIZES[args.scale]
    if args.no_dataset:
        from civicgrid.cases.demo import load_departments
        from civicgrid.cases.models import Case, Department

        if not Department.objects.exists():
            load_departments()
        keep_after = Case.objects.order_by("-id").values_list("pk", flat=True).first() or 0
    else:
        cases_dataset.ensure_cases(args.scale)
        keep_after = size.cases
    users = cases_dataset.ensure_case_users(dataset.ensure_users())
    plan = plan_for(args, size)
    results, notes = run_suite(
        plan, users, keep_after=keep_after, log_root=Path(settings.VAR_DIR) / "bench" / "loadtest"
    )
    print(report.format_table(results))
    if args.json:
        data = {
            "scale": args.scale,
            "db": args.db,
            "plan": asdict(plan),
            "results": [r.as_dict() for r in results],
            "notes": notes,
        }
        args.json.write_text(
            json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8"
        )
    return 1 if any(r.passed is False for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
