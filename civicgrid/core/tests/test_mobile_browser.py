"""The grid worker's phone app in a real browser on a phone-sized viewport: the first load is small,
and a report made without signal waits on the phone and arrives exactly once when it returns."""

from __future__ import annotations

import gzip
import time

import pytest

from civicgrid.areas.models import Area
from civicgrid.areas.services import grid_worker_assign
from civicgrid.cases import services
from civicgrid.cases.choices import EventKind, Status
from civicgrid.cases.models import Case, CaseEvent, Category
from civicgrid.cases.testing import seed_rules
from civicgrid.core.testing import (
    HOME,
    PHONE_VIEWPORT,
    make_user,
    set_signal,
    signed_in_context,
    wait_until_cached,
)

from .test_mobile import handled_case_factory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FIRST_LOAD_LIMIT = 300 * 1024


@pytest.fixture
def worker(wuzhou):
    seed_rules()
    user = make_user("mb_gw", "grid_worker")
    grid_worker_assign(actor=None, grid=Area.objects.get(code=HOME["grid"]), user=user)
    return user


@pytest.fixture
def handled(worker):
    return handled_case_factory()


def phone_context(browser, live_server, user, *, lat=None, lng=None):
    """A phone-sized browser context, signed in as ``user``, sharing its location."""
    options = {"viewport": PHONE_VIEWPORT, "is_mobile": True, "has_touch": True}
    if lat is not None:
        options.update(geolocation={"latitude": lat, "longitude": lng}, permissions=["geolocation"])
    return signed_in_context(browser, live_server, user, **options)


def test_first_load_of_the_report_page_is_small(browser, live_server, worker):
    grid = Area.objects.get(code=HOME["grid"])
    context = phone_context(browser, live_server, worker, lat=grid.centre_lat, lng=grid.centre_lng)
    page = context.new_page()
    page.set_default_timeout(15000)
    # The handler only collects: calling back into Playwright from inside an event handler can
    # block the driver's event loop. Sizes and bodies are read once the page has loaded.
    finished: list = []
    page.on("requestfinished", lambda request: finished.append(request))
    page.goto(f"{live_server.url}/m/report/", wait_until="networkidle")
    page.wait_for_function("document.getElementById('r-lat').value !== ''")
    sizes: list[tuple[str, int, int]] = []
    for request in finished:
        response = request.response()
        if response is None:
            continue
        measured = request.sizes()
        transferred = measured["responseBodySize"] + measured["responseHeadersSize"]
        try:
            body = response.body()
        except Exception:  # noqa: BLE001 - redirects have no body
            body = b""
        # What whitenoise (static) or a gzip-enabled proxy (pages) would send compressed.
        compressed = len(gzip.compress(body)) + measured["responseHeadersSize"] if body else transferred
        sizes.append((request.url, transferred, compressed))
    total = sum(t for _, t, _ in sizes)
    total_gz = sum(c for _, _, c in sizes)
    print(
        f"\nfirst load of /m/report/ on 390x844: {len(sizes)} responses, {total / 1024:.1f} KB as served "
        f"by the test server (uncompressed), {total_gz / 1024:.1f} KB gzip-compressed"
    )
    for url, t, c in sorted(sizes, key=lambda s: -s[1]):
        print(f"  {t / 1024:7.1f} KB  {c / 1024:6.1f} KB gz  {url.replace(live_server.url, '')}")
    assert total < FIRST_LOAD_LIMIT  # even uncompressed
    # No sideways scrolling.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_VIEWPORT["width"]
    context.close()


def test_a_report_made_offline_arrives_once_when_back_online(browser, live_server, worker):
    grid = Area.objects.get(code=HOME["grid"])
    context = phone_context(browser, live_server, worker, lat=grid.centre_lat, lng=grid.centre_lng)
    page = context.new_page()
    page.set_default_timeout(15000)
    page.goto(f"{live_server.url}/m/report/")
    # The shell is cached by the service worker while online.
    assert page.evaluate("'serviceWorker' in navigator")
    wait_until_cached(page, "/m/report/", "/mobile/app.js")
    page.wait_for_function("document.getElementById('r-lat').value !== ''")
    page.wait_for_function("document.getElementById('r-grid').textContent.includes('第01网格')")

    set_signal(context, False)
    category = Category.objects.get(kind="event", code="0102")
    page.select_option("#r-category", str(category.pk))
    page.fill("#r-description", "离线上报：井盖缺失")
    page.set_input_files("#r-photos", files=[{"name": "p.png", "mimeType": "image/png", "buffer": _png()}])
    page.wait_for_function("document.querySelectorAll('#r-thumbs img').length === 1")
    page.click("#r-submit")
    page.wait_for_function("document.getElementById('outbox-indicator').dataset.count === '1'")
    assert "1" in page.text_content("#outbox-indicator")
    assert not Case.objects.filter(source=f"user:{worker.pk}").exists()

    # Reload without signal: the service worker serves the cached shell; the item is still there.
    page.reload()
    page.wait_for_selector("#report-form")
    page.wait_for_function("document.getElementById('outbox-indicator').dataset.count === '1'")
    assert not Case.objects.filter(source=f"user:{worker.pk}").exists()

    set_signal(context, True)
    started = time.perf_counter()
    page.wait_for_function("document.getElementById('outbox-indicator').dataset.count === '0'", timeout=30000)
    print(f"\noutbox flushed {time.perf_counter() - started:.1f} s after the signal returned")
    cases = Case.objects.filter(source=f"user:{worker.pk}")
    assert cases.count() == 1
    case = cases.get()
    assert case.description == "离线上报：井盖缺失" and case.area_code == HOME["grid"]
    assert case.photos.count() == 1
    key = case.idempotency_key
    # Flushing again (another tab, a periodic retry) sends nothing twice.
    page.evaluate("window.civicgridOutbox.flush(true)")
    assert Case.objects.filter(idempotency_key=key).count() == 1
    context.close()


def _png() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (2400, 1800), (30, 120, 200)).save(out, format="PNG")
    return out.getvalue()


def test_verify_on_site_and_a_refused_item_is_kept_until_discarded(browser, live_server, worker, handled):
    failing, other = handled(), handled()
    context = phone_context(browser, live_server, worker)
    page = context.new_page()
    page.set_default_timeout(15000)
    page.goto(f"{live_server.url}/m/tasks/")
    assert page.locator("#to-verify a").count() == 2
    page.click(f'#to-verify a[href$="/m/cases/{failing.pk}/verify/"]')
    page.check("input[name=passed][value='0']")
    page.click("#v-submit")
    assert page.is_visible("#v-error")  # a failure needs its reason
    page.fill("#v-note", "垃圾仍未清理")
    page.click("#v-submit")
    page.wait_for_selector("#net-status.success")  # sent and acknowledged
    assert page.get_attribute("#outbox-indicator", "data-count") == "0"
    failing.refresh_from_db()
    assert failing.status == Status.DISPATCHED and failing.reopen_count == 1

    # Queued without signal, while somebody else verifies the case: the server refuses the item
    # (409), which stays on the phone with the server's message until the worker discards it.
    page.goto(f"{live_server.url}/m/cases/{other.pk}/verify/")
    set_signal(context, False)
    page.click("#v-submit")
    page.wait_for_function("document.getElementById('outbox-indicator').dataset.count === '1'")
    services.case_verify(case=other, actor=worker, passed=True)
    set_signal(context, True)
    page.wait_for_selector("#outbox-list .error")
    assert page.get_attribute("#outbox-indicator", "data-count") == "1"
    page.on("dialog", lambda dialog: dialog.accept())
    page.click("#outbox-list .discard")
    page.wait_for_function("document.getElementById('outbox-indicator').dataset.count === '0'")
    assert CaseEvent.objects.filter(case=other, kind=EventKind.VERIFIED).count() == 1
    context.close()


def test_a_case_listed_in_my_tasks_is_verified_on_site_without_signal(browser, live_server, worker, handled):
    case = handled()
    context = phone_context(browser, live_server, worker)
    page = context.new_page()
    page.set_default_timeout(15000)
    # "My tasks" opened with signal; the case's verify page itself never was.
    page.goto(f"{live_server.url}/m/tasks/")
    wait_until_cached(page, f"/m/cases/{case.pk}/verify/")

    set_signal(context, False)
    page.goto(f"{live_server.url}/m/cases/{case.pk}/verify/")
    page.click("#v-submit")
    page.wait_for_function("document.getElementById('outbox-indicator').dataset.count === '1'")
    case.refresh_from_db()
    assert case.status == Status.HANDLED  # nothing sent yet

    set_signal(context, True)
    page.wait_for_function("document.getElementById('outbox-indicator').dataset.count === '0'", timeout=30000)
    case.refresh_from_db()
    assert case.status != Status.HANDLED
    assert CaseEvent.objects.filter(case=case, kind=EventKind.VERIFIED).count() == 1
    context.close()
