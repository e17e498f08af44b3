"""The Timescale path for real: the migrations on TimescaleDB 2.23 (PGlite, from npm).

Everything here asks the extension itself (`timescaledb_information.*`, chunks,
jobs) rather than reading the migration's text. The server is shared by the
session and serves one connection at a time: each test opens one, and closes
it before anything else (such as `upgrade`) connects.
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime, timedelta, timezone

import psycopg
import pytest

from mbuzz.db.migrate import current_revision, head_revision, upgrade

pytestmark = pytest.mark.timescale

RAW_HYPERTABLES = {("raw", "events"): "occurred_at", ("raw", "conversions"): "converted_at"}
HYPERTABLES = {**RAW_HYPERTABLES, ("attribution", "attribution_credits"): "converted_at"}
OWNED = ("raw", "attribution")

# The multi-row landing pattern of the API (ingest_api/landing.py): the batch as one
# JSON parameter, keys first (`on conflict do nothing`), then the facts of the new keys only.
LAND_BATCH = """
with batch as (
    select * from jsonb_to_recordset(%(events)s::jsonb) as e(event_id text, occurred_at timestamptz)
), new_keys as (
    insert into raw.event_keys (account_id, event_id)
    select %(account_id)s, event_id from batch
    on conflict do nothing
    returning event_id
), landed as (
    insert into raw.events (account_id, event_id, environment, event_type, visitor_id, occurred_at)
    select %(account_id)s, b.event_id, 'live', 'page_view', 'vis_1', b.occurred_at
    from batch b join new_keys k on k.event_id = b.event_id
    returning 1
)
select count(*) from landed
"""


def new_account(conn: psycopg.Connection) -> str:
    from mbuzz.accounts import create_account

    return create_account(conn, f"Timescale {secrets.token_hex(3)}").id


def land(conn: psycopg.Connection, account_id: str, events: list[tuple[str, datetime]]) -> int:
    payload = json.dumps([{"event_id": e, "occurred_at": t.isoformat()} for e, t in events])
    return conn.execute(LAND_BATCH, {"events": payload, "account_id": account_id}).fetchone()[0]


def test_the_server_offers_the_extension(timescale_server):
    with psycopg.connect(timescale_server, autocommit=True) as conn:
        row = conn.execute("select default_version from pg_available_extensions where name = 'timescaledb'").fetchone()
    assert row is not None and row[0].startswith("2.")


def test_migrations_detect_timescale_reach_head_and_are_idempotent(timescale_url):
    def state():
        with psycopg.connect(timescale_url, autocommit=True) as conn:
            return (
                conn.execute("select extversion from pg_extension where extname = 'timescaledb'").fetchone(),
                conn.execute("select count(*) from timescaledb_information.hypertables").fetchone()[0],
                conn.execute("select count(*) from timescaledb_information.jobs").fetchone()[0],
            )

    assert current_revision(timescale_url) == head_revision()
    before = state()
    assert before[0] is not None, "the migration did not create the extension it detected"
    upgrade(timescale_url)  # second run: a no-op, no error, no second policy
    assert current_revision(timescale_url) == head_revision()
    assert state() == before


def test_hypertables_are_the_three_time_series_tables(timescale_conn):
    rows = timescale_conn.execute(
        "select hypertable_schema, hypertable_name, compression_enabled from timescaledb_information.hypertables "
        "where hypertable_schema = any(%s)",
        (list(OWNED),),
    ).fetchall()
    assert {(s, n): c for s, n, c in rows} == {
        ("raw", "events"): True,
        ("raw", "conversions"): True,
        ("attribution", "attribution_credits"): False,
    }


def test_chunks_are_one_week_on_the_time_columns(timescale_conn):
    rows = timescale_conn.execute(
        "select hypertable_schema, hypertable_name, column_name, dimension_type, time_interval "
        "from timescaledb_information.dimensions where hypertable_schema = any(%s)",
        (list(OWNED),),
    ).fetchall()
    assert {(s, n): (col, kind, interval) for s, n, col, kind, interval in rows} == {
        key: (column, "Time", timedelta(days=7)) for key, column in HYPERTABLES.items()
    }


def test_raw_tables_compress_segmented_by_account_newest_first(timescale_conn):
    rows = timescale_conn.execute(
        "select hypertable_schema, hypertable_name, attname, segmentby_column_index, orderby_column_index, orderby_asc "
        "from timescaledb_information.compression_settings where hypertable_schema = any(%s)",
        (list(OWNED),),
    ).fetchall()
    settings = {}
    for schema, name, attname, segment_index, order_index, order_asc in rows:
        entry = settings.setdefault((schema, name), {"segmentby": [], "orderby": []})
        if segment_index is not None:
            entry["segmentby"].append(attname)
        if order_index is not None:
            entry["orderby"].append((attname, "asc" if order_asc else "desc"))
    assert settings == {
        key: {"segmentby": ["account_id"], "orderby": [(column, "desc")]} for key, column in RAW_HYPERTABLES.items()
    }


def test_compression_policies_after_seven_days_and_no_retention(timescale_conn):
    jobs = timescale_conn.execute(
        "select proc_name, hypertable_schema, hypertable_name, (config->>'compress_after')::interval "
        "from timescaledb_information.jobs where hypertable_schema = any(%s)",
        (list(OWNED),),
    ).fetchall()
    compression = {(s, n): after for proc, s, n, after in jobs if proc == "policy_compression"}
    assert compression == {key: timedelta(days=7) for key in RAW_HYPERTABLES}
    # raw data is kept forever: no retention policy anywhere on the server
    retention = timescale_conn.execute(
        "select hypertable_schema, hypertable_name from timescaledb_information.jobs where proc_name = 'policy_retention'"
    ).fetchall()
    assert retention == []


def test_retried_event_with_other_timestamp_is_a_duplicate_on_the_hypertable(timescale_conn):
    """The trap: a hypertable's unique index must include the time column, yet a retry
    with another timestamp — here in another week, so another chunk — is a duplicate."""
    account = new_account(timescale_conn)
    t0 = datetime(2026, 11, 2, 12, tzinfo=timezone.utc)
    first = land(timescale_conn, account, [("e-1", t0), ("e-2", t0 + timedelta(hours=1))])
    retry = land(timescale_conn, account, [("e-1", t0 + timedelta(days=10)), ("e-3", t0 + timedelta(hours=2))])
    assert (first, retry) == (2, 1)
    rows = timescale_conn.execute(
        "select event_id, occurred_at from raw.events where account_id = %s order by event_id", (account,)
    ).fetchall()
    assert rows == [("e-1", t0), ("e-2", t0 + timedelta(hours=1)), ("e-3", t0 + timedelta(hours=2))]


def test_rows_spanning_weeks_land_in_several_chunks(timescale_conn):
    account = new_account(timescale_conn)
    start = datetime(2025, 3, 3, tzinfo=timezone.utc)
    events = [(f"w-{day}", start + timedelta(days=day, hours=9)) for day in range(0, 35, 2)]  # five weeks
    assert land(timescale_conn, account, events) == len(events)
    chunks = timescale_conn.execute(
        "select count(distinct tableoid) from raw.events where account_id = %s", (account,)
    ).fetchone()[0]
    assert chunks >= 5
    listed = timescale_conn.execute(
        "select count(*) from timescaledb_information.chunks where hypertable_schema = 'raw' "
        "and hypertable_name = 'events' and range_start < %s and range_end > %s",
        (start + timedelta(days=35), start),
    ).fetchone()[0]
    assert listed >= chunks


def test_the_compression_policy_compresses_old_chunks_and_data_stays_readable(timescale_conn):
    """PGlite runs no background workers, so the policy's job is run by hand (`run_job`)."""
    account = new_account(timescale_conn)
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    events = [(f"old-{i}", start + timedelta(days=i)) for i in range(21)]
    assert land(timescale_conn, account, events) == len(events)
    job_id = timescale_conn.execute(
        "select job_id from timescaledb_information.jobs where proc_name = 'policy_compression' "
        "and hypertable_schema = 'raw' and hypertable_name = 'events'"
    ).fetchone()[0]
    timescale_conn.execute("call run_job(%s)", (job_id,))

    all_compressed, chunks = timescale_conn.execute(
        """
        select bool_and(c.is_compressed), count(*)
        from timescaledb_information.chunks c
        where c.hypertable_schema = 'raw' and c.hypertable_name = 'events'
          and c.range_start < %s and c.range_end > %s
        """,
        (start + timedelta(days=21), start),
    ).fetchone()
    assert all_compressed and chunks >= 3
    rows = timescale_conn.execute(
        "select event_id, occurred_at from raw.events where account_id = %s order by occurred_at", (account,)
    ).fetchall()
    assert rows == events
    # the idempotency wall still holds against compressed chunks, and late rows still land
    assert land(timescale_conn, account, [("old-3", start), ("late-1", start + timedelta(days=4, hours=1))]) == 1
    assert (
        timescale_conn.execute("select count(*) from raw.events where account_id = %s", (account,)).fetchone()[0]
        == len(events) + 1
    )


def _shape(url: str) -> dict:
    """Columns, indexes and constraints of the schemas mbuzz owns, in comparable form."""
    with psycopg.connect(url, autocommit=True) as conn:
        columns = conn.execute(
            "select table_schema, table_name, ordinal_position, column_name, data_type, is_nullable, column_default "
            "from information_schema.columns where table_schema = any(%s) order by 1, 2, 3",
            (list(OWNED),),
        ).fetchall()
        indexes = conn.execute(
            "select schemaname, tablename, indexname, indexdef from pg_indexes where schemaname = any(%s) order by 1, 2, 3",
            (list(OWNED),),
        ).fetchall()
        constraints = conn.execute(
            """
            select n.nspname, t.relname, c.conname, c.contype, pg_get_constraintdef(c.oid)
            from pg_constraint c join pg_class t on t.oid = c.conrelid join pg_namespace n on n.oid = t.relnamespace
            where n.nspname = any(%s) and c.contype in ('p', 'u', 'f', 'c')
            order by 1, 2, 3
            """,
            (list(OWNED),),
        ).fetchall()
    return {"columns": columns, "indexes": indexes, "constraints": constraints}


def test_plain_and_timescale_paths_have_the_same_tables_columns_and_indexes(database_url, timescale_url):
    plain, timescale = _shape(database_url), _shape(timescale_url)
    assert {(r[0], r[1]) for r in plain["columns"]} >= {
        ("raw", "events"),
        ("raw", "event_keys"),
        ("raw", "conversions"),
    }
    assert timescale["columns"] == plain["columns"]
    # the one difference on purpose (migration 0005): raw.events is its own idempotency wall on plain
    # PostgreSQL; a hypertable's unique index would have to include the time column
    unique_on_plain = (
        "CREATE UNIQUE INDEX ix_events_account_id_event_id ON raw.events USING btree (account_id, event_id)"
    )
    assert ("raw", "events", "ix_events_account_id_event_id", unique_on_plain) in plain["indexes"]
    assert [
        r if r[2] != "ix_events_account_id_event_id" else r[:3] + (unique_on_plain,) for r in timescale["indexes"]
    ] == plain["indexes"]
    assert timescale["constraints"] == plain["constraints"]


# -- the server's own guarantees (tools/timescaledb/server.mjs) ---------------------------


def test_clients_can_reconnect_at_once_and_sessions_do_not_leak(timescale_url):
    for i in range(10):
        with psycopg.connect(timescale_url, autocommit=True) as conn:
            # psycopg prepares a query on its 6th run; a leaked "_pg3_0" would collide here
            for _ in range(6):
                assert conn.execute("select %s::int", (i,)).fetchone() == (i,)
            conn.execute("set search_path to raw")
            conn.execute("create temp table scratch (x int)")
    with psycopg.connect(timescale_url, autocommit=True) as conn:
        assert conn.execute("show search_path").fetchone()[0] in ("public", '"$user", public')
        assert conn.execute("select to_regclass('pg_temp.scratch')").fetchone() == (None,)


def test_copy_from_stdin_is_refused_and_the_session_survives(timescale_conn):
    with pytest.raises(psycopg.errors.FeatureNotSupported, match="multi-row INSERT"):
        with timescale_conn.cursor().copy("copy raw.event_keys (account_id, event_id) from stdin") as copy:
            copy.write_row(("acct_none", "x"))
    assert timescale_conn.execute("select 1").fetchone() == (1,)
