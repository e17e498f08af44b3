"""Landing: validated events → raw.events, one statement per batch, duplicates skipped.

`Batch` collects the checked rows of a request (serialised once, size-limited); `land` stores
them through `mbuzz.db.landing.land_events`, the one copy of the landing statements (it
explains the two idempotency walls), choosing the wall once per app
(`mbuzz.db.events_are_unique`). The caller's transaction is scoped to the account, so
row-level security checks every row written.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson
import psycopg
from flask import current_app

from ingest_api.auth import Principal
from mbuzz.db import events_are_unique
from mbuzz.db.landing import land_events


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
    plain PostgreSQL, the first in its own savepoint: what the caller wrote before stays); the
    body of the 202/200 answer. The caller commits."""
    accepted = 0
    if batch.rows:
        accepted = land_events(
            conn,
            (b"[" + b",".join(batch.rows) + b"]").decode("utf-8"),
            unique=_events_unique(conn),
            account_id=principal.account_id,
            environment=principal.environment,
            received_at=received_at,
            api_key_id=principal.key_id,
            source=source,
        )
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


def skew_corrected(moment: datetime, sent_at: datetime | None, received_at: datetime) -> datetime:
    """`moment` on the server's clock, Segment's rule: a client that says when it sent
    (`sent_at`, read off the same clock as `moment`) has its clock's skew removed,
    moment + (received_at − sent_at); without `sent_at`, `moment` as sent. The Segment door
    (sentAt) and POST /api/v1/conversions (sent_at, as mbuzz.js sends it) both use it.
    ValueError when the corrected time leaves the representable range."""
    if sent_at is None:
        return moment
    try:
        return received_at - (sent_at - moment)
    except OverflowError:  # e.g. sent in year 1 and the moment in year 9999
        raise ValueError(
            "the clock-skew correction leaves the representable range; send timestamps close to the real time"
        ) from None


def settle_future(moment: datetime, received_at: datetime, tolerance: timedelta) -> datetime:
    """Clamp small clock skew to the receive time; refuse times beyond the tolerance."""
    if moment <= received_at:
        return moment
    if moment - received_at > tolerance:
        raise ValueError(f"is more than {int(tolerance.total_seconds())} s in the future")
    return received_at


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()
