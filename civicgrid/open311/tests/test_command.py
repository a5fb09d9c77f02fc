"""python manage.py open311_client create / list / revoke."""

from __future__ import annotations

import hashlib
import io
import re

import pytest
from django.core.management import CommandError, call_command

from civicgrid.core.models.audit import ChangeLog
from civicgrid.open311.models import Open311Client
from civicgrid.open311.services import client_for_key

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = io.StringIO()
    call_command("open311_client", *args, stdout=out)
    return out.getvalue()


def test_create_prints_the_key_once_and_stores_its_digest():
    output = run("create", "FixMyCity", "--jurisdiction-id", "wuzhou.gov.cn")
    key = re.search(r"api_key: (o311_\S+)", output).group(1)
    client = Open311Client.objects.get(name="FixMyCity")
    assert client.digest == hashlib.sha256(key.encode()).hexdigest()
    assert client.jurisdiction_id == "wuzhou.gov.cn" and client.is_active
    assert client_for_key(key) == client
    # The change log records the creation without the digest.
    entry = ChangeLog.objects.filter(object_id=str(client.pk), action="create").latest("id")
    assert "digest" not in entry.after and key not in str(entry.after)
    # Listing never shows the key again.
    listing = run("list")
    assert "FixMyCity" in listing and client.prefix in listing and key not in listing


def test_names_are_unique_and_required():
    run("create", "App")
    with pytest.raises(CommandError):
        run("create", "App")
    with pytest.raises(CommandError):
        run("create", "  ")


def test_revoke_refuses_the_key():
    key = re.search(r"api_key: (\S+)", run("create", "Old app")).group(1)
    assert client_for_key(key) is not None
    assert "Revoked" in run("revoke", "Old app")
    client = Open311Client.objects.get(name="Old app")
    assert not client.is_active and client.revoked_at is not None
    assert client_for_key(key) is None
    assert "revoked" in run("list")
    assert "already" in run("revoke", "Old app")
    with pytest.raises(CommandError):
        run("revoke", "No such app")


def test_list_when_empty():
    assert "No Open311 clients" in run("list")
