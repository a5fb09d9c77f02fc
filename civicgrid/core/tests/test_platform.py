"""Health check, settings guard rails, task queue, i18n."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from civicgrid.core.testing import make_user

ROOT = Path(settings.BASE_DIR)


@pytest.mark.django_db
def test_healthz_reports_database_and_tasks(client):
    res = client.get("/healthz")
    assert res.status_code == 200
    body = res.json()
    assert body["status"] == "ok" and body["database"]["ok"] and body["tasks"]["ok"]
    assert body["database"]["vendor"] in ("sqlite", "postgresql")


def _django_check(env_overrides):
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "FIELD_ENCRYPTION_KEY", "DEBUG")}
    env.update(env_overrides, DJANGO_SETTINGS_MODULE="config.settings")
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_refuses_default_secrets():
    res = _django_check({"CIVICGRID_ENV": "production", "ALLOWED_HOSTS": "civic.example"})
    assert res.returncode != 0
    assert "SECRET_KEY" in res.stderr and "FIELD_ENCRYPTION_KEY" in res.stderr


def test_production_starts_with_real_secrets(tmp_path):
    res = _django_check(
        {
            "CIVICGRID_ENV": "production",
            "ALLOWED_HOSTS": "civic.example",
            "SECRET_KEY": "x" * 60,
            "FIELD_ENCRYPTION_KEY": "a-real-key-from-the-vault-0123456789",
            "CIVICGRID_VAR_DIR": str(tmp_path),
        }
    )
    assert res.returncode == 0, res.stderr


def test_bad_map_crs_is_refused():
    res = _django_check({"MAP_TILE_CRS": "mercator"})
    assert res.returncode != 0 and "MAP_TILE_CRS" in res.stderr


@pytest.mark.django_db
def test_task_queue_runs_tasks():
    from civicgrid.core.tasks import ping

    assert ping()() == "pong"  # immediate mode in tests: enqueued and executed in-process


@pytest.mark.django_db
def test_periodic_tasks_are_registered():
    from huey.contrib.djhuey import HUEY

    names = {t.__name__ for t in HUEY._registry._periodic_tasks}
    assert any("seal_audit_logs" in n for n in names)


@pytest.mark.redis
def test_redis_backed_queue_end_to_end(tmp_path):
    """The real configuration: a `run_huey` worker process on Redis runs a task that another process
    enqueued, and the result comes back through Redis."""
    import uuid

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "HUEY_NAME": f"civicgrid-test-{uuid.uuid4().hex[:8]}",
        "CIVICGRID_VAR_DIR": str(tmp_path),
    }
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "run_huey", "--workers", "1", "--no-periodic"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        code = (
            "import django; django.setup(); from huey.contrib.djhuey import HUEY; "
            "from civicgrid.core.tasks import ping; r = ping(); "
            "print(type(HUEY.storage).__name__, r.get(blocking=True, timeout=30)); HUEY.storage.flush_all()"
        )
        res = subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
        )
        assert res.returncode == 0, res.stderr
        assert res.stdout.split() == ["PriorityRedisStorage", "pong"]
    finally:
        worker.terminate()
        worker.wait(timeout=15)


@pytest.mark.redis
def test_settings_choose_redis_when_redis_url_is_set():
    code = (
        "import django; django.setup(); from huey.contrib.djhuey import HUEY; "
        "print(type(HUEY.storage).__name__)"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"}
    res = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert res.returncode == 0, res.stderr
    assert "Redis" in res.stdout


def test_settings_choose_sqlite_without_redis_url(tmp_path):
    code = (
        "import django; django.setup(); from huey.contrib.djhuey import HUEY; "
        "print(type(HUEY.storage).__name__)"
    )
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update(DJANGO_SETTINGS_MODULE="config.settings", CIVICGRID_VAR_DIR=str(tmp_path))
    res = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert res.returncode == 0, res.stderr
    assert "SqliteStorage" in res.stdout


@pytest.mark.django_db
class TestI18n:
    def test_chinese_is_the_default(self, wuzhou, client):
        client.force_login(make_user("t_gw", "grid_worker"))
        res = client.get(reverse("areas:map"))
        assert '<html lang="zh-hans">' in res.content.decode()
        assert "网格地图" in res.content.decode()

    def test_english_on_request(self, wuzhou, client):
        client.force_login(make_user("t_gw", "grid_worker"))
        client.post(reverse("set_language"), {"language": "en", "next": "/"})
        res = client.get(reverse("areas:map"))
        assert "Grid map" in res.content.decode() and '<html lang="en">' in res.content.decode()

    def test_catalogue_is_complete_and_compiled(self):
        import polib

        po_path = ROOT / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
        po = polib.pofile(str(po_path))
        missing = [e.msgid for e in po if not e.translated() and not e.obsolete]
        assert not missing, f"untranslated: {missing[:10]}"
        fuzzy = [e.msgid for e in po.fuzzy_entries()]
        assert not fuzzy, f"fuzzy: {fuzzy[:10]}"
        compiled = {(e.msgctxt, e.msgid): e.msgstr for e in polib.mofile(str(po_path.with_suffix(".mo")))}
        stale = [e.msgid for e in po.translated_entries() if compiled.get((e.msgctxt, e.msgid)) != e.msgstr]
        assert not stale, f".mo is older than .po (run make messages): {stale[:10]}"
