"""Base data in a real browser: buildings on the grid map, drill-down to residents, reveal with reason."""

import pytest

from civicgrid.accounts.services import agreement_accept, agreement_publish
from civicgrid.core.testing import make_user
from civicgrid.registry import services

from .conftest import rid

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "correct-horse-battery-9"


def test_building_on_the_map_to_residents_and_reveal(page, live_server, grid):
    compound = services.compound_create(actor=None, name="鸳江花园", grid=grid)
    building = services.building_create(
        actor=None, name="8栋", compound=compound, lat=grid.centre_lat, lng=grid.centre_lng
    )
    house = services.house_create(actor=None, building=building, room_no="502", unit_no="1", floor=5)
    services.person_register(actor=None, name="陈晓东", id_number=rid(77), phone="13912345678", house=house)
    official = make_user("t_comm", "community_official")
    agreement_accept(
        user=official, agreement=agreement_publish(actor=None, version="v", title="t", body="b"), ip=None
    )
    page.goto(f"{live_server.url}/accounts/login/?next=/gis/map/")
    page.fill("#id_username", official.username)
    page.fill("#id_password", PASSWORD)
    page.click("button.primary")
    # A click is a mouse click at the shape's place on screen: sent once the map has settled
    # (aria-busy false), or it may land where the shape was before the view moved.
    settled = '#map[aria-busy="false"]'
    page.wait_for_selector('path[data-code="450403005001001"]')
    page.wait_for_selector(settled)
    page.click('path[data-code="450403005001001"]')
    page.wait_for_selector(f'path[data-building="{building.pk}"]')
    page.wait_for_selector(settled)
    page.click(f'path[data-building="{building.pk}"]')
    page.click(".leaflet-popup-content a")
    page.wait_for_selector("text=陈晓东")
    page.click("text=陈晓东")
    page.wait_for_selector("#id-number")
    assert "********" in page.text_content("#id-number")
    page.fill("#reveal-form input[name=reason]", "入户核实")
    page.click("#reveal-form button")
    page.wait_for_function(f"document.getElementById('id-number').textContent === '{rid(77)}'")
    assert page.text_content("#phone") == "13912345678"
