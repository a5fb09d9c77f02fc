"""XML and JSON output of the GeoReport v2 endpoint.

Both come from one Python structure, as the spec's JSON is a mapping of its XML (the Spark
convention): a list under a name becomes that element with one child per item (``services`` →
``service``), a dict becomes an element with a child per key, and a bare list at the top is the
JSON array of the root element's items.

Text is output as given and made inert: ElementTree escapes ``& < >`` and characters XML 1.0 cannot
hold are replaced by U+FFFD; JSON escapes ``< > &`` and the line separators as ``\\uXXXX`` so that it
stays inert even if some client pastes it into a page."""

from __future__ import annotations

import json
import re
from datetime import datetime
from xml.etree.ElementTree import Element, SubElement, tostring  # noqa: S405 (building, not parsing)

from django.http import HttpResponse
from django.utils import timezone

FORMATS = ("xml", "json")
CONTENT_TYPES = {"xml": "text/xml; charset=utf-8", "json": "application/json; charset=utf-8"}

#: The element of each item of a list, by the list's name.
ITEMS = {
    "services": "service",
    "attributes": "attribute",
    "values": "value",
    "service_requests": "request",
    "errors": "error",
    "endpoints": "endpoint",
    "formats": "format",
    "notes": "note",
}

_XML_ILLEGAL = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_JSON_ESCAPES = {
    ord("<"): "\\u003c",
    ord(">"): "\\u003e",
    ord("&"): "\\u0026",
    0x2028: "\\u2028",
    0x2029: "\\u2029",
}


def w3_datetime(value: datetime | None) -> str | None:
    """ISO 8601 with the offset, in the city's time zone: ``2026-11-27T14:30:00+08:00``."""
    if value is None:
        return None
    return timezone.localtime(value).isoformat(timespec="seconds")


def _xml_text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return _XML_ILLEGAL.sub("\ufffd", str(value))


def _xml_build(parent: Element, name: str, value) -> None:
    element = SubElement(parent, name)
    if isinstance(value, list):
        item = ITEMS[name]
        for v in value:
            _xml_build(element, item, v)
    elif isinstance(value, dict):
        for key, v in value.items():
            _xml_build(element, key, v)
    else:
        element.text = _xml_text(value)


def to_xml(root: str, data) -> bytes:
    element = Element(root)
    if isinstance(data, list):
        item = ITEMS[root]
        for v in data:
            _xml_build(element, item, v)
    else:
        for key, v in data.items():
            _xml_build(element, key, v)
    body = tostring(element, encoding="unicode")
    return ('<?xml version="1.0" encoding="utf-8"?>\n' + body).encode()


def _json_default(value):
    if isinstance(value, datetime):
        return w3_datetime(value)
    return str(value)  # lazy translations


def to_json(data) -> bytes:
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, default=_json_default)
    return text.translate(_JSON_ESCAPES).encode()


def render(fmt: str, root: str, data, *, status: int = 200, headers: dict | None = None) -> HttpResponse:
    """The response in ``fmt`` ("xml" or "json"); ``root`` names the XML root element."""
    fmt = fmt if fmt in FORMATS else "xml"
    body = to_json(data) if fmt == "json" else to_xml(root, data)
    response = HttpResponse(body, status=status, content_type=CONTENT_TYPES[fmt])
    for key, value in (headers or {}).items():
        response[key] = value
    return response


def render_errors(fmt: str, status: int, errors: list[dict], *, headers: dict | None = None) -> HttpResponse:
    return render(fmt, "errors", errors, status=status, headers=headers)
