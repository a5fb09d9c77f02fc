"""Writing many rows at once without the ORM's per-row cost: ids reserved first, values prepared by
the models' own fields, one prepared statement (SQLite) or ``COPY`` (PostgreSQL). Used where a
service writes thousands of rows in one go: the people import, the deadline sweep, the change log
of bulk updates (``core.audit.log_changes``)."""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import threading
import time
from datetime import UTC, datetime

from django.apps import apps
from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db import DEFAULT_DB_ALIAS, connection, connections, models, transaction
from django.db.models import signals
from django.db.models.base import ModelState
from django.db.models.lookups import In
from django.utils import timezone

logger = logging.getLogger(__name__)


def _this_connection():
    """The connection object behind ``django.db.connection`` (a proxy that looks it up again on every
    attribute read): the field preparation of thousands of values asks it for its operations."""
    return connections[DEFAULT_DB_ALIAS]


@functools.cache
def vendor() -> str:
    """The default database's vendor ("postgresql", "sqlite"), which does not change in a process:
    read once, where ``connection.vendor`` looks the connection up (about 2 µs) on every read, a
    dozen times in each report's intake."""
    return connections[DEFAULT_DB_ALIAS].vendor


#: The databases ``allocate_ids`` reserves ids on.
RESERVES_IDS = ("postgresql", "sqlite")


def allocate_ids(model, count: int) -> list[int] | None:
    """``count`` new primary keys for ``model``, reserved before the rows are inserted (None: this
    database is not supported here, use the ORM). PostgreSQL takes them from the table's sequence,
    so concurrent writers are safe. SQLite continues after the highest id ever given (AUTOINCREMENT's
    ``sqlite_sequence``); that is safe because the project's SQLite transactions are ``IMMEDIATE``
    (settings): they hold the database's write lock from their start, so no other writer can take
    these ids before the rows are in. Call it inside ``transaction.atomic``."""
    opts = model._meta
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [opts.db_table, opts.pk.column, count],
            )
            return [row[0] for row in cursor.fetchall()]
        if connection.vendor == "sqlite":
            cursor.execute(
                "SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = %s), 0), "  # noqa: S608
                f"COALESCE((SELECT MAX({qn(opts.pk.column)}) FROM {qn(opts.db_table)}), 0))",
                [opts.db_table],
            )
            start = cursor.fetchone()[0] + 1
            return list(range(start, start + count))
    return None


class IdBlocks:
    """New primary keys of ``model`` one at a time, for a path that inserts one row per request (the
    intake). Outside a transaction they come from blocks reserved beforehand (``reserve_ids``), so
    the reservation is paid once per block rather than per row, and on SQLite the row's values can
    be prepared before its transaction takes the write lock. A block is used up within ``max_age``
    seconds or dropped, so ids keep close to the order rows are written in (as close as concurrent
    transactions keep them anyway); dropped ids leave gaps, as rolled-back inserts do. A block's
    size follows the traffic: twice the last one's (up to ``max_size``) when that one was used up
    within half of ``max_age``, half of it (down to ``size``) when it was dropped unused, so a busy
    process reserves seldom and a quiet one leaves small gaps. Inside a transaction (which may roll
    back the reservation with it) one id is reserved in it (``allocate_ids``)."""

    def __init__(self, model, *, size: int = 16, max_size: int = 256, max_age: float = 1.0):
        self.model, self.size, self.max_size, self.max_age = model, size, max(size, max_size), max_age
        self._lock = threading.Lock()
        self._ids: list[int] = []
        self._reserved_at = 0.0
        self._key: tuple = ()
        self._next_size = size

    def take(self) -> int:
        db = _this_connection()
        if db.in_atomic_block:
            return allocate_ids(self.model, 1)[0]
        # A block belongs to one process and one database (a test run switches databases).
        key = (os.getpid(), db.vendor, db.settings_dict["NAME"])
        with self._lock:
            age = time.monotonic() - self._reserved_at
            if not self._ids or key != self._key or age > self.max_age:
                if key != self._key:
                    self._next_size = self.size
                elif self._ids:  # dropped before it was used up
                    self._next_size = max(self.size, self._next_size // 2)
                elif age < self.max_age / 2:
                    self._next_size = min(self.max_size, self._next_size * 2)
                self._ids = reserve_ids(self.model, self._next_size)[::-1]
                self._reserved_at, self._key = time.monotonic(), key
            return self._ids.pop()


def reserve_ids(model, count: int) -> list[int]:
    """``count`` new primary keys for ``model`` that no other writer will take, reserved in a
    transaction of their own (call it outside one). PostgreSQL: from the table's sequence. SQLite:
    past the highest id ever given, and the table's AUTOINCREMENT counter (``sqlite_sequence``) is
    moved past them, so SQLite's own inserts and ``allocate_ids`` continue after them."""
    with transaction.atomic():
        ids = allocate_ids(model, count)
        if connection.vendor == "sqlite":
            with connection.cursor() as cursor:
                table = model._meta.db_table
                cursor.execute("UPDATE sqlite_sequence SET seq = %s WHERE name = %s", [ids[-1], table])
                if cursor.rowcount == 0:
                    cursor.execute(
                        "INSERT INTO sqlite_sequence (name, seq) VALUES (%s, %s)", [table, ids[-1]]
                    )
    return ids


#: Field classes whose database value is the Python value itself when it is a str, int, bool or None.
PLAIN_FIELDS = (
    "AutoField",
    "BigAutoField",
    "BigIntegerField",
    "BooleanField",
    "AreaCodeField",
    "CharField",
    "ForeignKey",
    "IntegerField",
    "PositiveBigIntegerField",
    "PositiveIntegerField",
    "PositiveSmallIntegerField",
    "SlugField",
    "SmallIntegerField",
    "TextField",
)


def bulk_insert(objects: list) -> None:
    """Insert new model instances of one model, like ``bulk_create`` (``auto_now`` timestamps, field
    preparation — encryption included — and primary keys set on the instances), with a single
    prepared statement: ids are reserved first (``allocate_ids``), so nothing needs returning and
    the per-value overhead of the ORM's SQL compiler is avoided. Falls back to ``bulk_create``."""
    if not objects:
        return
    if not connection.in_atomic_block or connection.vendor not in RESERVES_IDS:
        type(objects[0]).objects.bulk_create(objects)
        return
    insert_rows(*object_rows(objects))


def new_object(model, values: dict):
    """``model(**values)`` for a hot path (the intake's case), with less work per field: the fields'
    values are put in order, and where every field keeps its value in the instance's dict as given
    (``stored_as_is``) and no signal listens to the model's creation, they go into the dict at once,
    as ``Model.__init__`` would leave them; otherwise the instance is made from them in order, as
    Django makes one from a row it read. ``values`` are keyed by field name or attname; a related
    object given for a foreign key sets its id and is cached as the related object, as the keyword
    form does; the fields not given take their defaults. An unknown key is a TypeError."""
    plan, known, attnames = _new_object_plan(model)
    unknown = values.keys() - known
    if unknown:
        raise TypeError(f"{model.__name__}() got an unexpected keyword argument {sorted(unknown)[0]!r}")
    args, related = [], []
    for name, attname, field, default, fresh in plan:
        if name in values:
            value = values[name]
            if field is not None and value is not None:  # a related object for a foreign key
                related.append((field, value))
                value = value.pk
        elif attname in values:
            value = values[attname]
        else:
            value = default() if fresh else default
        args.append(value)
    if attnames is None or signals.pre_init.has_listeners(model) or signals.post_init.has_listeners(model):
        obj = model(*args)
    else:
        obj = model.__new__(model)
        obj._state = ModelState()
        obj.__dict__.update(zip(attnames, args, strict=True))
    for field, value in related:
        field.set_cached_value(obj, value)
    return obj


def read_objects(queryset, fields: tuple[str, ...]) -> list:
    """``list(queryset.only(*fields))`` for many rows on a hot path (the sweep's escalations): the
    values are read as a ``values_list`` and put straight into each instance's dict (``loaded``),
    where Django would call ``__init__`` with a placeholder for every field not read. The fields
    not read are deferred, loaded when first used, as ``only``'s are. Where ``loaded`` cannot make
    them so, this is ``only``."""
    model = queryset.model
    opts = model._meta
    attnames = (opts.pk.attname, *(opts.get_field(name).attname for name in fields if name != "pk"))
    if not _loads_directly(model, attnames):
        return list(queryset.only(*fields))
    return [_load(model, attnames, values, queryset.db) for values in queryset.values_list(*attnames)]


def loaded(model, attnames: tuple[str, ...], values, db: str = DEFAULT_DB_ALIAS):
    """``model.from_db(db, attnames, values)``, an instance as read from the database with these
    values (``attnames`` in the model's order; the other fields deferred), made with less work:
    the values go straight into the instance's dict, where Django calls ``__init__`` with a
    placeholder for every field not read. Where a field keeps its value elsewhere than the dict as
    read (``stored_as_is``) or a signal listens to the model's creation, it is ``from_db``. For
    instances made from values kept in memory on a hot path (the intake's grid)."""
    if not _loads_directly(model, attnames):
        return model.from_db(db, list(attnames), values)
    return _load(model, attnames, values, db)


def _loads_directly(model, attnames: tuple[str, ...]) -> bool:
    return (
        _stored_as_is(model, attnames)
        and not signals.pre_init.has_listeners(model)
        and not signals.post_init.has_listeners(model)
    )


@functools.lru_cache(maxsize=256)
def _stored_as_is(model, attnames: tuple[str, ...]) -> bool:
    return all(stored_as_is(model._meta.get_field(a)) for a in attnames)


def _load(model, attnames: tuple[str, ...], values, db: str):
    obj = model.__new__(model)
    state = obj._state = ModelState()
    state.adding, state.db = False, db
    obj.__dict__.update(zip(attnames, values, strict=True))
    return obj


@functools.cache
def _new_object_plan(model) -> tuple[tuple, frozenset, tuple | None]:
    """Per concrete field of ``model``, in order: its name, attname, the field itself when it is a
    foreign key (None otherwise), its default and whether that is a callable to call per instance;
    every key ``new_object`` takes; and the attnames in order, or None if a field does not keep its
    value in the instance's dict as given."""
    fields = model._meta.concrete_fields
    plan = []
    for f in fields:
        fresh = f.has_default() and callable(f.default)
        default = f.default if fresh else f.get_default()
        plan.append((f.name, f.attname, f if f.is_relation else None, default, fresh))
    known = frozenset(k for name, attname, *_rest in plan for k in (name, attname))
    attnames = tuple(f.attname for f in fields) if all(stored_as_is(f) for f in fields) else None
    return tuple(plan), known, attnames


def object_rows(objects: list, ids: list[int] | None = None) -> tuple[str, list[str], list[list]]:
    """``bulk_insert``'s work short of the INSERT, for new instances of one model: ids reserved
    (``allocate_ids``: on SQLite inside ``transaction.atomic`` only) unless given (``IdBlocks``)
    and set on the instances, ``auto_now`` timestamps set, every value prepared for the database;
    the instances count as saved. Returns the table, its columns and the rows, for ``insert_rows``
    or ``insert_sql``."""
    model = type(objects[0])
    ids = ids or allocate_ids(model, len(objects))
    db = _this_connection()
    if ids is None:
        raise NotImplementedError(f"reserving ids on {db.vendor}")
    now = timezone.now()
    table, names, columns, stamped = _object_columns(model, db.vendor)
    # The timestamps' database values, the same for every row: prepared once.
    stamps = {name: field.get_db_prep_save(now, db) for name, field, kind, _s in columns if kind is _STAMP}
    make_row = _row_function(model, db.vendor)
    rows = []
    for obj, pk in zip(objects, ids, strict=True):
        obj.pk = pk
        for attname in stamped:
            setattr(obj, attname, now)
        values = obj.__dict__
        try:
            row = make_row(obj, values, stamps, db)
        except KeyError:  # a deferred field, missing from the dict: read through its descriptor
            row = []
            for attname, field, kind, stored in columns:
                if kind is _STAMP:
                    row.append(stamps[attname])
                    continue
                value = values[attname] if stored and attname in values else getattr(obj, attname)
                row.append(_prepare(value, field, kind, db))
        rows.append(row)
        obj._state.adding = False
        obj._state.db = db.alias
    return table, names, rows


@functools.cache
def _row_function(model, vendor: str):
    """``object_rows``' work for one instance, as a function compiled for ``model``'s columns (once
    per model and database): ``row(obj, values, stamps, db)`` returns the instance's prepared row,
    ``values`` being its ``__dict__`` and ``stamps`` the prepared ``auto_now`` timestamps. Each
    column is one expression that passes the value as it is when ``_prepare`` would (by the column's
    kind) and calls ``_prepare`` otherwise, so a row costs no loop over a plan, no unpacking of it
    and no call for the values that pass: the intake's case of 46 columns takes about two thirds of
    the time (20 → 13 µs, in a loop). Raises KeyError when a field is missing from ``values`` (deferred)."""
    _table, _names, columns, _stamped = _object_columns(model, vendor)
    env = {"_prepare": _prepare, "_plain_types": _PLAIN_TYPES, "_datetime": datetime, "_str": str}
    parts = []
    for i, (attname, field, kind, stored) in enumerate(columns):
        env[f"field{i}"], env[f"kind{i}"] = field, kind
        value = f"values[{attname!r}]" if stored else f"getattr(obj, {attname!r})"
        prepared = f"_prepare(v, field{i}, kind{i}, db)"
        if kind is _STAMP:
            parts.append(f"stamps[{attname!r}]")
        elif kind is _PLAIN and isinstance(field, models.CharField | models.TextField):
            # A choice (a subclass of str) is sent as its plain str, as _prepare would.
            parts.append(
                f"(v if type(v := {value}) in _plain_types or v is None"
                f" else _str.__str__(v) if isinstance(v, _str) else {prepared})"
            )
        elif kind is _PLAIN:
            parts.append(f"(v if type(v := {value}) in _plain_types or v is None else {prepared})")
        elif kind is _NONE and type(field) is models.FloatField:  # a float is its own database value
            parts.append(f"(v if (v := {value}) is None or type(v) is float else {prepared})")
        elif kind is _AWARE:
            parts.append(
                f"(v if (v := {value}) is None or (type(v) is _datetime and v.utcoffset() is not None)"
                f" else {prepared})"
            )
        elif kind is _NONE:
            parts.append(f"(None if (v := {value}) is None else {prepared})")
        else:
            parts.append(f"_prepare({value}, field{i}, kind{i}, db)")
    source = (
        "def row(obj, values, stamps, db):\n    return [\n        " + ",\n        ".join(parts) + ",\n    ]\n"
    )
    exec(compile(source, f"<object_rows of {model._meta.label}>", "exec"), env)  # noqa: S102 (names from the model)
    return env["row"]


def plain_str(value):
    """A value of a subclass of str (a member of a model's choices) as a plain str, anything else as
    it is. psycopg finds how to send a value by its exact type, and for a type it does not know it
    walks the class's bases, on every new cursor; a plain str it finds at once."""
    return str.__str__(value) if isinstance(value, str) and type(value) is not str else value


def stored_as_is(field) -> bool:
    """Whether an instance keeps ``field``'s value in its ``__dict__`` as the attribute reads it (the
    plain descriptors; a file field's descriptor wraps the value): read from there, it costs no
    descriptor call. A deferred field is missing from the dict and is read by ``getattr``."""
    from django.db.models.fields.related_descriptors import ForeignKeyDeferredAttribute
    from django.db.models.query_utils import DeferredAttribute

    return field.descriptor_class in (DeferredAttribute, ForeignKeyDeferredAttribute)


def _is_stamp(field) -> bool:
    return getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)


#: How a column's value is prepared (``_prepare_kind``), the values that pass unchanged because
#: the field would return them as they are — ``_STAMP``: none, it is the time of the insert
#: (``object_rows``); ``_PLAIN``: a str, int, bool or None; ``_AWARE``: None or an aware datetime (a
#: DateTimeField on PostgreSQL); ``_NONE``: None; ``_PREPARE``: none. The field prepares the rest.
_STAMP, _PLAIN, _AWARE, _NONE, _PREPARE = object(), object(), object(), object(), object()
_PLAIN_TYPES = frozenset((str, int, bool))


def _prepare(value, field, kind, db):
    """``value`` of ``field`` as the database takes it; the field prepares it unless ``kind`` says
    the field would return it unchanged. A choice (a subclass of str) becomes a plain str."""
    if value is None:
        return field.get_db_prep_save(value, db) if kind is _PREPARE else None
    if kind is _PLAIN and type(value) in _PLAIN_TYPES:
        return value
    if kind is _AWARE and type(value) is datetime and value.utcoffset() is not None:
        return value
    return plain_str(field.get_db_prep_save(value, db))


@functools.cache
def _object_columns(model, vendor: str) -> tuple[str, list[str], list[tuple], list[str]]:
    """``object_rows``' columns of ``model`` on this database (worked out once): the table, the
    column names, per column its attname, field, how it is prepared (``_prepare_kind``) and whether
    its value is read from the instance's dict (``stored_as_is``), and the ``auto_now``
    timestamps' attnames."""
    db = _this_connection()
    fields = list(model._meta.concrete_fields)
    columns = [(f.attname, f, _prepare_kind(f, db), stored_as_is(f)) for f in fields]
    stamped = [f.attname for f in fields if _is_stamp(f)]
    return model._meta.db_table, [f.column for f in fields], columns, stamped


#: From this many rows PostgreSQL gets them by COPY; fewer (one change-log row) by INSERT.
COPY_FROM = 20


@contextlib.contextmanager
def pipelined():
    """Send the block's statements without waiting for each to finish (PostgreSQL's pipeline mode):
    the server works through them while Python prepares the next, so on a machine with two cores
    the two work at once. Inside the block a read waits for every statement sent before it (so
    read first, then write); a write's row count is unknown (-1); a failed statement raises at the
    next read or when the block ends, so enter the block inside ``transaction.atomic``, which then
    rolls back. ``insert_rows`` sends arrays instead of COPY (not allowed in this mode). Elsewhere
    the block runs as it is."""
    if connection.vendor != "postgresql":
        yield
        return
    connection.ensure_connection()
    # An error found when the block ends is psycopg's own: raised as Django's, as inside it.
    with connection.wrap_database_errors, connection.connection.pipeline():
        yield


@contextlib.contextmanager
def checkpoints_aside():
    """For a block that commits many transactions in a row (the deadline sweep's batches), on a
    SQLite database in WAL mode: the log is copied into the database file (a checkpoint) by a
    thread of its own, on a connection of its own, when the block calls the function it is given
    (after each commit), instead of by the committing connection itself once the log passes its
    limit (``wal_autocheckpoint``, off for the block and set back after). The copy and its flushes
    to disk then run while the block prepares its next transaction, on the other core. The block
    ends once the last checkpoint has, so no writer after it pays for the block's. A checkpoint
    of this kind (PASSIVE) never waits for a lock: it copies what no reader still needs. Elsewhere
    (PostgreSQL, another journal mode, inside a transaction) the function does nothing."""
    wal = False
    if connection.vendor == "sqlite" and not connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode")
            wal = cursor.fetchone()[0] == "wal"
            cursor.execute("PRAGMA wal_autocheckpoint")
            limit = cursor.fetchone()[0]
    if not wal:
        yield lambda: None
        return
    checkpointer = _Checkpointer(connection.settings_dict["NAME"])
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_autocheckpoint = 0")
    try:
        yield checkpointer
    finally:
        checkpointer.finish()
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA wal_autocheckpoint = {int(limit)}")


class _Checkpointer:
    """``checkpoints_aside``' thread, started at the first call: a checkpoint for each call (calls
    made while one runs are served by one more), ``count`` of them; at the end the connection is
    closed."""

    def __init__(self, path: str):
        self.path = path
        self.wanted = threading.Event()
        self.done = False
        self.count = 0
        self.error: Exception | None = None
        self.thread: threading.Thread | None = None  # started at the first call

    def __call__(self) -> None:
        """A checkpoint, soon: the caller does not wait for it."""
        if self.thread is None:
            self.thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)
            self.thread.start()
        self.wanted.set()

    def _run(self) -> None:
        import sqlite3

        try:
            db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
        except Exception as exc:  # noqa: BLE001 -- logged by finish
            self.error = exc
            return
        try:
            while True:
                self.wanted.wait()
                self.wanted.clear()
                last = self.done
                db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                self.count += 1
                if last:
                    return
        except Exception as exc:  # noqa: BLE001 -- logged by finish
            self.error = exc
        finally:
            db.close()

    def finish(self) -> None:
        """The last checkpoint, then the thread ends. A checkpoint that failed is logged, not
        raised: the block's transactions are committed, and the log is copied by a later one."""
        if self.thread is None:
            return
        self.done = True
        self.wanted.set()
        self.thread.join()
        if self.error is not None:
            logger.warning("SQLite checkpoint failed: %s", self.error)


def in_pipeline() -> bool:
    raw = connection.connection
    return connection.vendor == "postgresql" and raw is not None and bool(raw.pgconn.pipeline_status)


def insert_rows(table: str, columns: list[str], rows: list) -> None:
    """INSERT ``rows`` (values prepared for the database, in ``columns`` order) into ``table``.

    SQLite runs one prepared statement per row (``executemany`` reuses it: no parsing, no round
    trips). psycopg sends ``executemany`` as one statement per row, which made PostgreSQL imports
    several times slower than SQLite's; there, from ``COPY_FROM`` rows, they are streamed with
    ``COPY … FROM STDIN`` (psycopg's dumpers turn the prepared values — Jsonb, addresses, aware
    datetimes — into its text format); fewer rows (one change-log row) go by INSERT. Inside
    ``pipelined``, which refuses COPY, they go as arrays (``_insert_arrays``)."""
    if not rows:
        return
    if len(rows) >= COPY_FROM and in_pipeline():
        _insert_arrays(table, columns, rows)
        return
    qn = connection.ops.quote_name
    names = ", ".join(qn(c) for c in columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and len(rows) >= COPY_FROM:
            with cursor.copy(f"COPY {qn(table)} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        sql = f"INSERT INTO {qn(table)} ({names}) VALUES ({', '.join(['%s'] * len(columns))})"  # noqa: S608
        for start in range(0, len(rows), 1000):
            cursor.executemany(sql, rows[start : start + 1000])


def _insert_arrays(table: str, columns: list[str], rows: list) -> None:
    """``insert_rows`` inside ``pipelined`` on PostgreSQL: one ``INSERT … SELECT FROM unnest`` of
    one array per column. The arrays go as binary parameters of a statement bound by the server
    (Django's cursors bind on the client: each array would be written out as SQL text, every
    element escaped, which cost more than the rows' own preparation)."""
    import psycopg

    qn = connection.ops.quote_name
    types = _column_types(table)
    arrays = ", ".join(f"%b::{types[c]}[]" for c in columns)
    sql = f"INSERT INTO {qn(table)} ({', '.join(qn(c) for c in columns)}) SELECT * FROM unnest({arrays})"  # noqa: S608
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, [list(column) for column in zip(*rows, strict=True)])


@functools.cache
def _column_types(table: str) -> dict[str, str]:
    """The PostgreSQL type of each column of the model whose table is ``table``."""
    model = next(m for m in apps.get_models(include_auto_created=True) if m._meta.db_table == table)
    return {f.column: f.cast_db_type(connection) for f in model._meta.concrete_fields}


def insert_values(model, rows: list[dict], *, ids: bool = True) -> list[int]:
    """Insert rows of ``model`` given as ``{field name or attname: value}``, without building model
    instances: the fields not given take their defaults, ``auto_now``/``auto_now_add`` timestamps
    are now, values are prepared by the fields. Returns the new ids, in order. For services that
    write rows of a few shapes — the deadline sweep's thousands of events and clocks, the intake's
    clock and event — where instances and the ORM's compiler cost more than the statement. A few
    rows go in by one ``INSERT … RETURNING`` (one round trip), many with ids reserved first and
    ``insert_rows``. ``ids=False``: the database numbers the rows, in order, and nothing is
    returned (nothing is read back, so inside ``pipelined`` nothing waits). Must run inside
    ``transaction.atomic``."""
    if not rows:
        return []
    if not ids:
        insert_rows(model._meta.db_table, *value_rows(model, rows))
        return []
    returning = len(rows) < COPY_FROM and connection.features.can_return_rows_from_bulk_insert
    ids = None if returning else allocate_ids(model, len(rows))
    if ids is None and not returning:
        objects = model.objects.bulk_create([model(**row) for row in rows])
        return [obj.pk for obj in objects]
    opts = model._meta
    names, prepared = value_rows(model, rows)
    if returning:
        with connection.cursor() as cursor:
            cursor.execute(*insert_sql(opts.db_table, names, prepared, returning=opts.pk.column))
            return [r[0] for r in cursor.fetchall()]
    with_ids = [[pk, *row] for pk, row in zip(ids, prepared, strict=True)]
    insert_rows(opts.db_table, [opts.pk.column, *names], with_ids)
    return ids


def value_rows(model, rows: list[dict]) -> tuple[tuple[str, ...], list[list]]:
    """``insert_values``' preparation: the columns (all but the primary key) and, per row, every
    column's database value — the row's own, or the field's default (``auto_now`` timestamps:
    now). Unknown keys are refused (TypeError). Rows of one shape (the same keys, as a batch's
    rows are) share one plan of where each column's value comes from."""
    now = timezone.now()
    db = _this_connection()
    names = _value_columns(model, db.vendor)[0]
    stamps: dict[str, object] = {}  # the time of the insert, prepared once per column for the call
    # The datetimes prepared, by column and object: a batch's rows share a few (the sweep's clocks
    # start at one time and fall due at their policy's), which SQLite's adapter formats as text.
    times: dict[str, dict[int, tuple]] = {}
    prepared = []
    plan, shape = None, None
    for row in rows:
        if plan is None or tuple(row) != shape:
            shape = tuple(row)
            plan = _value_plan(model, db.vendor, shape)
        out = []
        for key, default, field, kind, is_relation in plan:
            if key is None:
                if default is _NOW:
                    if field.attname not in stamps:
                        stamps[field.attname] = field.get_db_prep_save(now, db)
                    default = stamps[field.attname]
                elif default is _FRESH:
                    default = field.get_db_prep_save(field.get_default(), db)
                out.append(default)
                continue
            value = row[key]
            if is_relation and hasattr(value, "_meta"):  # a model instance given for a foreign key
                value = value.pk
            if type(value) is datetime:
                seen = times.setdefault(key, {})
                hit = seen.get(id(value))
                if hit is None or hit[0] is not value:
                    hit = seen[id(value)] = (value, _prepare(value, field, kind, db))
                out.append(hit[1])
                continue
            out.append(_prepare(value, field, kind, db))
        prepared.append(out)
    return names, prepared


#: Defaults in ``_value_columns``: the time of the insert (``auto_now``), a value per row (a callable).
_NOW, _FRESH = object(), object()


def _prepare_kind(field, db):
    """How a value of ``field`` is prepared for the database (see ``_STAMP`` and the others)."""
    if _is_stamp(field):
        return _STAMP
    if type(field).__name__ in PLAIN_FIELDS:
        return _PLAIN
    if field.get_db_prep_save(None, db) is not None:
        return _PREPARE
    aware = datetime(2000, 1, 1, tzinfo=UTC)
    if isinstance(field, models.DateTimeField) and field.get_db_prep_save(aware, db) is aware:
        return _AWARE
    return _NONE


@functools.cache
def _value_columns(model, vendor: str) -> tuple[tuple[str, ...], tuple[tuple, ...]]:
    """``value_rows``' columns of ``model`` (all but the primary key), worked out once per database:
    their names and, per column, the keys a row may give it by, its default prepared (or
    ``_NOW``/``_FRESH``), the field and how its values are prepared (``_prepare_kind``)."""
    db = _this_connection()
    pk_name = model._meta.pk.attname
    out = []
    for field in model._meta.concrete_fields:
        if field.attname == pk_name:
            continue
        if _is_stamp(field):
            default = _NOW
        elif field.has_default() and callable(field.default) and field.default not in (dict, list):
            default = _FRESH  # a fresh value per row (a token, a uuid, the time)
        else:
            default = plain_str(field.get_db_prep_save(field.get_default(), db))
        keys = (field.attname,) if field.attname == field.name else (field.attname, field.name)
        kind = _prepare_kind(field, db)
        out.append((keys, default, field, _PREPARE if kind is _STAMP else kind))
    return tuple(c[2].column for c in out), tuple(out)


@functools.lru_cache(maxsize=1024)
def _value_plan(model, vendor: str, shape: tuple[str, ...]) -> tuple[tuple, ...]:
    """Where each of ``value_rows``' columns comes from for rows with the keys ``shape`` (the few
    shapes of a service's rows recur on every call): per column the row's key holding its value
    (None: the default), the default, the field, how it is prepared and whether it is a relation.
    Unknown keys are refused (TypeError)."""
    _names, columns = _value_columns(model, vendor)
    unknown = set(shape) - {k for keys, *_ in columns for k in keys}
    if unknown:
        raise TypeError(f"{model.__name__} has no field {sorted(unknown)[0]!r}")
    return tuple(
        (next((k for k in keys if k in shape), None), default, field, kind, field.is_relation)
        for keys, default, field, kind in columns
    )


def insert_sql(table: str, columns: list[str], rows: list, *, returning: str = "") -> tuple[str, list]:
    """One ``INSERT … VALUES (…), (…)`` of prepared ``rows`` (optionally ``RETURNING`` a column):
    the SQL and its parameters, for a cursor or ``execute_together``. Names come from models."""
    sql = _insert_text(vendor(), table, tuple(columns), len(rows), returning)
    return sql, [value for row in rows for value in row]


@functools.lru_cache(maxsize=256)
def _insert_text(vendor: str, table: str, columns: tuple[str, ...], count: int, returning: str) -> str:
    """``insert_sql``'s statement for ``count`` rows (the same few shapes recur on every report)."""
    qn = connection.ops.quote_name
    one = f"({', '.join(['%s'] * len(columns))})"
    sql = (
        f"INSERT INTO {qn(table)} ({', '.join(qn(c) for c in columns)}) "  # noqa: S608
        f"VALUES {', '.join([one] * count)}"
    )
    if returning:
        sql += f" RETURNING {qn(returning)}"
    return sql


def values_sql(model, rows: list[dict], *, returning: str = "") -> tuple[str, list]:
    """``insert_sql`` of rows of ``model`` given as in ``insert_values``."""
    return insert_sql(model._meta.db_table, *value_rows(model, rows), returning=returning)


@contextlib.contextmanager
def write_first():
    """``transaction.atomic()`` for a block whose first statement writes (the intake's INSERTs).

    The project's SQLite transactions are ``IMMEDIATE`` (settings): BEGIN takes the write lock, so a
    transaction that reads and then writes never finds, too late, that another writer came first.
    A block that writes first does not need that. Here it begins with a plain (DEFERRED) BEGIN, and
    its first statement takes the lock when it runs, after SQLite has compiled it and Django has
    prepared it: the lock is held a shorter time. Writers still wait for each other on the busy
    timeout, as SQLite waits for a lock when no read came first in the transaction. Elsewhere, and
    inside a transaction already open, this is ``transaction.atomic()``."""
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        with transaction.atomic():
            yield
        return
    connection.ensure_connection()  # connecting sets the mode from the settings
    mode = connection.transaction_mode
    connection.transaction_mode = None
    try:
        with transaction.atomic():
            connection.transaction_mode = mode
            yield
    finally:
        connection.transaction_mode = mode


def execute_together(statements: list[tuple[str, list]]) -> list[tuple]:
    """Run INSERT statements (``INSERT … ON CONFLICT`` too) that do not read each other's rows;
    returns the rows the last one returns. On PostgreSQL they are one statement — each but the
    last a data-modifying ``WITH`` part — so they cost one round trip, and the statement is atomic
    even outside a transaction (foreign keys are checked at commit); it runs prepared
    (``prepared_cursor``). Elsewhere they run one after another, atomic only inside the caller's
    ``transaction.atomic``."""
    if not statements:
        return []
    if vendor() == "postgresql":
        sql = _together_sql(tuple(sql for sql, _params in statements))
        with prepared_cursor() as cursor:
            cursor.execute(sql, [value for _sql, params in statements for value in params])
            # The rows from psycopg's own cursor, past Django's wrapper, whose attribute lookups
            # (``description``, then ``fetchall`` wrapped anew for each call) took 3.8 µs in a loop
            # where psycopg's own take 0.6 µs. Nothing there can fail once the statement has run.
            raw = cursor.cursor
            return raw.fetchall() if raw.pgresult.nfields else []
    with connection.cursor() as cursor:
        for sql, params in statements:
            cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


@functools.lru_cache(maxsize=64)
def _together_sql(texts: tuple[str, ...]) -> str:
    """``execute_together``'s one statement on PostgreSQL: each statement but the last a
    data-modifying ``WITH`` part. The same few combinations recur (the intake's), and the same
    string object each time lets psycopg find it in its caches without hashing it again."""
    parts = [f"s{i} AS ({sql})" for i, sql in enumerate(texts[:-1])]
    return f"WITH {', '.join(parts)} {texts[-1]}" if parts else texts[-1]


#: psycopg's count of runs after which a statement is prepared, set on connections that have none
#: (Django turns preparation off): no statement reaches it, so only ``prepared_cursor``'s statements,
#: which ask for it, are prepared. The ORM's cursors bind client-side and never prepare.
PREPARE_WHEN_ASKED = 1 << 30


@functools.cache
def _preparing_cursor_classes():
    from django.db.backends.postgresql.base import CursorDebugWrapper, ServerBindingCursor
    from django.db.backends.utils import CursorWrapper

    class PreparingCursor(ServerBindingCursor):
        """Binds its parameters on the server and prepares each statement on its first run."""

        def execute(self, query, params=None, *, prepare=True, binary=None):
            return super().execute(query, params, prepare=prepare, binary=binary)

    class KeptWrapper(CursorWrapper):
        """Django's wrapper of a connection's kept cursor: leaving its block leaves it open."""

        def close(self):
            pass

    class KeptDebugWrapper(CursorDebugWrapper):
        """Django's logging wrapper, for when queries are logged (DEBUG, tests capturing them), of a
        kept cursor. It reads the text of the last statement from psycopg, which leaves it unset
        for a prepared one, so the statement is logged with its values written in, as Django does
        when the connection binds on the server."""

        def execute(self, sql, params=None):
            with self.debug_sql(self.db.ops.compose_sql(sql, params)):
                return CursorWrapper.execute(self, sql, params)

        def close(self):
            pass

    return PreparingCursor, KeptWrapper, KeptDebugWrapper


def prepared_cursor():
    """A cursor (Django's wrapper: logged, its errors Django's) for a statement of a hot path with
    many parameters, the intake's. On PostgreSQL, unless ``settings.DB_PREPARED_STATEMENTS`` is off,
    each statement is prepared on a connection's first run of it (psycopg keeps up to 100 per
    connection), so the server parses and plans it once, and the parameters travel apart from the
    SQL instead of being quoted into it. Measured on an Open311 report at city scale, the database
    server's CPU: 0.7 ms instead of 1.2 ms in one process, 1.0 ms instead of 1.8 ms under load
    (medians, ``bench/README.md``). The setting is for a pooler in transaction mode that cannot keep a
    session's prepared statements (PgBouncer before 1.21). Elsewhere, the usual cursor.

    The driver's cursor is kept with the connection (each thread has its own) and used again while
    the connection lasts; closing the wrapper leaves it open. A new psycopg cursor looks up how to
    send each type of value it is given, by walking the type's bases, and sets up its state: the
    intake's 96 values took 43 µs to dump with a new cursor and 28 µs with a kept one, and making
    the new cursor and its wrapper took another 23 µs (one process, per report; ``bench/README.md``,
    twelfth session)."""
    db = connections[DEFAULT_DB_ALIAS]
    if db.vendor != "postgresql" or not getattr(settings, "DB_PREPARED_STATEMENTS", True):
        return db.cursor()
    db.ensure_connection()
    db.validate_thread_sharing()
    raw = db.connection
    cursor_class, kept, kept_debug = _preparing_cursor_classes()
    cursor = db.__dict__.get("_kept_cursor")
    if cursor is None or cursor.connection is not raw or cursor.closed:
        if raw.prepare_threshold is None:
            raw.prepare_threshold = PREPARE_WHEN_ASKED
        cursor = db.__dict__["_kept_cursor"] = cursor_class(raw)
    return kept_debug(cursor, db) if db.queries_logged else kept(cursor, db)


def insert_select(model, source, pks: list, *, columns: dict[str, str], values: dict) -> int:
    """Insert one row of ``model`` per row of ``source`` (a model) whose primary key is in ``pks``,
    by one ``INSERT … SELECT``: the ``columns`` (``model`` field → ``source`` field) are copied from
    the source row by the database, the other fields are ``values`` or their defaults, prepared as
    ``insert_values`` prepares them. The rows are written from rows the database holds, so no value
    goes to Python and back (the deadline sweep's events of the cases it marks). Returns the number
    of rows inserted (-1 inside ``pipelined``: not known yet). Must run inside ``transaction.atomic``."""
    if not pks:
        return 0
    qn = connection.ops.quote_name
    copied = {model._meta.get_field(f).column: source._meta.get_field(s).column for f, s in columns.items()}
    # A default made per row (a token, a uuid) would be made once here and repeated on every row.
    fresh = [
        field.name
        for keys, default, field, _kind in _value_columns(model, connection.vendor)[1]
        if default is _FRESH and field.column not in copied and not set(keys) & set(values)
    ]
    if fresh:
        raise TypeError(f"insert_select needs a value or a source column for {model.__name__}.{fresh[0]}")
    names, [prepared] = value_rows(model, [values])
    select, params = [], []
    for name, value in zip(names, prepared, strict=True):
        if name in copied:
            select.append(f"s.{qn(copied[name])}")
        else:
            select.append("%s")
            params.append(value)
    pk = f"s.{qn(source._meta.pk.column)}"
    among, ids = any_sql(pk, pks, source._meta.pk)
    sql = (
        f"INSERT INTO {qn(model._meta.db_table)} ({', '.join(qn(n) for n in names)}) "  # noqa: S608
        f"SELECT {', '.join(select)} FROM {qn(source._meta.db_table)} s WHERE {among} ORDER BY {pk}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *ids])
        return cursor.rowcount


#: Statements psycopg keeps parsed (its limits are 4 KB and 50 parameters): the intake's one
#: statement (a case, its tallies, clock, change-log row and event) has about 100 parameters, and
#: without this psycopg split it into parts with a regular expression on every report (~0.2 ms of
#: a report's 1.5 ms of Python, measured at city scale). Its cache keeps at most 128 statements.
PSYCOPG_CACHE_LENGTH = 16384
PSYCOPG_CACHE_PARAMS = 250


def cache_long_statements() -> None:
    """Raise psycopg's limits on the statements it caches parsed (``PSYCOPG_CACHE_*``); called once
    when the project starts. Does nothing where psycopg is absent or keeps no such limits."""
    try:
        from psycopg import _queries
    except ImportError:
        return
    if hasattr(_queries, "MAX_CACHED_STATEMENT_PARAMS") and hasattr(_queries, "MAX_CACHED_STATEMENT_LENGTH"):
        _queries.MAX_CACHED_STATEMENT_LENGTH = max(_queries.MAX_CACHED_STATEMENT_LENGTH, PSYCOPG_CACHE_LENGTH)
        _queries.MAX_CACHED_STATEMENT_PARAMS = max(_queries.MAX_CACHED_STATEMENT_PARAMS, PSYCOPG_CACHE_PARAMS)


class AnyOf(In):
    """``field__any=values``: ``field IN (values)`` for a batch of values (ids, mostly), which
    PostgreSQL gets as one array parameter, ``field = ANY(%s::type[])``. The statement then reads
    the same for any number of values: psycopg splits it into parts once (it re-parses every
    statement of over ``PSYCOPG_CACHE_PARAMS`` parameters, with a regular expression, each time),
    Django prepares no placeholder per value, and the server parses one literal instead of a list
    of a thousand. Elsewhere it is ``__in``. Registered on every field (``CoreConfig.ready``).

    Given a subquery, PostgreSQL gets ``field = ANY(ARRAY(subquery))``: the subquery runs once,
    first, and its values are an index condition like a list's. Beside another condition in an OR
    (the cases of a unit: its own, or those it assists) both sides are then index scans whose rows
    are merged (a BitmapOr), where ``IN (subquery)`` would be a filter tried on every row of a walk
    through the whole table. Meant for subqueries of a few thousand values at most."""

    lookup_name = "any"

    def _ints(self) -> bool:
        """Whether the values are plain ints for an integer column (ids, mostly): they need no
        preparation, where ``In`` prepares, checks and compiles each value (a few microseconds
        each, for the thousands of ids of a sweep's batch)."""
        return (
            type(self.rhs) in (list, tuple)
            and _integer_column(self.lhs.output_field)
            and all(type(v) is int for v in self.rhs)
        )

    def get_prep_lookup(self):
        if self._ints():
            return list(self.rhs)
        return super().get_prep_lookup()

    def process_rhs(self, compiler, connection):
        if self.rhs_is_direct_value() and self._ints():
            values = list(dict.fromkeys(self.rhs))
            if not values:
                raise EmptyResultSet
            return f"({', '.join(['%s'] * len(values))})", tuple(values)
        return super().process_rhs(compiler, connection)

    def as_postgresql(self, compiler, connection):
        if not self.rhs_is_direct_value():
            lhs, lhs_params = self.process_lhs(compiler, connection)
            rhs, rhs_params = self.process_rhs(compiler, connection)
            return f"{lhs} = ANY(ARRAY{rhs})", (*lhs_params, *rhs_params)
        field = self.lhs.output_field
        values = (
            list(self.rhs)
            if self._ints()
            else [field.get_db_prep_value(v, connection, prepared=True) for v in self.rhs if v is not None]
        )
        if not values:
            raise EmptyResultSet
        lhs, lhs_params = self.process_lhs(compiler, connection)
        return f"{lhs} = ANY(%s::{field.cast_db_type(connection)}[])", (*lhs_params, values)


#: The fields whose database value of an int is the int itself.
_INTEGER_FIELDS = frozenset(
    (
        "AutoField",
        "BigAutoField",
        "SmallAutoField",
        "IntegerField",
        "BigIntegerField",
        "SmallIntegerField",
        "PositiveIntegerField",
        "PositiveBigIntegerField",
        "PositiveSmallIntegerField",
    )
)


@functools.lru_cache(maxsize=256)
def _integer_column(field) -> bool:
    """Whether ``field`` (or the field a foreign key points to) holds ints as they are."""
    while getattr(field, "target_field", None) is not None and field.is_relation:
        field = field.target_field
    return type(field).__name__ in _INTEGER_FIELDS


def any_sql(column: str, values: list, field) -> tuple[str, list]:
    """``AnyOf`` for hand-written SQL: the condition that ``column`` (quoted, as the statement names
    it) is one of ``values`` (prepared, none None), with its parameters; ``field`` is the model
    field the column holds (its type names the array's). ``values`` must not be empty."""
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s::{field.cast_db_type(connection)}[])", [list(values)]
    return f"{column} IN ({', '.join(['%s'] * len(values))})", list(values)
