"""PostgreSQL housekeeping for the runner: is the server there, and does the bench database exist."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql


def _maintenance_url(url: str) -> tuple[str, str]:
    """The URL of the server's ``postgres`` database, and the database name ``url`` points to."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if not name:
        raise ValueError(f"no database name in {url!r}")
    return urlunsplit(parts._replace(path="/postgres")), name


def ensure_database(url: str, *, schema: str | None = None, timeout: int = 5) -> bool:
    """Create the database ``url`` names unless it exists (and ``schema`` in it); True when the
    database was created. Raises psycopg.OperationalError when the server cannot be reached."""
    maintenance, name = _maintenance_url(url)
    with psycopg.connect(maintenance, autocommit=True, connect_timeout=timeout) as conn:
        created = not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if created:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    if schema:
        with psycopg.connect(url, autocommit=True, connect_timeout=timeout) as conn:
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
    return created


@contextlib.contextmanager
def database_copy(url: str, suffix: str = "copy", *, timeout: int = 5) -> Iterator[str]:
    """A copy of the database ``url`` names (``CREATE DATABASE … TEMPLATE``; nobody may be connected
    to it meanwhile), for a block that commits to it; yields the copy's URL and drops the copy
    after. The files are copied as they are (``STRATEGY FILE_COPY``, PostgreSQL 15 and later):
    seconds for gigabytes, where the default writes every page to the log."""
    maintenance, name = _maintenance_url(url)
    copy = f"{name}_{suffix}"
    with psycopg.connect(maintenance, autocommit=True, connect_timeout=timeout) as conn:
        drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(copy))
        conn.execute(drop)
        create = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(copy), sql.Identifier(name))
        if conn.info.server_version >= 150000:
            create += sql.SQL(" STRATEGY FILE_COPY")
        conn.execute(create)
        try:
            yield urlunsplit(urlsplit(url)._replace(path=f"/{copy}"))
        finally:
            conn.execute(drop)


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        parts = parts._replace(netloc=netloc)
    return urlunsplit(parts)
