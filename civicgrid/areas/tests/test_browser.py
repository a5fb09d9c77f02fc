"""The map in a real browser: sign in, accept the agreement, drill down to a grid, find a point."""

import pytest

from civicgrid.accounts.services import agreement_publish
from civicgrid.areas.models import Area
from civicgrid.core.coords import wgs84_to_gcj02
from civicgrid.core.testing import make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct-horse-battery-9"


@pytest.fixture
def staff(wuzhou):
    agreement_publish(actor=None, version="t1", title="数据保密责任书", body="测试正文")
    return make_user("t_browser", "district_official")  # 万秀区 and below


def sign_in(page, live_server, username):
    page.goto(f"{live_server.url}/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button.primary")
    page.wait_for_url("**/accounts/agreement/**")
    page.check("input[name=accept]")
    page.click("button.primary")


def test_sign_in_and_drill_down_the_map(page, live_server, staff):
    sign_in(page, live_server, staff.username)
    page.goto(f"{live_server.url}/gis/map/")
    # The district official's top area is 万秀区; its streets are drawn and listed.
    page.wait_for_selector('path[data-code="450403005000"]')
    assert page.text_content("#panel-title") == "万秀区"
    assert page.locator("#children a").count() == Area.objects.filter(parent__code="450403").count()
    assert page.locator('nav.modules a[data-module="gis"]').count() == 1
    assert page.locator('nav.modules a[data-module="command"]').count() == 1
    assert page.locator('nav.modules a[data-module="party"]').count() == 0  # not built: absent
    # Click the street polygon, then the community, then the grid. The click is sent to the polygon
    # itself: a mouse click at its on-screen position can land elsewhere while the map still zooms.
    page.dispatch_event('path[data-code="450403005000"]', "click")
    page.wait_for_selector('path[data-code="450403005001"]')
    assert page.text_content("#panel-title") == "角嘴街道"
    page.dispatch_event('path[data-code="450403005001"]', "click")
    page.wait_for_selector('path[data-code="450403005001001"]')
    page.dispatch_event('path[data-code="450403005001001"]', "click")
    page.wait_for_function("document.getElementById('panel-title').textContent.includes('第01网格')")
    assert "450403005001001" in page.text_content("#panel-info")
    trail = page.text_content("#trail")
    assert "角嘴街道" in trail and "三角嘴社区" in trail
    # Back up through the trail.
    page.click('#trail a[data-id]:not([data-id=""]) >> nth=0')
    page.wait_for_selector('path[data-code="450403005000"]')


def test_find_the_grid_of_a_point(page, live_server, staff):
    sign_in(page, live_server, staff.username)
    grid = Area.objects.get(code="450403006002003")
    page.goto(f"{live_server.url}/gis/map/")
    page.wait_for_selector("path[data-code]")
    page.fill("#locate-input", f"{grid.centre_lat}, {grid.centre_lng}")
    page.click("#locate-form button")
    page.wait_for_function(f"document.getElementById('panel-title').textContent === '{grid.name}'")
    page.fill("#locate-input", "not a point")
    page.click("#locate-form button")
    assert page.text_content("#panel-info")
    page.fill("#locate-input", "39.9, 116.4")
    page.click("#locate-form button")
    page.wait_for_function("document.getElementById('panel-info').textContent.length > 0")


def test_gcj02_tiles_shift_the_display(page, live_server, staff, settings):
    settings.MAP_TILE_URL = f"{live_server.url}/static/none/{{z}}/{{x}}/{{y}}.png"
    settings.MAP_TILE_CRS = "gcj02"
    sign_in(page, live_server, staff.username)
    page.goto(f"{live_server.url}/gis/map/")
    page.wait_for_selector('path[data-code="450403005000"]')
    street = Area.objects.get(code="450403005000")
    lng, lat = street.geometry["coordinates"][0][0]
    shown = page.evaluate(
        """(code) => { let found = null;
             CivicMap.map.eachLayer(l => { if (l.options && l.options.areaCode === code && l.getLatLngs)
               found = l.getLatLngs()[0].map(p => [p.lat, p.lng]); });
             return found; }""",
        "450403005000",
    )
    expected = wgs84_to_gcj02(lat, lng)
    assert any(abs(p[0] - expected[0]) < 1e-9 and abs(p[1] - expected[1]) < 1e-9 for p in shown)
    assert all(abs(p[0] - lat) > 1e-4 or abs(p[1] - lng) > 1e-4 for p in shown[:1])
    # The browser's conversion agrees with the server's.
    for point in [(23.4769, 111.279), (39.908823, 116.39747), (22.3, 114.2)]:
        assert page.evaluate("p => CivicCoords.wgs84ToGcj02(p[0], p[1])", list(point)) == pytest.approx(
            list(wgs84_to_gcj02(*point)), abs=1e-12
        )


def test_phone_sized_shell_for_grid_workers(browser, live_server, wuzhou):
    worker = make_user("t_phone", "grid_worker")
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/login/?next=/m/")
    page.fill("#id_username", worker.username)
    page.fill("#id_password", PASSWORD)
    page.click("button.primary")
    page.wait_for_url("**/m/")
    assert "三角嘴社区第01网格" in page.text_content("h1") or page.text_content("h1")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    context.close()
