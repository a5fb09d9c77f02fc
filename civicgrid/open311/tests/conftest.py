"""Fixtures of the Open311 tests: a registered client with its key, points in the city, and
helpers to post and to parse answers in either format."""

from __future__ import annotations

import json
from xml.etree import ElementTree

import pytest

from civicgrid.open311 import selectors, services

#: The tests' home grid (角嘴街道) and a grid in another district.
HOME_GRID = "450403005001001"
OTHER_GRID = "450405001001001"
BASE = "/open311/v2"


@pytest.fixture(autouse=True)
def fresh_caches():
    """The per-process caches (services, clients) start empty in every test."""
    selectors.clear_cache()
    services.clear_client_cache()
    yield
    selectors.clear_cache()
    services.clear_client_cache()


def grid_point(code: str = HOME_GRID) -> tuple[float, float]:
    from civicgrid.areas.models import Area

    grid = Area.objects.get(code=code)
    return grid.centre_lat, grid.centre_lng


@pytest.fixture
def app(wuzhou):
    """A registered client and its api_key."""
    client, key = services.client_create(name="Test app")
    return client, key


@pytest.fixture
def key(app):
    return app[1]


def form(key: str | None, **fields) -> dict:
    """A valid POST requests form (暴露垃圾 at the home grid's centre) updated by ``fields``;
    a field given as None is left out."""
    lat, lng = grid_point()
    data = {
        "api_key": key,
        "service_code": "E0102",
        "lat": str(lat),
        "long": str(lng),
        "description": "路边垃圾堆放两天没人清理",
    }
    data.update(fields)
    return {k: v for k, v in data.items() if v is not None}


def parse(response, fmt: str):
    """The body as Python data: JSON as is; XML as an ElementTree root element."""
    if fmt == "json":
        assert response["Content-Type"].startswith("application/json")
        return json.loads(response.content)
    assert response["Content-Type"].startswith("text/xml")
    assert response.content.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    return ElementTree.fromstring(response.content)


def errors(response, fmt: str) -> list[tuple[int, str]]:
    """``(code, description)`` of a spec error answer."""
    body = parse(response, fmt)
    if fmt == "json":
        assert isinstance(body, list)
        return [(e["code"], e["description"]) for e in body]
    assert body.tag == "errors"
    return [(int(e.findtext("code")), e.findtext("description")) for e in body.findall("error")]
