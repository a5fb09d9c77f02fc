import json

import pytest
from django.urls import reverse

from civicgrid.areas.models import Area
from civicgrid.core.models import ChangeLog
from civicgrid.core.testing import ScopedEndpointTests, api_client, make_user

pytestmark = pytest.mark.django_db


class TestAreaEndpoints(ScopedEndpointTests):
    model = Area

    def api_list(self):
        return reverse("api:area-list")

    def api_detail(self, obj):
        return reverse("api:area-detail", args=[obj.pk])

    def make_object(self, area, n=0):
        return area  # areas are their own scope

    def page_detail(self, obj):
        return reverse("areas:browse_node", args=[obj.pk])

    def test_list_query_count(self, wuzhou):
        user = make_user("t_counter", "sysadmin")
        client = api_client(user)
        small = lambda: client.get(self.api_list(), {"level": "street", "geometry": 1})  # noqa: E731
        large = lambda: client.get(self.api_list(), {"level": "grid", "geometry": 1, "page_size": 500})  # noqa: E731
        from civicgrid.core.testing import count_queries

        small()  # warm-up: the caller's posts are loaded once per user
        assert count_queries(small) == count_queries(large)


def grid_square(lng, lat, size=0.0005):
    return {
        "type": "Polygon",
        "coordinates": [
            [[lng, lat], [lng + size, lat], [lng + size, lat + size], [lng, lat + size], [lng, lat]]
        ],
    }


@pytest.fixture
def community(wuzhou):
    return Area.objects.get(code="450403005001")


@pytest.fixture
def admin_client(wuzhou):
    return api_client(make_user("t_admin", "sysadmin"))


class TestLocate:
    def test_point_resolves_to_grid_with_ancestors(self, admin_client):
        grid = Area.objects.get(code="450403005001003")
        res = admin_client.get(reverse("api:area-locate"), {"lat": grid.centre_lat, "lng": grid.centre_lng})
        assert res.status_code == 200, res.content
        assert res.json()["grid"]["code"] == grid.code
        assert [a["level"] for a in res.json()["ancestors"]] == ["city", "district", "street", "community"]

    def test_every_grid_centre_locates_to_itself(self, admin_client):
        from civicgrid.areas.selectors import grid_index

        index = grid_index()
        grids = Area.objects.filter(level="grid")
        assert len(index) == grids.count() >= 500
        for grid in grids:
            assert index.locate(grid.centre_lat, grid.centre_lng) == grid.pk

    def test_outside_city_is_a_clear_404(self, admin_client):
        res = admin_client.get(reverse("api:area-locate"), {"lat": 39.9, "lng": 116.4})
        assert res.status_code == 404
        assert res.json()["code"] == "outside_city"

    @pytest.mark.parametrize(
        "params,field",
        [
            ({"lat": "abc", "lng": "111.3"}, "lat"),
            ({"lat": "23.4", "lng": "east"}, "lng"),
            ({"lat": "95", "lng": "111.3"}, "lat"),
            ({"lng": "111.3"}, "lat"),
            ({"lat": "NaN", "lng": "111.3"}, "lat"),
        ],
    )
    def test_bad_coordinates_name_the_field(self, admin_client, params, field):
        res = admin_client.get(reverse("api:area-locate"), params)
        assert res.status_code == 400
        assert field in res.json()

    def test_index_follows_grid_changes(self, admin_client, community):
        grid = Area.objects.filter(parent=community).order_by("code").first()
        point = {"lat": grid.centre_lat, "lng": grid.centre_lng}
        assert admin_client.get(reverse("api:area-locate"), point).status_code == 200
        url = reverse("api:area-detail", args=[grid.pk])
        assert admin_client.patch(url, {"is_active": False}, format="json").status_code == 200
        assert admin_client.get(reverse("api:area-locate"), point).status_code == 404


class TestAreaWrites:
    def _grid_payload(self, community, **over):
        data = {
            "code": community.code + "901",
            "name": "新网格",
            "level": "grid",
            "parent": community.pk,
            "geometry": None,
        }
        data.update(over)
        return data

    def test_create_grid_without_boundary(self, admin_client, community):
        res = admin_client.post(reverse("api:area-list"), self._grid_payload(community), format="json")
        assert res.status_code == 201, res.content
        area = Area.objects.get(code=community.code + "901")
        assert area.scope_code == area.code and area.parent == community
        assert ChangeLog.objects.filter(object_id=str(area.pk), action="create").exists()

    @pytest.mark.parametrize(
        "over,field",
        [
            ({"code": "45040300500"}, "code"),
            ({"code": "450405001001901"}, "code"),  # belongs under another community
            ({"level": "street"}, "parent"),
            ({"geometry": {"type": "Polygon", "coordinates": "nope"}}, "geometry"),
            ({"geometry": {"type": "Point", "coordinates": [111.3, 23.4]}}, "geometry"),
            ({"geometry": {"type": "Polygon"}}, "geometry"),
            ({"geometry": grid_square(116.4, 39.9)}, "geometry"),  # outside the community
            (
                {
                    "geometry": {
                        "type": "Polygon",
                        "coordinates": [
                            [[111.3, 23.4], [111.31, 23.41], [111.31, 23.4], [111.3, 23.41], [111.3, 23.4]]
                        ],
                    }
                },
                "geometry",
            ),
        ],
    )
    def test_bad_input_names_the_field_and_writes_nothing(self, admin_client, community, over, field):
        before = (Area.objects.count(), ChangeLog.objects.count())
        res = admin_client.post(
            reverse("api:area-list"), self._grid_payload(community, **over), format="json"
        )
        assert res.status_code == 400, res.content
        assert field in res.json(), res.json()
        assert (Area.objects.count(), ChangeLog.objects.count()) == before

    def test_overlapping_grid_is_refused(self, admin_client, community):
        sibling = Area.objects.filter(parent=community).order_by("code").first()
        res = admin_client.post(
            reverse("api:area-list"), self._grid_payload(community, geometry=sibling.geometry), format="json"
        )
        assert res.status_code == 400
        assert sibling.name in json.dumps(res.json(), ensure_ascii=False)

    def test_community_official_cannot_add_outside_their_community(self, wuzhou):
        official = make_user("t_comm", "community_official")
        other = Area.objects.get(code="450405001001")
        res = api_client(official).post(reverse("api:area-list"), self._grid_payload(other), format="json")
        assert res.status_code == 400
        assert "parent" in res.json()
        assert not Area.objects.filter(code=other.code + "901").exists()

    def test_patch_name_and_boundary_checked(self, admin_client, community):
        grid = Area.objects.filter(parent=community).order_by("code").first()
        url = reverse("api:area-detail", args=[grid.pk])
        assert admin_client.patch(url, {"name": "改名网格"}, format="json").status_code == 200
        grid.refresh_from_db()
        assert grid.name == "改名网格"
        res = admin_client.patch(url, {"geometry": grid_square(116.4, 39.9)}, format="json")
        assert res.status_code == 400 and "geometry" in res.json()

    def test_grid_worker_assignment(self, admin_client, community):
        grid = Area.objects.filter(parent=community).order_by("code").first()
        worker = make_user("t_worker")
        url = reverse("api:area-grid-worker", args=[grid.pk])
        res = admin_client.post(url, {"user": worker.pk}, format="json")
        assert res.status_code == 200, res.content
        grid.refresh_from_db()
        assert grid.grid_worker == worker
        assert worker.posts.get(is_active=True).role.code == "grid_worker"
        other_grid = Area.objects.filter(parent=community).order_by("code")[1]
        res = admin_client.post(
            reverse("api:area-grid-worker", args=[other_grid.pk]), {"user": worker.pk}, format="json"
        )
        assert res.status_code == 400 and "user" in res.json()
        replacement = make_user("t_worker2")
        assert admin_client.post(url, {"user": replacement.pk}, format="json").status_code == 200
        assert not worker.posts.filter(is_active=True).exists()
        assert admin_client.post(url, {"user": 10**9}, format="json").status_code == 400
