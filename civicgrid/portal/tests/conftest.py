"""Portal fixtures: the event-handling fixtures, the development SMS outbox, photos."""

from __future__ import annotations

import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from civicgrid.cases.tests.conftest import people, report, units  # noqa: F401


@pytest.fixture
def outbox():
    from civicgrid.notify.sms import OUTBOX

    OUTBOX.clear()
    yield OUTBOX
    OUTBOX.clear()


def code_sent_to(phone: str) -> str:
    from civicgrid.notify.sms import last_text_to

    text = last_text_to(phone)
    assert text, f"no SMS to {phone}"
    return re.search(r"\b(\d{6})\b", text).group(1)


def jpeg(*, gps: bool = False, name: str = "p.jpg", size=(40, 30)) -> SimpleUploadedFile:
    from PIL import Image

    image = Image.new("RGB", size, "red")
    exif = Image.Exif()
    if gps:
        exif[0x8825] = {1: "N", 2: (23.0, 28.0, 0.0), 3: "E", 4: (111.0, 16.0, 0.0)}
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif.tobytes())
    return SimpleUploadedFile(name, out.getvalue(), content_type="image/jpeg")


@pytest.fixture(autouse=True)
def english():
    """Messages are asserted in English (the msgids); pages are asked for in English too."""
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.fixture
def client(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture(autouse=True)
def rules(wuzhou):
    """The seeded categories and deadline policies, and the routing table of notifications."""
    from civicgrid.cases.testing import seed_rules
    from civicgrid.notify.tests.conftest import seed_routes

    seed_rules()
    seed_routes()
