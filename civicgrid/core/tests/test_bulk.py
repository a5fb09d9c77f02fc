"""core.bulk: rows written without model instances are the rows the ORM would have written."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import Q

from civicgrid.cases.choices import EventKind
from civicgrid.cases.models import CaseEvent
from civicgrid.cases.testing import open311_report
from civicgrid.core import bulk

pytestmark = pytest.mark.django_db


@pytest.fixture
def case(wuzhou):
    return open311_report()


def test_insert_values_fills_defaults_stamps_and_prepares(case):
    with transaction.atomic():
        ids = bulk.insert_values(
            CaseEvent,
            [
                {"case_id": case.pk, "kind": EventKind.WARNED, "is_public": False},
                {"case": case, "kind": EventKind.ESCALATED, "note": "上报", "data": {"from": "a", "to": "b"}},
            ],
        )
    assert len(ids) == 2 and ids[1] == ids[0] + 1
    warned, escalated = CaseEvent.objects.filter(pk__in=ids).order_by("id")
    assert (warned.case_id, warned.kind, warned.is_public, warned.note, warned.data) == (
        case.pk,
        EventKind.WARNED,
        False,
        "",
        {},
    )
    assert warned.actor_id is None and warned.created_at is not None and warned.updated_at is not None
    assert escalated.case_id == case.pk and escalated.data == {"from": "a", "to": "b"}
    assert escalated.is_public is True  # the field's default
    # A later ORM insert continues after the reserved ids.
    later = CaseEvent.objects.create(case=case, kind=EventKind.COMMENT)
    assert later.pk > ids[1]


def test_insert_select_copies_columns_from_the_source_rows_and_fills_the_rest(case):
    from civicgrid.cases.models import Case, Department

    unit = Department.objects.create(
        code="T-01", name="城管中队", level="community", area=case.area, function="urban"
    )
    Case.objects.filter(pk=case.pk).update(department=unit)
    other = Case.objects.create(
        area=case.area, area_code=case.area_code, title="另一案", description="x", category=case.category
    )
    with transaction.atomic():
        n = bulk.insert_select(
            CaseEvent,
            Case,
            [other.pk, case.pk],
            columns={
                "case": "id",
                "from_status": "status",
                "to_status": "status",
                "department": "department",
            },
            values={"kind": EventKind.SUPERVISED, "is_public": False, "note": "督办 <b>"},
        )
    assert n == 2
    rows = list(CaseEvent.objects.filter(kind=EventKind.SUPERVISED).order_by("id"))
    assert [e.case_id for e in rows] == sorted([case.pk, other.pk])  # in the source's key order
    mine = next(e for e in rows if e.case_id == case.pk)
    assert (mine.from_status, mine.to_status, mine.department_id) == (case.status, case.status, unit.pk)
    assert (mine.note, mine.is_public, mine.data, mine.actor_id) == ("督办 <b>", False, {}, None)
    assert mine.created_at is not None and mine.updated_at is not None
    assert bulk.insert_select(CaseEvent, Case, [], columns={"case": "id"}, values={}) == 0
    # A default made per row (a case's report time) is refused rather than repeated on every row.
    with pytest.raises(TypeError, match="reported_at"), transaction.atomic():
        bulk.insert_select(Case, Case, [case.pk], columns={"area": "area", "category": "category"}, values={})


def test_insert_values_refuses_an_unknown_field(case):
    with pytest.raises(TypeError, match="no field 'colour'"), transaction.atomic():
        bulk.insert_values(CaseEvent, [{"case_id": case.pk, "kind": EventKind.WARNED, "colour": "red"}])
    assert not CaseEvent.objects.filter(kind=EventKind.WARNED).exists()


def test_insert_values_many_rows_take_reserved_ids(case):
    """From COPY_FROM rows the ids are reserved first and the rows streamed (COPY on PostgreSQL)."""
    n = bulk.COPY_FROM + 5
    with transaction.atomic():
        ids = bulk.insert_values(CaseEvent, [{"case_id": case.pk, "kind": EventKind.WARNED}] * n)
    assert ids == list(range(ids[0], ids[0] + n))
    rows = CaseEvent.objects.filter(pk__in=ids)
    assert rows.count() == n and set(rows.values_list("case_id", "kind", "note")) == {
        (case.pk, EventKind.WARNED, "")
    }
    later = CaseEvent.objects.create(case=case, kind=EventKind.COMMENT)
    assert later.pk > ids[-1]


def test_pipelined_writes_go_in_as_sent_and_a_failed_one_rolls_back(case):
    """Inside ``pipelined`` the writes are sent without waiting for each: many rows go in as arrays
    (no COPY in that mode), JSON and addresses too; a read waits for the writes sent before it; a
    write that fails raises Django's error by the end of the block, and the transaction rolls back."""
    from django.db import connection

    from civicgrid.cases.models import Case
    from civicgrid.core.audit import log_changes
    from civicgrid.core.models.audit import ChangeLog

    n = bulk.COPY_FROM + 5
    row = {
        "case_id": case.pk,
        "kind": EventKind.ESCALATED,
        "note": "上报 <b>",
        "data": {"from": "a", "to": "b"},
    }
    with transaction.atomic(), bulk.pipelined():
        assert bulk.in_pipeline() is (connection.vendor == "postgresql")
        assert bulk.insert_values(CaseEvent, [row] * n, ids=False) == []
        log_changes([(case, "update", {"title": "旧", "at": case.reported_at}, {"title": "新"})] * n)
        assert CaseEvent.objects.filter(kind=EventKind.ESCALATED).count() == n
    events = CaseEvent.objects.filter(kind=EventKind.ESCALATED).order_by("id")
    assert {(e.note, e.data["to"], e.is_public) for e in events} == {("上报 <b>", "b", True)}
    logged = ChangeLog.objects.filter(object_id=str(case.pk), after__title="新")
    assert logged.count() == n and logged.first().before["title"] == "旧"
    assert not bulk.in_pipeline()
    with pytest.raises(IntegrityError), transaction.atomic(), bulk.pipelined():
        Case.objects.filter(pk=case.pk).update(title="改了")
        bulk.insert_values(CaseEvent, [{**row, "kind": None}] * n, ids=False)
    assert Case.objects.get(pk=case.pk).title != "改了"
    assert CaseEvent.objects.filter(kind=EventKind.ESCALATED).count() == n


def test_reserved_ids_are_never_given_again(case):
    """reserve_ids moves the table's counter (sequence, or SQLite's AUTOINCREMENT counter) past
    the block: the ORM's next insert and allocate_ids continue after it."""
    ids = bulk.reserve_ids(CaseEvent, 5)
    assert ids == list(range(ids[0], ids[0] + 5)) and ids[0] > case.events.get().pk
    later = CaseEvent.objects.create(case=case, kind=EventKind.COMMENT)
    assert later.pk > ids[-1]
    with transaction.atomic():
        assert bulk.allocate_ids(CaseEvent, 1)[0] > later.pk


@pytest.mark.django_db(transaction=True)
def test_id_blocks_hand_out_a_reserved_block_then_reserve_anew(case):
    blocks = bulk.IdBlocks(CaseEvent, size=3, max_age=60)
    first = [blocks.take() for _ in range(3)]
    assert first == list(range(first[0], first[0] + 3))
    # Meanwhile another writer inserts: it gets an id past the block, the block goes on.
    other = CaseEvent.objects.create(case=case, kind=EventKind.COMMENT)
    assert other.pk > first[-1]
    fourth = blocks.take()  # the block is used up: a new one, past everything given
    assert fourth > other.pk
    # An old block is dropped: ids stay close to the order rows are written in.
    blocks._reserved_at -= 61
    assert blocks.take() > fourth + 1
    # Inside a transaction an id is reserved in it, not from the block.
    with transaction.atomic():
        inside = blocks.take()
        assert inside not in blocks._ids and inside > fourth + 1


@pytest.mark.django_db(transaction=True)  # blocks are reserved outside a transaction only
def test_id_blocks_grow_with_traffic_and_shrink_when_quiet():
    blocks = bulk.IdBlocks(CaseEvent, size=2, max_size=8, max_age=60)
    sizes = []
    for _ in range(5):  # each block used up at once: the next is twice as large, up to max_size
        first = blocks.take()
        sizes.append(len(blocks._ids) + 1)
        taken = [first] + [blocks.take() for _ in range(sizes[-1] - 1)]
        assert taken == list(range(first, first + sizes[-1]))
    assert sizes == [2, 4, 8, 8, 8]
    blocks.take()  # a new block of 8
    for expected in (4, 2):  # each block dropped before it is used up: the next is half as large
        blocks._reserved_at -= 61
        blocks.take()
        assert len(blocks._ids) + 1 == expected
    blocks.take()  # the block of 2 used up, slowly: the next is as large
    blocks._reserved_at -= 61
    blocks.take()
    assert len(blocks._ids) + 1 == 2


def test_new_object_makes_what_the_keyword_form_makes(case):
    from civicgrid.cases.models import Case, CasePhoto

    values = {
        "area": case.area,
        "category": case.category,
        "title": "标题",
        "description": "描述",
        "channel": "open311",
        "lat": 23.5,
        "answers": {"size": "large"},
        "reporter": None,
        "created_by_id": None,
        "reported_at": datetime(2026, 11, 29, 9, 0, tzinfo=UTC),  # a default made per instance
    }
    made, expected = bulk.new_object(Case, values), Case(**values)
    state = {"_state"}
    assert {k: v for k, v in made.__dict__.items() if k not in state} == {
        k: v for k, v in expected.__dict__.items() if k not in state
    }
    assert made._state.adding and made._state.db is None
    assert made.area is case.area and made.category is case.category  # cached, no query
    assert made.answers is values["answers"] and bulk.new_object(Case, {}).answers == {}
    assert bulk.new_object(Case, {}).answers is not bulk.new_object(Case, {}).answers  # a fresh default
    with pytest.raises(TypeError, match="colour"):
        bulk.new_object(Case, {"colour": "red"})
    # A model whose file field keeps its value behind a descriptor is made by its __init__.
    assert bulk._new_object_plan(Case)[2] is not None
    assert bulk._new_object_plan(CasePhoto)[2] is None


def _rows_by_plan(objects: list) -> list[list]:
    """``object_rows``' rows as its plan says, column by column with ``_prepare`` (what the
    compiled row function must give); the timestamps are the objects' own."""
    db = connection
    _table, _names, columns, _stamped = bulk._object_columns(type(objects[0]), db.vendor)
    return [
        _comparable(
            [bulk._prepare(getattr(obj, attname), field, kind, db) for attname, field, kind, _s in columns]
        )
        for obj in objects
    ]


def _comparable(row: list) -> list:
    """A prepared row with psycopg's JSON wrappers (which compare by identity) unwrapped."""
    return [getattr(v, "obj", v) if type(v).__name__ in ("Json", "Jsonb") else v for v in row]


def test_object_rows_prepare_every_column_as_the_plan_says(case):
    """The compiled row function passes plain values and prepares the rest, as ``_prepare`` does
    column by column: choices become plain str, floats stay floats, JSON and encrypted values are
    prepared, a deferred field is read through its descriptor."""
    from civicgrid.cases.choices import Channel, Level, Stage, Status
    from civicgrid.cases.models import Case, CasePhoto

    made = bulk.new_object(
        Case,
        {
            "area": case.area, "category": case.category, "title": "标题", "description": "描述",
            "channel": Channel.OPEN311, "status": Status.REPORTED, "level": Level.COMMUNITY,
            "deadline_stage": Stage.RECORD, "lat": 23.5, "lng": None, "answers": {"size": "large"},
            "reporter_phone": "13800138000", "area_code": case.area_code,
            "reported_at": datetime(2026, 11, 29, 9, 0, tzinfo=UTC), "due_at": case.due_at,
        },
    )  # fmt: skip
    _table, names, [row] = bulk.object_rows([made], ids=[10**9])
    row, [expected] = _comparable(row), _rows_by_plan([made])
    phone = names.index("reporter_phone")
    assert row[:phone] + row[phone + 1 :] == expected[:phone] + expected[phone + 1 :]
    assert row[phone] and row[phone] != "13800138000"  # encrypted (a fresh nonce each time)
    for name in ("channel", "status", "level", "deadline_stage"):
        assert type(row[names.index(name)]) is str
    assert type(row[names.index("lat")]) is float
    # A deferred field is missing from the instance's dict: read through its descriptor.
    [partial] = Case.objects.filter(pk=case.pk).only("title")
    _table, _names, [row] = bulk.object_rows([partial], ids=[case.pk])  # its deferred fields load by id
    row, [expected] = _comparable(row), _rows_by_plan([partial])
    assert row[:phone] + row[phone + 1 :] == expected[:phone] + expected[phone + 1 :]
    # A file field's value is read through its descriptor: the file's name.
    photo = CasePhoto(case=case, image="cases/x.jpg", width=4, height=3)
    _table, names, [row] = bulk.object_rows([photo], ids=[10**9 + 2])
    assert row == _rows_by_plan([photo])[0] and row[names.index("image")] == "cases/x.jpg"


def test_loaded_makes_what_from_db_makes(case):
    """An instance made from values kept in memory (the intake's grid) is the one ``from_db``
    would make, made without ``__init__``; a model that needs ``__init__`` gets it."""
    from django.db.models import signals

    from civicgrid.areas.models import Area
    from civicgrid.cases.models import CasePhoto

    columns = tuple(f.attname for f in Area._meta.concrete_fields if f.attname in {"id", "name", "code"})
    values = tuple({"id": case.area_id, "name": "网格", "code": case.area.code}[c] for c in columns)
    made, expected = bulk.loaded(Area, columns, values), Area.from_db("default", list(columns), values)
    assert {k: made.__dict__[k] for k in columns} == {k: expected.__dict__[k] for k in columns}
    assert made.get_deferred_fields() == expected.get_deferred_fields()
    assert not made._state.adding and made._state.db == "default"
    assert made.level == case.area.level  # deferred: read on use
    # Listeners of the model's creation are called: the instance is then made by from_db.
    seen = []

    def listener(sender, instance, **kwargs):
        seen.append(instance)

    signals.post_init.connect(listener, sender=Area)
    try:
        again = bulk.loaded(Area, columns, values)
    finally:
        signals.post_init.disconnect(listener, sender=Area)
    assert seen == [again]
    # A file field keeps its value behind a descriptor (and an image field listens to post_init).
    photo = bulk.loaded(CasePhoto, ("id", "image", "width", "height"), (1, "cases/x.jpg", 4, 3))
    assert photo.image.name == "cases/x.jpg" and photo.image.instance is photo and photo.width == 4


def test_execute_together_writes_every_statement_and_returns_the_last_ones_rows(case):
    before = CaseEvent.objects.filter(case=case).count()
    statements = [
        bulk.values_sql(CaseEvent, [{"case_id": case.pk, "kind": EventKind.WARNED}]),
        bulk.values_sql(CaseEvent, [{"case_id": case.pk, "kind": EventKind.COMMENT, "note": "两行"}] * 2),
        bulk.values_sql(CaseEvent, [{"case_id": case.pk, "kind": EventKind.SUPERVISED}], returning="id"),
    ]
    with transaction.atomic():
        [(last,)] = bulk.execute_together(statements)
    assert CaseEvent.objects.get(pk=last).kind == EventKind.SUPERVISED
    assert CaseEvent.objects.filter(case=case).count() == before + 4
    # One failing part writes nothing of the others (one statement on PostgreSQL, a transaction here).
    bad = [statements[0], bulk.insert_sql(CaseEvent._meta.db_table, ["case_id", "kind"], [[None, "x"]])]
    with pytest.raises(IntegrityError), transaction.atomic():
        bulk.execute_together(bad)
    assert CaseEvent.objects.filter(case=case).count() == before + 4


@pytest.mark.django_db(transaction=True)
def test_write_first_takes_the_lock_at_its_first_write_and_waits_for_it(case):
    """On SQLite, BEGIN leaves the write lock free; the block's first INSERT waits on the busy
    timeout for a writer that holds it (no "database is locked"), then holds it itself; the
    connection's IMMEDIATE mode is back afterwards. Elsewhere it is a transaction like any."""
    from django.db import OperationalError, connection, connections

    held, release, done = threading.Event(), threading.Event(), threading.Event()

    def holder():
        try:
            with transaction.atomic():
                CaseEvent.objects.create(case_id=case.pk, kind=EventKind.COMMENT, note="先写")
                held.set()
                release.wait(10)
        finally:
            connections.close_all()
            done.set()

    thread = threading.Thread(target=holder)
    thread.start()
    assert held.wait(10)
    try:
        started = time.monotonic()
        with bulk.write_first():
            if connection.vendor == "sqlite":
                assert time.monotonic() - started < 1  # BEGIN did not wait for the holder
                assert connection.transaction_mode == "IMMEDIATE"
                threading.Timer(0.3, release.set).start()
            else:
                release.set()
            later = {"case_id": case.pk, "kind": EventKind.COMMENT, "note": "后写"}
            bulk.execute_together([bulk.values_sql(CaseEvent, [later])])
            if connection.vendor == "sqlite":
                assert time.monotonic() - started >= 0.25  # it waited for the holder's commit
                assert done.wait(10)
                # Now this block holds the lock: another writer cannot begin.
                other = threading.Thread(target=_try_to_write, args=(case.pk, errors := []))
                other.start()
                other.join()
                assert errors and isinstance(errors[0], OperationalError)
    finally:
        release.set()
        thread.join()
    notes = CaseEvent.objects.filter(case=case, kind=EventKind.COMMENT).order_by("id")
    assert list(notes.values_list("note", flat=True)) == ["先写", "后写"]
    assert connection.vendor != "sqlite" or connection.transaction_mode == "IMMEDIATE"


def _try_to_write(case_pk, errors):
    """In a connection of its own with a short busy timeout: one INSERT, errors collected."""
    from django.db import connection, connections

    try:
        connection.ensure_connection()
        connection.connection.execute("PRAGMA busy_timeout = 100")
        with transaction.atomic():
            CaseEvent.objects.create(case_id=case_pk, kind=EventKind.COMMENT, note="第三")
    except Exception as exc:  # noqa: BLE001 - the test looks at what it was
        errors.append(exc)
    finally:
        connections.close_all()


def test_write_first_inside_a_transaction_is_part_of_it(case):
    """Inside an open transaction it is a savepoint of it; after an error the mode is restored."""
    from django.db import connection

    with transaction.atomic():
        with bulk.write_first():
            CaseEvent.objects.create(case=case, kind=EventKind.COMMENT, note="内")
        transaction.set_rollback(True)
    assert not CaseEvent.objects.filter(case=case, note="内").exists()
    mode = getattr(connection, "transaction_mode", None)
    with pytest.raises(IntegrityError), bulk.write_first():
        bulk.execute_together([bulk.insert_sql(CaseEvent._meta.db_table, ["case_id", "kind"], [[None, "x"]])])
    assert getattr(connection, "transaction_mode", None) == mode


def test_the_intake_statement_is_parsed_once_by_psycopg(case, monkeypatch):
    """The intake's one long statement is kept parsed by psycopg (with its default limits it would
    be parsed again on every report): no statement of a second report is parsed uncached."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("psycopg's cache")
    from psycopg import _queries

    parsed = []
    for name in ("_query2pg_nocache", "_query2pg_client_nocache"):  # server- and client-side binding
        uncached = getattr(_queries, name)
        monkeypatch.setattr(_queries, name, lambda *a, f=uncached: parsed.append(a) or f(*a))
    open311_report()  # the fixture's report was the first
    assert parsed == []


def _prepared_statements() -> set[str]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return {row[0] for row in cursor.fetchall()}


def test_the_intake_statement_is_prepared_on_the_server_once_per_connection(case, settings):
    """On PostgreSQL the intake's statement is prepared on its first run on a connection and then
    reused (its parameters bound on the server); the ORM's statements are never prepared, however
    often they run. With DB_PREPARED_STATEMENTS off the intake runs on the usual cursor."""
    from django.db import connection

    from civicgrid.cases.models import Case

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's prepared statements")
    open311_report()  # the fixture's report may have run on this connection already
    before = _prepared_statements()
    intake = [sql for sql in before if sql.startswith('WITH s0 AS (INSERT INTO "cases_case"')]
    assert len(intake) == 1 and "$1" in intake[0]
    second, third = open311_report(), open311_report()
    for _ in range(10):
        assert Case.objects.filter(pk=second.pk, status=second.status).exists()
    assert _prepared_statements() == before  # nothing prepared again, no ORM statement prepared
    assert [second.events.get().kind, third.events.get().kind] == [EventKind.REPORTED] * 2
    settings.DB_PREPARED_STATEMENTS = False
    with bulk.prepared_cursor() as cursor:
        assert not isinstance(cursor.cursor, bulk._preparing_cursor_classes()[0])
    fourth = open311_report()
    assert fourth.events.get().kind == EventKind.REPORTED


@pytest.mark.django_db(transaction=True)  # the connection is closed and opened again
def test_the_prepared_cursor_is_kept_for_its_connection(case):
    """On PostgreSQL the driver's cursor of ``prepared_cursor`` is kept with the connection:
    leaving its block leaves it open, the next block uses it again, and a new connection gets a
    new one."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's prepared statements")
    with bulk.prepared_cursor() as cursor:
        cursor.execute("SELECT %s", [1])
        kept = cursor.cursor
        assert cursor.fetchall() == [(1,)]
    assert not kept.closed
    with bulk.prepared_cursor() as cursor:
        assert cursor.cursor is kept
        cursor.execute("SELECT %s, %s", ["a", 2])
        assert cursor.fetchall() == [("a", 2)]
    assert open311_report().events.get().kind == EventKind.REPORTED
    connection.close()
    with bulk.prepared_cursor() as cursor:
        assert cursor.cursor is not kept and cursor.cursor.connection is connection.connection
        cursor.execute("SELECT %s", [3])
        assert cursor.fetchall() == [(3,)]


def test_any_lookup_selects_as_in_does(case):
    """``__any`` finds what ``__in`` finds (None ignored, an empty list finds nothing), on a primary
    key and through a foreign key; on PostgreSQL the ids are one array parameter, so the statement
    reads the same for any number of them."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from civicgrid.cases.models import Case

    other = open311_report()
    ids = [case.pk, other.pk, None, 10**12]
    assert set(Case.objects.filter(pk__any=ids)) == {case, other}
    assert list(Case.objects.filter(pk__any=[])) == []
    assert list(Case.objects.filter(pk__any=[None])) == []
    events = CaseEvent.objects.filter(case__any=[other.pk]).order_by("id")
    assert list(events) == list(CaseEvent.objects.filter(case__in=[other.pk]).order_by("id"))
    assert Case.objects.filter(pk__any=Case.objects.filter(pk=case.pk).values("pk")).get() == case
    # A subquery beside another condition in an OR, one that finds nothing, and one with a NULL.
    either = Q(pk=other.pk) | Q(pk__any=Case.objects.filter(pk=case.pk).values("pk"))
    assert set(Case.objects.filter(either)) == {case, other}
    assert list(Case.objects.filter(pk__any=Case.objects.filter(pk=-1).values("pk"))) == []
    events = CaseEvent.objects.filter(case__any=CaseEvent.objects.filter(case=other).values("case_id"))
    assert set(events.values_list("case_id", flat=True)) == {other.pk}
    assert list(Case.objects.filter(duplicate_of__any=Case.objects.values("duplicate_of"))) == []
    # Plain ints go as they are (repeated ones once); other values are prepared as ``__in``'s.
    assert set(Case.objects.filter(pk__any=(case.pk, other.pk, case.pk))) == {case, other}
    assert set(Case.objects.filter(pk__any=[str(case.pk), other.pk])) == {case, other}
    assert set(CaseEvent.objects.filter(case__any=[other.pk]).values_list("case_id", flat=True)) == {other.pk}
    codes = [case.area_code, 12]
    assert list(Case.objects.filter(area_code__any=codes)) == list(Case.objects.filter(area_code__in=codes))
    assert bulk._integer_column(CaseEvent._meta.get_field("case"))
    assert not bulk._integer_column(Case._meta.get_field("area_code"))
    if connection.vendor == "postgresql":
        with CaptureQueriesContext(connection) as queries:
            list(Case.objects.filter(either).values_list("pk"))
        assert "= ANY(ARRAY(SELECT" in queries.captured_queries[0]["sql"]
        with CaptureQueriesContext(connection) as queries:
            list(Case.objects.filter(pk__any=[case.pk]).values_list("pk"))
            list(Case.objects.filter(pk__any=list(range(1, 2000))).values_list("pk"))
        texts = [q["sql"].split(" = ANY(")[0] for q in queries.captured_queries]
        assert texts[0] == texts[1] and all("= ANY(" in q["sql"] for q in queries.captured_queries)


def test_any_sql_for_hand_written_statements(case):
    from django.db import connection

    from civicgrid.cases.models import Case

    other = open311_report()
    qn = connection.ops.quote_name
    among, params = bulk.any_sql(qn("id"), [other.pk, case.pk, 10**12], Case._meta.pk)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id FROM {qn(Case._meta.db_table)} WHERE {among} ORDER BY id", params)  # noqa: S608
        assert [r[0] for r in cursor.fetchall()] == sorted([case.pk, other.pk])


def test_read_objects_reads_what_only_reads(case):
    """The instances hold the fields read, as ``only``'s do; the others load when first used."""
    from civicgrid.cases.models import Case, CasePhoto

    fields = ("title", "status", "category", "reported_at", "due_at")
    [made] = bulk.read_objects(Case.objects.filter(pk=case.pk), fields)
    [expected] = Case.objects.filter(pk=case.pk).only(*fields)
    read = ("id", "title", "status", "category_id", "reported_at", "due_at")
    assert {k: made.__dict__[k] for k in read} == {k: expected.__dict__[k] for k in read}
    assert made.get_deferred_fields() == expected.get_deferred_fields()
    assert not made._state.adding and made._state.db == "default"
    assert made.description == case.description  # deferred: read on use
    # A model whose file field keeps its value behind a descriptor is read by ``only``.
    photo = CasePhoto.objects.create(case=case, image="cases/x.jpg", width=4, height=3)
    [read] = bulk.read_objects(CasePhoto.objects.filter(pk=photo.pk), ("image", "width"))
    assert read.image.name == "cases/x.jpg" and read.image.instance is read and read.width == 4
    assert read.get_deferred_fields() == CasePhoto.objects.only("image", "width").get().get_deferred_fields()


def test_insert_values_prepares_a_shared_datetime_once_per_column(case, monkeypatch):
    """Rows sharing a datetime object (a batch's clocks) have it prepared once per column; other
    datetimes, even equal ones, are prepared each."""
    from civicgrid.cases.models import CaseDeadline

    field = CaseDeadline._meta.get_field("started_at")
    calls = []
    original = type(field).get_db_prep_save

    def counting(self, value, connection):
        if self is field:
            calls.append(value)
        return original(self, value, connection)

    monkeypatch.setattr(type(field), "get_db_prep_save", counting)
    start, due = datetime(2026, 11, 29, 9, 0, tzinfo=UTC), datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    rows = [
        {
            "case_id": case.pk,
            "stage": "handle",
            "level": "community",
            "area_code": case.area_code,
            "started_at": start,
            "warn_at": due,
            "due_at": due,
        }
        for _ in range(3)
    ]
    rows.append({**rows[0], "started_at": datetime(2026, 11, 29, 9, 0, tzinfo=UTC)})  # equal, another object
    with transaction.atomic():
        ids = bulk.insert_values(CaseDeadline, rows)
    # PostgreSQL takes aware datetimes as they are; SQLite's are formatted, once per object.
    assert len(calls) == (0 if connection.vendor == "postgresql" else 2)
    assert set(CaseDeadline.objects.filter(pk__in=ids).values_list("started_at", flat=True)) == {start}


@pytest.mark.django_db(transaction=True)
def test_checkpoints_aside_copies_the_log_in_a_thread_and_restores_the_limit(case):
    """On SQLite (WAL): committed writes are copied into the database by the thread when asked,
    the connection makes no checkpoint of its own meanwhile, and its limit is set back after.
    Inside a transaction, and on PostgreSQL, it does nothing."""

    def pragma(sql):
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchone()

    if connection.vendor != "sqlite":
        with bulk.checkpoints_aside() as checkpoint:
            checkpoint()
        return
    limit = pragma("PRAGMA wal_autocheckpoint")[0]
    pragma("PRAGMA wal_checkpoint(TRUNCATE)")
    with bulk.checkpoints_aside() as checkpoint:
        assert pragma("PRAGMA wal_autocheckpoint")[0] == 0
        for n in range(3):
            with transaction.atomic():
                CaseEvent.objects.create(case=case, kind=EventKind.COMMENT, note=f"第{n}")
            checkpoint()
        threads = [t for t in threading.enumerate() if t.name == "sqlite-checkpoint"]
        assert len(threads) == 1
    assert not threads[0].is_alive() and 1 <= checkpoint.count <= 4
    assert pragma("PRAGMA wal_autocheckpoint")[0] == limit
    assert CaseEvent.objects.filter(case=case, kind=EventKind.COMMENT).count() == 3
    # No request, no thread.
    with bulk.checkpoints_aside():
        pass
    assert not [t for t in threading.enumerate() if t.name == "sqlite-checkpoint"]
    # Inside a transaction it does nothing: its commits are not the block's.
    with transaction.atomic(), bulk.checkpoints_aside() as checkpoint:
        checkpoint()
        assert pragma("PRAGMA wal_autocheckpoint")[0] == limit
    assert not [t for t in threading.enumerate() if t.name == "sqlite-checkpoint"]
