"""The notification centre: unread count in the header, the pages and the API, each showing a
user their own notifications only."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from civicgrid.core.testing import api_client, count_queries, make_user
from civicgrid.notify import selectors
from civicgrid.notify.models import Notification

pytestmark = pytest.mark.django_db


def tell(user, n=1, **extra):
    rows = [
        Notification(
            recipient=user, kind="case_unit", title=f"消息 {user.username} {i}", url="/command/", **extra
        )
        for i in range(n)
    ]
    return Notification.objects.bulk_create(rows)


@pytest.fixture
def two(wuzhou):
    a = make_user("t_alice", "dispatcher")
    b = make_user("t_bob", "dispatcher")
    tell(a, 3)
    tell(b, 2)
    return a, b


def test_unread_count_is_capped_and_one_query(two):
    a, _b = two
    assert selectors.unread_count(a) == 3
    assert count_queries(lambda: selectors.unread_count(a)) == 1
    tell(a, 120)
    assert selectors.unread_count(a) == 100 and selectors.badge(100) == "99+"


def test_header_badge_shows_the_unread_count(two, client):
    a, _b = two
    client.force_login(a)
    page = client.get(reverse("notify:list")).content.decode()
    assert 'id="notifications-badge"' in page and 'data-count="3"' in page


def test_page_lists_only_my_notifications_and_marks_read(two, client):
    a, b = two
    client.force_login(a)
    page = client.get(reverse("notify:list")).content.decode()
    assert "消息 t_alice 0" in page and "t_bob" not in page
    mine = Notification.objects.filter(recipient=a).order_by("id")
    theirs = Notification.objects.filter(recipient=b).first()
    # Mark one read (and try someone else's: ignored).
    res = client.post(reverse("notify:list"), {"ids": [mine[0].pk, theirs.pk]})
    assert res.status_code == 302
    assert Notification.objects.get(pk=mine[0].pk).read_at is not None
    assert Notification.objects.get(pk=theirs.pk).read_at is None
    assert selectors.unread_count(a) == 2
    # Opening one marks it read and follows its link; someone else's is a 404.
    res = client.get(reverse("notify:open", args=[mine[1].pk]))
    assert res.status_code == 302 and res["Location"] == "/command/"
    assert client.get(reverse("notify:open", args=[theirs.pk])).status_code == 404
    # Mark all read: mine only.
    client.post(reverse("notify:list"), {"all": "1"})
    assert selectors.unread_count(a) == 0 and selectors.unread_count(b) == 2
    assert "No unread notifications." in client.get(
        reverse("notify:list") + "?unread=1"
    ).content.decode() or ("没有未读" in client.get(reverse("notify:list") + "?unread=1").content.decode())


def test_an_offsite_link_is_not_followed(two, client):
    a, _b = two
    (n,) = tell(a, 1)
    Notification.objects.filter(pk=n.pk).update(url="https://evil.example/")
    client.force_login(a)
    res = client.get(reverse("notify:open", args=[n.pk]))
    assert res["Location"] == reverse("notify:list")


def test_residents_are_sent_to_the_portal(wuzhou, client):
    resident = make_user("t_res", "resident")
    client.force_login(resident)
    res = client.get(reverse("notify:list"))
    assert res.status_code == 302 and res["Location"] == reverse("portal:notifications")


def test_api_lists_and_marks_only_my_own(two):
    a, b = two
    client = api_client(a)
    body = client.get(reverse("api:notification-list")).json()
    assert body["count"] == 3
    assert {r["title"][:10] for r in body["results"]} == {"消息 t_alice"[:10]}
    theirs = list(Notification.objects.filter(recipient=b).values_list("pk", flat=True))
    mine = list(Notification.objects.filter(recipient=a).values_list("pk", flat=True))
    res = client.post(reverse("api:notification-read"), {"ids": [*theirs, mine[0]]}, format="json")
    assert res.status_code == 200 and res.json() == {"marked": 1, "unread": 2}
    assert client.get(reverse("api:notification-list"), {"unread": "true"}).json()["count"] == 2
    res = client.post(reverse("api:notification-read"), {"all": True}, format="json")
    assert res.json() == {"marked": 2, "unread": 0}
    assert Notification.objects.filter(recipient=b, read_at__isnull=True).count() == 2
    # Bad input names the field; no login is refused.
    bad = client.post(reverse("api:notification-read"), {}, format="json")
    assert bad.status_code == 400 and "ids" in bad.json()
    assert api_client(None).get(reverse("api:notification-list")).status_code in (401, 403)


def test_residents_use_the_api_too(wuzhou):
    resident = make_user("t_res", "resident")
    tell(resident, 2)
    assert api_client(resident).get(reverse("api:notification-list")).json()["count"] == 2


def test_api_list_query_count_does_not_grow(two):
    a, _b = two
    client = api_client(a)
    client.get(reverse("api:notification-list"))
    first = count_queries(lambda: client.get(reverse("api:notification-list")))
    tell(a, 20)
    assert count_queries(lambda: client.get(reverse("api:notification-list"))) == first


def test_channel_settings_page_switches_routes(wuzhou, client):
    from civicgrid.notify.models import NotificationRoute

    admin = make_user("t_admin", "sysadmin")
    client.force_login(admin)
    page = client.get(reverse("notify:channels"))
    assert page.status_code == 200
    assert re.search(r'value="case_status:resident:sms"[^>]* checked', page.content.decode())
    assert not re.search(r'value="case_status:staff:sms"[^>]* checked', page.content.decode())
    active = [
        f"{k}:{a}:{c}"
        for k, a, c in NotificationRoute.objects.filter(is_active=True).values_list(
            "kind", "audience", "channel"
        )
    ]
    active.remove("case_status:resident:sms")
    client.post(reverse("notify:channels"), {"route": active})
    assert not NotificationRoute.objects.get(kind="case_status", audience="resident", channel="sms").is_active
    other = make_user("t_disp", "dispatcher")
    client.force_login(other)
    assert client.get(reverse("notify:channels")).status_code == 403
