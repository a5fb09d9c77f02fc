"""Discovery, the service list and service definitions, in XML and JSON."""

from __future__ import annotations

import pytest

from civicgrid.cases.models import Category, CategoryQuestion
from civicgrid.open311 import selectors

from .conftest import BASE, errors, parse

pytestmark = pytest.mark.django_db
FORMATS = ["json", "xml"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_discovery_names_this_endpoint_and_both_formats(client, fmt):
    response = client.get(f"{BASE}/discovery.{fmt}")
    assert response.status_code == 200
    body = parse(response, fmt)
    if fmt == "json":
        endpoint = body["endpoints"][0]
        assert body["changeset"] and body["contact"] and body["key_service"]
        assert endpoint["url"] == "http://testserver/open311/v2"
        assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
        assert endpoint["formats"] == ["text/xml", "application/json"]
    else:
        assert body.tag == "discovery"
        endpoint = body.find("endpoints/endpoint")
        assert endpoint.findtext("url") == "http://testserver/open311/v2"
        assert [f.text for f in endpoint.findall("formats/format")] == ["text/xml", "application/json"]
        assert body.findtext("changeset").endswith("+08:00")


def test_root_answers_discovery_in_xml(client):
    response = client.get(f"{BASE}/")
    assert response.status_code == 200
    assert parse(response, "xml").tag == "discovery"


@pytest.mark.parametrize("fmt", FORMATS)
def test_services_are_the_active_leaf_categories(client, fmt):
    Category.objects.filter(kind="event", code="0107").update(is_active=False)
    response = client.get(f"{BASE}/services.{fmt}")
    assert response.status_code == 200
    body = parse(response, fmt)
    if fmt == "json":
        services = {s["service_code"]: s for s in body}
    else:
        assert body.tag == "services"
        services = {
            s.findtext("service_code"): {child.tag: child.text for child in s}
            for s in body.findall("service")
        }
    leaves = Category.objects.filter(is_active=True).exclude(code__regex=r"^\d\d$")
    assert set(services) == {c.service_code for c in leaves}
    assert "E0107" not in services and "E01" not in services
    pothole = services["E0401"]
    assert pothole["service_name"] == "路面塌陷"
    assert pothole["group"] == "突发事件"
    assert pothole["type"] == "realtime"
    assert pothole["metadata"] in (True, "true")
    assert services["E0102"]["metadata"] in (False, "false")
    assert "塌陷" in pothole["keywords"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_service_definition_lists_the_questions_as_attributes(client, fmt):
    response = client.get(f"{BASE}/services/E0401.{fmt}")
    assert response.status_code == 200
    body = parse(response, fmt)
    if fmt == "json":
        assert body["service_code"] == "E0401"
        size = body["attributes"][0]
        assert size["code"] == "size" and size["datatype"] == "singlevaluelist"
        assert size["required"] is True and size["variable"] is True and size["order"] == 1
        assert size["description"] == "塌陷大小"
        assert {"key": "small", "name": "小于1米"} in size["values"]
        assert [a["order"] for a in body["attributes"]] == [1, 2]
    else:
        assert body.tag == "service_definition" and body.findtext("service_code") == "E0401"
        size = body.find("attributes/attribute")
        assert size.findtext("code") == "size" and size.findtext("required") == "true"
        assert size.findtext("order") == "1"
        values = [(v.findtext("key"), v.findtext("name")) for v in size.findall("values/value")]
        assert ("small", "小于1米") in values


@pytest.mark.parametrize("fmt", FORMATS)
def test_unknown_service_is_404_in_the_spec_format(client, fmt):
    response = client.get(f"{BASE}/services/X9999.{fmt}", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 404
    [(code, description)] = errors(response, fmt)
    assert code == 404 and description.startswith("service_code: X9999")


def test_a_definition_with_no_questions_has_no_attributes(client):
    body = client.get(f"{BASE}/services/E0102.json").json()
    assert body == {"service_code": "E0102", "attributes": []}
    xml = parse(client.get(f"{BASE}/services/E0102.xml"), "xml")
    assert xml.find("attributes") is not None and len(xml.find("attributes")) == 0


def test_question_edits_show_after_the_cache_expires(client):
    assert client.get(f"{BASE}/services/E0102.json").json()["attributes"] == []
    CategoryQuestion.objects.create(
        category=Category.objects.get(kind="event", code="0102"),
        code="amount",
        datatype="string",
        label="<b>垃圾量</b> & 大小",
        required=False,
    )
    assert client.get(f"{BASE}/services/E0102.json").json()["attributes"] == []  # cached
    selectors.clear_cache()
    body = client.get(f"{BASE}/services/E0102.json")
    assert body.json()["attributes"][0]["description"] == "<b>垃圾量</b> & 大小"
    assert b"<b>" not in body.content  # inert in JSON
    xml = client.get(f"{BASE}/services/E0102.xml")
    assert b"&lt;b&gt;" in xml.content and b"&amp; " in xml.content
    assert parse(xml, "xml").findtext("attributes/attribute/description") == "<b>垃圾量</b> & 大小"


@pytest.mark.parametrize("fmt", FORMATS)
def test_unknown_paths_and_methods_answer_in_the_spec_format(client, fmt):
    response = client.get(f"{BASE}/nothing/here.{fmt}", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 404
    assert errors(response, fmt)[0][0] == 404
    response = client.delete(f"{BASE}/services.{fmt}")
    assert response.status_code == 405 and "GET" in response["Allow"]
    assert errors(response, fmt)[0][0] == 405


def test_jurisdiction_id_is_optional_but_checked_when_configured(client, settings):
    assert client.get(f"{BASE}/services.json?jurisdiction_id=anything").status_code == 200
    settings.OPEN311_JURISDICTION_ID = "wuzhou.gov.cn"
    assert client.get(f"{BASE}/services.json?jurisdiction_id=wuzhou.gov.cn").status_code == 200
    assert client.get(f"{BASE}/services.json").status_code == 200
    response = client.get(f"{BASE}/services.xml?jurisdiction_id=other.gov.cn", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 404
    assert errors(response, "xml")[0][1].startswith("jurisdiction_id:")


def test_services_are_read_once_per_cache_period(client, django_assert_num_queries):
    client.get(f"{BASE}/services.json")
    with django_assert_num_queries(0):
        client.get(f"{BASE}/services.json")
        client.get(f"{BASE}/services/E0401.xml")
