"""Test helpers of event handling, shared by the test suites of every app that makes cases
(imported by tests only, once Django is set up)."""

from __future__ import annotations

import importlib
import io
import os
from datetime import timedelta

from django.apps import apps
from django.utils import timezone

from civicgrid.cases import deadlines, selectors
from civicgrid.cases.choices import DeadlineOutcome
from civicgrid.cases.models import Case, CaseDeadline, Category

#: Areas of the statistics history (``history`` fixture): 角嘴街道, two of its communities, a grid in
#: each, and a grid in another district.
STREET, C1, C2 = "450403005000", "450403005001", "450403005002"
G1, G2, ELSEWHERE = "450403005001001", "450403005002001", "450405001001001"


def noise_jpeg(size: tuple[int, int] = (1900, 1400), *, gps: bool = False) -> bytes:
    """A JPEG of random noise, about 3 MB at the default size (noise does not compress): a photo
    as a phone that did not shrink it would send; with ``gps``, a GPS position in its EXIF data."""
    from PIL import Image

    from civicgrid.cases.photos import GPS_TAG

    image = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    exif = image.getexif()
    if gps:
        exif[GPS_TAG] = {1: "N", 2: (23.0, 28.0, 48.0), 3: "E", 4: (111.0, 16.0, 48.0)}  # 梧州
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=95, exif=exif)
    return out.getvalue()


def seed_rules() -> None:
    """The seeded categories, questions and deadline policies of migration 0002 (a transactional
    test elsewhere flushes every table, migration data included), with the in-process rule caches
    dropped."""
    if not Category.objects.exists():
        importlib.import_module("civicgrid.cases.migrations.0002_seed_rules").seed(apps, None)
    deadlines.clear_policy_cache()
    selectors.clear_rule_cache()


def open311_report(**extra) -> Case:
    """An Open311 report of 0102 (暴露垃圾) at the centre of the home grid, as the intake takes it
    (the rules seeded first)."""
    from civicgrid.areas.models import Area
    from civicgrid.cases import services
    from civicgrid.core.testing import HOME

    seed_rules()
    grid = Area.objects.get(code=HOME["grid"])
    made, _ = services.case_report(
        actor=None,
        category=Category.objects.get(kind="event", code="0102"),
        description="路边垃圾",
        channel="open311",
        lat=grid.centre_lat,
        lng=grid.centre_lng,
        **extra,
    )
    return made


def fresh(case: Case) -> Case:
    return Case.objects.get(pk=case.pk)


def overdue_now(case: Case, seconds: int = 30) -> None:
    """Let the running clock of ``case`` fall due a moment ago."""
    due = timezone.now() - timedelta(seconds=seconds)
    Case.objects.filter(pk=case.pk).update(due_at=due, warn_at=due - timedelta(seconds=1))
    CaseDeadline.objects.filter(case=case, outcome=DeadlineOutcome.OPEN).update(due_at=due)
