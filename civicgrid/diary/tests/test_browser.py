"""The diary in real browsers: a grid worker on a phone-sized screen records a household visit without
signal, and it arrives exactly once when the signal returns; community staff turn a record into a
case from its page in one tap."""

from __future__ import annotations

import time

import pytest

from civicgrid.areas.models import Area
from civicgrid.areas.services import grid_worker_assign
from civicgrid.cases.testing import seed_rules
from civicgrid.core.testing import (
    HOME,
    PHONE_VIEWPORT,
    make_user,
    set_signal,
    signed_in_context,
    wait_until_cached,
)
from civicgrid.diary import services
from civicgrid.diary.models import DiaryRecord

from .conftest import make_household, png

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker(wuzhou):
    seed_rules()
    user = make_user("db_gw", "grid_worker")
    grid_worker_assign(actor=None, grid=Area.objects.get(code=HOME["grid"]), user=user)
    return user


def test_a_visit_recorded_offline_arrives_once_when_back_online(browser, live_server, worker):
    grid = Area.objects.get(code=HOME["grid"])
    household, head = make_household(grid, head="陈秀英", seq=41)
    context = signed_in_context(
        browser,
        live_server,
        worker,
        viewport=PHONE_VIEWPORT,
        is_mobile=True,
        has_touch=True,
        geolocation={"latitude": grid.centre_lat, "longitude": grid.centre_lng},
        permissions=["geolocation"],
    )
    page = context.new_page()
    page.set_default_timeout(15000)
    # The worker opens the app at "my tasks" with signal, never the diary: installing the app
    # keeps the diary's form on the phone too.
    page.goto(f"{live_server.url}/m/tasks/")
    wait_until_cached(page, "/m/diary/new/", "/diary/mobile.js", "/diary/diary.css")

    set_signal(context, False)
    page.goto(f"{live_server.url}/m/diary/new/")
    page.wait_for_selector("#diary-form")
    page.wait_for_function("document.getElementById('d-lat').value !== ''")
    page.select_option("#d-kind", "visit")
    page.fill("#d-search", "陈")  # found without signal: the page carries the grid's households
    page.click(f'#d-results button[data-type="households"][data-id="{household.pk}"]')
    assert "陈秀英" in page.text_content("#d-chosen")
    page.fill("#d-summary", "离线走访：陈秀英家，老人独居")
    page.select_option("#d-mood", "neutral")
    page.set_input_files(
        "#d-photos", files=[{"name": "p.png", "mimeType": "image/png", "buffer": png((1600, 1200))}]
    )
    page.wait_for_function("document.querySelectorAll('#d-thumbs img').length === 1")
    page.click("#d-submit")
    page.wait_for_function("document.getElementById('outbox-indicator').dataset.count === '1'")
    assert page.is_visible("#d-result")
    assert not DiaryRecord.objects.exists()

    # Reload without signal: the cached page comes back and the record still waits on the phone.
    page.reload()
    page.wait_for_selector("#diary-form")
    page.wait_for_function("document.getElementById('outbox-indicator').dataset.count === '1'")
    assert "离线走访" in page.text_content("#outbox-list")
    assert not DiaryRecord.objects.exists()

    set_signal(context, True)
    started = time.perf_counter()
    page.wait_for_function("document.getElementById('outbox-indicator').dataset.count === '0'", timeout=30000)
    print(f"\ndiary outbox flushed {time.perf_counter() - started:.1f} s after the signal returned")
    record = DiaryRecord.objects.get()
    assert (
        record.summary == "离线走访：陈秀英家，老人独居"
        and record.kind == "visit"
        and record.mood == "neutral"
    )
    assert record.created_by == worker and record.area_code == HOME["grid"] and record.idempotency_key
    assert list(record.households.all()) == [household]
    assert record.photos.count() == 1 and record.lat is not None
    page.wait_for_selector("#net-status.success")
    # Flushing again (another tab, a periodic retry) sends nothing twice.
    page.evaluate("window.civicgridOutbox.flush(true)")
    assert DiaryRecord.objects.count() == 1
    page.goto(f"{live_server.url}/m/diary/")
    assert page.locator(f'#my-records li[data-record="{record.pk}"]').count() == 1
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_VIEWPORT["width"]
    context.close()


def test_community_staff_turn_a_record_into_a_case_in_one_tap(browser, live_server, worker):
    grid = Area.objects.get(code=HOME["grid"])
    household, _head = make_household(grid, head="黄志强", seq=42)
    record, _ = services.record_create(
        actor=worker, kind="dispute", summary="楼上漏水引发纠纷", severity="moderate", households=[household]
    )
    staff = make_user("db_community", "community_official")
    context = signed_in_context(browser, live_server, staff, viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.set_default_timeout(15000)
    page.goto(f"{live_server.url}/diary/{record.pk}/")
    page.click("#to-case")
    page.wait_for_selector("#view-case")
    record.refresh_from_db()
    assert record.case is not None
    page.click("#view-case")
    page.wait_for_selector("#case-title")
    assert "楼上漏水引发纠纷" in page.text_content("#case-title")
    context.close()
