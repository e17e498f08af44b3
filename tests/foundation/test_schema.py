"""The raw schema on plain PostgreSQL: migrations, idempotency wall, models in sync."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import psycopg
import pytest

from mbuzz.db.migrate import current_revision, head_revision, upgrade

# on plain PostgreSQL raw.events itself is the wall (migration 0005; the hypertable form with
# raw.event_keys is tested in test_timescale.py)
DEDUPE_INSERT = """
insert into raw.events (account_id, event_id, environment, event_type, visitor_id, occurred_at)
values (%(account_id)s, %(event_id)s, 'live', 'page_view', 'vis_1', %(occurred_at)s)
on conflict (account_id, event_id) do nothing
"""


def test_migrations_reach_head_and_are_idempotent(database_url):
    assert current_revision(database_url) == head_revision()
    upgrade(database_url)  # second run: a no-op, no error
    assert current_revision(database_url) == head_revision()


def test_models_and_migrations_agree(database_url):
    """Autogenerate finds nothing to do: the SQLAlchemy models are the migrated schema."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import create_engine, pool

    from mbuzz.db.migrations_support import include_name, include_object
    from mbuzz.db.models import Base
    from mbuzz.settings import sqlalchemy_url

    eng = create_engine(sqlalchemy_url(database_url), poolclass=pool.NullPool)
    with eng.connect() as connection:
        ctx = MigrationContext.configure(
            connection,
            opts={
                "include_schemas": True,
                "include_name": include_name,
                "include_object": include_object,
                "version_table_schema": "public",
            },
        )
        diff = compare_metadata(ctx, Base.metadata)
    eng.dispose()
    assert diff == []


def test_raw_events_is_unique_per_account_and_event_id_on_plain_postgres(conn, account):
    from mbuzz.db import events_are_unique

    assert events_are_unique(conn)
    row = {"account_id": account.id, "event_id": "e-1", "occurred_at": datetime(2026, 11, 1, tzinfo=timezone.utc)}
    conn.execute(DEDUPE_INSERT.replace("on conflict (account_id, event_id) do nothing", ""), row)
    with pytest.raises(psycopg.errors.UniqueViolation):  # the wall holds without ON CONFLICT too
        conn.execute(DEDUPE_INSERT.replace("on conflict (account_id, event_id) do nothing", ""), row)


def test_retried_event_with_other_timestamp_is_a_duplicate(conn, account):
    """The trap of hypertables: dedupe must not depend on the time column."""
    t0 = datetime(2026, 11, 1, 12, tzinfo=timezone.utc)
    first = conn.execute(DEDUPE_INSERT, {"account_id": account.id, "event_id": "e-1", "occurred_at": t0})
    retry = conn.execute(
        DEDUPE_INSERT, {"account_id": account.id, "event_id": "e-1", "occurred_at": t0 + timedelta(hours=5)}
    )
    assert (first.rowcount, retry.rowcount) == (1, 0)
    rows = conn.execute("select occurred_at from raw.events where account_id = %s", (account.id,)).fetchall()
    assert rows == [(t0,)]


def test_same_event_id_in_two_accounts_is_two_events(conn, account):
    from mbuzz.accounts import create_account

    other = create_account(conn, "Other")
    t0 = datetime(2026, 11, 1, tzinfo=timezone.utc)
    for acct in (account, other):
        assert (
            conn.execute(DEDUPE_INSERT, {"account_id": acct.id, "event_id": "shared", "occurred_at": t0}).rowcount == 1
        )


def test_environment_is_checked(conn, account):
    with pytest.raises(psycopg.errors.CheckViolation):
        conn.execute(
            "insert into raw.events (account_id, event_id, environment, event_type, visitor_id, occurred_at) "
            "values (%s, 'x', 'prod', 'page_view', 'v', now())",
            (account.id,),
        )


def test_plain_postgres_has_no_hypertables(conn):
    assert conn.execute("select 1 from pg_extension where extname = 'timescaledb'").fetchone() is None
    tables = {
        r[0]
        for r in conn.execute(
            "select table_schema || '.' || table_name from information_schema.tables where table_schema in ('raw', 'attribution')"
        )
    }
    assert {
        "raw.events",
        "raw.event_keys",
        "raw.conversions",
        "raw.conversion_keys",
        "raw.accounts",
        "raw.api_keys",
        "raw.attribution_models",
        "attribution.attribution_credits",
    } <= tables
