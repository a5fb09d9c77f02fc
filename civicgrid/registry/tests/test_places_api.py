import pytest
from django.urls import reverse

from civicgrid.core.testing import ScopedEndpointTests, api_client, make_user
from civicgrid.core.validators import make_uscc
from civicgrid.registry import services
from civicgrid.registry.models import Facility, FacilityCategory, Organisation, Shop

pytestmark = pytest.mark.django_db


def uscc(n: int) -> str:
    return make_uscc(f"91450403MA{n:06d}")


class TestOrganisationEndpoints(ScopedEndpointTests):
    model = Organisation

    def api_list(self):
        return reverse("api:organisation-list")

    def api_detail(self, obj):
        return reverse("api:organisation-detail", args=[obj.pk])

    def make_object(self, area, n=0):
        return services.organisation_create(
            actor=None,
            name=f"单位{n}",
            kind="enterprise",
            grid=area,
            uscc=uscc(n + 1000 * len(area.code) + int(area.code[-3:])),
        )


class TestShopEndpoints(ScopedEndpointTests):
    model = Shop

    def api_list(self):
        return reverse("api:shop-list")

    def api_detail(self, obj):
        return reverse("api:shop-detail", args=[obj.pk])

    def make_object(self, area, n=0):
        return services.shop_create(actor=None, name=f"商铺{n}", grid=area)


class TestFacilityEndpoints(ScopedEndpointTests):
    model = Facility

    def api_list(self):
        return reverse("api:facility-list")

    def api_detail(self, obj):
        return reverse("api:facility-detail", args=[obj.pk])

    def make_object(self, area, n=0):
        lat, lng = (area.centre_lat, area.centre_lng) if area.centre_lat else (23.48, 111.3)
        return services.facility_create(
            actor=None,
            category=FacilityCategory.objects.first(),
            lat=lat,
            lng=lng,
            grid=area if area.geometry else area,
        )


class TestWrites:
    def test_organisation_with_checked_credit_code(self, grid):
        client = api_client(make_user("t_gw", "grid_worker"))
        url = reverse("api:organisation-list")
        good = {
            "name": "梧州市测试有限公司",
            "kind": "enterprise",
            "uscc": uscc(1),
            "grid": grid.pk,
            "contact_phone": "13800001111",
        }
        res = client.post(url, good, format="json")
        assert res.status_code == 201, res.content
        assert res.json()["contact_phone"] == "138****1111"
        res = client.post(url, good, format="json")
        assert res.status_code == 400 and "uscc" in res.json()
        bad = dict(good, uscc=uscc(2)[:-1] + ("0" if uscc(2)[-1] != "0" else "1"))
        res = client.post(url, bad, format="json")
        assert res.status_code == 400 and "uscc" in res.json()
        assert client.get(url, {"q": "测试"}).json()["count"] == 1

    def test_facility_must_lie_in_its_grid(self, grid, other_grid):
        client = api_client(make_user("t_gw", "grid_worker"))
        category = FacilityCategory.objects.get(code="0111")
        url = reverse("api:facility-list")
        res = client.post(
            url,
            {
                "category": category.pk,
                "lat": other_grid.centre_lat,
                "lng": other_grid.centre_lng,
                "grid": grid.pk,
            },
            format="json",
        )
        assert res.status_code == 400 and "location" in res.json()
        res = client.post(
            url, {"category": category.pk, "lat": grid.centre_lat, "lng": grid.centre_lng}, format="json"
        )
        assert res.status_code == 201, res.content
        assert res.json()["code"] == f"{grid.code}0111001" and res.json()["grid"] == grid.code
        res = client.post(url, {"category": category.pk, "lat": "north", "lng": 111.3}, format="json")
        assert res.status_code == 400 and "lat" in res.json()
        res = client.post(
            url,
            {"category": category.pk, "lat": other_grid.centre_lat, "lng": other_grid.centre_lng},
            format="json",
        )
        assert res.status_code == 400  # a grid outside the worker's scope
