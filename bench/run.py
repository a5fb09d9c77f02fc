"""Entry point of ``make bench``: ``python -m bench.run --scale small|city [--db sqlite|postgres|both]
[--only NAME]``.

Each database runs in its own worker process (``bench.worker``) with its own settings: the runner
puts BENCH_DB / BENCH_SCALE and DJANGO_SETTINGS_MODULE=bench.settings in the child's environment
(and drops DATABASE_URL, which would point the project's settings elsewhere). With ``--db both``
(the default) PostgreSQL is skipped, with a message, when the server cannot be reached.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from .scales import DATABASES, DEFAULT_PG_URL, ENV_DB, ENV_PG_URL, ENV_SCALE, SCALES

ROOT = Path(__file__).resolve().parent.parent
BENCHMARK_NAMES = (
    "locate",
    "scope_list",
    "registry",
    "imports",
    "exports",
    "cases",
    "cases_load",
    "photo_report",
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", choices=SCALES, default="small", help="dataset size (default: small)")
    parser.add_argument("--db", choices=(*DATABASES, "both"), default="both", help="default: both")
    parser.add_argument(
        "--only", action="append", choices=BENCHMARK_NAMES, help="run one benchmark (repeatable)"
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    return parser.parse_args(argv)


def child_env(db: str, scale: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("DATABASE_URL", None)
    env.update(
        {"DJANGO_SETTINGS_MODULE": "bench.settings", ENV_DB: db, ENV_SCALE: scale, "PYTHONUNBUFFERED": "1"}
    )
    return env


def postgres_ready(required: bool) -> bool:
    """Make sure the bench database exists; False (after saying why) when the server is unreachable."""
    import psycopg

    from .pg import ensure_database, redact

    url = os.environ.get(ENV_PG_URL, DEFAULT_PG_URL)
    try:
        ensure_database(url)
    except psycopg.OperationalError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        word = "ERROR" if required else "SKIPPED"
        print(f"{word}: PostgreSQL at {redact(url)} is not reachable ({reason}); set {ENV_PG_URL}.")
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    dbs = list(DATABASES) if args.db == "both" else [args.db]
    status = 0
    for db in dbs:
        if db == "postgres" and not postgres_ready(required=args.db == "postgres"):
            status = max(status, 2 if args.db == "postgres" else 0)
            continue
        cmd = [sys.executable, "-m", "bench.worker", "--scale", args.scale]
        for name in args.only or ():
            cmd += ["--only", name]
        if args.strict:
            cmd.append("--strict")
        code = subprocess.call(cmd, cwd=ROOT, env=child_env(db, args.scale))
        if code:
            print(f"{db}: worker exited with status {code}", file=sys.stderr)
            status = max(status, code)
    return status


if __name__ == "__main__":
    sys.exit(main())
