"""Landing: validated events → raw.events, one statement per batch, duplicates skipped.

The batch travels as one JSON parameter unpacked by `jsonb_to_recordset`. The
idempotency wall depends on the schema (`mbuzz.db.events_are_unique`, checked
once per app): on plain PostgreSQL raw.events is unique on
`(account_id, event_id)`; the rows go straight in, and only a batch the unique
index refuses (it holds events stored before) is landed again `on conflict do
nothing`; where raw.events is a TimescaleDB hypertable (whose unique indexes must include
the time column) the statement first inserts the keys into raw.event_keys and
then the facts of exactly the keys that were new. Either way a retried event,
even with another timestamp, is a duplicate. No COPY: the TimescaleDB (PGlite)
path breaks on COPY FROM STDIN, and COPY cannot skip duplicates. The caller's
transaction is scoped to the account, so row-level security checks every row
written.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson
import psycopg
from flask import current_app

from ingest_api import db
from ingest_api.auth import Principal
from mbuzz.db import events_are_unique

_BATCH = """
    jsonb_to_recordset(%(events)s::jsonb) as b(
        event_id text, event_type text, visitor_id text, user_id text, session_id text,
        occurred_at timestamptz, sent_at timestamptz, original_timestamp timestamptz,
        properties jsonb, context jsonb
    )"""

_INSERT_EVENTS = """
    insert into raw.events (
        account_id, event_id, environment, event_type, visitor_id, user_id, session_id,
        occurred_at, received_at, sent_at, original_timestamp, properties, context, api_key_id, source
    )
    select %(account_id)s, b.event_id, %(environment)s, b.event_type, b.visitor_id, b.user_id, b.session_id,
           b.occurred_at, %(received_at)s, b.sent_at, b.original_timestamp,
           coalesce(b.properties, '{}'::jsonb), coalesce(b.context, '{}'::jsonb), %(api_key_id)s, %(source)s"""

# plain PostgreSQL: raw.events is the wall. First tried without ON CONFLICT (a batch of new
# events, the common case, skips the speculative insertion: ~0.2 ms of ~1.5 ms per 100 rows);
# if any event was stored before, the unique index refuses the statement, and the batch is
# landed again, in a new transaction, with LAND_UNIQUE.
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
    select %(account_id)s, event_id, %(received_at)s from b
    on conflict do nothing
    returning event_id
), landed as ({_INSERT_EVENTS}
    from b join new_keys k on k.event_id = b.event_id
    on conflict do nothing
    returning 1
)
select count(*) from landed
"""


def _events_unique(conn: psycopg.Connection) -> bool:
    """Is raw.events its own idempotency wall (plain PostgreSQL)? Looked up once per app."""
    unique = current_app.extensions.get("mbuzz.events_unique")
    if unique is None:
        unique = current_app.extensions["mbuzz.events_unique"] = events_are_unique(conn)
    return unique


_ENCODE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def _serialise(row: dict[str, Any]) -> bytes:
    """The row as JSON bytes: orjson (~5x faster); the standard encoder for what orjson refuses
    (integers beyond 64 bits, which jsonb stores exactly). Raises on text UTF-8 cannot hold."""
    try:
        return orjson.dumps(row)
    except TypeError:
        return _ENCODE(row).encode("utf-8")


class Batch:
    """The outcome of checking a batch: rows to land (already serialised), in-batch repeats, rejections.

    Each row is serialised once, here; its size is the size of the event as
    stored, which is what the per-event limit (MAX_EVENT_BYTES) bounds.
    """

    def __init__(self, max_event_bytes: int) -> None:
        self.max_event_bytes = max_event_bytes
        self.rows: list[bytes] = []
        self.repeats = 0
        self.rejected: list[dict[str, Any]] = []
        self._seen: set[str] = set()

    def add(self, index: int, row: dict[str, Any]) -> None:
        if row["event_id"] in self._seen:
            self.repeats += 1  # a repeat of an event_id earlier in this batch: one event
            return
        try:
            text = _serialise(row)
        except (TypeError, ValueError, UnicodeEncodeError):  # e.g. an unpaired surrogate the pre-check missed
            self.reject(index, ["event: contains text that cannot be stored"])
            return
        if len(text) > self.max_event_bytes:
            self.reject(index, [f"event: larger than {self.max_event_bytes // 1024} KB"])
            return
        self._seen.add(row["event_id"])
        self.rows.append(text)

    def reject(self, index: int, errors: list[str]) -> None:
        self.rejected.append({"index": index, "errors": errors})


def land(conn: psycopg.Connection, principal: Principal, batch: Batch, received_at: datetime, source: str) -> dict:
    """Store the batch's rows in one statement (two for a batch holding events stored before, on
    plain PostgreSQL); the body of the 202/200 answer. The caller commits. Call it as the request's
    last write: the retry of such a batch rolls the transaction back and starts a new, re-scoped one."""
    accepted = 0
    if batch.rows:
        params = {
            "events": (b"[" + b",".join(batch.rows) + b"]").decode("utf-8"),
            "account_id": principal.account_id,
            "environment": principal.environment,
            "received_at": received_at,
            "api_key_id": principal.key_id,
            "source": source,
        }
        if not _events_unique(conn):
            accepted = conn.execute(LAND_KEYED, params).fetchone()[0]
        else:
            try:
                accepted = conn.execute(LAND_NEW, params).fetchone()[0]
            except psycopg.errors.UniqueViolation:  # a retried batch: start over, skipping what is stored
                conn.rollback()
                db.scope_to_account(conn, principal.account_id)
                accepted = conn.execute(LAND_UNIQUE, params).fetchone()[0]
    duplicates = len(batch.rows) - accepted + batch.repeats
    return {"accepted": accepted, "duplicates": duplicates, "rejected": sorted(batch.rejected, key=_index)}


def _index(rejection: dict) -> int:
    return rejection["index"]


# -- timestamps ---------------------------------------------------------------

def parse_timestamp(value: Any) -> datetime:
    """An ISO-8601 string as an aware UTC datetime (no offset → UTC). ValueError otherwise."""
    if not isinstance(value, str):
        raise ValueError("must be an ISO-8601 string")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("is not an ISO-8601 date-time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    try:
        return parsed.astimezone(timezone.utc)
    except OverflowError:
        raise ValueError("is out of range") from None


def settle_future(moment: datetime, received_at: datetime, tolerance: timedelta) -> datetime:
    """Clamp small clock skew to the receive time; refuse times beyond the tolerance."""
    if moment <= received_at:
        return moment
    if moment - received_at > tolerance:
        raise ValueError(f"is more than {int(tolerance.total_seconds())} s in the future")
    return received_at


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()
