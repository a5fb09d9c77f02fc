"""Annual verification (集中核实, B3): campaign start, the grid worker's results, progress, pages, API."""

from __future__ import annotations

from datetime import date

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from civicgrid.areas.models import Area
from civicgrid.areas.services import grid_worker_assign
from civicgrid.core.services import OutOfScopeError
from civicgrid.core.testing import ScopedEndpointTests, api_client, make_user
from civicgrid.registry import services, verification
from civicgrid.registry.models import (
    House,
    Organisation,
    Person,
    PersonEvent,
    Shop,
    VerificationCampaign,
    VerificationCheck,
)
from civicgrid.registry.models.verification import CampaignStatus, CheckStatus

from .conftest import make_house, rid

pytestmark = pytest.mark.django_db

COMMUNITY = "450403005001"  # 三角嘴社区 (the community official's post)
G1, G2 = "450403005001001", "450403005001002"  # two grids of it
G3 = "450403005002001"  # a grid of the next community, same street
ELSEWHERE = "450405001001001"  # another district


def area(code: str) -> Area:
    return Area.objects.get(code=code)


def worker_of(code: str, username: str):
    user = make_user(username, "grid_worker", code)
    grid_worker_assign(actor=None, grid=area(code), user=user)
    return user


def person(name: str, house, seq: int, phone: str = ""):
    return services.person_register(actor=None, name=name, id_number=rid(seq), phone=phone, house=house)


@pytest.fixture
def world(wuzhou):
    """Records in two grids of the community, one in the next community and one in another district."""
    h1 = make_house(area(G1), room="101")
    h2 = make_house(area(G2), room="201", compound_name="二号小区")
    h3 = make_house(area(G3), room="301", compound_name="三号小区")
    far = make_house(area(ELSEWHERE), room="401", compound_name="远方小区")
    zhang = person("张三", h1, 11, "13812345678")
    li = person("李四", h1, 12)
    left = person("王五", h1, 13)
    services.person_move_out(actor=None, person=left)
    zhao = person("赵六", h2, 14)
    person("钱七", h3, 15)
    person("孙八", far, 16)
    org = services.organisation_create(actor=None, name="测试科技有限公司", kind="enterprise", grid=area(G1))
    shop = services.shop_create(actor=None, name="便民超市", grid=area(G1))
    services.shop_create(actor=None, name="远方超市", grid=area(ELSEWHERE))
    return {
        "gw": worker_of(G1, "t_gw"),
        "gw2": worker_of(G2, "t_gw2"),
        "official": make_user("t_comm", "community_official"),
        "street": make_user("t_street", "street_official"),
        "houses": (h1, h2, h3, far),
        "zhang": zhang,
        "li": li,
        "left": left,
        "zhao": zhao,
        "org": org,
        "shop": shop,
    }


@pytest.fixture
def campaign(world):
    return verification.campaign_start(
        actor=world["official"], area=area(COMMUNITY), name="2026年集中核实", year=2026
    )


def check_for(campaign, obj) -> VerificationCheck:
    ct = ContentType.objects.get_for_model(type(obj))
    return VerificationCheck.objects.get(campaign=campaign, content_type=ct, object_id=obj.pk)


# ---- starting ---------------------------------------------------------------------------------------


def test_start_creates_one_check_per_record_in_the_area_assigned_to_its_grid_worker(world, campaign):
    h1, h2, _h3, _far = world["houses"]
    ct = ContentType.objects.get_for_model
    expected = {
        (ct(Person).pk, world["zhang"].pk): (G1, world["gw"]),
        (ct(Person).pk, world["li"].pk): (G1, world["gw"]),
        (ct(Person).pk, world["zhao"].pk): (G2, world["gw2"]),
        (ct(House).pk, h1.pk): (G1, world["gw"]),
        (ct(House).pk, h2.pk): (G2, world["gw2"]),
        (ct(Organisation).pk, world["org"].pk): (G1, world["gw"]),
        (ct(Shop).pk, world["shop"].pk): (G1, world["gw"]),
    }
    checks = list(VerificationCheck.objects.filter(campaign=campaign).select_related("area"))
    assert len(checks) == len(expected) == campaign.check_count
    assert {(c.content_type_id, c.object_id): (c.area.code, c.assignee) for c in checks} == expected
    assert all(c.status == CheckStatus.PENDING and c.area_code == c.area.scope_code for c in checks)
    assert check_for(campaign, world["zhang"]).object_repr.startswith("张三")
    assert VerificationCampaign.objects.get(pk=campaign.pk).check_count == 7
    assert campaign.area_code == COMMUNITY and campaign.status == CampaignStatus.OPEN


def test_start_by_the_system_and_for_a_single_grid(world):
    House.objects.filter(pk=world["houses"][1].pk).update(address="")  # labelled by building and room
    c = verification.campaign_start(actor=None, area=area(G2), name="系统核实", year=2026)
    checks = VerificationCheck.objects.filter(campaign=c)
    assert c.check_count == checks.count() == 2  # 赵六 and the house
    assert {(ch.assignee, ch.created_by) for ch in checks} == {(world["gw2"], None)}
    assert check_for(c, world["houses"][1]).object_repr == "1栋 1-201"
    assert check_for(c, world["zhao"]).object_repr == f"赵六 · {world['houses'][1].address}"


def test_a_second_open_campaign_over_the_same_or_an_overlapping_area_is_refused(world, campaign):
    for code, actor in (
        (COMMUNITY, world["official"]),
        ("450403005000", world["street"]),
        (G1, world["official"]),
    ):
        with pytest.raises(ValidationError) as exc:
            verification.campaign_start(actor=actor, area=area(code), name="again", year=2026)
        assert "area" in exc.value.message_dict and "2026年集中核实" in exc.value.message_dict["area"][0]
    assert VerificationCampaign.objects.count() == 1
    verification.campaign_close(actor=world["official"], campaign=campaign)
    again = verification.campaign_start(actor=world["official"], area=area(COMMUNITY), name="复核", year=2026)
    assert again.check_count == 7


def test_out_of_scope_or_unpermitted_users_cannot_start(world):
    with pytest.raises(ValidationError) as exc:
        verification.campaign_start(actor=world["official"], area=area("450403005002"), name="x", year=2026)
    assert "area" in exc.value.message_dict
    with pytest.raises(ValidationError):
        verification.campaign_start(actor=world["gw"], area=area(G1), name="x", year=2026)
    with pytest.raises(ValidationError) as exc:
        verification.campaign_start(actor=world["official"], area=area(COMMUNITY), name="  ", year=2026)
    assert "name" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        verification.campaign_start(
            actor=world["official"], area=area(COMMUNITY), name="x", year=2026, due_date=date(2020, 1, 1)
        )
    assert "due_date" in exc.value.message_dict
    assert not VerificationCampaign.objects.exists() and not VerificationCheck.objects.exists()


# ---- results --------------------------------------------------------------------------------------------


def test_confirm_stamps_the_person_and_is_idempotent(world, campaign):
    gw, zhang = world["gw"], world["zhang"]
    check = verification.check_confirm(actor=gw, check=check_for(campaign, zhang), note="上门")
    assert (check.status, check.checked_by, check.note) == (CheckStatus.CONFIRMED, gw, "上门")
    zhang.refresh_from_db()
    assert zhang.verified_at is not None
    assert PersonEvent.objects.filter(person=zhang, kind="verified").count() == 1
    first = (check.checked_at, zhang.verified_at)
    again = verification.check_confirm(actor=gw, check=check_for(campaign, zhang))
    zhang.refresh_from_db()
    assert again.status == CheckStatus.CONFIRMED and (again.checked_at, zhang.verified_at) == first
    assert PersonEvent.objects.filter(person=zhang, kind="verified").count() == 1


def test_correct_goes_through_person_update(world, campaign):
    gw, li = world["gw"], world["li"]
    check = check_for(campaign, li)
    with pytest.raises(ValidationError) as exc:
        verification.check_correct(actor=gw, check=check, changes={"phone": "12345"})
    assert "phone" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        verification.check_correct(actor=gw, check=check, changes={"house": 1})
    assert "house" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        verification.check_correct(actor=gw, check=check, changes={"name": "李四"})
    assert "changes" in exc.value.message_dict
    check = verification.check_correct(
        actor=gw, check=check, changes={"phone": "139 0000 2222", "person_type": "floating"}
    )
    assert check.status == CheckStatus.CORRECTED and check.checked_by == gw
    li.refresh_from_db()
    assert li.phone == "13900002222" and li.phone_suffix == "2222" and li.person_type == "floating"
    assert li.phone_index == services.phone_index("13900002222")
    assert li.verified_at is not None
    assert PersonEvent.objects.filter(person=li, kind="corrected").count() == 1
    # The phone sends the same correction again: nothing more happens.
    verification.check_correct(
        actor=gw, check=check, changes={"phone": "13900002222", "person_type": "floating"}
    )
    assert PersonEvent.objects.filter(person=li, kind="corrected").count() == 1
    # Confirming a corrected record keeps it corrected.
    assert verification.check_confirm(actor=gw, check=check).status == CheckStatus.CORRECTED


def test_correct_other_records_needs_a_note(world, campaign):
    gw, check = world["gw"], check_for(campaign, world["shop"])
    with pytest.raises(ValidationError) as exc:
        verification.check_correct(actor=gw, check=check, changes={"name": "x"})
    assert "changes" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        verification.check_correct(actor=gw, check=check, changes={})
    assert "note" in exc.value.message_dict
    check = verification.check_correct(actor=gw, check=check, changes={}, note="已改名为好又多")
    assert check.status == CheckStatus.CORRECTED and check.note == "已改名为好又多"


def test_gone_moves_the_person_out_once(world, campaign):
    gw, zhang = world["gw"], world["zhang"]
    check = verification.check_gone(actor=gw, check=check_for(campaign, zhang), note="已搬走")
    assert check.status == CheckStatus.GONE
    zhang.refresh_from_db()
    assert zhang.status == "moved_out" and zhang.house is None and zhang.verified_at is not None
    assert PersonEvent.objects.filter(person=zhang, kind="move_out").count() == 1
    verification.check_gone(actor=gw, check=check)
    assert PersonEvent.objects.filter(person=zhang, kind="move_out").count() == 1
    with pytest.raises(ValidationError) as exc:
        verification.check_confirm(actor=gw, check=check)
    assert "status" in exc.value.message_dict
    shop_check = verification.check_gone(actor=gw, check=check_for(campaign, world["shop"]))
    assert shop_check.status == CheckStatus.GONE and Shop.objects.filter(pk=world["shop"].pk).exists()


def test_worker_cannot_act_in_another_grid(world, campaign):
    check = check_for(campaign, world["zhao"])  # grid 2
    for service in (verification.check_confirm, verification.check_gone):
        with pytest.raises(OutOfScopeError):
            service(actor=world["gw"], check=check)
    with pytest.raises(OutOfScopeError):
        verification.check_correct(actor=world["gw"], check=check, changes={"name": "赵七"})
    with pytest.raises(OutOfScopeError):  # officials follow progress; the grid worker records results
        verification.check_confirm(actor=world["official"], check=check)
    assert VerificationCheck.objects.get(pk=check.pk).status == CheckStatus.PENDING
    client = api_client(world["gw"])
    assert client.post(reverse("api:verificationcheck-confirm", args=[check.pk])).status_code == 404
    assert client.get(reverse("api:verificationcheck-detail", args=[check.pk])).status_code == 404


def test_closed_campaign_refuses_results(world, campaign):
    verification.campaign_close(actor=world["official"], campaign=campaign)
    check = check_for(campaign, world["zhang"])
    with pytest.raises(ValidationError) as exc:
        verification.check_confirm(actor=world["gw"], check=check)
    assert "campaign" in exc.value.message_dict
    res = api_client(world["gw"]).post(reverse("api:verificationcheck-gone", args=[check.pk]))
    assert res.status_code == 400 and "campaign" in res.json()
    with pytest.raises(OutOfScopeError):
        verification.campaign_close(actor=world["gw"], campaign=campaign)


# ---- progress and the unverified list ------------------------------------------------------------------


@pytest.fixture
def street_campaign(world):
    return verification.campaign_start(
        actor=world["street"], area=area("450403005000"), name="街道核实", year=2026
    )


def test_progress_per_grid_and_community(world, street_campaign):
    c = street_campaign
    verification.check_confirm(actor=world["gw"], check=check_for(c, world["zhang"]))
    verification.check_correct(actor=world["gw"], check=check_for(c, world["li"]), changes={"name": "李四四"})
    verification.check_gone(actor=world["gw"], check=check_for(c, world["shop"]))
    verification.check_confirm(actor=world["gw2"], check=check_for(c, world["zhao"]))
    rows = {r["code"]: r for r in verification.campaign_progress(c, by="grid", user=world["street"])}
    assert set(rows) == {G1, G2, G3}
    assert {k: rows[G1][k] for k in ("total", "confirmed", "corrected", "gone", "pending", "percent")} == {
        "total": 5,
        "confirmed": 1,
        "corrected": 1,
        "gone": 1,
        "pending": 2,
        "percent": 60.0,
    }
    assert (rows[G2]["total"], rows[G2]["confirmed"], rows[G2]["percent"]) == (2, 1, 50.0)
    assert (rows[G3]["total"], rows[G3]["pending"], rows[G3]["percent"]) == (2, 2, 0.0)
    assert rows[G1]["worker"] == "t_gw" and rows[G1]["name"] == "三角嘴社区第01网格"
    communities = {
        r["code"]: r for r in verification.campaign_progress(c, by="community", user=world["street"])
    }
    assert {k: (r["total"], r["pending"]) for k, r in communities.items()} == {
        COMMUNITY: (7, 3),
        "450403005002": (2, 2),
    }
    totals = verification.progress_totals(rows.values())
    assert (totals["total"], totals["pending"], totals["percent"]) == (9, 5, 44.4)
    # The community official sees the street campaign, but only their community's part of it.
    assert verification.campaigns_for(world["official"]).filter(pk=c.pk).exists()
    mine = verification.campaign_progress(c, by="community", user=world["official"])
    assert [r["code"] for r in mine] == [COMMUNITY]
    with pytest.raises(ValidationError) as exc:
        verification.campaign_progress(c, by="street", user=world["street"])
    assert "by" in exc.value.message_dict


def test_progress_takes_a_constant_number_of_queries(world, street_campaign, django_assert_max_num_queries):
    user = world["street"]
    verification.campaign_progress(street_campaign, by="grid", user=user)  # the user's posts load once
    with CaptureQueriesContext(connection) as small:
        verification.campaign_progress(street_campaign, by="grid", user=user)
    for i, code in enumerate(("450403005001003", "450403005001004", "450403005002002")):
        h = make_house(area(code), room=f"5{i}1", compound_name=f"新小区{i}")
        person(f"新人{i}", h, 40 + i)
    verification.campaign_close(actor=user, campaign=street_campaign)
    bigger = verification.campaign_start(actor=user, area=area("450403005000"), name="更大", year=2026)
    assert bigger.check_count == street_campaign.check_count + 6
    with django_assert_max_num_queries(len(small.captured_queries)):
        rows = verification.campaign_progress(bigger, by="grid", user=user)
    assert len(rows) == 6
    assert len(small.captured_queries) <= 2


def test_unverified_after_close(world, campaign, client):
    verification.check_confirm(actor=world["gw"], check=check_for(campaign, world["zhang"]))
    verification.campaign_close(actor=world["official"], campaign=campaign)
    left = verification.unverified(campaign, world["official"])
    assert left.count() == 6 and world["zhang"].pk not in {
        c.object_id for c in left if c.object_repr.startswith("张")
    }
    client.force_login(world["official"])
    html = client.get(reverse("registry:campaign", args=[campaign.pk])).content.decode()
    assert 'id="unverified"' in html and "李四" in html
    assert reverse("registry:person", args=[world["li"].pk]) in html
    assert f"building={world['houses'][0].building_id}" in html


# ---- pages ------------------------------------------------------------------------------------------


def test_official_pages(world, client):
    client.force_login(world["official"])
    res = client.get(reverse("registry:verification"))
    assert res.status_code == 200
    html = res.content.decode()
    assert 'id="start-campaign"' in html and reverse("registry:verification") in html
    res = client.post(
        reverse("registry:verification"), {"name": "页面核实", "year": 2026, "area": area(COMMUNITY).pk}
    )
    campaign = VerificationCampaign.objects.get(name="页面核实")
    assert res.status_code == 302 and res["Location"] == reverse("registry:campaign", args=[campaign.pk])
    assert campaign.check_count == 7
    res = client.post(reverse("registry:verification"), {"name": "再来", "year": 2026, "area": area(G1).pk})
    assert res.status_code == 400 and "页面核实" in res.content.decode()
    html = client.get(reverse("registry:campaign", args=[campaign.pk])).content.decode()
    assert 'id="by-community"' in html and 'id="by-grid"' in html and "三角嘴社区第01网格" in html
    assert "<progress" in html and 'name="op" value="close"' in html
    assert client.get(reverse("registry:verification")).content.decode().count("页面核实") == 1
    res = client.post(reverse("registry:campaign", args=[campaign.pk]), {"op": "close"})
    assert res.status_code == 302
    assert VerificationCampaign.objects.get(pk=campaign.pk).status == CampaignStatus.CLOSED


def test_pages_are_refused_or_hidden_out_of_scope(world, campaign, client):
    client.force_login(world["gw"])
    assert client.get(reverse("registry:verification")).status_code == 403
    other = make_user("t_other", "community_official", "450403005002")
    client.force_login(other)
    assert client.get(reverse("registry:campaign", args=[campaign.pk])).status_code == 404
    assert client.post(reverse("registry:campaign", args=[campaign.pk]), {"op": "close"}).status_code == 404


def test_worker_phone_page(world, campaign, client):
    gw = world["gw"]
    client.force_login(gw)
    assert reverse("registry:verification_my") in client.get(reverse("mobile:home")).content.decode()
    url = reverse("registry:verification_my")
    res = client.get(url)
    assert res.status_code == 200
    html = res.content.decode()
    assert "张三" in html and "138****5678" in html and "13812345678" not in html
    assert "赵六" not in html  # grid 2
    assert len(res.context["checks"]) == 5
    zhang, li = check_for(campaign, world["zhang"]), check_for(campaign, world["li"])
    assert client.post(url, {"check": zhang.pk, "op": "confirm"}).status_code == 302
    assert VerificationCheck.objects.get(pk=zhang.pk).status == CheckStatus.CONFIRMED
    res = client.post(url, {"check": li.pk, "op": "correct", "phone": "123"})
    assert res.status_code == 400 and res.context["checks"]
    assert VerificationCheck.objects.get(pk=li.pk).status == CheckStatus.PENDING
    res = client.post(url, {"check": li.pk, "op": "correct", "phone": "13700001234", "note": "换号"})
    assert res.status_code == 302
    assert Person.objects.get(pk=world["li"].pk).phone == "13700001234"
    shop = check_for(campaign, world["shop"])
    assert client.post(url, {"check": shop.pk, "op": "gone", "note": "关门"}).status_code == 302
    assert VerificationCheck.objects.get(pk=shop.pk).status == CheckStatus.GONE
    other = check_for(campaign, world["zhao"])
    assert client.post(url, {"check": other.pk, "op": "confirm"}).status_code == 404
    assert client.post(url, {"check": "abc", "op": "confirm"}).status_code == 404
    assert len(client.get(url).context["checks"]) == 2


# ---- API --------------------------------------------------------------------------------------------


def test_api_for_the_mobile_app(world, campaign):
    client = api_client(world["gw"])
    res = client.get(reverse("api:verificationcheck-list"), {"status": "pending", "campaign__status": "open"})
    assert res.status_code == 200
    body = res.json()
    assert body["count"] == 5 and {r["kind"] for r in body["results"]} == {
        "person",
        "house",
        "organisation",
        "shop",
    }
    assert client.get(reverse("api:verificationcheck-list"), {"status": "bogus"}).status_code == 400
    zhang = check_for(campaign, world["zhang"])
    url = reverse("api:verificationcheck-confirm", args=[zhang.pk])
    first = client.post(url, {"note": "ok"}, format="json")
    assert first.status_code == 200 and first.json()["status"] == "confirmed"
    assert client.post(url, {}, format="json").json() == first.json()  # a retry answers the same
    li = check_for(campaign, world["li"])
    correct = reverse("api:verificationcheck-correct", args=[li.pk])
    res = client.post(correct, {"changes": {"person_type": "alien"}}, format="json")
    assert res.status_code == 400 and "person_type" in res.json()["changes"]
    res = client.post(correct, {"changes": {"house": 3}}, format="json")
    assert res.status_code == 400 and "house" in res.json()["changes"]
    res = client.post(correct, {"changes": {"phone": "12"}}, format="json")
    assert res.status_code == 400 and "phone" in res.json()
    res = client.post(correct, {"changes": {"phone": "13600001111"}}, format="json")
    assert res.status_code == 200 and res.json()["status"] == "corrected"
    assert Person.objects.get(pk=world["li"].pk).phone == "13600001111"
    res = client.post(reverse("api:verificationcheck-gone", args=[check_for(campaign, world["org"]).pk]))
    assert res.status_code == 200 and res.json()["status"] == "gone"
    assert (
        client.get(reverse("api:verificationcampaign-list")).status_code == 403
    )  # grid workers: checks only


def test_api_for_officials(world):
    client = api_client(world["official"])
    res = client.post(
        reverse("api:verificationcampaign-list"),
        {"name": "API核实", "year": 2026, "area": area(COMMUNITY).pk},
    )
    assert res.status_code == 201, res.content
    pk = res.json()["id"]
    assert res.json()["check_count"] == 7
    res = client.post(
        reverse("api:verificationcampaign-list"), {"name": "又一次", "year": 2026, "area": area(G2).pk}
    )
    assert res.status_code == 400 and "area" in res.json()
    res = client.post(
        reverse("api:verificationcampaign-list"), {"name": "外面", "year": 2026, "area": area(G3).pk}
    )
    assert res.status_code == 400 and "area" in res.json()
    listing = client.get(reverse("api:verificationcampaign-list")).json()
    assert [c["id"] for c in listing["results"]] == [pk]
    res = client.get(reverse("api:verificationcampaign-progress", args=[pk]), {"by": "community"})
    assert res.status_code == 200
    assert res.json()["rows"][0]["code"] == COMMUNITY and res.json()["totals"]["total"] == 7
    assert client.get(reverse("api:verificationcampaign-progress", args=[pk]), {"by": "x"}).status_code == 400
    res = client.post(reverse("api:verificationcampaign-close", args=[pk]))
    assert res.status_code == 200 and res.json()["status"] == "closed"
    assert (
        api_client(world["street"]).get(reverse("api:verificationcampaign-detail", args=[pk])).status_code
        == 200
    )
    other = make_user("t_other", "community_official", "450403005002")
    assert api_client(other).get(reverse("api:verificationcampaign-detail", args=[pk])).status_code == 404


# ---- scope of the endpoints for every role ---------------------------------------------------------------


def _campaign_in(area_: Area, n: int) -> VerificationCampaign:
    return VerificationCampaign.objects.create(name=f"核实{n}", year=2026, area=area_)


class TestCheckEndpoints(ScopedEndpointTests):
    model = VerificationCheck

    def api_list(self):
        return reverse("api:verificationcheck-list")

    def api_detail(self, obj):
        return reverse("api:verificationcheck-detail", args=[obj.pk])

    def make_object(self, area, n=0):
        return VerificationCheck.objects.create(
            campaign=_campaign_in(area, n),
            content_type=ContentType.objects.get_for_model(Person),
            object_id=n,
            object_repr=f"居民{n}",
            area=area,
        )


class TestCampaignEndpoints(ScopedEndpointTests):
    model = VerificationCampaign

    def api_list(self):
        return reverse("api:verificationcampaign-list")

    def api_detail(self, obj):
        return reverse("api:verificationcampaign-detail", args=[obj.pk])

    def make_object(self, area, n=0):
        return _campaign_in(area, n)

    def page_detail(self, obj):
        return reverse("registry:campaign", args=[obj.pk])


# ---- in a real browser, phone-sized ---------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_worker_confirms_and_corrects_on_the_phone(browser, live_server, wuzhou, tmp_path):
    from civicgrid.accounts.services import agreement_accept, agreement_publish

    h1 = make_house(area(G1), room="101")
    zhang, li = person("张三", h1, 11, "13812345678"), person("李四", h1, 12)
    gw = worker_of(G1, "t_gw")
    official = make_user("t_comm", "community_official")
    agreement = agreement_publish(actor=None, version="v", title="t", body="b")
    agreement_accept(user=gw, agreement=agreement, ip=None)
    campaign = verification.campaign_start(actor=official, area=area(COMMUNITY), name="核实", year=2026)
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN", is_mobile=True)
    page = context.new_page()
    page.set_default_timeout(15000)
    try:
        page.goto(f"{live_server.url}/accounts/login/?next=/m/")
        page.fill("#id_username", gw.username)
        page.fill("#id_password", "correct-horse-battery-9")
        page.click("button.primary")
        page.click("#my-checks")
        zhang_card = f"#check-{check_for(campaign, zhang).pk}"
        page.wait_for_selector(zhang_card)
        page.screenshot(path=str(tmp_path / "my_checks.png"), full_page=True)
        page.click(f"{zhang_card} button[value=confirm]")
        page.wait_for_selector(f"{zhang_card}", state="detached")
        li_card = f"#check-{check_for(campaign, li).pk}"
        page.click(f"{li_card} details summary")
        page.fill(f"{li_card} input[name=phone]", "13700001234")
        page.screenshot(path=str(tmp_path / "correct.png"), full_page=True)
        page.click(f"{li_card} button[value=correct]")
        page.wait_for_selector(f"{li_card}", state="detached")
        assert check_for(campaign, zhang).status == CheckStatus.CONFIRMED
        assert check_for(campaign, li).status == CheckStatus.CORRECTED
        assert Person.objects.get(pk=li.pk).phone == "13700001234"
        assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling
    finally:
        context.close()
    agreement_accept(user=official, agreement=agreement, ip=None)
    page = browser.new_page(viewport={"width": 1280, "height": 860}, locale="zh-CN")
    try:
        page.goto(f"{live_server.url}/accounts/login/?next=/basedata/verification/")
        page.fill("#id_username", official.username)
        page.fill("#id_password", "correct-horse-battery-9")
        page.click("button.primary")
        page.click(f"#campaigns a[href='/basedata/verification/{campaign.pk}/']")
        row = page.wait_for_selector(f"#by-grid tr[data-code='{G1}']")
        assert "66.7%" in row.text_content()  # 2 of the house and two people
        page.screenshot(path=str(tmp_path / "progress.png"), full_page=True)
    finally:
        page.close()
