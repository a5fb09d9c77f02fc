"""PostgreSQL housekeeping for the runner: is the server there, and does the bench database exist."""

from __future__ import annotations

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


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        parts = parts._replace(netloc=netloc)
    return urlunsplit(parts)
