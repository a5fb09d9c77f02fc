"""The resident portal in a real browser on a phone-sized screen: sign in with a one-time code,
choose the community, report with a photo (made smaller in the browser) and the phone's position,
find the report under "my reports", and rate it once staff have closed it."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from civicgrid.accounts.models import User
from civicgrid.areas.models import Area
from civicgrid.cases import services as case_services
from civicgrid.cases.choices import Channel, Status
from civicgrid.cases.models import Case, Category

from .conftest import code_sent_to

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = "13712345678"
GRID = "450403005001001"


def big_photo() -> bytes:
    image = Image.new("RGB", (2400, 1800), (30, 120, 200))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=95)
    return out.getvalue()


@pytest.fixture
def phone(browser):
    grid = Area.objects.get(code=GRID)
    context = browser.new_context(
        viewport={"width": 390, "height": 844},
        locale="zh-CN",
        geolocation={"latitude": grid.centre_lat, "longitude": grid.centre_lng},
        permissions=["geolocation"],
        has_touch=True,
        is_mobile=True,
    )
    page = context.new_page()
    page.set_default_timeout(20000)
    yield page
    context.close()


def fits(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth") <= 390


def test_resident_signs_in_reports_and_rates(phone, live_server, people, units, outbox):
    page = phone
    community = Area.objects.get(code="450403005001")

    # Sign in with the phone and the code the (development) SMS sender received.
    page.goto(f"{live_server.url}/portal/")
    page.wait_for_url("**/portal/login/**")
    assert fits(page)
    page.fill("#id_phone", PHONE)
    page.click("#send-code")
    page.wait_for_url("**/portal/login/code/")
    page.fill("#id_code", code_sent_to(PHONE))
    page.click("#sign-in")
    page.wait_for_url("**/portal/community/**")
    page.select_option("#id_community", str(community.pk))
    page.click("#community-form button[type=submit]")
    page.wait_for_url("**/portal/")
    assert community.name in page.text_content("main")
    resident = User.objects.get(username__startswith="r_")

    # Report: category, text, a large photo (shrunk in the browser), the phone's position.
    page.click("#report-button")
    page.wait_for_url("**/portal/report/")
    category = Category.objects.get(kind="event", code="0102")
    page.select_option("#id_category", str(category.pk))
    page.fill("#id_description", "楼下垃圾桶满了三天没人清运")
    page.set_input_files(
        "#id_photos", files=[{"name": "big.jpg", "mimeType": "image/jpeg", "buffer": big_photo()}]
    )
    page.wait_for_selector("#photo-previews figure")
    page.click("#locate-me")
    page.wait_for_function("document.getElementById('id_lat').value !== ''")
    assert fits(page)
    page.click("#submit-report")
    page.wait_for_url("**/portal/cases/*/")
    case = Case.objects.get(reporter=resident)
    assert case.channel == Channel.RESIDENT and case.area.code == GRID
    photo = case.photos.get()
    assert max(photo.width, photo.height) == 1600  # made smaller before upload
    assert page.get_attribute("#case-status", "data-status") == Status.REPORTED

    # My reports lists it.
    page.click("#tab-cases")
    page.wait_for_url("**/portal/cases/")
    assert case.title in page.text_content(".case-items")
    assert fits(page)

    # Staff handle and close it (through the services); the resident rates it.
    p = people
    case = case_services.case_dispatch(case=case, actor=p["community"], department=units["D450403-01"])
    case = case_services.case_handle(case=case, actor=p["handler"], result="已清运干净")
    case = case_services.case_verify(case=case, actor=p["grid_worker"], passed=True)
    case_services.case_close(case=case, actor=p["community"])
    page.click(f'a[href="/portal/cases/{case.pk}/"]')
    page.wait_for_selector("#rate-form")
    assert "已清运干净" in page.text_content("main")
    page.click('label[for="star-4"]')
    page.fill("#rate-form textarea", "处理得很快")
    page.click("#rate-submit")
    page.wait_for_selector("#case-rating")
    case.refresh_from_db()
    assert case.rating == 4 and case.rating_comment == "处理得很快"
    assert fits(page)
    # The resident was told along the way (in-app; the badge counts what is unread).
    assert page.locator("#tab-notifications .badge").count() == 1
