"""Staff bind their notification addresses: a mobile number verified with a one-time code (the
portal's code machinery, shared), a WeChat openid bound by an administrator, removal — through the
services, the page "My notification channels", the users page and the API. Every way a code or a
number is refused, the rate limits, and what the change log and the logs keep of a number."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from civicgrid.core.models.audit import ChangeAction, ChangeLog
from civicgrid.core.testing import api_client, make_user
from civicgrid.notify import otp, services
from civicgrid.notify.choices import CodePurpose
from civicgrid.notify.models import ChannelAddress, OneTimeCode
from civicgrid.notify.tasks import purge_one_time_codes
from civicgrid.portal import services as portal_services
from civicgrid.portal.tests.conftest import code_sent_to

pytestmark = pytest.mark.django_db

PHONE = "13912345678"
OTHER_PHONE = "13787654321"
API = "/api/v1/notifications/addresses/"
OTHER_DISTRICT_GRID = "450405001001001"  # 长洲区, outside the street official's post


@pytest.fixture(autouse=True)
def english():
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.fixture
def client(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture
def staff(wuzhou):
    return make_user("t_addr_staff", "dispatcher")


@pytest.fixture
def colleague(wuzhou):
    return make_user("t_addr_colleague", "grid_worker")


def api(user):
    """An API client for ``user`` that asks for English (messages are asserted in English)."""
    client = api_client(user)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def wrong(code: str) -> str:
    return "000000" if code != "000000" else "111111"


def age_codes(minutes: int = 2, **filters) -> None:
    """Move codes back in time, as if they had been asked for ``minutes`` ago."""
    OneTimeCode.objects.filter(**filters).update(created_at=timezone.now() - timedelta(minutes=minutes))


def bind(user, phone=PHONE):
    services.sms_verification_start(user=user, phone=phone)
    return services.sms_verification_confirm(user=user, phone=phone, code=code_sent_to(phone))


# ---- services ----------------------------------------------------------------------------------


def test_a_number_is_verified_with_the_code_it_received(staff, outbox, caplog):
    caplog.set_level(logging.INFO)
    code_row = services.sms_verification_start(user=staff, phone="139 1234 5678", ip="10.2.2.2")
    assert code_row.purpose == CodePurpose.ADDRESS and code_row.user == staff and code_row.ip == "10.2.2.2"
    assert code_row.expires_at - code_row.created_at == timedelta(minutes=5)
    code = code_sent_to(PHONE)
    assert "verification code" in outbox[-1][1]
    # Neither the code nor the number is stored in clear.
    assert code not in code_row.code_hash and PHONE not in code_row.phone_index
    assert not ChannelAddress.objects.filter(user=staff).exists()  # nothing bound before the code

    row = services.sms_verification_confirm(user=staff, phone=PHONE, code=code)
    assert row.verified and row.verified_at and row.address == PHONE
    assert services.user_by_address("sms", PHONE) == staff
    assert OneTimeCode.objects.get(pk=code_row.pk).used_at is not None
    # The change log has the new address as a keyed index only; no log line has the number.
    entry = ChangeLog.objects.filter(object_id=str(row.pk), action=ChangeAction.CREATE).latest("id")
    assert entry.content_type.model == "channeladdress"
    assert entry.after["verified"] is True and "address" not in entry.after
    assert PHONE not in json.dumps(entry.after)
    assert caplog.records and not any(PHONE in r.getMessage() for r in caplog.records)
    assert any("139****5678" in r.getMessage() for r in caplog.records)


def test_the_current_number_stays_until_the_new_one_is_confirmed(staff, outbox):
    old = bind(staff)
    age_codes()
    services.sms_verification_start(user=staff, phone=OTHER_PHONE)
    current = ChannelAddress.objects.get(user=staff, channel="sms")
    assert current.address == PHONE and current.verified  # still in use while the code travels
    services.sms_verification_confirm(user=staff, phone=OTHER_PHONE, code=code_sent_to(OTHER_PHONE))
    current.refresh_from_db()
    assert current.pk == old.pk and current.address == OTHER_PHONE and current.verified
    assert services.user_by_address("sms", PHONE) is None
    change = ChangeLog.objects.filter(object_id=str(old.pk), action=ChangeAction.UPDATE).latest("id")
    assert change.before["address_index"] != change.after["address_index"]
    assert OTHER_PHONE not in json.dumps(change.after) and PHONE not in json.dumps(change.before)


def test_an_expired_code_is_refused(staff, outbox):
    services.sms_verification_start(user=staff, phone=PHONE)
    OneTimeCode.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(ValidationError) as err:
        services.sms_verification_confirm(user=staff, phone=PHONE, code=code_sent_to(PHONE))
    assert "expired" in str(err.value.message_dict["code"])
    assert not ChannelAddress.objects.filter(user=staff).exists()


def test_wrong_codes_are_counted_and_limited(staff, outbox):
    services.sms_verification_start(user=staff, phone=PHONE)
    good = code_sent_to(PHONE)
    with pytest.raises(ValidationError) as err:
        services.sms_verification_confirm(user=staff, phone=PHONE, code=wrong(good))
    assert err.value.message_dict["code"] == ["Wrong code. 4 attempts left."]
    with pytest.raises(ValidationError) as err:
        services.sms_verification_confirm(user=staff, phone=PHONE, code="12ab")
    assert "6 digits" in str(err.value.message_dict["code"])  # malformed: not an attempt
    for _ in range(4):
        with pytest.raises(ValidationError):
            services.sms_verification_confirm(user=staff, phone=PHONE, code=wrong(good))
    with pytest.raises(ValidationError) as err:
        services.sms_verification_confirm(user=staff, phone=PHONE, code=good)
    assert "Too many wrong codes" in str(err.value.message_dict["code"])
    assert OneTimeCode.objects.get().attempts == 5
    assert not ChannelAddress.objects.filter(user=staff).exists()
    # A new code (a minute later) works again.
    age_codes()
    services.sms_verification_start(user=staff, phone=PHONE)
    services.sms_verification_confirm(user=staff, phone=PHONE, code=code_sent_to(PHONE))


def test_a_code_works_once_for_whoever_asked_and_only_for_binding(staff, colleague, outbox):
    services.sms_verification_start(user=staff, phone=PHONE)
    code = code_sent_to(PHONE)
    # Someone else cannot use it (nor learn from the answer that a code exists).
    with pytest.raises(ValidationError) as err:
        services.sms_verification_confirm(user=colleague, phone=PHONE, code=code)
    assert "Ask for a code first" in str(err.value.message_dict["code"])
    services.sms_verification_confirm(user=staff, phone=PHONE, code=code)
    services.address_delete(actor=staff, user=staff, channel="sms")
    with pytest.raises(ValidationError) as err:
        services.sms_verification_confirm(user=staff, phone=PHONE, code=code)
    assert "already used" in str(err.value.message_dict["code"])
    # A resident's sign-in code for the same number does not bind it, and a binding code does not
    # sign anyone in.
    age_codes()
    portal_services.otp_request(phone=OTHER_PHONE, ip=None)
    with pytest.raises(ValidationError) as err:
        services.sms_verification_confirm(user=staff, phone=OTHER_PHONE, code=code_sent_to(OTHER_PHONE))
    assert "Ask for a code first" in str(err.value.message_dict["code"])
    age_codes()
    services.sms_verification_start(user=staff, phone=PHONE)
    with pytest.raises(ValidationError):
        portal_services.otp_verify(phone=PHONE, code=code_sent_to(PHONE))


def test_codes_are_rate_limited_per_phone_across_sign_in_and_binding(staff, colleague, outbox):
    portal_services.otp_request(phone=PHONE, ip=None)  # a resident's sign-in code a moment ago
    with pytest.raises(otp.RateLimited) as err:
        services.sms_verification_start(user=staff, phone=PHONE)
    assert err.value.limit == "phone" and 1 <= err.value.retry_after <= 60
    assert "A code was just sent to this number" in err.value.message
    for i in range(4):
        age_codes()
        services.sms_verification_start(user=colleague if i % 2 else staff, phone=PHONE)
    age_codes()
    with pytest.raises(otp.RateLimited) as err:
        services.sms_verification_start(user=staff, phone=PHONE)
    assert err.value.limit == "phone" and err.value.retry_after > 60
    assert "Too many codes were requested for this number" in err.value.message
    assert len(outbox) == 5


def test_codes_are_rate_limited_per_user(staff, outbox):
    services.sms_verification_start(user=staff, phone="13800000000")
    with pytest.raises(otp.RateLimited) as err:
        services.sms_verification_start(user=staff, phone="13800000001")  # another number at once
    assert err.value.limit == "user" and "A code was just sent to you" in err.value.message
    for i in range(1, 10):
        age_codes(minutes=3 * i, user=staff)
        services.sms_verification_start(user=staff, phone=f"1380000{i:04d}")
    age_codes(minutes=2, user=staff)
    with pytest.raises(otp.RateLimited) as err:
        services.sms_verification_start(user=staff, phone="13800000099")
    assert err.value.limit == "user" and "You asked for too many codes" in err.value.message
    assert "hours" in err.value.message and err.value.retry_after > 3600
    # Other staff are not affected.
    services.sms_verification_start(user=make_user("t_addr_other", "dispatcher"), phone="13800000098")


def test_codes_are_rate_limited_per_client_address(staff, colleague, outbox, settings):
    settings.NOTIFY_OTP_IP_LIMITS = [(3, 3600)]
    users = [staff, colleague, make_user("t_addr_third", "dispatcher"), make_user("t_addr_4", "dispatcher")]
    for i, user in enumerate(users[:3]):
        services.sms_verification_start(user=user, phone=f"1360000{i:04d}", ip="10.3.3.3")
    with pytest.raises(otp.RateLimited) as err:
        services.sms_verification_start(user=users[3], phone="13600000009", ip="10.3.3.3")
    assert err.value.limit == "ip" and "from your network" in err.value.message
    services.sms_verification_start(user=users[3], phone="13600000009", ip="10.3.3.4")
    # The portal's sign-in codes have their own limit per address.
    portal_services.otp_request(phone="13600000010", ip="10.3.3.3")


def test_a_number_verified_by_another_account_is_refused(staff, colleague, outbox):
    bind(colleague)
    with pytest.raises(ValidationError) as err:
        services.sms_verification_start(user=staff, phone=PHONE)
    assert err.value.message_dict == {"phone": ["This number is already verified by another account."]}
    assert len(outbox) == 1  # no code went out for it
    # Taken while the code was on its way: refused at confirmation, the code not used up.
    age_codes()
    services.sms_verification_start(user=staff, phone=OTHER_PHONE)
    services.address_set(user=colleague, channel="sms", address=OTHER_PHONE, verified=True)
    with pytest.raises(ValidationError) as err:
        services.sms_verification_confirm(user=staff, phone=OTHER_PHONE, code=code_sent_to(OTHER_PHONE))
    assert list(err.value.message_dict) == ["phone"]
    assert OneTimeCode.objects.filter(user=staff, used_at__isnull=True).count() == 1
    assert services.user_by_address("sms", OTHER_PHONE) == colleague
    # A resident's sign-in number is theirs as well.
    resident = make_user("t_addr_resident", "resident")
    services.address_set(user=resident, channel="sms", address="13511112222", verified=True)
    with pytest.raises(ValidationError) as err:
        services.sms_verification_start(user=staff, phone="13511112222")
    assert "another account" in str(err.value.message_dict["phone"])


def test_own_number_bad_numbers_and_residents(staff, outbox):
    bind(staff)
    age_codes()
    with pytest.raises(ValidationError) as err:
        services.sms_verification_start(user=staff, phone=PHONE)
    assert "already verified on your account" in str(err.value.message_dict["phone"])
    with pytest.raises(ValidationError) as err:
        services.sms_verification_start(user=staff, phone="12345")
    assert "phone" in err.value.message_dict
    resident = make_user("t_addr_resident", "resident")
    with pytest.raises(PermissionDenied):
        services.sms_verification_start(user=resident, phone="13511112222")
    with pytest.raises(PermissionDenied):
        services.address_delete(actor=resident, user=resident, channel="sms")


def test_removing_an_address(staff, outbox):
    row = bind(staff)
    services.address_delete(actor=staff, user=staff, channel="sms")
    assert not ChannelAddress.objects.filter(user=staff).exists()
    assert ChangeLog.objects.filter(object_id=str(row.pk), action=ChangeAction.DELETE).exists()
    with pytest.raises(ValidationError) as err:
        services.address_delete(actor=staff, user=staff, channel="sms")
    assert "channel" in err.value.message_dict
    with pytest.raises(ValidationError) as err:
        services.address_delete(actor=staff, user=staff, channel="fax")
    assert "channel" in err.value.message_dict


def test_administrators_bind_wechat_within_their_scope(wuzhou, staff):
    street = make_user("t_addr_street", "street_official")  # manages the staff of 角嘴街道
    worker = make_user("t_addr_gw", "grid_worker")  # in 角嘴街道
    far = make_user("t_addr_far", "grid_worker", OTHER_DISTRICT_GRID)
    row = services.wechat_openid_set(actor=street, user=worker, openid=" oAbCdEfGhIjKlMnOpQrStUvWxYz1 ")
    assert row.channel == "wechat" and row.verified and row.address == "oAbCdEfGhIjKlMnOpQrStUvWxYz1"
    entry = ChangeLog.objects.filter(object_id=str(row.pk)).latest("id")
    assert entry.action == ChangeAction.CREATE and "oAbCdEf" not in json.dumps(entry.after)
    with pytest.raises(PermissionDenied):
        services.wechat_openid_set(actor=street, user=far, openid="oFarAwayOpenid0000000000001")
    with pytest.raises(PermissionDenied):  # a grid worker manages nobody's addresses
        services.wechat_openid_set(actor=worker, user=staff, openid="oSomeoneElse00000000000001")
    with pytest.raises(ValidationError) as err:
        services.wechat_openid_set(actor=street, user=worker, openid="not an openid!")
    assert "openid" in err.value.message_dict
    other = make_user("t_addr_gw2", "grid_worker")
    with pytest.raises(ValidationError) as err:
        services.wechat_openid_set(actor=street, user=other, openid="oAbCdEfGhIjKlMnOpQrStUvWxYz1")
    assert err.value.message_dict == {"openid": ["This address is already verified by another account."]}
    resident = make_user("t_addr_resident", "resident")
    with pytest.raises(PermissionDenied):
        services.wechat_openid_set(actor=street, user=resident, openid="oResident000000000000000001")
    # The administrator also removes it; the user can too.
    services.address_delete(actor=street, user=worker, channel="wechat")
    assert not ChannelAddress.objects.filter(user=worker).exists()
    with pytest.raises(PermissionDenied):
        services.address_delete(actor=worker, user=street, channel="sms")


def test_old_codes_are_purged(staff, outbox):
    services.sms_verification_start(user=staff, phone=PHONE)
    portal_services.otp_request(phone=OTHER_PHONE, ip=None)
    age_codes(minutes=25 * 60, purpose=CodePurpose.SIGN_IN)
    assert purge_one_time_codes.call_local() == 1
    assert list(OneTimeCode.objects.values_list("purpose", flat=True)) == [CodePurpose.ADDRESS]


# ---- the page ----------------------------------------------------------------------------------


def test_the_page_is_linked_from_the_user_menu_and_the_notification_centre(staff, client):
    client.force_login(staff)
    centre = client.get(reverse("notify:list")).content.decode()
    url = reverse("notify:addresses")
    assert f'href="{url}" id="my-channels"' in centre and 'id="my-channels-link"' in centre
    page = client.get(url)
    assert page.status_code == 200
    text = page.content.decode()
    assert "My notification channels" in text and 'id="phone-form"' in text
    assert 'id="channel-wechat"' in text and "bound by an administrator" in text


def test_binding_a_phone_on_the_page(staff, client, outbox):
    client.force_login(staff)
    url = reverse("notify:addresses")
    res = client.post(url, {"op": "send", "phone": "139-1234-5678"}, REMOTE_ADDR="10.4.4.4")
    assert res.status_code == 302 and res["Location"] == url
    page = client.get(url).content.decode()
    assert "Enter the code sent to 139****5678" in page and PHONE not in page
    assert 'id="code-form"' in page and 'id="phone-form"' not in page
    assert OneTimeCode.objects.get().ip == "10.4.4.4"
    assert PHONE not in json.dumps(dict(client.session.items()))  # the pending number is encrypted
    good = code_sent_to(PHONE)
    res = client.post(url, {"op": "confirm", "code": wrong(good)})
    assert res.status_code == 400 and "Wrong code. 4 attempts left." in res.content.decode()
    res = client.post(url, {"op": "confirm", "code": good}, follow=True)
    text = res.content.decode()
    assert "139****5678 is verified" in text and 'class="tag verified"' in text and PHONE not in text
    assert services.user_by_address("sms", PHONE) == staff
    entry = ChangeLog.objects.filter(content_type__model="channeladdress").latest("id")
    assert entry.user == staff and entry.ip == "127.0.0.1"
    # Remove it again.
    res = client.post(url, {"op": "delete", "channel": "sms"}, follow=True)
    assert "nothing is sent to you by SMS any more" in res.content.decode()
    assert not ChannelAddress.objects.filter(user=staff).exists()


def test_the_page_names_the_field_and_limits_requests(staff, colleague, client, outbox):
    bind(colleague)
    client.force_login(staff)
    url = reverse("notify:addresses")
    res = client.post(url, {"op": "send", "phone": PHONE})
    assert res.status_code == 400
    text = res.content.decode()
    assert 'class="field has-error"' in text and "already verified by another account" in text
    res = client.post(url, {"op": "send", "phone": "12345"})
    assert res.status_code == 400 and "A mobile number has 11 digits" in res.content.decode()
    assert client.post(url, {"op": "send", "phone": OTHER_PHONE}).status_code == 302
    res = client.post(url, {"op": "resend"})
    assert res.status_code == 429 and 1 <= int(res["Retry-After"]) <= 60
    assert "A code was just sent" in res.content.decode()
    res = client.post(url, {"op": "cancel"})
    assert res.status_code == 302 and 'id="phone-form"' in client.get(url).content.decode()
    # Confirming without a number on the way goes back to the first step.
    res = client.post(url, {"op": "confirm", "code": "123456"})
    assert res.status_code == 302


def test_residents_use_the_portal(wuzhou, client):
    client.force_login(make_user("t_addr_resident", "resident"))
    res = client.get(reverse("notify:addresses"))
    assert res.status_code == 302 and res["Location"] == reverse("portal:home")


def test_the_users_page_shows_addresses_and_binds_wechat(wuzhou, client, outbox):
    street = make_user("t_addr_street", "street_official")
    worker = make_user("t_addr_gw", "grid_worker")
    bind(worker)
    client.force_login(street)
    url = reverse("accounts:user_detail", args=[worker.pk])
    page = client.get(url).content.decode()
    assert 'id="user-addresses"' in page and 'id="wechat-form"' in page
    assert "139****5678" in page and PHONE not in page
    res = client.post(url, {"op": "wechat", "openid": "bad openid"})
    assert res.status_code == 200 and 'class="field has-error"' in res.content.decode()
    res = client.post(url, {"op": "wechat", "openid": "oWorkerOpenid0000000000000A"}, follow=True)
    text = res.content.decode()
    assert "WeChat account bound" in text and "oWo***00A" in text and "oWorkerOpenid" not in text
    assert ChannelAddress.objects.get(user=worker, channel="wechat").verified
    entry = ChangeLog.objects.filter(content_type__model="channeladdress").latest("id")
    assert entry.user == street and entry.action == ChangeAction.CREATE
    # Staff outside the official's area are not theirs to change.
    far = make_user("t_addr_far", "grid_worker", OTHER_DISTRICT_GRID)
    res = client.post(
        reverse("accounts:user_detail", args=[far.pk]), {"op": "wechat", "openid": "oFar0000000000000000001"}
    )
    assert res.status_code == 404 and not ChannelAddress.objects.filter(user=far).exists()
    client.post(url, {"op": "remove_address", "channel": "wechat"})
    assert list(ChannelAddress.objects.filter(user=worker).values_list("channel", flat=True)) == ["sms"]
    # A community official reads the addresses (masked) but changes nothing.
    community = make_user("t_addr_comm", "community_official")
    client.force_login(community)
    page = client.get(url).content.decode()
    assert "139****5678" in page and PHONE not in page and 'id="wechat-form"' not in page
    assert client.post(url, {"op": "remove_address", "channel": "sms"}).status_code == 404
    assert ChannelAddress.objects.filter(user=worker, channel="sms").exists()


# ---- the API -----------------------------------------------------------------------------------


def test_api_binds_a_phone(staff, outbox):
    client = api(staff)
    assert client.get(API).json()["results"] == []
    res = client.post(f"{API}sms/verify/", {"phone": "139 1234 5678"}, format="json")
    assert res.status_code == 202, res.content
    assert res.json()["masked_phone"] == "139****5678" and res.json()["expires_at"]
    good = code_sent_to(PHONE)
    res = client.post(f"{API}sms/confirm/", {"phone": PHONE, "code": wrong(good)}, format="json")
    assert res.status_code == 400 and res.json() == {"code": ["Wrong code. 4 attempts left."]}
    res = client.post(f"{API}sms/confirm/", {"phone": PHONE, "code": good}, format="json")
    assert res.status_code == 200, res.content
    body = res.json()
    assert body["channel"] == "sms" and body["verified"] and body["masked_address"] == "139****5678"
    assert PHONE not in res.content.decode()
    listing = client.get(API).json()
    assert listing["count"] == 1 and listing["results"][0]["masked_address"] == "139****5678"
    assert client.get(f"{API}sms/").json()["verified"] is True
    assert client.delete(f"{API}sms/").status_code == 204
    assert client.delete(f"{API}sms/").status_code == 404
    assert client.delete(f"{API}fax/").status_code == 404
    assert client.get(API).json()["results"] == []


def test_api_wrong_codes_stay_counted(staff, outbox):
    """A refused code answers 400, and the attempt still counts (no rollback lets guesses repeat)."""
    client = api(staff)
    client.post(f"{API}sms/verify/", {"phone": PHONE}, format="json")
    good = code_sent_to(PHONE)
    for _ in range(5):
        assert client.post(f"{API}sms/confirm/", {"phone": PHONE, "code": wrong(good)}).status_code == 400
    res = client.post(f"{API}sms/confirm/", {"phone": PHONE, "code": good})
    assert res.status_code == 400 and "Too many wrong codes" in res.json()["code"][0]


def test_api_errors_name_the_field(staff, colleague, outbox):
    bind(colleague)
    client = api(staff)
    res = client.post(f"{API}sms/verify/", {"phone": PHONE}, format="json")
    assert res.status_code == 400 and res.json() == {
        "phone": ["This number is already verified by another account."]
    }
    assert client.post(f"{API}sms/verify/", {"phone": "12345"}).json().keys() == {"phone"}
    assert client.post(f"{API}sms/verify/", {}).json().keys() == {"phone"}
    assert client.post(f"{API}sms/confirm/", {"phone": OTHER_PHONE}).json().keys() == {"code"}
    res = client.post(f"{API}sms/confirm/", {"phone": OTHER_PHONE, "code": "123456"})
    assert res.status_code == 400 and res.json() == {"code": ["Ask for a code first."]}
    assert client.post(f"{API}sms/verify/", {"phone": OTHER_PHONE}).status_code == 202
    res = client.post(f"{API}sms/verify/", {"phone": OTHER_PHONE})
    assert res.status_code == 429 and list(res.json()) == ["phone"]
    assert 1 <= int(res["Retry-After"]) <= 60


def test_api_is_for_staff(wuzhou):
    resident = make_user("t_addr_resident", "resident")
    res = api(resident).get(API)
    assert res.status_code == 403 and res.json()["code"] == "staff_only"
    assert api_client(None).get(API).status_code in (401, 403)


def test_schema_documents_the_address_endpoints(staff):
    res = api_client(make_user("t_addr_admin", "sysadmin")).get("/api/schema/", {"format": "json"})
    paths = res.json()["paths"]
    for path in (
        "/api/v1/notifications/addresses/",
        "/api/v1/notifications/addresses/sms/verify/",
        "/api/v1/notifications/addresses/sms/confirm/",
        "/api/v1/notifications/addresses/{channel}/",
    ):
        assert path in paths, path
    verify = paths["/api/v1/notifications/addresses/sms/verify/"]["post"]
    assert {"202", "400", "429"} <= set(verify["responses"])
