import pytest
from django.urls import reverse

from civicgrid.core.models import AccessLog
from civicgrid.core.testing import ScopedEndpointTests, api_client, make_user
from civicgrid.registry import services
from civicgrid.registry.models import Person, Tag

from .conftest import make_house, rid

pytestmark = pytest.mark.django_db


class TestPersonEndpoints(ScopedEndpointTests):
    model = Person

    def api_list(self):
        return reverse("api:person-list")

    def api_detail(self, obj):
        return reverse("api:person-detail", args=[obj.pk])

    def make_object(self, area, n=0):
        return services.person_register(
            actor=None, name=f"居民{n}", grid=area, id_number=rid(100 + n, region="450403")
        )

    def page_detail(self, obj):
        return reverse("registry:person", args=[obj.pk])


@pytest.fixture
def people(house):
    zs = services.person_register(
        actor=None, name="张三", id_number=rid(11), phone="13812345678", house=house
    )
    ls = services.person_register(
        actor=None, name="李四", id_number=rid(12), phone="13900001111", house=house
    )
    services.person_set_tags(
        actor=None, person=ls, tags=[Tag.objects.get(code="dibao"), Tag.objects.get(code="elderly")]
    )
    return zs, ls


def search(client, **params):
    res = client.get(reverse("api:person-list"), params)
    assert res.status_code == 200, res.content
    return [p["name"] for p in res.json()["results"]]


class TestSearch:
    def test_each_kind_of_search(self, people):
        client = api_client(make_user("t_gw", "grid_worker"))
        assert search(client, q="zs") == ["张三"]
        assert search(client, q="ZS") == ["张三"]
        assert search(client, q="张") == ["张三"]
        assert search(client, q=rid(12)) == ["李四"]
        assert search(client, q="1111") == ["李四"]
        assert search(client, q="13812345678") == ["张三"]
        assert search(client, q="450403198506150099") == []
        assert search(client, tag="dibao") == ["李四"]
        assert search(client, address="测试小区") == ["李四", "张三"]
        assert search(client, person_type="foreign") == []

    def test_search_stays_in_scope(self, people, far_house):
        services.person_register(actor=None, name="张远", id_number=rid(31), house=far_house)
        client = api_client(make_user("t_gw", "grid_worker"))
        assert search(client, q="zy") == []
        assert search(client, q=rid(31)) == []


class TestMaskingAndReveal:
    def test_numbers_are_masked(self, people):
        client = api_client(make_user("t_gw", "grid_worker"))
        zs = client.get(reverse("api:person-detail", args=[people[0].pk])).json()
        assert zs["id_number"] == rid(11)[:6] + "********" + rid(11)[-4:]
        assert zs["phone"] == "138****5678"

    def test_reveal_needs_permission_and_a_reason_and_is_logged(self, people):
        url = reverse("api:person-reveal", args=[people[0].pk])
        worker = api_client(make_user("t_gw", "grid_worker"))
        assert worker.post(url, {"reason": "核实"}, format="json").status_code == 403
        official = api_client(make_user("t_comm", "community_official"))
        res = official.post(url, {}, format="json")
        assert res.status_code == 400 and "reason" in res.json()
        assert not AccessLog.objects.filter(kind="reveal").exists()
        res = official.post(url, {"reason": "低保资格核实"}, format="json")
        assert res.status_code == 200
        assert res.json() == {"id_number": rid(11), "phone": "13812345678"}
        entry = AccessLog.objects.get(kind="reveal")
        assert (
            entry.username == "t_comm"
            and entry.reason == "低保资格核实"
            and entry.object_id == str(people[0].pk)
        )

    def test_sensitive_tags_need_their_permission(self, people):
        from django.contrib.auth.models import Permission

        from civicgrid.accounts.models import Role

        role = Role.objects.create(code="viewer", name="只读")
        role.permissions.add(
            Permission.objects.get(codename="view_person"), Permission.objects.get(codename="view_area")
        )
        viewer = make_user("t_view")
        from civicgrid.accounts.services import post_create
        from civicgrid.areas.models import Area

        post_create(actor=None, user=viewer, role=role, area=Area.objects.get(code="450403005001"))
        client = api_client(viewer)
        ls = client.get(reverse("api:person-detail", args=[people[1].pk])).json()
        assert ls["tags"] == ["高龄"]  # 低保 is sensitive
        assert search(client, tag="dibao") == []
        official = api_client(make_user("t_comm", "community_official"))
        assert set(official.get(reverse("api:person-detail", args=[people[1].pk])).json()["tags"]) == {
            "低保",
            "高龄",
        }


class TestWrites:
    def test_register_move_and_history_through_the_api(self, house, grid):
        client = api_client(make_user("t_gw", "grid_worker"))
        res = client.post(
            reverse("api:person-list"),
            {"name": "王五", "id_number": rid(41), "house": house.pk, "phone": "13700002222"},
            format="json",
        )
        assert res.status_code == 201, res.content
        pid = res.json()["id"]
        assert res.json()["phone"] == "137****2222"
        other = make_house(grid, room="303", building_name="3栋", compound_name="另一小区")
        res = client.post(reverse("api:person-change-house", args=[pid]), {"house": other.pk}, format="json")
        assert res.status_code == 200 and res.json()["house"] == other.pk
        res = client.post(reverse("api:person-move-out", args=[pid]), {"note": "搬走"}, format="json")
        assert res.json()["status"] == "moved_out"
        history = client.get(reverse("api:person-history", args=[pid])).json()
        assert [e["kind"] for e in history] == ["move_out", "change_house", "registered"]
        res = client.post(reverse("api:person-move-out", args=[pid]), {}, format="json")
        assert res.status_code == 400 and "person" in res.json()

    def test_bad_registration_is_a_400_naming_the_field(self, house):
        client = api_client(make_user("t_gw", "grid_worker"))
        res = client.post(
            reverse("api:person-list"),
            {"name": "王五", "id_number": "450403198506150010", "house": house.pk},
            format="json",
        )
        assert res.status_code == 400 and "id_number" in res.json()
        res = client.post(reverse("api:person-list"), {"name": "王五", "house": 10**9}, format="json")
        assert res.status_code == 400 and "house" in res.json()
        assert not Person.objects.filter(name="王五").exists()

    def test_cannot_register_into_a_house_outside_scope(self, far_house):
        client = api_client(make_user("t_gw", "grid_worker"))
        res = client.post(reverse("api:person-list"), {"name": "王五", "house": far_house.pk}, format="json")
        assert res.status_code == 400 and "house" in res.json()
