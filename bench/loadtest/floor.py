"""The floor of the Open311 throughput test: an endpoint that does the least a report must do —
read a form-encoded POST and insert one row, by one statement that is atomic by itself (no
transaction of its own: on PostgreSQL BEGIN and COMMIT would be two more round trips, and made the
floor ~14 % slower), prepared on PostgreSQL as the intake's statement is (``bulk.prepared_cursor``)
— in the same server, process model, middleware and database as
``POST /open311/v2/requests.json``. Its rate is the best the stack could do for a write per
request; the Open311 endpoint's rate is compared with it.

The row goes into ``bench_floor`` (id, received_at, service_code, description, lat, long), a table of
the benchmark's own created outside Django's migrations (``ensure_table``)."""

from __future__ import annotations

import json

from django.db import connection
from django.http import HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from civicgrid.core import bulk

TABLE = "bench_floor"


def ensure_table() -> None:
    with connection.cursor() as cursor:
        key = (
            "BIGSERIAL PRIMARY KEY"
            if connection.vendor == "postgresql"
            else "INTEGER PRIMARY KEY AUTOINCREMENT"
        )
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {TABLE} (id {key}, received_at VARCHAR(40) NOT NULL,"
            " service_code VARCHAR(20) NOT NULL, description TEXT NOT NULL, lat DOUBLE PRECISION, lng DOUBLE PRECISION)"  # noqa: E501
        )


def empty_table() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {TABLE}")


def count() -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {TABLE}")
        return cursor.fetchone()[0]


@csrf_exempt
def insert_one(request):
    if request.method != "POST":
        return HttpResponse(status=405)
    data = request.POST
    returning = " RETURNING id" if connection.vendor == "postgresql" else ""
    # One statement, atomic by itself (the database's autocommit): no BEGIN and COMMIT of its own.
    with bulk.prepared_cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {TABLE} (received_at, service_code, description, lat, lng) VALUES (%s, %s, %s, %s, %s)"  # noqa: E501
            + returning,
            [
                timezone.now().isoformat(),
                data.get("service_code", ""),
                data.get("description", ""),
                data.get("lat") or None,
                data.get("long") or None,
            ],
        )
        pk = cursor.fetchone()[0] if returning else cursor.lastrowid
    body = json.dumps([{"service_request_id": str(pk)}])
    return HttpResponse(body, status=201, content_type="application/json; charset=utf-8")
