"""Fixtures of the work-dynamics tests: the areas and people around 角嘴街道, pictures, posts."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from civicgrid.areas.models import Area
from civicgrid.core.testing import make_user

COMMUNITY = "450403005001"  # 角嘴街道 · the demo community of every built-in test post
NEIGHBOUR = "450403005002"  # another community of the same street
STREET = "450403005000"  # 角嘴街道
ELSEWHERE = "450405001001"  # a community of 长洲区
GRID = "450403005001001"

GPS = {1: "N", 2: (23.0, 28.0, 0.0), 3: "E", 4: (111.0, 16.0, 0.0)}


def area(code: str) -> Area:
    return Area.objects.get(code=code)


def image_bytes(*, fmt="JPEG", size=(64, 48), color=(200, 40, 40), gps=False, exif_extra=None) -> bytes:
    from PIL import Image

    mode = "RGBA" if fmt == "PNG" else "RGB"
    image = Image.new(mode, size, color)
    exif = Image.Exif()
    if gps:
        exif[0x8825] = GPS
    for tag, value in (exif_extra or {}).items():
        exif[tag] = value
    out = io.BytesIO()
    params = {"exif": exif.tobytes()} if (gps or exif_extra) else {}
    image.save(out, format=fmt, **params)
    return out.getvalue()


def upload(name="p.jpg", **kwargs) -> SimpleUploadedFile:
    fmt = kwargs.get("fmt", "JPEG")
    content_type = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif"}[fmt]
    return SimpleUploadedFile(name, image_bytes(**kwargs), content_type=content_type)


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


@pytest.fixture
def people(wuzhou):
    """One user per part: the officials of the home community, its neighbour, the street, the
    district and the city; a grid worker; residents of the home and the neighbour community."""
    resident = make_user("t_resident", "resident")
    neighbour_resident = make_user("t_resident2", "resident", NEIGHBOUR)
    return {
        "community": make_user("t_community", "community_official"),
        "neighbour": make_user("t_neighbour", "community_official", NEIGHBOUR),
        "street": make_user("t_street", "street_official"),
        "district": make_user("t_district", "district_official"),
        "city": make_user("t_city", "city_official"),
        "elsewhere": make_user("t_elsewhere", "community_official", ELSEWHERE),
        "grid_worker": make_user("t_gw", "grid_worker"),
        "dispatcher": make_user("t_dispatcher", "dispatcher"),
        "resident": resident,
        "neighbour_resident": neighbour_resident,
    }


@pytest.fixture
def make_post(people):
    """A post through the services (published unless told), by the area's official."""
    from civicgrid.dynamics import services

    authors = {COMMUNITY: "community", NEIGHBOUR: "neighbour", STREET: "street", ELSEWHERE: "elsewhere"}

    def make(code=COMMUNITY, title="社区开展环境卫生大扫除", *, publish=True, actor=None, **extra):
        actor = actor or people[authors[code]]
        extra.setdefault("body", "今天上午，社区组织志愿者清理了小区卫生死角。\n\n居民纷纷点赞。")
        post = services.post_draft(actor=actor, area=area(code), title=title, **extra)
        if publish:
            post = services.post_publish(actor=actor, post=post)
        return post

    return make
