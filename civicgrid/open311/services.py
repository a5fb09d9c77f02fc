"""Writes of the GeoReport v2 endpoint: registering and revoking clients, and taking in a service
request through the cases' intake (``case_report``), idempotently per client and key."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from civicgrid.cases import services as case_services
from civicgrid.cases.choices import Channel
from civicgrid.cases.models import Case, Category

from .models import Open311Client, Open311Request
from .params import NewRequest

KEY_PREFIX = "o311_"
#: Seconds a process trusts a looked-up client: a revocation made elsewhere (the command) takes
#: effect within this time; in the revoking process at once.
CLIENT_TTL = 30.0

_clients: dict[str, tuple[float, Open311Client]] = {}
_clients_lock = threading.Lock()


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@transaction.atomic
def client_create(*, name: str, jurisdiction_id: str = "") -> tuple[Open311Client, str]:
    """Register a client; returns it and its api_key (shown once, only its digest is kept)."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": _("A client needs a name.")})
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    client = Open311Client(
        name=name, prefix=key[:12], digest=_digest(key), jurisdiction_id=(jurisdiction_id or "").strip()
    )
    client.full_clean()
    client.save()
    return client, key


def client_revoke(*, client: Open311Client) -> Open311Client:
    """Its api_key stops working (at once here, within CLIENT_TTL in other processes)."""
    client.snapshot()
    client.is_active = False
    client.revoked_at = timezone.now()
    client.save(update_fields=["is_active", "revoked_at", "updated_at"])
    clear_client_cache()
    return client


def clear_client_cache() -> None:
    with _clients_lock:
        _clients.clear()


def client_for_key(key: str | None) -> Open311Client | None:
    """The active client whose api_key this is, or None. Cached per process for CLIENT_TTL
    seconds, by the key as sent (a key that was not a client's is not kept), so POSTs neither
    read the clients table nor hash the key each time."""
    if not key or not key.startswith(KEY_PREFIX) or len(key) > 100:
        return None
    hit = _clients.get(key)
    now = time.monotonic()
    if hit is not None and now - hit[0] < CLIENT_TTL:
        return hit[1]
    client = Open311Client.objects.filter(digest=_digest(key), is_active=True).first()
    with _clients_lock:
        if client is None:
            _clients.pop(key, None)
            return None
        _clients[key] = (now, client)
    Open311Client.objects.filter(pk=client.pk).update(last_used_at=timezone.now())
    return client


def request_create(
    *, client: Open311Client, category: Category, data: NewRequest, answers: dict
) -> tuple[Case, bool]:
    """Take in a service request as a case of ``category`` (``case_report`` checks it); returns
    ``(case, created)``. A retry with the client's same idempotency key returns the first case.
    Media links, e-mail and the client's account and device ids go into an Open311Request in the
    same transaction (only when sent, so the plain path writes nothing more than the intake)."""
    report = dict(
        actor=None,
        category=category,
        description=data.description,
        channel=Channel.OPEN311,
        lat=data.lat,
        lng=data.lng,
        address=data.address,
        answers=answers,
        reporter_name=data.reporter_name,
        reporter_phone=data.phone,
        source=client.source,
        idempotency_key=data.idempotency_key,
        photos=data.media,
    )
    if not data.has_extras:
        return case_services.case_report(**report)
    extra = Open311Request(
        client=client,
        media_url=data.media_url,
        email=data.email,
        account_id=data.account_id,
        device_id=data.device_id,
    )
    extra.full_clean(exclude=["case", "client"])
    with transaction.atomic():
        case, created = case_services.case_report(**report)
        if created:
            extra.case = case
            extra.save(force_insert=True)
    return case, created
