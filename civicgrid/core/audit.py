"""Writing, sealing and verifying the audit logs.

Rows are written in the transaction of the change they describe. Hash chaining is done later, in
id order, by ``seal_pending`` (a periodic task), so ordinary writes never wait on a chain lock.
``verify_chain`` recomputes every link and reports the first one that is broken.
"""

from __future__ import annotations

import functools
import hashlib
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from decimal import Decimal

from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DEFAULT_DB_ALIAS, connection, connections, models, transaction
from django.utils import timezone

from . import context
from .bulk import insert_rows, plain_str, stored_as_is
from .models.audit import (
    AccessLog,
    AccessLogSeal,
    AuditChainHead,
    ChangeAction,
    ChangeLog,
    ChangeLogSeal,
)

GENESIS = "0" * 64
#: Entries younger than this are still looked for by the sealer when they turn up late
#: (a long transaction commits a low id after higher ids were sealed).
SEAL_WINDOW = timedelta(days=2)

STREAMS = {
    "change": (ChangeLog, ChangeLogSeal),
    "access": (AccessLog, AccessLogSeal),
}


_JSON_NATIVE = (str, int, float, bool, type(None))
#: Types DjangoJSONEncoder writes as a string (as it reads back).
_ENCODED = (datetime, date, clock_time, timedelta, Decimal, uuid.UUID)
_ENCODER = DjangoJSONEncoder()


def _json_safe(value):
    """``value`` as it reads back from JSON (dates, decimals, UUIDs as ``DjangoJSONEncoder`` writes
    them). A flat record of plain values — every audited write's snapshot — is converted value by
    value; anything nested goes through the encoder and back."""
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {key: item if type(item) in _JSON_NATIVE else _json_item(item) for key, item in value.items()}
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def _json_item(item):
    """One value of a flat record as it reads back from JSON (``_json_safe``)."""
    kind = type(item)
    if kind is datetime:
        return _json_datetime(item)
    if kind in _ENCODED:
        return _ENCODER.default(item)
    if isinstance(item, str):  # a choice of a model's TextChoices: its plain text
        return str.__str__(item)
    if kind is dict and all(type(k) is str and type(v) in _JSON_NATIVE for k, v in item.items()):
        return dict(item)  # a flat dict of plain values (a case's answers) reads back as it is
    return json.loads(json.dumps(item, cls=DjangoJSONEncoder))  # containers, anything else


def _json_datetime(moment: datetime) -> str:
    """``DjangoJSONEncoder``'s text of a datetime (milliseconds, when there are any; UTC as "Z"),
    written directly: a case's snapshot has five, on every report."""
    text = moment.isoformat(timespec="milliseconds" if moment.microsecond else "seconds")
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def serialize_instance(instance: models.Model) -> dict:
    """Concrete field values, JSON-safe, without the fields the model excludes from auditing.
    Encrypted fields appear only as a keyed fingerprint: a change shows, the value never does."""
    exclude = tuple(getattr(instance, "audit_exclude", ()))
    try:
        return _snapshot_function(type(instance), exclude)(instance, instance.__dict__)
    except KeyError:  # a deferred field, missing from the dict: read through its descriptor
        return _snapshot_by_fields(instance, _snapshot_fields(type(instance), exclude))


def _snapshot_by_fields(instance: models.Model, fields: tuple) -> dict:
    from .crypto import blind_index

    values = instance.__dict__
    data = {}
    for attname, kind, stored in fields:
        value = values[attname] if stored and attname in values else getattr(instance, attname)
        if kind is _ENCRYPTED:
            value = "enc:" + blind_index(value, purpose="audit")[:12] if value else value
        elif kind is _FILE:
            value = value.name if value else ""
        data[attname] = value if type(value) in _JSON_NATIVE else _json_item(value)
    return data


@functools.lru_cache(maxsize=512)
def _snapshot_function(model, exclude: tuple[str, ...]):
    """``serialize_instance`` for ``model``, compiled once per model and exclusion, as
    ``core.bulk`` compiles its rows: ``snapshot(instance, values)`` returns the snapshot, one
    expression per field (``values`` is the instance's ``__dict__``; KeyError when a field is
    deferred). Every audited write takes two snapshots, the intake one of 45 fields per report."""
    from .crypto import blind_index

    env = {"_native": frozenset(_JSON_NATIVE), "_json_item": _json_item, "_blind_index": blind_index}
    parts = []
    for attname, kind, stored in _snapshot_fields(model, exclude):
        value = f"values[{attname!r}]" if stored else f"getattr(instance, {attname!r})"
        if kind is _ENCRYPTED:
            value = f"(('enc:' + _blind_index(v, purpose='audit')[:12]) if (v := {value}) else v)"
        elif kind is _FILE:
            value = f"(v.name if (v := {value}) else '')"
        parts.append(f"{attname!r}: (w if type(w := {value}) in _native else _json_item(w))")
    source = (
        "def snapshot(instance, values):\n    return {\n        " + ",\n        ".join(parts) + ",\n    }\n"
    )
    exec(compile(source, f"<snapshot of {model._meta.label}>", "exec"), env)  # noqa: S102 (names from the model)
    return env["snapshot"]


#: What ``serialize_instance`` does with a field's value: keeps it, fingerprints it, names the file.
_PLAIN_VALUE, _ENCRYPTED, _FILE = object(), object(), object()


@functools.lru_cache(maxsize=512)
def _snapshot_fields(model, exclude: tuple[str, ...]) -> tuple[tuple[str, object, bool], ...]:
    """``serialize_instance``'s fields of ``model`` (worked out once per model and exclusion): the
    attname of each concrete field not excluded (``updated_at`` never counts as a change), what is
    done with its value and whether it is read from the instance's dict (``bulk.stored_as_is``)."""
    from .fields import EncryptedTextField

    excluded = {"updated_at", *exclude}
    out = []
    for field in model._meta.concrete_fields:
        if field.name in excluded:
            continue
        if isinstance(field, EncryptedTextField):
            kind = _ENCRYPTED
        elif isinstance(field, models.FileField):
            kind = _FILE
        else:
            kind = _PLAIN_VALUE
        out.append((field.attname, kind, stored_as_is(field)))
    return tuple(out)


def _actor():
    ctx = context.current()
    user = ctx.user
    return ctx, user


def log_change(instance: models.Model, action: str, before: dict | None, after: dict | None) -> None:
    """One change-log row (``log_changes`` with one entry: every audited write makes one, so it
    takes the same short path)."""
    log_changes([(instance, action, before, after)])


#: The change log's columns written by ``log_changes``, in order.
CHANGELOG_FIELDS = (
    "time",
    "user",
    "username",
    "request_id",
    "ip",
    "action",
    "content_type",
    "object_id",
    "object_repr",
    "before",
    "after",
)


@dataclass(frozen=True)
class Ref:
    """A record named without loading it: its model, id and text (what ``str(instance)`` gives)."""

    model: type[models.Model]
    pk: int
    text: str

    def __str__(self) -> str:
        return self.text


def log_changes(entries: Iterable[tuple[models.Model | Ref, str, dict | None, dict | None]]) -> None:
    """Many change-log rows at once, each ``(instance or Ref, action, before, after)``, with what
    ``log_change`` fills (user, request id, IP, object). For writes made in bulk (the import, the
    deadline sweep): the rows go in through ``core.bulk.insert_rows`` (one prepared statement, or
    COPY), since building and compiling a model instance per row would cost more than the change
    itself. The snapshots may hold dates and decimals (encoded as ``log_change``'s are); the sealer
    later chains these rows like any other."""
    insert_rows(*changelog_rows(entries))


@functools.cache
def _changelog_fields() -> tuple:
    return tuple(ChangeLog._meta.get_field(name) for name in CHANGELOG_FIELDS)


@functools.cache
def _changelog_columns() -> tuple[str, ...]:
    return tuple(f.column for f in _changelog_fields())


@functools.lru_cache(maxsize=1024)
def _prepared_ip(vendor: str, ip: str | None):
    """The change log's ``ip`` as the database takes it (checked and adapted once per address)."""
    return _changelog_fields()[4].get_db_prep_save(ip, connection)


def changelog_rows(
    entries: Iterable[tuple[models.Model | Ref, str, dict | None, dict | None]],
) -> tuple[str, tuple[str, ...], list[tuple]]:
    """``log_changes``' rows, not yet written: the table, its columns and the prepared rows (for
    ``core.bulk.insert_rows``, or ``insert_sql`` when a service writes them with its own rows)."""
    ctx, user = _actor()
    fields = _changelog_fields()
    db = connections[DEFAULT_DB_ALIAS]
    now = fields[0].get_db_prep_save(timezone.now(), db)
    ip = _prepared_ip(db.vendor, ctx.ip)
    user_id, username = (user.pk, user.get_username()) if user else (None, "")
    content_types: dict[type, int] = {}
    # The snapshots as JSON text, by one encoder (``json.dumps(cls=…)``, which psycopg's and the
    # databases' JSON adapters call, builds an encoder per value); the column parses the text.
    encode = _ENCODER.encode
    rows = []
    for instance, action, before, after in entries:
        model = instance.model if isinstance(instance, Ref) else type(instance)
        if model not in content_types:
            content_types[model] = ContentType.objects.get_for_model(model, for_concrete_model=False).pk
        rows.append(
            (
                now,
                user_id,
                username,
                ctx.request_id,
                ip,
                plain_str(action),
                content_types[model],
                str(instance.pk),
                str(instance)[:200],
                None if before is None else encode(before),
                None if after is None else encode(after),
            )
        )
    return ChangeLog._meta.db_table, _changelog_columns(), rows


def log_access(
    kind: str,
    *,
    obj: models.Model | None = None,
    reason: str = "",
    detail: dict | None = None,
    user=None,
) -> AccessLog:
    """Record a sensitive read, a reveal, an export or a login event."""
    ctx, ctx_user = _actor()
    user = user or ctx_user
    return AccessLog.objects.create(
        user=user,
        username=user.get_username() if user else "",
        request_id=ctx.request_id,
        ip=ctx.ip,
        kind=kind,
        content_type=ContentType.objects.get_for_model(obj, for_concrete_model=False) if obj else None,
        object_id=str(obj.pk) if obj is not None else "",
        object_repr=str(obj)[:200] if obj is not None else "",
        reason=reason[:500],
        detail=_json_safe(detail or {}),
    )


def entry_payload(entry: models.Model) -> dict:
    """The content a seal's hash covers: every column of the entry."""
    data = {}
    for field in entry._meta.concrete_fields:
        value = field.value_from_object(entry)
        if field.name == "time":
            value = value.astimezone(UTC).isoformat()
        data[field.attname] = value
    return _json_safe(data)


def link_hash(prev_hash: str, seq: int, entry: models.Model) -> str:
    body = json.dumps(entry_payload(entry), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(f"{prev_hash}|{seq}|{body}".encode()).hexdigest()


def _lock_head(stream: str) -> AuditChainHead:
    AuditChainHead.objects.get_or_create(stream=stream)
    return AuditChainHead.objects.select_for_update().get(stream=stream)


def seal_pending(stream: str, *, batch: int = 5000) -> int:
    """Extend ``stream``'s chain with entries not sealed yet, in id order. Returns how many."""
    entry_model, seal_model = STREAMS[stream]
    total = 0
    while True:
        with transaction.atomic():
            head = _lock_head(stream)
            since = timezone.now() - SEAL_WINDOW
            entries = list(
                entry_model.objects.filter(time__gte=since, seal__isnull=True).order_by("id")[:batch]
            )
            if not entries:
                return total
            seals = []
            seq, prev = head.last_seq, head.last_hash
            for entry in entries:
                seq += 1
                digest = link_hash(prev, seq, entry)
                seals.append(seal_model(entry=entry, seq=seq, prev_hash=prev, hash=digest))
                prev = digest
            seal_model.objects.bulk_create(seals)
            AuditChainHead.objects.filter(stream=stream).update(last_seq=seq, last_hash=prev)
            total += len(entries)
        if len(entries) < batch:
            return total


@dataclass
class VerifyResult:
    stream: str
    checked: int
    broken_seq: int | None = None
    entry_id: int | None = None
    reason: str = ""
    unsealed_old: int = 0

    @property
    def ok(self) -> bool:
        return self.broken_seq is None and self.unsealed_old == 0


def verify_chain(stream: str, *, chunk: int = 5000) -> VerifyResult:
    """Walk the chain from its start; stop at the first link that does not hold."""
    entry_model, seal_model = STREAMS[stream]
    result = VerifyResult(stream=stream, checked=0)
    prev, expected_seq, last_seq = GENESIS, 1, 0
    while True:
        seals = list(seal_model.objects.filter(seq__gt=last_seq).order_by("seq")[:chunk])
        if not seals:
            break
        entries = entry_model.objects.in_bulk([s.entry_id for s in seals])
        for seal in seals:
            problem = ""
            entry = entries.get(seal.entry_id)
            if seal.seq != expected_seq:
                problem = f"sequence gap: expected {expected_seq}, found {seal.seq}"
            elif seal.prev_hash != prev:
                problem = "link does not follow the previous one"
            elif entry is None:
                problem = "entry is missing"
            elif link_hash(prev, seal.seq, entry) != seal.hash:
                problem = "entry content does not match its seal"
            if problem:
                result.broken_seq, result.entry_id, result.reason = seal.seq, seal.entry_id, problem
                return result
            prev, expected_seq, last_seq = seal.hash, seal.seq + 1, seal.seq
            result.checked += 1
    head = AuditChainHead.objects.filter(stream=stream).first()
    if head and (head.last_seq != last_seq or head.last_hash != prev):
        result.broken_seq = last_seq + 1
        result.reason = "chain is shorter than its recorded head"
        return result
    # Entries the sealer can no longer pick up were inserted outside the application's path.
    result.unsealed_old = entry_model.objects.filter(
        time__lt=timezone.now() - SEAL_WINDOW, seal__isnull=True
    ).count()
    if result.unsealed_old:
        result.reason = f"{result.unsealed_old} old entries were never sealed"
    return result


def protect_audit_tables_sql() -> list[str]:
    """PostgreSQL triggers that refuse UPDATE and DELETE on the audit tables."""
    tables = [m._meta.db_table for m in (ChangeLog, AccessLog, ChangeLogSeal, AccessLogSeal)]
    stmts = [
        """
        CREATE OR REPLACE FUNCTION civicgrid_audit_append_only() RETURNS trigger AS $$
        BEGIN
            RAISE EXCEPTION 'audit table % is append-only (% refused)', TG_TABLE_NAME, TG_OP;
        END;
        $$ LANGUAGE plpgsql
        """
    ]
    for table in tables:
        stmts.append(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        stmts.append(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION civicgrid_audit_append_only()"
        )
    return stmts


def install_triggers(apps=None, schema_editor=None) -> None:
    conn = schema_editor.connection if schema_editor is not None else connection
    if conn.vendor != "postgresql":
        return
    with conn.cursor() as cursor:
        for stmt in protect_audit_tables_sql():
            cursor.execute(stmt)


__all__ = [
    "ChangeAction",
    "install_triggers",
    "log_access",
    "log_change",
    "seal_pending",
    "serialize_instance",
    "verify_chain",
]
