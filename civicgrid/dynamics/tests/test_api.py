"""/api/v1/dynamics/posts/: scope for every built-in role, writing with pictures, the steps and
their refusals (400 naming the field, 403, 404 out of scope, 409 state or stale version)."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from civicgrid.areas.choices import AreaLevel
from civicgrid.core.testing import ScopedEndpointTests, api_client
from civicgrid.dynamics.choices import Status
from civicgrid.dynamics.models import MAX_PICTURES, Post

from .conftest import COMMUNITY, NEIGHBOUR, area, upload

API = "/api/v1/dynamics/posts/"


def url(post, step=""):
    return f"{API}{post.pk}/" + (f"{step}/" if step else "")


class TestPostEndpoints(ScopedEndpointTests):
    """Every built-in role: the in-scope post listed and opened, the out-of-scope one 404 like a
    missing id; roles without ``dynamics.view_post`` (residents read in the portal) get 403."""

    model = Post

    def api_list(self):
        return API

    def api_detail(self, obj):
        return url(obj)

    def page_detail(self, obj):
        return f"/diary/dynamics/{obj.pk}/"

    def make_object(self, area, n=0):
        # Posts belong to communities: the community of the placement's grid.
        community = area.parent if area.level == AreaLevel.GRID else area
        return Post.objects.create(
            area=community,
            title=f"测试动态{n}",
            body="内容",
            status=Status.PUBLISHED,
            published_at=timezone.now(),
        )


pytestmark = pytest.mark.django_db


def test_write_publish_and_read_with_pictures(people):
    client = api_client(people["community"])
    res = client.post(API, {"area": area(COMMUNITY).pk, "title": "草稿", "body": "正文"}, format="json")
    assert res.status_code == 201, res.content
    body = res.json()
    assert body["status"] == "draft" and body["version"] == 1 and body["area_code"] == "450403005001"
    assert set(body["actions"]) == {"edit", "publish", "delete"}

    res = client.post(
        API,
        {
            "area": area(COMMUNITY).pk,
            "title": "带图发布",
            "body": "正文",
            "cover": upload("c.jpg"),
            "pictures": [upload("1.jpg"), upload("2.jpg", gps=True)],
            "publish": "true",
        },
        format="multipart",
    )
    assert res.status_code == 201, res.content
    body = res.json()
    assert body["status"] == "published" and body["published_at"]
    assert body["cover"]["kind"] == "cover" and len(body["pictures"]) == 2
    assert set(body["actions"]) == {"edit", "pin", "withdraw"}
    picture = client.get(body["pictures"][1]["url"])
    assert picture.status_code == 200 and picture["Content-Type"] == "image/jpeg"
    assert client.get(body["pictures"][1]["thumbnail_url"]).status_code == 200
    assert client.get(f"{url(Post.objects.get(pk=body['id']))}pictures/999999/").status_code == 404


def test_bad_input_names_the_field(people):
    client = api_client(people["community"])
    res = client.post(API, {"area": area(COMMUNITY).pk, "body": "正文"}, format="json")
    assert res.status_code == 400 and "title" in res.json()
    res = client.post(API, {"area": area(NEIGHBOUR).pk, "title": "越权"}, format="json")
    assert res.status_code == 400 and list(res.json()) == ["area"]
    not_an_image = SimpleUploadedFile("x.jpg", b"not an image", content_type="image/jpeg")
    res = client.post(
        API, {"area": area(COMMUNITY).pk, "title": "坏图", "pictures": [not_an_image]}, format="multipart"
    )
    assert (
        res.status_code == 400 and list(res.json()) == ["pictures"] and "x.jpg" in res.json()["pictures"][0]
    )
    res = client.post(
        API,
        {
            "area": area(COMMUNITY).pk,
            "title": "太多",
            "pictures": [upload(f"{i}.jpg") for i in range(MAX_PICTURES + 1)],
        },
        format="multipart",
    )
    assert res.status_code == 400 and "pictures" in res.json()
    res = client.post(API, {"area": area(COMMUNITY).pk, "title": "发布", "publish": True}, format="json")
    assert res.status_code == 400 and list(res.json()) == ["body"]
    assert not Post.objects.exists()  # nothing half-written
    res = client.get(API, {"area": "not-an-id"})
    assert res.status_code == 400 and "area" in res.json()


def test_edit_steps_and_conflicts(people, make_post):
    post = make_post(publish=False, pictures=[upload("1.jpg")])
    client = api_client(people["community"])
    res = client.patch(url(post), {"title": "新标题", "expected_version": post.version}, format="json")
    assert res.status_code == 200 and res.json()["title"] == "新标题"
    version = res.json()["version"]
    assert version == post.version + 1 and res.json()["body"] == post.body  # untouched
    res = client.patch(url(post), {"title": "旧版本", "expected_version": post.version}, format="json")
    assert res.status_code == 409 and res.json()["code"] == "conflict"
    picture_id = post.pictures.get().pk
    res = client.patch(
        url(post),
        {"remove_pictures": [picture_id], "pictures": [upload("2.jpg")], "expected_version": version},
        format="multipart",
    )
    assert res.status_code == 200, res.content
    assert [p["id"] for p in res.json()["pictures"]] != [picture_id] and len(res.json()["pictures"]) == 1

    res = client.post(url(post, "publish"), {}, format="json")
    assert res.status_code == 200 and res.json()["status"] == "published"
    res = client.post(url(post, "publish"), {}, format="json")
    assert res.status_code == 409 and res.json()["code"] == "invalid_state"
    res = client.post(url(post, "pin"), {"pinned": True}, format="json")
    assert res.status_code == 200 and res.json()["pinned"] is True
    assert client.delete(url(post)).status_code == 409  # published: withdraw it instead

    res = client.post(url(post, "withdraw"), {"reason": ""}, format="json")
    assert res.status_code == 400 and "reason" in res.json()
    res = client.post(url(post, "withdraw"), {"reason": "信息有误"}, format="json")
    assert res.status_code == 200 and res.json()["status"] == "withdrawn" and res.json()["pinned"] is False
    history = client.get(url(post, "history")).json()
    assert [e["kind"] for e in history] == ["drafted", "edited", "edited", "published", "pinned", "withdrawn"]
    assert history[-1]["note"] == "信息有误"

    draft = make_post(publish=False)
    assert client.delete(url(draft)).status_code == 204
    assert not Post.objects.filter(pk=draft.pk).exists()


def test_upper_levels_withdraw_but_do_not_write(people, make_post):
    post = make_post()
    street = api_client(people["street"])
    res = street.patch(url(post), {"title": "街道改的"}, format="json")
    assert res.status_code == 403
    district = api_client(people["district"])
    assert district.post(url(post, "pin"), {}, format="json").status_code == 403
    assert district.patch(url(post), {"title": "区里改的"}, format="json").status_code == 403
    res = district.post(url(post, "withdraw"), {"reason": "区级审核撤回"}, format="json")
    assert res.status_code == 200 and res.json()["status"] == "withdrawn"
    assert district.post(url(post, "publish"), {}, format="json").status_code == 403
    # Another community's official: not found, like a missing post.
    neighbour = api_client(people["neighbour"])
    assert neighbour.get(url(post)).status_code == 404
    assert neighbour.post(url(post, "withdraw"), {"reason": "x"}, format="json").status_code == 404
    assert neighbour.patch(url(post), {"title": "x"}, format="json").status_code == 404


def test_residents_use_the_portal_not_the_api(people, make_post):
    make_post()
    assert api_client(people["resident"]).get(API).status_code == 403
    assert api_client(None).get(API).status_code in (401, 403)


def test_list_filters(people, make_post):
    published = make_post(title="已发布")
    draft = make_post(title="草稿", publish=False)
    client = api_client(people["community"])
    ids = [p["id"] for p in client.get(API, {"status": "draft"}).json()["results"]]
    assert ids == [draft.pk]
    ids = [p["id"] for p in client.get(API, {"q": "发布"}).json()["results"]]
    assert ids == [published.pk]
    assert client.get(API, {"status": "nonsense"}).status_code == 400


def test_schema_documents_the_endpoints(wuzhou):
    from civicgrid.core.testing import make_user

    res = api_client(make_user("t_admin", "sysadmin")).get("/api/schema/", {"format": "json"})
    assert res.status_code == 200
    paths = res.json()["paths"]
    for path in ("", "{id}/", "{id}/publish/", "{id}/withdraw/", "{id}/pin/", "{id}/history/"):
        assert f"{API}{path}" in paths, path
    components = res.json()["components"]["schemas"]
    assert "DynamicsPost" in components and "Post" in components  # no clash with accounts' posts
