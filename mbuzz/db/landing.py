"""The event-landing statements: a batch of event rows → raw.events, duplicates skipped.

The one copy of them: the API (`ingest_api/landing.py`, after it has checked each event) and the
bulk loader of the tests and benchmarks (`mbuzz.demo.traffic.load_direct`) both land through
`land_events`. No Flask here.

The batch travels as one JSON parameter unpacked by `jsonb_to_recordset`. The idempotency wall
depends on the schema (`mbuzz.db.events_are_unique`): on plain PostgreSQL raw.events is unique on
`(account_id, event_id)` (migration 0005); the rows go straight in, and only a batch the unique
index refuses (it holds events stored before) is landed again `on conflict do nothing`; where
raw.events is a TimescaleDB hypertable (whose unique indexes must include the time column) the
statement first inserts the keys into raw.event_keys and then the facts of exactly the keys that
were new. Either way a retried event, even with another timestamp, is a duplicate. No COPY: the
TimescaleDB (PGlite) path breaks on COPY FROM STDIN, and COPY cannot skip duplicates.
"""

from __future__ import annotations

from datetime import datetime

import psycopg

# the columns a bulk loader of fixtures and benchmarks writes, in this order (tests/dbt/dataset.py,
# benchmarks/warehouse.py); raw.events' context and size_bytes keep their defaults
BULK_EVENT_COLUMNS = (
    "account_id",
    "event_id",
    "environment",
    "event_type",
    "visitor_id",
    "user_id",
    "session_id",
    "occurred_at",
    "received_at",
    "properties",
)
BULK_CONVERSION_COLUMNS = (
    "account_id",
    "conversion_id",
    "environment",
    "conversion_type",
    "visitor_id",
    "user_id",
    "revenue",
    "currency",
    "converted_at",
    "received_at",
)

# a row may carry its own received_at (a history loaded as it was collected); the API's never do
_BATCH = """
    jsonb_to_recordset(%(events)s::jsonb) as b(
        event_id text, event_type text, visitor_id text, user_id text, session_id text,
        occurred_at timestamptz, sent_at timestamptz, original_timestamp timestamptz,
        properties jsonb, context jsonb, received_at timestamptz
    )"""

_INSERT_EVENTS = """
    insert into raw.events (
        account_id, event_id, environment, event_type, visitor_id, user_id, session_id,
        occurred_at, received_at, sent_at, original_timestamp, properties, context, api_key_id, source
    )
    select %(account_id)s, b.event_id, %(environment)s, b.event_type, b.visitor_id, b.user_id, b.session_id,
           b.occurred_at, coalesce(b.received_at, %(received_at)s), b.sent_at, b.original_timestamp,
           coalesce(b.properties, '{}'::jsonb), coalesce(b.context, '{}'::jsonb), %(api_key_id)s, %(source)s"""

# plain PostgreSQL: raw.events is the wall. First tried without ON CONFLICT (a batch of new
# events, the common case, skips the speculative insertion: ~0.2 ms of ~1.5 ms per 100 rows);
# if any event was stored before, the unique index refuses the statement, and the batch is
# landed again with LAND_UNIQUE.
LAND_NEW = f"""
with landed as ({_INSERT_EVENTS}
    from {_BATCH}
    returning 1
)
select count(*) from landed
"""

LAND_UNIQUE = f"""
with landed as ({_INSERT_EVENTS}
    from {_BATCH}
    on conflict (account_id, event_id) do nothing
    returning 1
)
select count(*) from landed
"""

# hypertables: keys first, then the facts of the new keys (the events insert also skips conflicts,
# so this statement stays right on the plain schema, e.g. in a server started before migration 0005)
LAND_KEYED = f"""
with b as (select * from {_BATCH}), new_keys as (
    insert into raw.event_keys (account_id, event_id, received_at)
    select %(account_id)s, event_id, coalesce(received_at, %(received_at)s) from b
    on conflict do nothing
    returning event_id
), landed as ({_INSERT_EVENTS}
    from b join new_keys k on k.event_id = b.event_id
    on conflict do nothing
    returning 1
)
select count(*) from landed
"""


def land_events(
    conn: psycopg.Connection,
    events: str,
    *,
    unique: bool,
    account_id: str,
    environment: str,
    received_at: datetime,
    api_key_id: str | None = None,
    source: str = "api",
) -> int:
    """Store a JSON array of event rows; the number stored (the rest were stored before).

    `unique`: `mbuzz.db.events_are_unique(conn)`. On plain PostgreSQL the first try runs in a
    savepoint of the caller's transaction: when the unique index refuses the batch, only that try
    is undone, and whatever the caller wrote before (and its tenant scope) stays."""
    params = {
        "events": events,
        "account_id": account_id,
        "environment": environment,
        "received_at": received_at,
        "api_key_id": api_key_id,
        "source": source,
    }
    if not unique:
        return conn.execute(LAND_KEYED, params).fetchone()[0]
    try:
        with conn.transaction():  # a savepoint inside the caller's transaction
            return conn.execute(LAND_NEW, params).fetchone()[0]
    except psycopg.errors.UniqueViolation:  # a retried batch: again, skipping what is stored
        return conn.execute(LAND_UNIQUE, params).fetchone()[0]
