"""Work dynamics in a real browser on phone-sized screens: a community official writes a post with a
cover and a large picture (made smaller in the browser) and publishes it; a resident of that
community signs in with their phone and reads it in the portal."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from civicgrid.accounts.services import agreement_accept, agreement_publish
from civicgrid.areas.models import Area
from civicgrid.core.testing import make_user
from civicgrid.dynamics.choices import PictureKind, Status
from civicgrid.dynamics.models import Post
from civicgrid.portal.tests.conftest import code_sent_to, outbox  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct-horse-battery-9"
PHONE = "13812345670"
COMMUNITY = "450403005001"
WIDTH = 390


def photo(size, color) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="JPEG", quality=95)
    return out.getvalue()


@pytest.fixture
def phone(browser):
    context = browser.new_context(
        viewport={"width": WIDTH, "height": 844}, locale="zh-CN", has_touch=True, is_mobile=True
    )
    page = context.new_page()
    page.set_default_timeout(20000)
    yield page
    context.close()


@pytest.fixture
def second_phone(browser):
    context = browser.new_context(
        viewport={"width": WIDTH, "height": 844}, locale="zh-CN", has_touch=True, is_mobile=True
    )
    page = context.new_page()
    page.set_default_timeout(20000)
    yield page
    context.close()


def fits(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth") <= WIDTH


def test_official_publishes_and_resident_reads(phone, second_phone, live_server, wuzhou, outbox):  # noqa: F811
    community = Area.objects.get(code=COMMUNITY)
    official = make_user("t_community", "community_official")
    agreement = agreement_publish(actor=None, version="v1", title="保密责任书", body="……")
    agreement_accept(user=official, agreement=agreement, ip=None)

    # The community official signs in on a phone and writes the post.
    page = phone
    page.goto(f"{live_server.url}/accounts/login/?next=/diary/dynamics/new/")
    page.fill("#id_username", official.username)
    page.fill("#id_password", PASSWORD)
    page.click("button.primary")
    page.wait_for_url("**/diary/dynamics/new/")
    assert page.input_value("#id_area") == str(community.pk)  # their only community, chosen already
    page.fill("#id_title", "三角嘴社区开展邻里节活动")
    page.fill("#id_body", "本周六，社区在小区广场举办邻里节。\n\n居民带来自家做的美食，一起包饺子、拉家常。")
    page.set_input_files(
        "#id_cover",
        files=[{"name": "cover.jpg", "mimeType": "image/jpeg", "buffer": photo((1200, 800), "teal")}],
    )
    page.set_input_files(
        "#id_pictures",
        files=[{"name": "big.jpg", "mimeType": "image/jpeg", "buffer": photo((4000, 3000), (200, 120, 40))}],
    )
    page.wait_for_selector("#picture-previews figure")
    assert fits(page)
    page.click("#publish-post")
    page.wait_for_url("**/diary/dynamics/*/")
    assert page.get_attribute("#post-status", "data-status") == Status.PUBLISHED
    post = Post.objects.get(title="三角嘴社区开展邻里节活动")
    assert post.status == Status.PUBLISHED and post.author == official and post.area == community
    picture = post.pictures.get(kind=PictureKind.PICTURE)
    assert min(picture.width, picture.height) <= 1600  # made smaller on the way
    page.wait_for_function(
        "() => { const i = document.querySelector('#preview #post-cover');"
        " return i && i.complete && i.naturalWidth > 0; }"
    )
    assert fits(page)

    # A resident of that community signs in with their phone and reads it in the portal.
    page = second_phone
    page.goto(f"{live_server.url}/portal/")
    page.wait_for_url("**/portal/login/**")
    page.fill("#id_phone", PHONE)
    page.click("#send-code")
    page.wait_for_url("**/portal/login/code/")
    page.fill("#id_code", code_sent_to(PHONE))
    page.click("#sign-in")
    page.wait_for_url("**/portal/community/**")
    page.select_option("#id_community", str(community.pk))
    page.click("#community-form button[type=submit]")
    page.wait_for_url("**/portal/")
    assert post.title in page.text_content("#home-dynamics")
    page.click("#tab-dynamics")
    page.wait_for_url("**/portal/dynamics/")
    assert fits(page)
    card = page.locator(f'.dyn-card[data-post="{post.pk}"]')
    assert post.title in card.text_content()
    page.wait_for_function(
        "() => [...document.querySelectorAll('.dyn-card-img')].every(i => i.complete && i.naturalWidth > 0)"
    )
    card.click()
    page.wait_for_url(f"**/portal/dynamics/{post.pk}/")
    assert page.text_content("#post-title") == post.title
    assert "包饺子" in page.text_content("#post-body")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#post-cover, #post-pictures img')]"
        ".every(i => i.complete && i.naturalWidth > 0)"
    )
    assert page.locator("#post-pictures img").count() == 1
    assert fits(page)
    post.refresh_from_db()
    assert post.view_count == 1
