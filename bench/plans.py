"""Query plans of what a benchmarked operation really runs, for the JSON report."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from django.db import connection
from django.test.utils import CaptureQueriesContext


def explain(sql: str) -> str:
    """``EXPLAIN (ANALYZE, BUFFERS)`` on PostgreSQL, ``EXPLAIN QUERY PLAN`` on SQLite."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
            return "\n".join(r[0] for r in cursor.fetchall())
        cursor.execute("EXPLAIN QUERY PLAN " + sql)
        return "\n".join(str(r[-1]) for r in cursor.fetchall())


def explain_queries(operation: Callable[[], object], names: Sequence[str] = ()) -> dict[str, str]:
    """Run ``operation`` once, then explain each SELECT it sent, in order: ``{name: plan, name_sql:
    sql}``, named by ``names`` (then ``q<n>`` for any further ones). The captured SQL has its
    parameters inlined as literals (as Django logs it)."""
    with CaptureQueriesContext(connection) as ctx:
        operation()
    selects = [q["sql"] for q in ctx.captured_queries if q["sql"].lstrip().upper().startswith("SELECT")]
    plans: dict[str, str] = {}
    for i, sql in enumerate(selects):
        name = names[i] if i < len(names) else f"q{i + 1}"
        plans[name] = explain(sql)
        plans[f"{name}_sql"] = sql
    return plans
