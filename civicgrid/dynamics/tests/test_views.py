"""Staff pages of work dynamics: the list and its filters, the editor with pictures, the post page
with its preview and steps, the pictures view; each in scope only."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from civicgrid.core.testing import count_queries
from civicgrid.dynamics import services
from civicgrid.dynamics.choices import PictureKind, Status
from civicgrid.dynamics.models import Post

from .conftest import COMMUNITY, NEIGHBOUR, STREET, area, upload

pytestmark = pytest.mark.django_db

LIST = "/diary/dynamics/"


def detail(post):
    return reverse("dynamics:detail", args=[post.pk])


def picture_url(picture, thumb=False):
    return reverse("dynamics:picture", args=[picture.pk]) + ("?size=thumb" if thumb else "")


def test_list_in_scope_with_filters(people, make_post, client):
    mine = make_post(title="社区义诊")
    draft = make_post(title="未发布的草稿", publish=False)
    street = make_post(STREET, title="街道防汛部署")
    neighbour = make_post(NEIGHBOUR, title="隔壁社区动态")
    client.force_login(people["community"])
    page = client.get(LIST)
    assert page.status_code == 200
    html = page.content.decode()
    assert mine.title in html and draft.title in html and 'id="new-post"' in html
    assert street.title not in html and neighbour.title not in html  # above and beside: not in scope
    html = client.get(LIST, {"status": "draft"}).content.decode()
    assert draft.title in html and mine.title not in html
    html = client.get(LIST, {"q": "义诊"}).content.decode()
    assert mine.title in html and draft.title not in html
    bad = client.get(LIST, {"published_from": "not-a-date"})
    assert bad.status_code == 200 and "published_from" in bad.content.decode()

    client.force_login(people["district"])
    html = client.get(LIST).content.decode()
    for post in (mine, draft, street, neighbour):
        assert post.title in html
    assert 'id="new-post"' not in html  # district officials oversee; they do not post
    html = client.get(LIST, {"area": area(NEIGHBOUR).pk}).content.decode()
    assert neighbour.title in html and mine.title not in html


def test_list_query_count_does_not_grow(people, make_post, client):
    client.force_login(people["district"])
    make_post(cover=upload())
    client.get(LIST)
    first = count_queries(lambda: client.get(LIST))
    for i in range(5):
        make_post(NEIGHBOUR, title=f"动态{i}", pictures=[upload()])
    assert count_queries(lambda: client.get(LIST)) == first


def test_who_opens_the_pages(people, make_post, client):
    post = make_post()
    client.force_login(people["resident"])
    assert client.get(LIST).status_code == 403
    assert client.get(detail(post)).status_code == 403
    client.force_login(people["neighbour"])
    assert client.get(detail(post)).status_code == 404
    assert client.get(reverse("dynamics:edit", args=[post.pk])).status_code == 404
    client.force_login(people["street"])
    assert client.get(detail(post)).status_code == 200
    assert client.get(reverse("dynamics:edit", args=[post.pk])).status_code == 403  # not the street's post
    client.force_login(people["grid_worker"])
    assert client.get(LIST).status_code == 403
    client.logout()
    assert client.get(LIST).status_code == 302


def test_write_with_pictures_and_publish_at_once(people, client):
    client.force_login(people["community"])
    form = client.get(reverse("dynamics:create"))
    assert form.status_code == 200 and 'id="post-form"' in form.content.decode()
    res = client.post(
        reverse("dynamics:create"),
        {
            "area": area(COMMUNITY).pk,
            "title": "社区开展垃圾分类宣传",
            "body": "第一段。\n\n第二段。",
            "cover": upload("cover.jpg"),
            "pictures": [upload("1.jpg"), upload("2.jpg", gps=True)],
            "op": "publish",
        },
    )
    post = Post.objects.get(title="社区开展垃圾分类宣传")
    assert res.status_code == 302 and res.url == detail(post)
    assert post.status == Status.PUBLISHED and post.author == people["community"]
    assert post.pictures.filter(kind=PictureKind.PICTURE).count() == 2
    assert post.pictures.filter(kind=PictureKind.COVER).count() == 1


def test_editor_names_the_bad_field_and_writes_nothing(people, client):
    client.force_login(people["community"])
    not_an_image = SimpleUploadedFile("notes.txt", b"hello", content_type="image/jpeg")
    res = client.post(
        reverse("dynamics:create"),
        {"area": area(COMMUNITY).pk, "title": "坏图", "body": "x", "pictures": [upload(), not_an_image]},
    )
    assert res.status_code == 400
    form = res.context["form"]
    assert list(form.errors) == ["pictures"] and "notes.txt" in form.errors["pictures"][0]
    assert 'id="field-pictures"' in res.content.decode()
    res = client.post(reverse("dynamics:create"), {"area": area(NEIGHBOUR).pk, "title": "越权", "body": "x"})
    assert res.status_code == 400 and "area" in res.context["form"].errors
    res = client.post(
        reverse("dynamics:create"), {"area": area(COMMUNITY).pk, "title": "没有正文", "op": "publish"}
    )
    assert res.status_code == 400 and "body" in res.context["form"].errors
    assert not Post.objects.exists()


def test_edit_removes_and_adds_pictures_and_detects_conflicts(people, make_post, client):
    post = make_post(pictures=[upload("1.jpg"), upload("2.jpg")])
    first, second = post.pictures.order_by("position")
    client.force_login(people["community"])
    url = reverse("dynamics:edit", args=[post.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert picture_url(first, thumb=True) in page.content.decode()
    res = client.post(
        url,
        {
            "area": post.area_id,
            "title": "改过的标题",
            "body": post.body,
            "remove_pictures": [str(first.pk)],
            "pictures": [upload("3.jpg")],
            "expected_version": post.version,
            "op": "save",
        },
    )
    assert res.status_code == 302
    post.refresh_from_db()
    assert post.title == "改过的标题" and post.status == Status.PUBLISHED
    assert list(post.pictures.values_list("position", flat=True)) == [0, 1]
    assert not post.pictures.filter(pk=first.pk).exists() and post.pictures.filter(pk=second.pk).exists()
    # Somebody else's edit in between: the page says so instead of overwriting it.
    res = client.post(
        url,
        {
            "area": post.area_id,
            "title": "旧页面的标题",
            "body": post.body,
            "expected_version": post.version - 1,
        },
    )
    assert res.status_code == 409 and 'id="conflict"' in res.content.decode()
    post.refresh_from_db()
    assert post.title == "改过的标题"


def test_post_page_preview_escapes_and_offers_the_steps(people, make_post, client):
    post = make_post(body="活动很成功<script>alert('x')</script>\n\n第二段", publish=False)
    client.force_login(people["community"])
    html = client.get(detail(post)).content.decode()
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html and "<script>alert" not in html
    assert "<p>第二段</p>" in html
    assert 'id="publish-post"' in html and 'id="delete-post"' in html and 'id="withdraw-post"' not in html

    res = client.post(detail(post), {"op": "publish", "expected_version": post.version})
    assert res.status_code == 302
    post.refresh_from_db()
    assert post.status == Status.PUBLISHED
    client.post(detail(post), {"op": "pin", "expected_version": post.version})
    post.refresh_from_db()
    assert post.pinned

    client.force_login(people["district"])
    html = client.get(detail(post)).content.decode()
    assert 'id="withdraw-post"' in html and 'id="edit-post"' not in html and 'id="pin-post"' not in html
    res = client.post(detail(post), {"op": "withdraw", "reason": "", "expected_version": post.version})
    assert res.status_code == 400 and "reason" in res.context["withdraw_form"].errors
    res = client.post(
        detail(post), {"op": "withdraw", "reason": "需要核实", "expected_version": post.version}
    )
    assert res.status_code == 302
    post.refresh_from_db()
    assert post.status == Status.WITHDRAWN and not post.pinned
    html = client.get(detail(post)).content.decode()
    assert "需要核实" in html and 'data-kind="withdrawn"' in html
    # A step the state no longer allows: a conflict, shown on the page.
    res = client.post(detail(post), {"op": "withdraw", "reason": "再撤一次"})
    assert res.status_code == 409 and 'id="conflict"' in res.content.decode()


def test_delete_a_draft(people, make_post, client):
    draft = make_post(publish=False)
    client.force_login(people["community"])
    res = client.post(detail(draft), {"op": "delete"})
    assert res.status_code == 302 and res.url == LIST
    assert not Post.objects.filter(pk=draft.pk).exists()


def test_pictures_only_for_those_who_may_read_the_post(people, make_post, client):
    post = make_post(cover=upload("c.jpg"))
    draft = make_post(publish=False, cover=upload("d.jpg"))
    cover, draft_cover = post.pictures.get(), draft.pictures.get()
    client.force_login(people["community"])
    res = client.get(picture_url(cover))
    assert res.status_code == 200 and res["Content-Type"] == "image/jpeg"
    assert "private" in res["Cache-Control"]
    assert client.get(picture_url(draft_cover, thumb=True)).status_code == 200
    client.force_login(people["resident"])  # a resident of the community: published posts only
    assert client.get(picture_url(cover, thumb=True)).status_code == 200
    assert client.get(picture_url(draft_cover)).status_code == 404
    for who in ("neighbour_resident", "neighbour"):
        client.force_login(people[who])
        assert client.get(picture_url(cover)).status_code == 404
    client.force_login(people["grid_worker"])  # the community's grid worker reads the feed too
    assert client.get(picture_url(cover)).status_code == 200
    client.logout()
    assert client.get(picture_url(cover)).status_code == 404
    services.post_withdraw(actor=people["community"], post=post, reason="撤回")
    client.force_login(people["resident"])
    assert client.get(picture_url(cover)).status_code == 404


def test_navigation_entry(people, client):
    client.force_login(people["community"])
    html = client.get(LIST).content.decode()
    assert f'href="{LIST}"' in html and 'data-module="diary"' in html
