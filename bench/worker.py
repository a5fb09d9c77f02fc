"""One database's benchmark run, in its own process (started by ``bench.run``).

The runner sets BENCH_DB / BENCH_SCALE (and DJANGO_SETTINGS_MODULE=bench.settings) in the
environment; this module then sets Django up, makes sure the dataset is there, runs the selected
benchmarks and writes the report.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from dataclasses import asdict
from datetime import UTC, datetime

from .scales import DEFAULT_PG_URL, ENV_DB, ENV_PG_URL, ENV_SCALE, SCALES, pg_schema


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    from .benchmarks import BENCHMARKS

    parser = argparse.ArgumentParser(prog="python -m bench.worker", description=__doc__)
    parser.add_argument("--scale", choices=SCALES, default=os.environ.get(ENV_SCALE, "small"))
    parser.add_argument("--only", action="append", choices=sorted(BENCHMARKS), help="repeatable")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ[ENV_SCALE] = args.scale
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    db = os.environ.setdefault(ENV_DB, "sqlite")
    if db == "postgres":
        from .pg import ensure_database

        if ensure_database(os.environ.get(ENV_PG_URL, DEFAULT_PG_URL), schema=pg_schema(args.scale)):
            print("  · created the PostgreSQL database", file=sys.stderr)

    import django

    django.setup()

    from . import dataset, registry_dataset, report
    from .benchmarks import BENCHMARKS, NEEDS

    scale = SCALES[args.scale]
    names = args.only or list(BENCHMARKS)
    needs = set().union(*(NEEDS[name] for name in names))
    started = time.perf_counter()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    print(f"\n== {scale.name} on {db} ({', '.join(names)}) ==", flush=True)

    build: dict = dataset.ensure_areas()
    if build.get("rebuilt_because"):
        print(f"dataset: old scopebench tables dropped and rebuilt ({build['rebuilt_because']})", flush=True)
    users = None
    if "rows" in needs:
        t0 = time.perf_counter()
        build.update(dataset.ensure_rows(scale))
        build["dataset_s"] = round(time.perf_counter() - t0, 3)
        how = "reused" if build["reused"] else f"built in {build['insert_s']:.1f} s"
        print(
            f"dataset: {build['rows']:,} rows over {build['grids']} grids ({how}); "
            f"{len(build['indexes'])} indexes on the table",
            flush=True,
        )
    if "users" in needs:
        users = dataset.ensure_users()
    if "registry" in needs:
        build["registry"] = registry_dataset.ensure_registry(scale.name)
        reg = build["registry"]
        how = "reused, built" if reg["reused"] else "built"
        tables = reg["tables"]
        print(
            f"registry: {tables['registry_person']:,} people, {tables['registry_household']:,} households, "
            f"{tables['registry_building']:,} buildings, {tables['registry_organisation']:,} organisations, "
            f"{tables['registry_shop']:,} shops ({how} in {reg['build_s']:.1f} s)",
            flush=True,
        )

    from django.conf import settings

    from .timing import machine_speed

    speed_dir = settings.VAR_DIR / "bench"
    speed_dir.mkdir(parents=True, exist_ok=True)
    speed_before = machine_speed(speed_dir)
    print(
        f"machine: Python loop {speed_before['python_loop_s']:.3f} s, "
        f"page writes {speed_before['page_writes_s']:.3f} s",
        flush=True,
    )
    results, notes = [], {}
    load_before = os.getloadavg()
    for name in names:
        t0 = time.perf_counter()
        print(f"  · running {name}…", file=sys.stderr, flush=True)
        found, extra = BENCHMARKS[name](scale, users)
        results += found
        notes[name] = {**extra, "seconds": round(time.perf_counter() - t0, 3)}

    print(report.format_table(results))
    for name, extra in notes.items():
        compare = extra.get("compare_with")
        for key in extra.get("missed", ()):
            first = f", {compare} first" if compare else ""
            print(f"\n{name} [{key}] missed its target; query plans{first}:")
            for who in [w for w in (compare, key) if w]:
                for query, plan in extra["plans"][who].items():
                    if not query.endswith("_sql"):
                        print(f"--- {who} {query}:\n{plan}")

    failed = [r.operation for r in results if r.passed is False]
    data = {
        "scale": scale.name,
        "db": db,
        "timestamp": stamp,
        "scale_settings": asdict(scale),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "loadavg_before": load_before,
            "loadavg_after": os.getloadavg(),
            # bench.timing.machine_speed: this machine's speed now, before and after the benchmarks.
            "speed_before": speed_before,
            "speed_after": machine_speed(speed_dir),
        },
        "database": dataset.describe_database(),
        "dataset": build,
        "results": [r.as_dict() for r in results],
        "notes": notes,
        "summary": {
            "passed": sum(r.passed is True for r in results),
            "failed": failed,
            "seconds": round(time.perf_counter() - started, 1),
        },
    }
    path, _latest = report.write_json(data, scale=scale.name, db=db, stamp=stamp)
    verdict = f"{len(failed)} target(s) missed" if failed else "all targets met"
    print(f"\n{verdict}; {data['summary']['seconds']} s; results: {path}", flush=True)
    return 1 if failed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
