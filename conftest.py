"""Project-wide test setup: service requirements, the Wuzhou area tree, shared fixtures."""

from __future__ import annotations

import os

import pytest

REQUIRED = {
    "postgres": "REQUIRE_POSTGRES",
    "redis": "REQUIRE_REDIS",
    "browser": "REQUIRE_BROWSER",
}


def pytest_collection_modifyitems(config, items):
    """Tests marked postgres/redis/browser skip when their service is absent, unless the matching
    REQUIRE_* variable is set (CI sets them): then a missing service fails instead of skipping."""
    from django.db import connection

    available = {
        "postgres": connection.vendor == "postgresql",
        "redis": bool(os.environ.get("REDIS_URL")),
        "browser": os.path.exists(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")),
    }
    for item in items:
        for mark, env in REQUIRED.items():
            if mark in item.keywords and not available[mark]:
                if os.environ.get(env) == "1":
                    item.user_properties.append(("missing", mark))
                else:
                    item.add_marker(pytest.mark.skip(reason=f"{mark} not available here"))


def pytest_runtest_setup(item):
    for name, value in item.user_properties:
        if name == "missing":
            pytest.fail(f"{value} is required ({REQUIRED[value]}=1) but not available", pytrace=False)


@pytest.fixture
def wuzhou(db):
    """The Wuzhou demo area tree (loaded once per database, then kept by transaction rollback)."""
    from civicgrid.areas.demo import load_wuzhou
    from civicgrid.areas.models import Area

    if not Area.objects.filter(code="450400").exists():
        load_wuzhou()
    return Area.objects.get(code="450400")


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    from civicgrid.areas.demo import load_wuzhou

    with django_db_blocker.unblock():
        load_wuzhou()


CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright (never a downloaded browser)."""
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"), args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()
