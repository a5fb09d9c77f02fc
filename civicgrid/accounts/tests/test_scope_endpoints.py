import pytest
from django.urls import reverse

from civicgrid.accounts.models import User
from civicgrid.core.testing import ScopedEndpointTests, api_client, make_user


class TestUserEndpoints(ScopedEndpointTests):
    """Users are visible through the posts they hold."""

    model = User

    def api_list(self):
        return reverse("api:user-list")

    def api_detail(self, obj):
        return reverse("api:user-detail", args=[obj.pk])

    def make_object(self, area, n=0):
        return make_user(
            f"t_member_{area.code}_{n}",
            "grid_worker" if area.level == "grid" else None,
            area.code if area.level == "grid" else None,
        )

    def page_detail(self, obj):
        return reverse("accounts:user_detail", args=[obj.pk])


@pytest.mark.django_db
def test_user_pages_for_a_district_official(wuzhou, client):
    official = make_user("t_dist", "district_official")
    inside = make_user("t_in", "grid_worker")
    outside = make_user("t_out", "grid_worker", "450405001001001")
    client.force_login(official)
    listing = client.get(reverse("accounts:users")).content.decode()
    assert "t_in" in listing and "t_out" not in listing
    assert client.get(reverse("accounts:user_detail", args=[outside.pk])).status_code == 404
    res = client.post(
        reverse("accounts:user_detail", args=[inside.pk]),
        {"op": "edit", "display_name": "新名字", "email": "", "is_active": "on"},
    )
    assert res.status_code == 302
    inside.refresh_from_db()
    assert inside.display_name == "新名字"
    res = client.post(
        reverse("accounts:user_detail", args=[outside.pk]),
        {"op": "edit", "display_name": "x", "email": "", "is_active": "on"},
    )
    assert res.status_code == 404


@pytest.mark.django_db
def test_create_user_and_give_a_post_through_pages(wuzhou, client):
    from civicgrid.accounts.models import Role
    from civicgrid.areas.models import Area

    admin = make_user("t_admin", "sysadmin")
    client.force_login(admin)
    res = client.post(
        reverse("accounts:user_create"),
        {"username": "newbie", "display_name": "新人", "user_type": "staff", "password": "short"},
    )
    assert res.status_code == 200 and "password" in res.context["form"].errors
    res = client.post(
        reverse("accounts:user_create"),
        {
            "username": "newbie",
            "display_name": "新人",
            "user_type": "staff",
            "password": "a-long-pass-phrase-7",
        },
    )
    assert res.status_code == 302
    user = User.objects.get(username="newbie")
    area = Area.objects.get(code="450403005001")
    res = client.post(
        reverse("accounts:user_detail", args=[user.pk]),
        {
            "op": "add_post",
            "role": Role.objects.get(code="community_official").pk,
            "area": area.pk,
            "data_scope": "",
            "title": "主任",
        },
    )
    assert res.status_code == 302
    post = user.posts.get()
    assert post.data_scope == "subtree" and post.area == area
    assert api_client(User.objects.get(pk=user.pk)).get(reverse("api:area-list")).status_code == 200


@pytest.mark.django_db
def test_roles_page_and_custom_role(wuzhou, client):
    from civicgrid.accounts.models import Role

    admin = make_user("t_admin", "sysadmin")
    client.force_login(admin)
    assert client.get(reverse("accounts:roles")).status_code == 200
    builtin = Role.objects.get(code="grid_worker")
    res = client.post(
        reverse("accounts:role_edit", args=[builtin.pk]),
        {"code": "grid_worker", "name": "x", "default_scope": "node"},
    )
    assert res.status_code == 200 and res.context["form"].errors
    res = client.post(
        reverse("accounts:role_create"),
        {
            "code": "inspector",
            "name": "巡查员",
            "description": "",
            "default_scope": "subtree",
            "permissions": [p.pk for p in builtin.permissions.all()],
        },
    )
    assert res.status_code == 302
    assert set(Role.objects.get(code="inspector").permissions.all()) == set(builtin.permissions.all())


@pytest.mark.django_db
def test_publish_agreement_page(wuzhou, client):
    from civicgrid.accounts.models import Agreement
    from civicgrid.accounts.services import agreement_accept

    admin = make_user("t_admin", "sysadmin")
    client.force_login(admin)
    res = client.post(reverse("accounts:agreements"), {"version": "2027", "title": "新版", "body": "内容"})
    assert res.status_code == 302
    current = Agreement.objects.get(is_current=True)
    assert current.version == "2027"
    assert client.get(reverse("accounts:agreements")).status_code == 302  # the publisher accepts it too
    agreement_accept(user=admin, agreement=current, ip=None)
    res = client.post(reverse("accounts:agreements"), {"version": "2027", "title": "重复", "body": "内容"})
    assert res.status_code == 200 and res.context["form"].errors
    assert Agreement.objects.get(is_current=True).title == "新版"
