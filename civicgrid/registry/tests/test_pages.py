import pytest
from django.urls import reverse

from civicgrid.core.models import AccessLog
from civicgrid.core.testing import make_user
from civicgrid.registry import services
from civicgrid.registry.models import Tag

from .conftest import rid

pytestmark = pytest.mark.django_db


@pytest.fixture
def zhang(house):
    person = services.person_register(
        actor=None, name="张三", id_number=rid(11), phone="13812345678", house=house
    )
    services.person_set_tags(actor=None, person=person, tags=[Tag.objects.get(code="dibao")])
    return person


def test_people_list_searches_and_masks(zhang, client):
    client.force_login(make_user("t_gw", "grid_worker"))
    html = client.get(reverse("registry:people"), {"q": "zs"}).content.decode()
    assert "张三" in html and "138****5678" in html and "13812345678" not in html and rid(11) not in html
    html = client.get(reverse("registry:people"), {"q": "ls"}).content.decode()
    assert "张三" not in html
    assert client.get(reverse("registry:people"), {"grid": "abc"}).status_code == 200  # bad filter: no 500


def test_reveal_on_the_page_asks_for_a_reason(zhang, client):
    client.force_login(make_user("t_comm", "community_official"))
    url = reverse("registry:person", args=[zhang.pk])
    html = client.get(url).content.decode()
    assert rid(11) not in html and "低保" in html
    res = client.post(url, {"op": "reveal", "reason": ""})
    assert rid(11) not in res.content.decode() and not AccessLog.objects.filter(kind="reveal").exists()
    res = client.post(url, {"op": "reveal", "reason": "上门核实"})
    assert rid(11) in res.content.decode() and "13812345678" in res.content.decode()
    assert AccessLog.objects.get(kind="reveal").reason == "上门核实"


def test_grid_worker_cannot_reveal(zhang, client):
    client.force_login(make_user("t_gw", "grid_worker"))
    url = reverse("registry:person", args=[zhang.pk])
    assert "reveal-form" not in client.get(url).content.decode()
    assert client.post(url, {"op": "reveal", "reason": "想看"}).status_code == 403


def test_move_out_from_the_page(zhang, client):
    client.force_login(make_user("t_gw", "grid_worker"))
    url = reverse("registry:person", args=[zhang.pk])
    res = client.post(url, {"op": "leave", "kind": "move_out", "note": "搬迁"})
    assert res.status_code == 302
    zhang.refresh_from_db()
    assert zhang.status == "moved_out"
    assert "搬迁" in client.get(url).content.decode()


def test_places_drill_down_and_statistics(zhang, client, grid):
    client.force_login(make_user("t_comm", "community_official"))
    html = client.get(reverse("registry:places"), {"area": grid.pk}).content.decode()
    assert "1栋" in html
    building = zhang.house.building
    html = client.get(reverse("registry:places"), {"building": building.pk}).content.decode()
    assert "张三" in html and "101" in html
    res = client.get(reverse("registry:statistics"), {"area": grid.parent.pk})
    assert res.status_code == 200
    assert res.context["stats"]["total"] == 1
    assert res.context["stats"]["by_tag"] == {"低保": 1}
    assert dict((c.code, n) for c, n in res.context["rows"])[grid.code] == 1
