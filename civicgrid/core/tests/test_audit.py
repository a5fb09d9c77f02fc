import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.urls import reverse

from civicgrid.areas.models import Area
from civicgrid.areas.services import area_update
from civicgrid.core import audit
from civicgrid.core.context import acting_as
from civicgrid.core.models import AccessLog, AuditChainHead, ChangeLog, ChangeLogSeal
from civicgrid.core.models.audit import AppendOnlyError
from civicgrid.core.testing import api_client, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def grid(wuzhou):
    return Area.objects.get(code="450403005001001")


def test_update_is_logged_with_who_where_and_before_after(grid, client):
    admin = make_user("t_admin", "sysadmin")
    res = api_client(admin).patch(
        reverse("api:area-detail", args=[grid.pk]),
        {"name": "新名字"},
        format="json",
        HTTP_X_REQUEST_ID="req-123",
        REMOTE_ADDR="10.1.2.3",
    )
    assert res.status_code == 200
    entry = ChangeLog.objects.filter(object_id=str(grid.pk)).order_by("-id").first()
    assert entry.action == "update"
    assert entry.user == admin and entry.username == "t_admin"
    assert entry.request_id == "req-123" and entry.ip == "10.1.2.3"
    assert entry.before["name"] == "三角嘴社区第01网格" and entry.after["name"] == "新名字"
    assert res["X-Request-ID"] == "req-123"


def test_change_log_rolls_back_with_the_change(grid):
    before = ChangeLog.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic():
        area_update(actor=None, area=grid, name="不会保存")
        raise RuntimeError("boom")
    assert ChangeLog.objects.count() == before
    grid.refresh_from_db()
    assert grid.name != "不会保存"


def test_no_op_save_writes_nothing(grid):
    before = ChangeLog.objects.count()
    grid.save()
    assert ChangeLog.objects.count() == before


def test_delete_is_logged(wuzhou):
    with acting_as(None):
        from civicgrid.accounts.models import Role

        role = Role.objects.create(code="tmp", name="tmp")
        pk = role.pk
        role.delete()
    assert ChangeLog.objects.filter(object_id=str(pk), action="delete").exists()


def test_m2m_change_is_logged(wuzhou):
    from django.contrib.auth.models import Permission

    from civicgrid.accounts.models import Role

    role = Role.objects.create(code="tmp", name="tmp")
    perm = Permission.objects.get(codename="view_area")
    role.permissions.add(perm)
    entry = ChangeLog.objects.filter(object_id=str(role.pk), action="update").latest("id")
    assert entry.before == {"permissions": []} and entry.after == {"permissions": [perm.pk]}


def test_rows_are_append_only_in_the_application(grid):
    area_update(actor=None, area=grid, name="x")
    entry = ChangeLog.objects.latest("id")
    entry.object_repr = "forged"
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.delete()
    with pytest.raises(AppendOnlyError):
        ChangeLog.objects.filter(pk=entry.pk).update(object_repr="forged")
    with pytest.raises(AppendOnlyError):
        ChangeLog.objects.filter(pk=entry.pk).delete()


@pytest.mark.postgres
def test_postgres_trigger_refuses_update_and_delete(grid):
    from django.db import DatabaseError

    area_update(actor=None, area=grid, name="x")
    entry = ChangeLog.objects.latest("id")
    for sql in (
        "UPDATE core_changelog SET object_repr = 'forged' WHERE id = %s",
        "DELETE FROM core_changelog WHERE id = %s",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as c,
        ):
            c.execute(sql, [entry.pk])


def _tamper(sql, params):
    """Change an audit row behind the application's back (disabling the PostgreSQL trigger)."""
    with connection.cursor() as c:
        if connection.vendor == "postgresql":  # as a superuser would: switch user triggers off
            c.execute("SET session_replication_role = replica")
        c.execute(sql, params)
        if connection.vendor == "postgresql":
            c.execute("SET session_replication_role = origin")


def test_seal_and_verify_find_the_first_tampered_entry(grid):
    for i in range(5):
        area_update(actor=None, area=grid, name=f"名字{i}")
    assert audit.seal_pending("change") > 0
    assert audit.seal_pending("change") == 0  # nothing left: sealing twice adds nothing
    result = audit.verify_chain("change")
    assert result.ok and result.checked == ChangeLog.objects.count()

    victim = ChangeLog.objects.filter(object_id=str(grid.pk)).order_by("id")[2]
    _tamper("UPDATE core_changelog SET object_repr = 'forged' WHERE id = %s", [victim.pk])
    result = audit.verify_chain("change")
    assert not result.ok
    assert result.entry_id == victim.pk
    assert result.broken_seq == ChangeLogSeal.objects.get(entry_id=victim.pk).seq
    assert "content" in result.reason


def test_verify_detects_a_deleted_entry(grid):
    area_update(actor=None, area=grid, name="a")
    area_update(actor=None, area=grid, name="b")
    audit.seal_pending("change")
    victim = ChangeLog.objects.latest("id")
    _tamper("DELETE FROM core_changelog WHERE id = %s", [victim.pk])
    result = audit.verify_chain("change")
    assert result.entry_id == victim.pk and "missing" in result.reason


def test_audit_verify_command(grid, capsys):
    area_update(actor=None, area=grid, name="a")
    call_command("audit_verify", "--seal")
    assert "change: OK" in capsys.readouterr().out
    victim = ChangeLog.objects.latest("id")
    _tamper("UPDATE core_changelog SET after = %s WHERE id = %s", ['{"name": "forged"}', victim.pk])
    with pytest.raises(CommandError):
        call_command("audit_verify")
    out = capsys.readouterr().out
    assert f"entry {victim.pk}" in out and "BROKEN" in out


def test_periodic_seal_task_runs(grid):
    from civicgrid.core.tasks import seal_audit_logs

    area_update(actor=None, area=grid, name="a")
    result = seal_audit_logs.call_local()
    assert result["change"] >= 1
    assert AuditChainHead.objects.get(stream="change").last_seq == ChangeLogSeal.objects.count()


def test_login_and_failed_login_go_to_access_log(wuzhou, client):
    make_user("t_gw", "grid_worker")
    client.post(reverse("accounts:login"), {"username": "t_gw", "password": "wrong-password-1"})
    assert AccessLog.objects.filter(kind="login_failed", detail__username="t_gw").exists()
    client.post(reverse("accounts:login"), {"username": "t_gw", "password": "correct-horse-battery-9"})
    assert AccessLog.objects.filter(kind="login", username="t_gw").exists()


def test_log_access_records_reason(grid):
    user = make_user("t_off", "city_official")
    with acting_as(user, ip="192.0.2.1"):
        entry = audit.log_access("reveal", obj=grid, reason="核实身份")
    assert entry.username == "t_off" and entry.ip == "192.0.2.1" and entry.object_id == str(grid.pk)


class TestAuditPages:
    def test_auditor_sees_and_filters_the_change_log(self, grid, client):
        area_update(actor=None, area=grid, name="审计可见")
        auditor = make_user("t_aud", "auditor")
        client.force_login(auditor)
        res = client.get(reverse("audit_changes"), {"action": "update"})
        assert res.status_code == 200
        assert "审计可见" in res.content.decode()
        res = client.get(reverse("audit_changes"), {"action": "delete"})
        assert "审计可见" not in res.content.decode()
        assert client.get(reverse("audit_access")).status_code == 200

    def test_the_change_log_filters_by_request(self, grid, client):
        """A request's rows are found by its id (the index holds only rows written in a request);
        an empty id filters nothing out and finds the rows written outside one too."""
        with acting_as(None, request_id="req-filter-1"):
            area_update(actor=None, area=grid, name="请求之内")
        area_update(actor=None, area=grid, name="请求之外")
        auditor = make_user("t_aud", "auditor")
        api = api_client(auditor)
        rows = api.get(reverse("api:changelog-list"), {"request_id": "req-filter-1"}).json()["results"]
        assert [r["request_id"] for r in rows] == ["req-filter-1"]
        assert "请求之内" in str(rows) and "请求之外" not in str(rows)
        assert api.get(reverse("api:changelog-list"), {"request_id": "nothing"}).json()["results"] == []
        everything = api.get(reverse("api:changelog-list"), {"request_id": ""}).json()["results"]
        assert len(everything) >= 2

    def test_auditor_sees_nothing_else(self, grid, client):
        auditor = make_user("t_aud", "auditor")
        client.force_login(auditor)
        assert client.get(reverse("areas:map")).status_code == 403
        assert api_client(auditor).get(reverse("api:area-list")).status_code == 403
        assert api_client(auditor).get(reverse("api:changelog-list")).status_code == 200

    def test_officials_cannot_read_the_audit_log(self, grid, client):
        official = make_user("t_city", "city_official")
        client.force_login(official)
        assert client.get(reverse("audit_changes")).status_code == 403
        assert api_client(official).get(reverse("api:changelog-list")).status_code == 403


def test_json_safe_reads_as_the_json_round_trip_would():
    """Snapshots are converted value by value; the result is what JSON would give back."""
    import json
    import uuid
    from datetime import UTC, date, datetime, time, timedelta
    from decimal import Decimal
    from zoneinfo import ZoneInfo

    from django.core.serializers.json import DjangoJSONEncoder

    from civicgrid.cases.choices import Status
    from civicgrid.core.audit import _json_safe

    record = {
        "s": "文字",
        "n": 3,
        "f": 1.5,
        "b": True,
        "none": None,
        "at": datetime(2026, 11, 28, 1, 2, 3, 456789, tzinfo=UTC),
        # Datetimes are written directly (``_json_datetime``), as the encoder writes them: whole
        # seconds, under a millisecond, another zone, none.
        "at_second": datetime(2026, 11, 28, 1, 2, 3, tzinfo=UTC),
        "at_micro": datetime(2026, 11, 28, 1, 2, 3, 999, tzinfo=UTC),
        "at_local": datetime(2026, 11, 28, 9, 2, 3, 120000, tzinfo=ZoneInfo("Asia/Shanghai")),
        "at_naive": datetime(1, 1, 1, 0, 0, 0, 5000),
        "day": date(2026, 11, 28),
        "t": time(9, 30),
        "gap": timedelta(hours=2),
        "money": Decimal("12.50"),
        "id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "choice": Status.REPORTED,
        "answers": {"q": [1, "a", {"deep": Decimal("1.0")}]},
        "flat": {"q": "a", "n": 2, "none": None},  # copied as it is
        "empty": {},
        "choices": {"status": Status.REPORTED},
    }
    expected = json.loads(json.dumps(record, cls=DjangoJSONEncoder))
    got = _json_safe(record)
    assert got == expected
    assert type(got["choice"]) is str
    assert [type(v) for v in got.values()] == [type(v) for v in expected.values()]
    assert _json_safe([record]) == [expected]
    assert got["flat"] is not record["flat"] and type(got["choices"]["status"]) is str


def test_snapshot_is_what_the_fields_give_one_by_one(wuzhou):
    """``serialize_instance`` runs a function compiled per model; it gives what reading the fields
    one by one gives, an encrypted one as its fingerprint, a file as its name, a deferred field
    read on use, and the model's exclusions left out."""
    from civicgrid.areas.models import Area
    from civicgrid.cases.models import Case, CasePhoto
    from civicgrid.cases.testing import open311_report
    from civicgrid.core.audit import _snapshot_by_fields, _snapshot_fields, serialize_instance
    from civicgrid.core.testing import HOME
    from civicgrid.open311.models import Open311Client

    case = open311_report(reporter_phone="13800138000")
    grid = Area.objects.get(code=HOME["grid"])
    photo = CasePhoto.objects.create(case=case, image="cases/x.jpg", width=4, height=3)
    client = Open311Client.objects.create(name="客户端", prefix="o311_x", digest="d" * 64)
    for instance in (case, photo, client, grid):
        fields = _snapshot_fields(type(instance), tuple(getattr(instance, "audit_exclude", ())))
        assert serialize_instance(instance) == _snapshot_by_fields(instance, fields)
    # An instance with deferred fields (the compiled function cannot read them from the dict) gives
    # the snapshot of the same row read whole.
    [partial] = Case.objects.filter(pk=case.pk).only("title")
    assert serialize_instance(partial) == serialize_instance(Case.objects.get(pk=case.pk))
    snapshot = serialize_instance(case)
    assert snapshot["reporter_phone"].startswith("enc:") and "13800138000" not in str(snapshot)
    assert snapshot["channel"] == "open311" and type(snapshot["channel"]) is str
    assert isinstance(snapshot["reported_at"], str) and "updated_at" not in snapshot
    assert serialize_instance(photo)["image"] == "cases/x.jpg"
    assert "digest" not in serialize_instance(client) and "last_used_at" not in serialize_instance(client)
