"""Run the platform: gunicorn (the real web server) and the Huey task worker, together.

Stops both when either exits or on Ctrl-C / SIGTERM.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run the web server (gunicorn) and the task worker (Huey)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--workers", type=int, default=int(os.environ.get("WEB_WORKERS", "2")))

    def handle(self, *args, host, port, workers, **options):
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "config.settings"),
        }
        base = str(settings.BASE_DIR)
        web = [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi:application",
            "--bind",
            f"{host}:{port}",
            "--workers",
            str(workers),
            "--threads",
            "4",
            "--access-logfile",
            "-",
            "--graceful-timeout",
            "10",
            "--timeout",
            "60",
        ]
        worker = [sys.executable, "manage.py", "run_huey", "--quiet"]
        procs = [
            subprocess.Popen(worker, cwd=base, env=env),  # noqa: S603 (fixed argv)
            subprocess.Popen(web, cwd=base, env=env),  # noqa: S603
        ]
        self.stdout.write(f"CivicGrid is running at http://{host}:{port}/  (Ctrl-C stops it)")

        def stop(*_):
            for p in procs:
                if p.poll() is None:
                    p.terminate()

        signal.signal(signal.SIGTERM, stop)
        try:
            while all(p.poll() is None for p in procs):
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            stop()
            for p in procs:
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    p.kill()
        code = max((p.returncode or 0) for p in procs)
        if code:
            sys.exit(code)
