"""Database expressions shared by scoped tables."""

from django.db.models import CharField, Func


class CodePrefix(Func):
    """``SUBSTR(code, 1, n)``: the first *n* characters of a hierarchical code.

    *n* is written into the SQL as a literal: Django's ``Substr`` sends its arguments as query
    parameters, and SQLite uses an index on an expression only when the query repeats the indexed
    expression literally (``SUBSTR(area_code, ?, ?)`` never matches the index)."""

    function = "SUBSTR"
    output_field = CharField()

    def __init__(self, expression, length: int, **extra):
        self.length = int(length)
        super().__init__(expression, **extra)

    def as_sql(self, compiler, connection, **extra_context):
        template = f"%(function)s(%(expressions)s, 1, {self.length})"
        return super().as_sql(compiler, connection, template=template, **extra_context)


class Unindexed(Func):
    """A column SQLite's planner must not look up through an index (``+column``); the plain column
    elsewhere. SQLite plans without statistics of ranges: for a small area it may prefer a skip-scan
    of another index on a date range over the area's own range of a covering index. Writing the
    date test on ``+column`` leaves it only the area's range. PostgreSQL estimates ranges itself."""

    template = "%(expressions)s"

    def as_sqlite(self, compiler, connection, **extra_context):
        return super().as_sql(compiler, connection, template="+%(expressions)s", **extra_context)
