"""The server under load: gunicorn and the Huey consumer, started the way ``manage.py serve`` starts
them (``civicgrid/core/management/commands/serve.py``: ``config.wsgi:application``, 2 workers × 4
threads, ``--timeout 60 --graceful-timeout 10``), on the benchmark's database.

Differences from ``serve``, all outside the request path: the settings are ``bench.loadtest.settings``
(the bench's database plus the floor endpoint), the access log goes to a file instead of stdout,
the Huey consumer keeps its queue in a file of the bench's own and runs no periodic tasks (the
deadline sweep would otherwise run over the whole dataset, whose "now" is ``ANCHOR``, during the
load)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: Web processes and threads per process, as ``manage.py serve`` (its defaults) runs them.
WORKERS = 2
THREADS = 4


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env() -> dict[str, str]:
    """The current environment (BENCH_DB, BENCH_SCALE, BENCH_SQLITE_PATH, …) with the load test's
    settings module."""
    env = dict(os.environ)
    env.pop("DATABASE_URL", None)
    env["DJANGO_SETTINGS_MODULE"] = "bench.loadtest.settings"
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


class Server:
    """gunicorn (``WORKERS`` × ``THREADS``) and ``run_huey``; ``start`` waits until /healthz answers."""

    def __init__(
        self, *, port: int | None = None, log_dir: Path, workers: int = WORKERS, threads: int = THREADS
    ):
        self.port = port or free_port()
        self.log_dir = log_dir
        self.workers, self.threads = workers, threads
        self.web: subprocess.Popen | None = None
        self.huey: subprocess.Popen | None = None
        log_dir.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _web_command(self) -> list[str]:
        return [
            sys.executable, "-m", "gunicorn", "config.wsgi:application",
            "--bind", f"127.0.0.1:{self.port}",
            "--workers", str(self.workers),
            "--threads", str(self.threads),
            "--access-logfile", str(self.log_dir / "access.log"),
            "--error-logfile", str(self.log_dir / "gunicorn.log"),
            "--graceful-timeout", "10",
            "--timeout", "60",
        ]  # fmt: skip

    def start(self, *, huey: bool = True, timeout: float = 60.0) -> None:
        env = server_env()
        if huey and (self.huey is None or self.huey.poll() is not None):
            out = open(self.log_dir / "huey.log", "ab")  # noqa: SIM115 (closed with the process)
            self.huey = subprocess.Popen(
                [sys.executable, "manage.py", "run_huey", "--quiet", "--no-periodic"],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        out = open(self.log_dir / "gunicorn.out", "ab")  # noqa: SIM115
        self.web = subprocess.Popen(
            self._web_command(),
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.web is not None and self.web.poll() is not None:
                raise RuntimeError(
                    f"gunicorn exited with {self.web.returncode}; see {self.log_dir}/gunicorn.log"
                )
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=5) as response:  # noqa: S310
                    if response.status == 200 and len(self.worker_pids()) >= self.workers:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"the server did not answer within {timeout:.0f} s; see {self.log_dir}")

    def worker_pids(self) -> list[int]:
        """The gunicorn workers (children of the master)."""
        if self.web is None:
            return []
        try:
            text = Path(f"/proc/{self.web.pid}/task/{self.web.pid}/children").read_text()
        except OSError:
            return []
        return [int(p) for p in text.split()]

    def kill_worker(self) -> int:
        """SIGKILL one gunicorn worker (the master starts another); returns its pid."""
        pid = self.worker_pids()[0]
        os.kill(pid, signal.SIGKILL)
        return pid

    def kill_web(self) -> None:
        """SIGKILL the master and its workers at once, as a crash or an OOM kill of the machine would."""
        if self.web is not None and self.web.poll() is None:
            os.killpg(self.web.pid, signal.SIGKILL)
            self.web.wait()

    def stop(self) -> None:
        for proc in (self.web, self.huey):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in (self.web, self.huey):
            if proc is None:
                continue
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def __enter__(self) -> Server:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
