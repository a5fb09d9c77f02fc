"""Binding a phone in a real browser (desktop): from the user menu to "My notification channels",
enter the number, read the code the development SMS sender received, enter it; the number shows
verified (masked) and SMS notifications go to it."""

from __future__ import annotations

import pytest

from civicgrid.core.testing import browser_sign_in, make_user
from civicgrid.notify import services
from civicgrid.portal.tests.conftest import code_sent_to

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = "13912345678"


def test_staff_bind_a_phone_with_the_code_from_the_sms(page, live_server, wuzhou, outbox):
    staff = make_user("br_addr_staff", "dispatcher")
    browser_sign_in(page.context, live_server, staff)
    page.goto(f"{live_server.url}/notifications/")
    page.click("#my-channels-link")
    page.wait_for_url("**/notifications/addresses/")
    assert page.is_visible("#channel-sms") and page.is_visible("#channel-wechat")

    page.fill("#id_phone", "139 1234 5678")
    page.click("#send-code")
    page.wait_for_selector("#code-form")
    assert "139****5678" in page.text_content("#channel-sms")
    assert PHONE not in page.content()

    page.fill("#id_code", code_sent_to(PHONE))
    page.click("#confirm-code")
    page.wait_for_selector("#channel-sms .tag.verified")
    assert page.text_content("#channel-sms .address").strip() == "139****5678"
    assert page.is_visible("#remove-sms") and not page.is_visible("#code-form")
    assert PHONE not in page.content()
    assert services.user_by_address("sms", PHONE) == staff
