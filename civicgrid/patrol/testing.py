"""Test helpers of the work trajectory, for this app's tests and others'."""

from __future__ import annotations

import importlib


def seed_consent_text():
    """The consent text of migration 0002 (a transactional test elsewhere flushes every table)."""
    from django.apps import apps

    from .models import ConsentText

    if not ConsentText.objects.filter(is_current=True).exists():
        importlib.import_module("civicgrid.patrol.migrations.0002_seed_consent_text").seed(apps, None)
    return ConsentText.objects.get(is_current=True)
