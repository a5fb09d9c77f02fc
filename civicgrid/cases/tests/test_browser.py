"""The command center in a real browser: the live map picks up a new report (and drops a rejected
one) without a reload; a dispatcher dispatches from the case page."""

import pytest

from civicgrid.accounts.services import agreement_accept, agreement_publish
from civicgrid.cases import services
from civicgrid.cases.choices import Status
from civicgrid.cases.models import Case
from civicgrid.cases.testing import seed_rules
from civicgrid.core.testing import make_user

from .test_views import GRID, make_units, report

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "correct-horse-battery-9"


@pytest.fixture
def setup(wuzhou):
    seed_rules()
    units = make_units()
    dispatcher = make_user("t_dispatcher", "dispatcher")
    agreement_accept(
        user=dispatcher, agreement=agreement_publish(actor=None, version="v", title="t", body="b"), ip=None
    )
    return dispatcher, units


def sign_in(page, live_server, user, next_url):
    page.goto(f"{live_server.url}/accounts/login/?next={next_url}")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("button.primary")
    page.wait_for_url(f"**{next_url}")


def test_live_map_shows_new_reports_without_reload(page, live_server, setup):
    dispatcher, _units = setup
    first = report(GRID, title="已有的案件")
    sign_in(page, live_server, dispatcher, "/command/map/")
    page.wait_for_selector(f'path[data-case="{first.pk}"]')
    page.evaluate("window.__notReloaded = true")
    assert page.get_attribute(f'path[data-case="{first.pk}"]', "data-light") == "green"
    # A resident reports through the services while the page is open; the next poll draws it.
    new = report(GRID, title="新上报<b>案件</b>", offset=0.0003)
    page.wait_for_selector(f'path[data-case="{new.pk}"]', timeout=30000)
    # A rejected case leaves the map; a case past its deadline turns red.
    services.case_reject(case=first, actor=dispatcher, reason="不属实")
    Case.objects.filter(pk=new.pk).update(due_at=new.reported_at, warn_at=new.reported_at)
    services.case_supervise(case=new, actor=dispatcher, note="督办")
    page.wait_for_selector(f'path[data-case="{first.pk}"]', state="detached", timeout=30000)
    page.wait_for_selector(f'path[data-case="{new.pk}"][data-light="red"]', timeout=30000)
    assert page.evaluate("window.__notReloaded") is True
    # The popup shows the resident's text as text.
    page.click(f'path[data-case="{new.pk}"]', force=True)
    page.wait_for_selector(".case-popup a")
    assert page.text_content(".case-popup a") == "新上报<b>案件</b>"
    assert page.locator(".case-popup b").count() == 0


def test_dispatcher_dispatches_from_the_case_page(page, live_server, setup):
    dispatcher, units = setup
    case = report(GRID, title="楼顶加建铁皮棚")
    sign_in(page, live_server, dispatcher, f"/command/cases/{case.pk}/")
    assert page.get_attribute("#case-status", "data-status") == "reported"
    page.click("#action-dispatch summary")
    page.select_option("#id_dispatch_department", str(units["D450403-01"].pk))
    page.select_option("#id_dispatch_assisting", [str(units["D450403-03"].pk)])
    page.fill("#id_dispatch_note", "请今天到场")
    page.click("#action-dispatch button[type=submit]")
    page.wait_for_selector('#case-status[data-status="dispatched"]')
    assert "万秀区城市管理局" in page.text_content("#case-unit")
    case.refresh_from_db()
    assert case.status == Status.DISPATCHED and case.department.code == "D450403-01"
    assert page.locator("#timeline [data-kind=dispatched]").count() == 1
