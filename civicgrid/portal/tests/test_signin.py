"""Signing in with a phone and a one-time code: the happy path, every way a code is refused, and
the rate limits per phone and per client address."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from civicgrid.accounts.choices import UserType
from civicgrid.accounts.models import Post, User
from civicgrid.core.models.audit import AccessKind, AccessLog
from civicgrid.core.testing import make_user
from civicgrid.notify import services as notify_services
from civicgrid.portal import services
from civicgrid.portal.models import OneTimeCode

from .conftest import code_sent_to

pytestmark = pytest.mark.django_db

PHONE = "13912345678"
COMMUNITY = "450403005001"


def ask(client, phone=PHONE, ip="10.1.1.1"):
    return client.post(reverse("portal:login"), {"phone": phone}, REMOTE_ADDR=ip)


def enter(client, code, ip="10.1.1.1"):
    return client.post(reverse("portal:verify"), {"code": code}, REMOTE_ADDR=ip)


def age_codes(phone=PHONE, minutes=2):
    """Move the phone's codes back in time (as if requested ``minutes`` ago)."""
    OneTimeCode.objects.filter(phone_index=services.phone_index(phone)).update(
        created_at=timezone.now() - timedelta(minutes=minutes)
    )


def test_first_sign_in_creates_a_resident_who_then_chooses_a_community(wuzhou, client, outbox):
    res = ask(client, "139 1234 5678")
    assert res.status_code == 302 and res["Location"] == reverse("portal:verify")
    page = client.get(reverse("portal:verify")).content.decode()
    assert "139****5678" in page and PHONE not in page
    row = OneTimeCode.objects.get()
    code = code_sent_to(PHONE)
    assert code not in row.code_hash and row.expires_at - row.created_at == timedelta(minutes=5)

    res = enter(client, code)
    assert res.status_code == 302 and res["Location"] == reverse("portal:home")
    user = User.objects.get(user_type=UserType.RESIDENT, username__startswith="r_")
    assert notify_services.user_by_address("sms", PHONE) == user
    assert PHONE not in user.username and PHONE not in user.display_name
    assert AccessLog.objects.filter(kind=AccessKind.LOGIN, user=user).exists()
    # No community yet: the portal asks for it first.
    res = client.get(reverse("portal:home"))
    assert res.status_code == 302 and res["Location"].startswith(reverse("portal:community"))
    from civicgrid.areas.models import Area

    community = Area.objects.get(code=COMMUNITY)
    page = client.get(reverse("portal:community")).content.decode()
    assert community.name in page and "<optgroup" in page
    res = client.post(reverse("portal:community"), {"community": community.pk, "next": "/portal/"})
    assert res.status_code == 302 and res["Location"] == "/portal/"
    post = Post.objects.get(user=user, is_active=True)
    assert post.role.code == "resident" and post.data_scope == "own" and post.area == community
    home = client.get(reverse("portal:home"))
    assert home.status_code == 200 and community.name in home.content.decode()

    # Signing in again later finds the same account; moving to another community ends the old post.
    client.logout()
    age_codes()
    ask(client)
    enter(client, code_sent_to(PHONE))
    assert User.objects.filter(user_type=UserType.RESIDENT, username__startswith="r_").count() == 1
    other = Area.objects.get(code="450403005002")
    client.post(reverse("portal:community"), {"community": other.pk})
    assert list(Post.objects.filter(user=user, is_active=True).values_list("area__code", flat=True)) == [
        "450403005002"
    ]


def test_a_wrong_code_says_how_many_attempts_are_left(wuzhou, client, outbox):
    ask(client)
    good = code_sent_to(PHONE)
    wrong = "000000" if good != "000000" else "111111"
    res = enter(client, wrong)
    assert res.status_code == 200
    page = res.content.decode()
    assert "Wrong code. 4 attempts left." in page
    assert not res.wsgi_request.user.is_authenticated
    failed = AccessLog.objects.filter(kind=AccessKind.LOGIN_FAILED).latest("id")
    assert failed.detail["method"] == "sms_code" and failed.detail["phone"] == "139****5678"
    assert enter(client, "12ab").status_code == 200  # malformed: a field error, not a 500
    res = enter(client, good)
    assert res.status_code == 302  # still fine with attempts left


def test_attempts_are_limited_even_for_the_right_code(wuzhou, outbox):
    services.otp_request(phone=PHONE, ip=None)
    good = code_sent_to(PHONE)
    wrong = "000000" if good != "000000" else "111111"
    for _ in range(5):
        with pytest.raises(ValidationError):
            services.otp_verify(phone=PHONE, code=wrong)
    with pytest.raises(ValidationError) as err:
        services.otp_verify(phone=PHONE, code=good)
    assert "Too many wrong codes" in str(err.value.message_dict["code"])


def test_an_expired_code_is_refused(wuzhou, outbox):
    services.otp_request(phone=PHONE, ip=None)
    OneTimeCode.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(ValidationError) as err:
        services.otp_verify(phone=PHONE, code=code_sent_to(PHONE))
    assert "expired" in str(err.value.message_dict["code"])


def test_a_code_works_once_and_only_the_latest_counts(wuzhou, outbox):
    services.otp_request(phone=PHONE, ip=None)
    first = code_sent_to(PHONE)
    services.otp_verify(phone=PHONE, code=first)
    with pytest.raises(ValidationError) as err:
        services.otp_verify(phone=PHONE, code=first)
    assert "already used" in str(err.value.message_dict["code"])
    age_codes()
    services.otp_request(phone=PHONE, ip=None)
    second = code_sent_to(PHONE)
    if second != first:
        with pytest.raises(ValidationError):
            services.otp_verify(phone=PHONE, code=first)
    services.otp_verify(phone=PHONE, code=second)


def test_codes_are_rate_limited_per_phone(wuzhou, client, outbox):
    assert ask(client).status_code == 302
    res = ask(client)
    assert res.status_code == 429 and 1 <= int(res["Retry-After"]) <= 60
    assert "A code was just sent to this number" in res.content.decode()
    assert OneTimeCode.objects.count() == 1 and len(outbox) == 1
    # A minute later: allowed, up to 5 an hour.
    for _ in range(4):
        age_codes(minutes=2)
        assert ask(client).status_code == 302
    age_codes(minutes=2)
    res = ask(client)
    assert res.status_code == 429 and int(res["Retry-After"]) > 60
    assert "Too many codes were requested for this number" in res.content.decode()
    age_codes(minutes=61)
    assert ask(client).status_code == 302


def test_codes_are_rate_limited_per_client_address(wuzhou, client, outbox):
    for i in range(20):
        assert ask(client, f"1380000{i:04d}", ip="10.9.9.9").status_code == 302
    res = ask(client, "13800009999", ip="10.9.9.9")
    assert res.status_code == 429 and "Retry-After" in res
    assert "Too many codes were requested from your network" in res.content.decode()
    assert ask(client, "13800009999", ip="10.9.9.10").status_code == 302  # another address


def test_bad_numbers_and_staff_numbers(wuzhou, client, outbox):
    res = ask(client, "12345")
    assert res.status_code == 200 and 'class="error"' in res.content.decode() and not outbox
    staff = make_user("t_staff", "dispatcher")
    notify_services.address_set(user=staff, channel="sms", address=PHONE, verified=True)
    ask(client)
    res = enter(client, code_sent_to(PHONE))
    assert res.status_code == 200 and not res.wsgi_request.user.is_authenticated
    assert "This number belongs to a staff account" in res.content.decode()


def test_staff_do_not_use_the_portal_and_strangers_sign_in_first(wuzhou, client):
    res = client.get(reverse("portal:report"))
    assert res.status_code == 302 and res["Location"].startswith(reverse("portal:login"))
    client.force_login(make_user("t_disp", "dispatcher"))
    assert client.get(reverse("portal:home")).status_code == 403
    assert client.get(reverse("portal:cases")).status_code == 403
