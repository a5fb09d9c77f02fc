"""Seed the routing table: residents hear of their reports by SMS and WeChat; staff get WeChat
messages for their unit's cases, verification tasks and deadline warnings."""

from django.db import migrations

DEFAULT_ROUTES = [
    ("case_status", "resident", "sms"),
    ("case_status", "resident", "wechat"),
    ("case_unit", "staff", "wechat"),
    ("case_verify", "staff", "wechat"),
    ("case_warning", "staff", "wechat"),
    ("case_overdue", "staff", "wechat"),
    ("case_returned", "staff", "wechat"),
]


def seed(apps, schema_editor):
    Route = apps.get_model("notify", "NotificationRoute")
    for kind, audience, channel in DEFAULT_ROUTES:
        Route.objects.get_or_create(kind=kind, audience=audience, channel=channel, defaults={"is_active": True})


def unseed(apps, schema_editor):
    Route = apps.get_model("notify", "NotificationRoute")
    for kind, audience, channel in DEFAULT_ROUTES:
        Route.objects.filter(kind=kind, audience=audience, channel=channel).delete()


class Migration(migrations.Migration):
    dependencies = [("notify", "0002_channels")]

    operations = [migrations.RunPython(seed, unseed)]
