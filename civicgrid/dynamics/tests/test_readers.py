"""Readers of work dynamics: residents in the portal see the published posts of their community
and of its street, nothing else (another community's post, a draft, a withdrawn post: 404); grid
workers the same for their grid in the phone app."""

from __future__ import annotations

import pytest
from django.urls import reverse

from civicgrid.core.testing import count_queries, make_user
from civicgrid.dynamics import services
from civicgrid.dynamics.models import Post

from .conftest import ELSEWHERE, NEIGHBOUR, STREET, upload

pytestmark = pytest.mark.django_db

PORTAL = "/portal/dynamics/"


def portal_detail(post):
    return reverse("dynamics:portal_detail", args=[post.pk])


@pytest.fixture
def posts(make_post):
    return {
        "community": make_post(title="三角嘴社区开展义诊", cover=upload("c.jpg"), pictures=[upload("p.jpg")]),
        "street": make_post(STREET, title="角嘴街道部署防汛工作"),
        "neighbour": make_post(NEIGHBOUR, title="隔壁社区的活动"),
        "elsewhere": make_post(ELSEWHERE, title="长洲区社区的活动"),
        "draft": make_post(title="还没发布的草稿", publish=False),
        "withdrawn": make_post(title="已撤回的动态"),
    }


def test_resident_reads_their_community_and_street(people, posts, client):
    services.post_withdraw(actor=people["community"], post=posts["withdrawn"], reason="有误")
    client.force_login(people["resident"])
    res = client.get(PORTAL)
    assert res.status_code == 200
    html = res.content.decode()
    for key in ("community", "street"):
        assert posts[key].title in html
    for key in ("neighbour", "elsewhere", "draft", "withdrawn"):
        assert posts[key].title not in html
    assert 'id="tab-dynamics"' in html and 'class="active" id="tab-dynamics"' in html

    res = client.get(portal_detail(posts["community"]))
    assert res.status_code == 200
    html = res.content.decode()
    assert 'id="post-cover"' in html and 'id="post-pictures"' in html
    assert client.get(portal_detail(posts["street"])).status_code == 200
    for key in ("neighbour", "elsewhere", "draft", "withdrawn"):
        assert client.get(portal_detail(posts[key])).status_code == 404, key
    assert client.get(reverse("dynamics:portal_detail", args=[10**9])).status_code == 404


def test_another_communitys_resident_gets_404(people, posts, client):
    client.force_login(people["neighbour_resident"])
    html = client.get(PORTAL).content.decode()
    assert posts["neighbour"].title in html and posts["street"].title in html  # same street
    assert posts["community"].title not in html
    missing = client.get(reverse("dynamics:portal_detail", args=[10**9]))
    other = client.get(portal_detail(posts["community"]))
    assert other.status_code == missing.status_code == 404


def test_pinned_first_then_newest(people, posts, client):
    services.post_pin(actor=people["street"], post=posts["street"])
    client.force_login(people["resident"])
    listed = list(client.get(PORTAL).context["object_list"])
    assert listed[0] == posts["street"]
    assert listed[1:] == sorted(listed[1:], key=lambda p: (p.published_at, p.pk), reverse=True)


def test_a_view_is_counted_once_per_session(people, posts, client):
    client.force_login(people["resident"])
    post = posts["community"]
    for _ in range(3):
        client.get(portal_detail(post))
    post.refresh_from_db()
    assert post.view_count == 1
    client.force_login(make_user("t_resident3", "resident"))
    client.get(portal_detail(post))
    post.refresh_from_db()
    assert post.view_count == 2


def test_the_portal_home_shows_the_latest(people, posts, client):
    client.force_login(people["resident"])
    html = client.get(reverse("portal:home")).content.decode()
    assert 'id="home-dynamics"' in html and posts["community"].title in html
    assert posts["neighbour"].title not in html


def test_who_gets_the_portal_pages(people, posts, client):
    client.force_login(people["community"])  # staff work in the back office
    assert client.get(PORTAL).status_code == 403
    client.logout()
    res = client.get(PORTAL)
    assert res.status_code == 302 and res.url.startswith(reverse("portal:login"))
    newcomer = make_user("t_newcomer")
    newcomer.user_type = "resident"
    newcomer.save(update_fields=["user_type"])
    client.force_login(newcomer)  # no community chosen yet: the chooser first
    res = client.get(PORTAL)
    assert res.status_code == 302 and res.url.startswith(reverse("portal:community"))


def test_portal_list_query_count(people, make_post, client):
    client.force_login(people["resident"])
    make_post(cover=upload())
    client.get(PORTAL)
    first = count_queries(lambda: client.get(PORTAL))
    for i in range(5):
        make_post(STREET, title=f"街道动态{i}", pictures=[upload()])
    assert count_queries(lambda: client.get(PORTAL)) == first


def test_body_is_shown_as_text(people, make_post, client):
    post = make_post(body='<img src=x onerror="alert(1)">居民议事会\n第二行\n\n第二段')
    client.force_login(people["resident"])
    html = client.get(portal_detail(post)).content.decode()
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;居民议事会<br>第二行" in html
    assert "<p>第二段</p>" in html and "<img src=x" not in html


def test_grid_worker_reads_in_the_phone_app(people, posts, client):
    client.force_login(people["grid_worker"])
    home = client.get(reverse("mobile:home")).content.decode()
    assert 'id="go-dynamics"' in home
    html = client.get(reverse("dynamics:mobile_list")).content.decode()
    assert posts["community"].title in html and posts["street"].title in html
    assert posts["neighbour"].title not in html and posts["draft"].title not in html
    assert client.get(reverse("dynamics:mobile_detail", args=[posts["community"].pk])).status_code == 200
    assert client.get(reverse("dynamics:mobile_detail", args=[posts["neighbour"].pk])).status_code == 404
    assert Post.objects.get(pk=posts["community"].pk).view_count == 1
