import time

import pytest
from django.contrib.auth.hashers import check_password, make_password
from django.test import override_settings
from django.urls import reverse

from civicgrid.accounts import services
from civicgrid.accounts.models import AgreementAcceptance
from civicgrid.core.testing import api_client, make_user

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery-9"


def test_passwords_are_hashed_with_argon2(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]
    hashed = make_password("Demo#2026pass")
    assert hashed.startswith("argon2$argon2id$")
    assert check_password("Demo#2026pass", hashed)


def test_production_settings_hash_with_argon2():
    from config import settings as prod

    assert prod.PASSWORD_HASHERS[0].endswith("Argon2PasswordHasher")


def test_login_and_logout(wuzhou, client):
    make_user("t_gw", "grid_worker")
    res = client.post(reverse("accounts:login"), {"username": "t_gw", "password": PASSWORD})
    assert res.status_code == 302
    assert client.get(reverse("areas:map")).status_code == 200
    client.post(reverse("accounts:logout"))
    assert client.get(reverse("areas:map")).status_code == 302


def test_wrong_password_is_explained(wuzhou, client):
    make_user("t_gw", "grid_worker")
    res = client.post(reverse("accounts:login"), {"username": "t_gw", "password": "nope-nope-nope"})
    assert res.status_code == 200
    assert "lock" in res.content.decode().lower() or "锁定" in res.content.decode()


def test_lockout_after_repeated_failures(wuzhou, client, settings):
    make_user("t_gw", "grid_worker")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("accounts:login"), {"username": "t_gw", "password": "wrong-wrong-1"})
    # Now even the right password is refused until the cool-off ends.
    res = client.post(reverse("accounts:login"), {"username": "t_gw", "password": PASSWORD})
    assert res.status_code == 429
    assert client.get(reverse("areas:map")).status_code == 302


def test_session_idle_timeout_signs_out_with_a_message(wuzhou, client, settings):
    make_user("t_gw", "grid_worker")
    client.post(reverse("accounts:login"), {"username": "t_gw", "password": PASSWORD})
    assert client.get(reverse("areas:map")).status_code == 200
    session = client.session
    session["last_seen"] = int(time.time()) - settings.SESSION_IDLE_TIMEOUT - 5
    session.save()
    res = client.get(reverse("areas:map"), follow=True)
    assert res.redirect_chain[-1][0].startswith(reverse("accounts:login"))
    assert "expired" in res.content.decode() or "过期" in res.content.decode()
    session = client.session
    session["last_seen"] = 0
    session.save()


def test_expired_session_on_the_api_is_a_401_with_code(wuzhou, client, settings):
    make_user("t_gw", "grid_worker")
    client.post(reverse("accounts:login"), {"username": "t_gw", "password": PASSWORD})
    client.get(reverse("api:area-list"))
    session = client.session
    session["last_seen"] = int(time.time()) - settings.SESSION_IDLE_TIMEOUT - 5
    session.save()
    res = client.get(reverse("api:area-list"))
    assert res.status_code == 401 and res.json()["code"] == "session_expired"


class TestAgreement:
    @pytest.fixture
    def agreement(self, wuzhou):
        return services.agreement_publish(actor=None, version="v1", title="责任书", body="正文")

    def test_pages_wait_for_acceptance(self, agreement, client):
        make_user("t_gw", "grid_worker")
        client.post(reverse("accounts:login"), {"username": "t_gw", "password": PASSWORD})
        res = client.get(reverse("areas:map"))
        assert res.status_code == 302 and res["Location"].startswith(reverse("accounts:agreement"))
        res = client.post(
            reverse("accounts:agreement"),
            {"agreement": agreement.pk, "next": "/gis/map/"},
            REMOTE_ADDR="10.0.0.7",
        )
        assert client.get(reverse("areas:map")).status_code == 302  # box not ticked
        res = client.post(
            reverse("accounts:agreement"),
            {"agreement": agreement.pk, "accept": "1", "next": "/gis/map/"},
            REMOTE_ADDR="10.0.0.7",
        )
        assert res.status_code == 302 and res["Location"] == "/gis/map/"
        acceptance = AgreementAcceptance.objects.get(user__username="t_gw")
        assert acceptance.agreement == agreement and acceptance.ip == "10.0.0.7" and acceptance.accepted_at
        assert client.get(reverse("areas:map")).status_code == 200

    def test_new_version_must_be_accepted_again(self, agreement, client):
        user = make_user("t_gw", "grid_worker")
        services.agreement_accept(user=user, agreement=agreement, ip=None)
        client.force_login(user)
        assert client.get(reverse("areas:map")).status_code == 200
        services.agreement_publish(actor=None, version="v2", title="责任书二", body="新正文")
        assert client.get(reverse("areas:map")).status_code == 302

    def test_api_answers_403_with_code(self, agreement):
        user = make_user("t_gw", "grid_worker")
        res = api_client(user).get(reverse("api:area-list"))
        assert res.status_code == 403 and res.json()["code"] == "agreement_required"

    def test_offsite_next_is_ignored(self, agreement, client):
        user = make_user("t_gw", "grid_worker")
        client.force_login(user)
        res = client.post(
            reverse("accounts:agreement"),
            {"agreement": agreement.pk, "accept": "1", "next": "https://evil.example/"},
        )
        assert res["Location"] == "/"

    def test_residents_are_not_asked(self, agreement, client):
        resident = make_user("t_res", "resident")
        client.force_login(resident)
        assert client.get("/portal/").status_code == 200


class TestNoPost:
    def test_page_explains(self, wuzhou, client):
        user = make_user("t_nopost")
        client.force_login(user)
        res = client.get(reverse("areas:map"))
        assert res.status_code == 403
        assert "post" in res.content.decode().lower() or "岗位" in res.content.decode()

    def test_api_explains(self, wuzhou):
        res = api_client(make_user("t_nopost")).get(reverse("api:area-list"))
        assert res.status_code == 403 and res.json()["detail"]
        me = api_client(make_user("t_nopost2")).get(reverse("api:me"))
        assert me.status_code == 200 and me.json()["posts"] == []

    def test_ended_post_removes_access(self, wuzhou):
        user = make_user("t_gw", "grid_worker")
        client = api_client(user)
        assert client.get(reverse("api:area-list")).status_code == 200
        services.post_end(actor=None, post=user.posts.get())
        assert api_client(type(user).objects.get(pk=user.pk)).get(reverse("api:area-list")).status_code == 403


class TestTokens:
    def test_token_authenticates_and_is_stored_hashed(self, wuzhou):
        user = make_user("t_client", "city_official")
        token, key = services.api_token_create(user=user, name="集成")
        assert key not in token.digest and token.prefix == key[:8]
        client = api_client(None)
        res = client.get(reverse("api:area-list"), HTTP_AUTHORIZATION=f"Bearer {key}")
        assert res.status_code == 200
        token.refresh_from_db()
        assert token.last_used_at is not None

    def test_revoked_expired_and_bogus_tokens_fail(self, wuzhou):
        from datetime import timedelta

        from django.utils import timezone

        from civicgrid.accounts.models import ApiToken

        user = make_user("t_client", "city_official")
        token, key = services.api_token_create(user=user, name="a")
        services.api_token_revoke(actor=user, token=token)
        client = api_client(None)
        assert client.get(reverse("api:area-list"), HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 401
        token2, key2 = services.api_token_create(user=user, name="b")
        ApiToken.objects.filter(pk=token2.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
        assert client.get(reverse("api:area-list"), HTTP_AUTHORIZATION=f"Bearer {key2}").status_code == 401
        assert client.get(reverse("api:area-list"), HTTP_AUTHORIZATION="Bearer cg_bogus").status_code == 401
        assert client.get(reverse("api:area-list"), HTTP_AUTHORIZATION="Bearer").status_code == 401
        assert client.get(reverse("api:area-list")).status_code in (401, 403)

    def test_token_page(self, wuzhou, client):
        user = make_user("t_client", "city_official")
        client.force_login(user)
        res = client.post(reverse("accounts:tokens"), {"name": "脚本"})
        assert res.status_code == 200
        key = res.context["new_key"]
        assert key.startswith("cg_")
        assert (
            api_client(None).get(reverse("api:me"), HTTP_AUTHORIZATION=f"Bearer {key}").json()["username"]
            == "t_client"
        )
        res = client.post(reverse("accounts:tokens"), {"name": "", "expires_at": "yesterday"})
        assert res.status_code == 200 and res.context["form"].errors


@override_settings(SESSION_IDLE_TIMEOUT=1800)
def test_schema_and_docs_are_served(wuzhou, client):
    res = client.get("/api/schema/")
    assert res.status_code == 200 and b"/api/v1/areas/locate/" in res.content
    client.force_login(make_user("t_city", "city_official"))
    assert client.get("/api/docs/").status_code == 200
