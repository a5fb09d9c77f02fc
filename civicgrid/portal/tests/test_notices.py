"""Public notices: staff publish to their area; a resident reads those of their community and of
the street, district and city above it, and no other community's."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from civicgrid.areas.models import Area
from civicgrid.core.testing import make_user
from civicgrid.portal import services
from civicgrid.portal.models import Notice

pytestmark = pytest.mark.django_db


def area(code):
    return Area.objects.get(code=code)


@pytest.fixture
def notices(wuzhou):
    def make(code, title, **extra):
        return services.notice_create(
            actor=None, area=area(code), title=title, body=f"{title}的内容", **extra
        )

    return {
        "community": make("450403005001", "本社区停水通知"),
        "street": make("450403005000", "街道防汛通知"),
        "district": make("450403", "万秀区疫苗接种"),
        "city": make("450400", "全市垃圾分类"),
        "neighbour": make("450403005002", "隔壁社区通知"),
        "other_district": make("450405", "长洲区通知"),
        "later": make("450403005001", "明天才发布", published_at=timezone.now() + timedelta(days=1)),
    }


def test_residents_read_their_community_and_the_areas_above(notices, client):
    resident = make_user("t_res", "resident")  # 450403005001
    client.force_login(resident)
    page = client.get(reverse("portal:notices")).content.decode()
    for key in ("community", "street", "district", "city"):
        assert notices[key].title in page
    for key in ("neighbour", "other_district", "later"):
        assert notices[key].title not in page
    assert client.get(reverse("portal:notice", args=[notices["street"].pk])).status_code == 200
    assert client.get(reverse("portal:notice", args=[notices["neighbour"].pk])).status_code == 404
    assert client.get(reverse("portal:notice", args=[notices["later"].pk])).status_code == 404
    home = client.get(reverse("portal:home")).content.decode()
    assert notices["city"].title in home  # the latest three


def test_staff_publish_in_their_scope_only(wuzhou, client):
    official = make_user("t_comm", "community_official")  # 450403005001 and below
    client.force_login(official)
    page = client.get(reverse("portal:notice_manage"))
    assert page.status_code == 200 and 'id="notice-form"' in page.content.decode()
    res = client.post(
        reverse("portal:notice_manage"),
        {"area": area("450403005001").pk, "title": "周六义诊", "body": "社区卫生站九点开始"},
    )
    assert res.status_code == 302
    notice = Notice.objects.get(title="周六义诊")
    assert notice.created_by == official and notice.area_code == "450403005001"
    # Outside the scope (another community): the area field says so, nothing is written.
    res = client.post(
        reverse("portal:notice_manage"), {"area": area("450403005002").pk, "title": "越权", "body": "x"}
    )
    assert res.status_code == 200 and "area" in res.context["form"].errors
    assert not Notice.objects.filter(title="越权").exists()
    # Withdraw; someone else's notice elsewhere is a 404.
    elsewhere = services.notice_create(actor=None, area=area("450405"), title="长洲", body="x")
    assert (
        client.post(reverse("portal:notice_manage"), {"op": "delete", "notice": elsewhere.pk}).status_code
        == 404
    )
    client.post(reverse("portal:notice_manage"), {"op": "delete", "notice": notice.pk})
    assert not Notice.objects.filter(pk=notice.pk).exists()


def test_roles_without_the_permission_are_refused(wuzhou, client):
    client.force_login(make_user("t_disp", "dispatcher"))
    assert client.get(reverse("portal:notice_manage")).status_code == 403
    client.force_login(make_user("t_res", "resident"))
    assert client.get(reverse("portal:notice_manage")).status_code == 403


def test_a_notice_cannot_go_to_a_grid(wuzhou):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as err:
        services.notice_create(actor=None, area=area("450403005001001"), title="x", body="y")
    assert "area" in err.value.message_dict


def test_resident_notifications_in_the_portal(wuzhou, client):
    from civicgrid.notify.models import Notification

    resident = make_user("t_res", "resident")
    other = make_user("t_res2", "resident")
    mine = Notification.objects.create(
        recipient=resident, kind="case_status", title="您的报告已受理", url="/portal/cases/1/"
    )
    theirs = Notification.objects.create(recipient=other, kind="case_status", title="别人的消息")
    client.force_login(resident)
    page = client.get(reverse("portal:notifications")).content.decode()
    assert "您的报告已受理" in page and "别人的消息" not in page
    assert 'id="tab-notifications"' in page and 'data-count="1"' in page
    res = client.get(reverse("portal:notification_open", args=[mine.pk]))
    assert res.status_code == 302 and res["Location"] == "/portal/cases/1/"
    mine.refresh_from_db()
    assert mine.read_at is not None
    assert client.get(reverse("portal:notification_open", args=[theirs.pk])).status_code == 404
