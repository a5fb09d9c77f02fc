"""Lookups the registry's searches need beyond Django's own."""

from __future__ import annotations

from django.db.models.lookups import StartsWith

#: The greatest code point: every string that starts with ``q`` sorts below ``q + LAST_CHARACTER``
#: when strings compare code point by code point.
LAST_CHARACTER = "\U0010ffff"


class Prefix(StartsWith):
    """``field`` starts with the given text, in the shape each database answers from a B-tree index.

    - SQLite compares text byte by byte (``BINARY``; UTF-8 keeps code point order), so a prefix is the
      range ``field >= q AND field < q || U+10FFFF``, which any plain index on ``field`` serves. Its
      own ``LIKE 'q%'`` (Django's ``startswith``) is case-insensitive and never reads an index.
    - PostgreSQL keeps Django's ``LIKE 'q%'``: with a ``varchar_pattern_ops`` index (the ``_like``
      index Django adds for ``db_index=True``, or ``opclasses`` on a ``Meta.indexes`` entry) it is an
      index range scan under any collation. A range on a plain index would be correct under the
      ``C``/``C.UTF-8`` collations only: linguistic collations (ICU, glibc ``zh_CN``) may ignore
      spaces and punctuation at the first level, so strings starting with ``q`` need not sort
      together.

    Used as an expression: ``qs.filter(Prefix(F("name"), q))`` (not registered on any field)."""

    def as_sqlite(self, compiler, connection):
        lhs_sql, lhs_params = self.process_lhs(compiler, connection)
        value = str(self.rhs)
        params = (*lhs_params, value, *lhs_params, value + LAST_CHARACTER)
        return f"({lhs_sql} >= %s AND {lhs_sql} < %s)", params
