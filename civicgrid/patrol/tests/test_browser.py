"""In a real browser: the grid worker starts duty on a phone-sized screen, agrees to the consent
text, sees the recording bar, walks (emulated geolocation) and the points arrive on the server;
an official opens the worker's day and sees the track drawn on the offline map."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone, translation
from django.utils.translation import gettext

from civicgrid.areas.models import Area
from civicgrid.areas.services import grid_worker_assign
from civicgrid.core.testing import HOME, PHONE_VIEWPORT, make_user, signed_in_context
from civicgrid.patrol import services
from civicgrid.patrol.models import PatrolShift, TrackPoint
from civicgrid.patrol.testing import seed_consent_text

from .conftest import key, offset, walk

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def phone_worker(wuzhou):
    seed_consent_text()
    user = make_user("br_gw", "grid_worker")
    grid_worker_assign(actor=None, grid=Area.objects.get(code=HOME["grid"]), user=user)
    return user


def wait_for(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()


def test_start_duty_consent_indicator_and_points_uploaded(browser, live_server, phone_worker, settings):
    settings.PATROL_MIN_INTERVAL_S = 1  # keep every emulated move (a real phone: one per 10 s)
    grid = Area.objects.get(code=HOME["grid"])
    centre = (grid.centre_lat, grid.centre_lng)
    context = signed_in_context(
        browser,
        live_server,
        phone_worker,
        viewport=PHONE_VIEWPORT,
        is_mobile=True,
        has_touch=True,
        permissions=["geolocation"],
        geolocation={"latitude": centre[0], "longitude": centre[1], "accuracy": 8},
    )
    context.grant_permissions(["geolocation"])
    page = context.new_page()
    page.set_default_timeout(15000)
    page.goto(f"{live_server.url}/m/patrol/")
    assert page.is_hidden("#track-bar")
    assert page.is_hidden("#consent")

    page.click("#duty-start")  # no consent yet: the consent screen comes first
    page.wait_for_selector("#consent", state="visible")
    assert "巡查轨迹记录知情同意书" in page.inner_text("#consent-title")
    assert not PatrolShift.objects.filter(worker=phone_worker).exists()
    page.click("#consent-accept")

    bar = page.wait_for_selector("#track-bar", state="visible")
    with translation.override("zh-hans"):
        assert gettext("Recording track") in bar.inner_text()  # 正在记录轨迹
    assert page.is_visible("#track-stop")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_VIEWPORT["width"]
    shift = PatrolShift.objects.get(worker=phone_worker, ended_at__isnull=True)

    for i in range(1, 7):  # walk east along the street
        lat, lng = offset(*centre, 0, 15 * i)
        context.set_geolocation({"latitude": lat, "longitude": lng, "accuracy": 8})
        page.wait_for_timeout(1100)
    page.wait_for_function("window.civicgridTrack.recorded() >= 4")
    page.evaluate("window.civicgridTrack.flush(true)")
    page.wait_for_function("window.civicgridTrack.uploaded() >= 4")
    assert TrackPoint.objects.filter(shift=shift).count() >= 4
    assert page.evaluate("window.civicgridTrack.pending()") == 0

    # The bar follows the worker through the app, and stops recording from there.
    page.goto(f"{live_server.url}/m/tasks/")
    page.wait_for_selector("#track-bar", state="visible")
    page.click("#track-stop")
    page.wait_for_selector("#track-bar", state="hidden")
    page.wait_for_selector("#track-off", state="visible")
    assert wait_for(lambda: PatrolShift.objects.get(pk=shift.pk).ended_at is not None)
    context.close()


def test_an_official_sees_the_track_on_the_map(browser, live_server, phone_worker):
    grid = Area.objects.get(code=HOME["grid"])
    centre = (grid.centre_lat, grid.centre_lng)
    services.consent_give(actor=phone_worker, version=seed_consent_text().version)
    shift, _ = services.shift_start(actor=phone_worker)
    PatrolShift.objects.filter(pk=shift.pk).update(started_at=timezone.now() - timedelta(hours=1))
    from civicgrid.registry.services import building_create

    building_create(
        actor=None, name="巡查楼", lat=offset(*centre, 20, 60)[0], lng=offset(*centre, 20, 60)[1], grid=grid
    )
    points = walk(centre, 60, at=timezone.now() - timedelta(minutes=15), heading_deg=80)
    services.points_upload(actor=phone_worker, shift=shift, key=key(), points=points)
    official = make_user("br_comm", "community_official")

    context = signed_in_context(browser, live_server, official, viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.set_default_timeout(15000)
    page.goto(f"{live_server.url}/patrol/")
    page.click(f"tr[data-grid='{HOME['grid']}'] a.open-track")
    page.wait_for_selector("#track-map path[data-line]")
    box = page.locator("#track-map")
    assert box.get_attribute("data-lines") == "1"
    assert 2 <= int(box.get_attribute("data-points")) < 60  # simplified for drawing
    assert page.locator("#track-map path[data-visit='building']").count() == 1
    assert "no-tiles" in box.get_attribute("class")  # drawn offline
    assert page.inner_text("#stat-points") == "60"
    context.close()
