"""Channels: the routing table, the development backends' records, retries with backoff and the
final failure of a broken channel, which never touches the workflow that caused it."""

from __future__ import annotations

import logging

import pytest

from civicgrid.cases import services as case_services
from civicgrid.cases.choices import Status
from civicgrid.notify import routing, services
from civicgrid.notify.backends import ChannelBackend, LogSMSBackend
from civicgrid.notify.choices import DeliveryStatus
from civicgrid.notify.models import Delivery, Notification
from civicgrid.notify.tasks import RETRIES, RETRY_DELAY

pytestmark = pytest.mark.django_db

PHONE = "13812345678"


class FailingBackend(ChannelBackend):
    """An SMS gateway that is down."""

    calls = 0

    def build_payload(self, notification, address):
        return LogSMSBackend(self.channel).build_payload(notification, address)

    def send(self, *, address, payload):
        type(self).calls += 1
        raise RuntimeError("gateway down")


@pytest.fixture
def reachable(people):
    """The resident has a verified phone and WeChat; the handler a verified WeChat; the grid
    worker only an unverified phone."""
    services.address_set(user=people["resident"], channel="sms", address=PHONE, verified=True)
    services.address_set(
        user=people["resident"], channel="wechat", address="oRESIDENTopenid01", verified=True
    )
    services.address_set(user=people["handler"], channel="wechat", address="oHANDLERopenid002", verified=True)
    services.address_set(user=people["grid_worker"], channel="sms", address="13900001111")
    return people


def test_routing_table_defaults_and_changes(wuzhou):
    assert routing.channels_for("case_status", "resident") == ["sms", "wechat"]
    assert routing.channels_for("case_unit", "staff") == ["wechat"]
    assert routing.channels_for("case_warning", "staff") == ["wechat"]
    assert routing.channels_for("case_verify", "staff") == ["wechat"]
    assert routing.channels_for("case_status", "staff") == []
    assert routing.channels_for("case_unit", "resident") == []
    assert routing.channels_for("case_status", "client") == []
    services.route_set(actor=None, kind="case_status", audience="resident", channel="sms", active=False)
    routing.clear_cache()
    assert routing.channels_for("case_status", "resident") == ["wechat"]
    services.route_set(actor=None, kind="case_unit", audience="staff", channel="sms", active=True)
    routing.clear_cache()
    assert routing.channels_for("case_unit", "staff") == ["sms", "wechat"]


def test_a_channel_without_a_backend_is_skipped(wuzhou, settings):
    settings.NOTIFY_CHANNELS = {"wechat": "civicgrid.notify.backends.LogWeChatBackend"}
    assert routing.channels_for("case_status", "resident") == ["wechat"]


def test_development_backends_record_what_would_be_sent(
    reachable, units, report, django_capture_on_commit_callbacks, huey_queue, caplog
):
    p = reachable
    case = report()
    caplog.set_level(logging.INFO, logger="civicgrid.notify")
    with django_capture_on_commit_callbacks(execute=True):
        case_services.case_dispatch(case=case, actor=p["community"], department=units["D450403-01"])
    # The reporter (told it was recorded, then dispatched): in-app first, then SMS and WeChat for
    # each, recorded as sent with their payload.
    told = Notification.objects.filter(recipient=p["resident"], kind="case_status").order_by("id")
    assert told.count() == 2
    note = told.last()
    by_channel = {d.channel: d for d in note.deliveries.all()}
    assert set(by_channel) == {"sms", "wechat"}
    assert Delivery.objects.filter(notification__in=told, status=DeliveryStatus.SENT).count() == 4
    sms = by_channel["sms"]
    assert sms.status == DeliveryStatus.SENT and sms.attempts == 1 and sms.sent_at
    assert sms.payload["to"] == "138****5678" and PHONE not in str(sms.payload)
    assert note.title in sms.payload["text"] and "万秀区城市管理局" in sms.payload["text"]
    assert sms.payload["receipt"]["id"].startswith("dev-sms-")
    wechat = by_channel["wechat"]
    assert wechat.payload["template_id"] == "case_status" and wechat.payload["touser"].startswith("oRE")
    assert wechat.payload["url"].endswith(f"/portal/cases/{case.pk}/")
    assert "SMS (development, not sent) to 138****5678" in caplog.text
    # The unit (staff): WeChat only, for the dispatch.
    unit = Delivery.objects.get(notification__recipient=p["handler"], notification__kind="case_unit")
    assert unit.channel == "wechat" and unit.status == DeliveryStatus.SENT
    # Nobody without a verified address gets anything beyond the app.
    assert not Delivery.objects.filter(notification__recipient=p["grid_worker"]).exists()
    assert not Delivery.objects.filter(notification__recipient=p["dispatcher"]).exists()


def test_a_failing_channel_is_retried_then_failed_and_the_workflow_goes_on(
    reachable, units, report, settings, django_capture_on_commit_callbacks, huey_queue
):
    settings.NOTIFY_CHANNELS = {
        "sms": "civicgrid.notify.tests.test_delivery.FailingBackend",
        "wechat": "civicgrid.notify.backends.LogWeChatBackend",
    }
    FailingBackend.calls = 0
    p = reachable
    case = report()
    with django_capture_on_commit_callbacks(execute=True):
        case = case_services.case_record(case=case, actor=p["community"])
    case.refresh_from_db()
    assert case.status == Status.RECORDED  # the step is done whatever the channels do
    note = Notification.objects.get(recipient=p["resident"], kind="case_status")  # in-app first
    sms = Delivery.objects.get(notification=note, channel="sms")
    assert sms.status == DeliveryStatus.PENDING and sms.attempts == 1
    assert sms.last_error == "RuntimeError: gateway down"
    # WeChat is not held up by the broken SMS gateway.
    assert Delivery.objects.get(notification=note, channel="wechat").status == DeliveryStatus.SENT

    delays = huey_queue()  # run the retries, each when due
    assert delays == [RETRY_DELAY * 2**i for i in range(RETRIES)]  # exponential backoff
    sms.refresh_from_db()
    assert sms.status == DeliveryStatus.FAILED and sms.attempts == RETRIES + 1
    assert FailingBackend.calls == RETRIES + 1
    assert sms.last_error == "RuntimeError: gateway down"
    # Further steps still work and the failed delivery is not repeated.
    with django_capture_on_commit_callbacks(execute=True):
        case_services.case_dispatch(case=case, actor=p["community"], department=units["D450403-01"])
    sms.refresh_from_db()
    assert sms.attempts == RETRIES + 1


def test_a_queue_that_cannot_take_the_task_does_not_break_the_step(
    people, report, monkeypatch, django_capture_on_commit_callbacks, caplog
):
    def broken(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr("civicgrid.notify.tasks.deliver", broken)
    case = report()
    with django_capture_on_commit_callbacks(execute=True):
        case = case_services.case_record(case=case, actor=people["community"])
    case.refresh_from_db()
    assert case.status == Status.RECORDED
    assert "redis is down" in caplog.text


def test_stale_pending_deliveries_are_queued_again(reachable, report, django_capture_on_commit_callbacks):
    from datetime import timedelta

    from django.utils import timezone

    from civicgrid.notify import delivery
    from civicgrid.notify.tasks import requeue_stale_deliveries

    case = report()
    with django_capture_on_commit_callbacks(execute=True):
        case_services.case_record(case=case, actor=reachable["community"])
    sms = Delivery.objects.get(notification__recipient=reachable["resident"], channel="sms")
    # As if its task had been lost an hour and a half ago.
    Delivery.objects.filter(pk=sms.pk).update(
        status=DeliveryStatus.PENDING, updated_at=timezone.now() - timedelta(minutes=90)
    )
    assert delivery.stale_deliveries()[0] == [sms.pk]
    Delivery.objects.filter(pk=sms.pk).update(updated_at=timezone.now() - timedelta(minutes=90))
    result = requeue_stale_deliveries.call_local()
    assert result == {"requeued": 1, "given_up": 0}
    sms.refresh_from_db()
    assert sms.status == DeliveryStatus.SENT


def test_addresses_are_encrypted_and_a_verified_one_has_one_owner(people):
    row = services.address_set(user=people["resident"], channel="sms", address="138 1234 5678", verified=True)
    assert row.address == PHONE
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT address FROM notify_channeladdress WHERE id = %s", [row.pk])
        assert PHONE not in cursor.fetchone()[0]
    assert services.user_by_address("sms", PHONE) == people["resident"]
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as err:
        services.address_set(user=people["handler"], channel="sms", address=PHONE, verified=True)
    assert "address" in err.value.message_dict
    with pytest.raises(ValidationError):
        services.address_set(user=people["handler"], channel="sms", address="12345")
