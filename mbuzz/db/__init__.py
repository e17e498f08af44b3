"""The database mbuzz uses: DATABASE_URL when set, else the embedded server.

`database_url()` is the one function every part of mbuzz (CLI, API, dbt
profile, Dagster resources, tests) calls to find PostgreSQL.
"""

from __future__ import annotations

from functools import lru_cache

from mbuzz.errors import DatabaseUnavailable
from mbuzz.settings import get_settings, libpq_url, mask_url, sqlalchemy_url


def database_url(start: bool = True) -> str:
    """The libpq URL in use. Starts the embedded server on demand when `start`."""
    settings = get_settings()
    if settings.database_url:
        return libpq_url(settings.database_url)
    from mbuzz.db.embedded import EmbeddedServer

    server = EmbeddedServer(settings.home)
    if start and server.running_pid() is None:
        return server.up()
    return server.url()


def connect(url: str | None = None, **kwargs):
    """A psycopg connection, or a one-line DatabaseUnavailable error naming the (masked) URL."""
    import psycopg

    url = url or database_url()
    try:
        return psycopg.connect(url, connect_timeout=5, **kwargs)
    except psycopg.OperationalError as exc:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        reason = lines[0].rsplit("failed: ", 1)[-1] if lines else type(exc).__name__
        raise DatabaseUnavailable(
            f"cannot connect to {mask_url(url)} ({reason}). Check that the server is running and "
            "DATABASE_URL is right, or unset DATABASE_URL to use the embedded database (`mbuzz db up`)."
        ) from None


@lru_cache(maxsize=8)
def _engine(url: str):
    from sqlalchemy import create_engine

    return create_engine(sqlalchemy_url(url), pool_pre_ping=True, future=True)


def engine(url: str | None = None):
    """A pooled SQLAlchemy engine for the URL in use (one per URL per process)."""
    return _engine(url or database_url())


def timescale_available(conn) -> bool:
    """Detection, not configuration: is the timescaledb extension installed or installable?"""
    row = conn.execute("select 1 from pg_available_extensions where name = 'timescaledb'").fetchone()
    return row is not None


def timescale_enabled(conn) -> bool:
    row = conn.execute("select 1 from pg_extension where extname = 'timescaledb'").fetchone()
    return row is not None


def events_are_unique(conn) -> bool:
    """Is raw.events itself unique on (account_id, event_id)? True on plain PostgreSQL (migration
    0005 made that index unique): land with `insert ... on conflict (account_id, event_id) do
    nothing`. False where raw.events is a TimescaleDB hypertable: raw.event_keys is the wall there."""
    from mbuzz.db.migrations_support import EVENTS_KEY_INDEX

    row = conn.execute(
        "select indisunique from pg_index where indexrelid = to_regclass(%s)", (f"raw.{EVENTS_KEY_INDEX}",)
    ).fetchone()
    return bool(row and row[0])
