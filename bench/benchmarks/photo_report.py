"""``photo_report``: a grid worker's report with a 3 MB photo, as the phone app sends it.

The photo is a JPEG of random noise (noise does not compress) of about 3 MB with a GPS position in
its EXIF data: what a phone that did not shrink the picture would send. The worker did not agree
to share the photo's location, so it is stripped and the image re-encoded: the slower path. Each
run POSTs a new report (new idempotency key) with that photo to the phone app's report endpoint
(``/m/api/report/``) through Django's test client, signed in as the grid worker persona, at the
centre of their grid: the whole request — the upload parsed, the image checked by content, its
location stripped, the photo stored, the case written with its clock, event, tallies and audit
rows.

- ``report with a 3.x MB photo``: target **p95 < 1 s** (issue 5: "a report submission with a 3 MB
  photo is accepted in < 1 s on this machine").

Everything runs in one transaction that is rolled back, and the photos go to a temporary media
folder, so the benchmark database and the media folder are left as they were. (The reports' own
commit is therefore not timed; it is a few milliseconds next to the photo's handling.)"""

from __future__ import annotations

import os
import tempfile
import time
import uuid

from bench.scales import Scale
from bench.timing import Result, Stats

TARGET_S = 1.0
RUNS = 12  # the first is dropped (imports, caches)
WORKER = "grid"  # the persona (bench.dataset.PERSONAS)
CATEGORY_CODE = "0102"


def _post(client, data: bytes, form: dict):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.urls import reverse

    photo = SimpleUploadedFile("photo.jpg", data, content_type="image/jpeg")
    return client.post(reverse("mobile:api_report"), {**form, "key": str(uuid.uuid4()), "photos": [photo]})


def run(scale: Scale, users: dict) -> tuple[list[Result], dict]:
    from django.db import transaction
    from django.test import Client, override_settings

    from civicgrid.areas.models import Area
    from civicgrid.areas.services import grid_worker_assign
    from civicgrid.cases.models import Case, Category
    from civicgrid.cases.testing import noise_jpeg

    worker = users[WORKER]
    data = noise_jpeg(gps=True)
    samples: list[float] = []
    with (
        tempfile.TemporaryDirectory() as media,
        override_settings(MEDIA_ROOT=media, ALLOWED_HOSTS=["*"]),
        transaction.atomic(),
    ):
        grid = Area.objects.get(code=worker.posts.get(is_active=True).area_code)
        if grid.grid_worker_id != worker.pk:
            grid_worker_assign(actor=None, grid=grid, user=worker)
        form = {
            "category": Category.objects.get(kind="event", code=CATEGORY_CODE).pk,
            "description": "路边垃圾堆放两天没人清理",
            "lat": grid.centre_lat,
            "lng": grid.centre_lng,
        }
        client = Client()
        client.force_login(worker)
        before = Case.objects.count()
        for _ in range(RUNS):
            t0 = time.perf_counter()
            response = _post(client, data, form)
            samples.append(time.perf_counter() - t0)
            if response.status_code != 201:
                raise RuntimeError(f"report refused ({response.status_code}): {response.content[:300]!r}")
        made = Case.objects.count() - before
        stored = any(files for _, _, files in os.walk(media))
        transaction.set_rollback(True)
    if made != RUNS or not stored:
        raise RuntimeError(f"{RUNS} reports sent, {made} cases made, photos stored: {stored}")
    stats = Stats.of(samples[1:])
    return [
        Result(
            "photo_report",
            f"report with a {len(data) / 1e6:.1f} MB photo (phone app, in-process)",
            stats,
            target=f"p95 < {TARGET_S * 1000:.0f} ms",
            passed=stats.p95_ms < TARGET_S * 1000,
            extra={"photo_bytes": len(data)},
        )
    ], {}
