"""Conversions: record one idempotently, and its credits (provisional now, the pipeline's later).

    record_conversion(conn, account_id, environment, api_key_id, request) -> (Conversion, created)
    get_conversion(conn, account_id, conversion_id) -> Conversion | None
    load_conversion_journey(conn, account_id, conversion) -> touches frame (engine input format)
    provisional_credits(conn, account_id, conversion) -> {preset: [touch credit, ...]}
    pipeline_credits(conn, account_id, conversion_id) -> {model: [touch credit, ...]} (may be empty)

Idempotency: `raw.conversion_keys` is the wall. The key (`event:<event_id>`, else
`visit:<visitor_id>|<conversion_type>|<UTC ISO timestamp as sent>`) is inserted with
`on conflict do nothing`, and the conversion row only when the key was new, in one statement
of the caller's transaction; a repeat finds the key's conversion instead.

Provisional credits are the warehouse's journey (mbuzz/sessions.py, the same sessionisation,
channel rules and window as dbt) run through the attribution engine for every preset, with the
pipeline's journey options, so they equal what the pipeline writes for these models when it
runs on the same data. No Flask here: the API and the dashboard both call this.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import pandas as pd
import psycopg
from psycopg.types.json import Jsonb

from attribution import attribute, list_presets
from attribution.journeys import WAREHOUSE_JOURNEYS
from mbuzz import sessions
from mbuzz.ids import new_id

# the pipeline's options (mbuzz/attribution_runs.py): dbt already cut the journeys
ENGINE_OPTIONS = WAREHOUSE_JOURNEYS
MAX_PROPERTIES_BYTES = 32 * 1024
CONVERSION_COLUMNS = (
    "conversion_id, environment, conversion_type, visitor_id, user_id, event_id, revenue, "
    "currency, converted_at, received_at, properties"
)
EVENT_COLUMNS = "event_id, environment, event_type, visitor_id, user_id, session_id, occurred_at, properties, context"


class ConversionInputError(ValueError):
    """The request cannot be recorded as it is (answered 422)."""


@dataclass
class ConversionRequest:
    conversion_type: str
    event_id: str | None = None
    visitor_id: str | None = None
    user_id: str | None = None
    timestamp: datetime | None = None  # aware, UTC; on the server's clock (skew-corrected)
    # the timestamp as the client sent it, when it was skew-corrected: the idempotency key's time
    # (a retry carries the same timestamp but a later sent_at, so its corrected time differs)
    sent_timestamp: datetime | None = None
    revenue: float | None = None
    currency: str | None = None
    properties: dict = field(default_factory=dict)


@dataclass
class Conversion:
    conversion_id: str
    environment: str
    conversion_type: str
    visitor_id: str
    user_id: str | None
    event_id: str | None
    revenue: Decimal | None
    currency: str | None
    converted_at: datetime
    received_at: datetime
    properties: dict

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.conversion_id,
            "environment": self.environment,
            "conversion_type": self.conversion_type,
            "visitor_id": self.visitor_id,
            "user_id": self.user_id,
            "event_id": self.event_id,
            "revenue": float(self.revenue) if self.revenue is not None else None,
            "currency": self.currency,
            "converted_at": self.converted_at.astimezone(timezone.utc).isoformat(),
            "received_at": self.received_at.astimezone(timezone.utc).isoformat(),
            "properties": self.properties,
        }

    def as_row(self) -> dict[str, Any]:
        return {
            "conversion_id": self.conversion_id,
            "environment": self.environment,
            "visitor_id": self.visitor_id,
            "user_id": self.user_id,
            "converted_at": self.converted_at,
            "conversion_type": self.conversion_type,
        }


# -- recording --------------------------------------------------------------------------------

INSERT = f"""
with new_key as (
    insert into raw.conversion_keys (account_id, dedupe_key, conversion_id, converted_at)
    values (%(account_id)s, %(dedupe_key)s, %(conversion_id)s, %(converted_at)s)
    on conflict do nothing
    returning conversion_id
)
insert into raw.conversions (account_id, conversion_id, environment, conversion_type, visitor_id, user_id,
                             event_id, revenue, currency, converted_at, properties, api_key_id)
select %(account_id)s, new_key.conversion_id, %(environment)s, %(conversion_type)s, %(visitor_id)s, %(user_id)s,
       %(event_id)s, %(revenue)s, %(currency)s, %(converted_at)s, %(properties)s, %(api_key_id)s
from new_key
returning {CONVERSION_COLUMNS}
"""


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip(" ")
    return value or None


def dedupe_key(request: ConversionRequest, visitor_id: str, converted_at: datetime) -> str:
    if request.event_id is not None:
        return f"event:{request.event_id}"
    moment = (request.sent_timestamp or converted_at).astimezone(timezone.utc).isoformat()
    return f"visit:{visitor_id}|{request.conversion_type}|{moment}"


def _resolve(
    conn: psycopg.Connection, account_id: str, environment: str, request: ConversionRequest
) -> tuple[str, str | None, datetime]:
    """(visitor_id, user_id, converted_at) of the request, from its event when it names one."""
    if request.event_id is None:
        if request.visitor_id is None or request.timestamp is None:
            missing = " and ".join(
                n for n, v in (("visitor_id", request.visitor_id), ("timestamp", request.timestamp)) if v is None
            )
            raise ConversionInputError(
                f"{missing}: required when there is no event_id "
                "(identify the conversion by event_id, or by visitor_id and timestamp)"
            )
        return request.visitor_id, _clean(request.user_id), request.timestamp
    if request.timestamp is not None:
        raise ConversionInputError("timestamp: leave it out with event_id; the conversion takes the event's time")
    row = conn.execute(
        "select visitor_id, user_id, occurred_at, environment from raw.events "
        "where account_id = %s and event_id = %s order by received_at desc limit 1",
        (account_id, request.event_id),
    ).fetchone()
    if row is None:
        raise ConversionInputError(
            f"event_id: this account has no event {request.event_id!r}; send the event "
            "to /api/v1/events first, or record the conversion by visitor_id and timestamp"
        )
    visitor_id, user_id, occurred_at, event_environment = row
    if event_environment != environment:
        raise ConversionInputError(
            f"event_id: event {request.event_id!r} was sent with a {event_environment} key; "
            f"record its conversion with a {event_environment} key too"
        )
    if request.visitor_id is not None and request.visitor_id != visitor_id:
        raise ConversionInputError(
            f"visitor_id: event {request.event_id!r} belongs to another visitor; "
            "leave visitor_id out or send the event's"
        )
    return visitor_id, _clean(request.user_id) or _clean(user_id), occurred_at


def record_conversion(
    conn: psycopg.Connection, account_id: str, environment: str, api_key_id: str | None, request: ConversionRequest
) -> tuple[Conversion, bool]:
    """Store the conversion unless it is a repeat; (the conversion, whether it is new).

    Revenue without a currency takes the account's default currency, where one is set."""
    if request.revenue is not None and request.currency is None:
        row = conn.execute("select settings ->> 'currency' from raw.accounts where id = %s", (account_id,)).fetchone()
        if not (row and row[0]):
            raise ConversionInputError(
                "currency: required with revenue (ISO 4217, e.g. EUR), or set the account's "
                f"default currency: mbuzz accounts update {account_id} --currency EUR"
            )
        request = dataclasses.replace(request, currency=row[0])
    if len(json.dumps(request.properties, ensure_ascii=False).encode("utf-8", "replace")) > MAX_PROPERTIES_BYTES:
        raise ConversionInputError(f"properties: larger than {MAX_PROPERTIES_BYTES // 1024} KB")
    visitor_id, user_id, converted_at = _resolve(conn, account_id, environment, request)
    key = dedupe_key(request, visitor_id, converted_at)
    row = conn.execute(
        INSERT,
        {
            "account_id": account_id,
            "dedupe_key": key,
            "conversion_id": new_id("conv"),
            "environment": environment,
            "conversion_type": request.conversion_type,
            "visitor_id": visitor_id,
            "user_id": user_id,
            "event_id": request.event_id,
            "revenue": Decimal(str(request.revenue)) if request.revenue is not None else None,
            "currency": request.currency.upper() if request.currency else None,
            "converted_at": converted_at,
            "properties": Jsonb(request.properties or {}),
            "api_key_id": api_key_id,
        },
    ).fetchone()
    if row is not None:
        return Conversion(*row), True
    existing = conn.execute(
        "select conversion_id from raw.conversion_keys where account_id = %s and dedupe_key = %s", (account_id, key)
    ).fetchone()
    conversion = get_conversion(conn, account_id, existing[0]) if existing else None
    if conversion is None:  # the key's conversion is gone (or of an environment the caller cannot see)
        raise ConversionInputError("this conversion was already recorded but cannot be read back")
    return conversion, False


def get_conversion(conn: psycopg.Connection, account_id: str, conversion_id: str) -> Conversion | None:
    row = conn.execute(
        f"select {CONVERSION_COLUMNS} from raw.conversions where account_id = %s and conversion_id = %s "
        "order by received_at desc limit 1",
        (account_id, conversion_id),
    ).fetchone()
    return Conversion(*row) if row else None


# -- journeys and credits ------------------------------------------------------------------------


def _rows(cursor) -> list[dict]:
    names = [c.name for c in cursor.description]
    return [dict(zip(names, r)) for r in cursor.fetchall()]


def _load(conn, account_id: str, environment: str, visitors: set[str]) -> tuple[list[dict], list[dict]]:
    ids = sorted(visitors)
    events = _rows(
        conn.execute(
            f"select {EVENT_COLUMNS} from raw.events "
            "where account_id = %s and environment = %s and visitor_id = any(%s)",
            (account_id, environment, ids),
        )
    )
    conversions = _rows(
        conn.execute(
            f"select {CONVERSION_COLUMNS} from raw.conversions "
            "where account_id = %s and environment = %s and visitor_id = any(%s)",
            (account_id, environment, ids),
        )
    )
    return events, conversions


def _user_visitors(conn, account_id: str, environment: str, user_id: str) -> set[str]:
    """Visitors that may belong to the user: an event or a conversion carried its id."""
    rows = conn.execute(
        """
        select visitor_id from raw.events
        where account_id = %(a)s and environment = %(e)s and user_id is not null and btrim(user_id, ' ') = %(u)s
        union
        select visitor_id from raw.conversions
        where account_id = %(a)s and environment = %(e)s and user_id is not null and btrim(user_id, ' ') = %(u)s
        """,
        {"a": account_id, "e": environment, "u": user_id},
    ).fetchall()
    return {r[0] for r in rows}


def text_order(conn, strings: set[str]) -> sessions.TextOrder:
    """The database's collation order of these strings (PostgreSQL orders text by it; Python doesn't)."""
    ranked = conn.execute("select s from unnest(%s::text[]) as s order by s", (sorted(strings),)).fetchall()
    rank = {s: i for i, (s,) in enumerate(ranked)}
    return lambda s: (rank[s], "") if s in rank else (len(rank), s)


def _account_domains(conn, account_id: str) -> tuple[str, ...]:
    row = conn.execute("select settings from raw.accounts where id = %s", (account_id,)).fetchone()
    return sessions.own_domains(row[0] if row else None, sessions.warehouse_settings().own_domains)


def load_conversion_journey(conn: psycopg.Connection, account_id: str, conversion: Conversion) -> pd.DataFrame:
    """The conversion's journey from the raw events so far, exactly as the warehouse will cut it.

    Each visitor's events are staged and sessionised once: the converting visitor's first, to find
    its user; then those of the user's other visitors (a visitor's sessions do not depend on
    another's events); then every session is classified once, in `sessions.session_journey`."""
    env = conversion.environment
    settings = sessions.warehouse_settings()

    def cut(events: list[dict]) -> list[sessions.Session]:
        staged = [sessions.stage_event(e) for e in events]
        order = text_order(
            conn, {e["event_id"] for e in staged} | {e["client_session_id"] for e in staged if e["client_session_id"]}
        )
        return sessions.sessionise(staged, account_id, settings.session_timeout_minutes, order)

    events, conversions = _load(conn, account_id, env, {conversion.visitor_id})
    cut_sessions = cut(events)
    others = [c for c in conversions if c["conversion_id"] != conversion.conversion_id]
    ids = sessions.identities(cut_sessions, [*others, conversion.as_row()])
    user = _clean(conversion.user_id) or ids.get((env, conversion.visitor_id))
    if user is not None:
        extra = _user_visitors(conn, account_id, env, user) - {conversion.visitor_id}
        if extra:
            more_events, more_conversions = _load(conn, account_id, env, extra)
            events += more_events
            conversions += more_conversions
            cut_sessions += cut(more_events)
    order = text_order(conn, {e["event_id"] for e in events} | {s.session_id for s in cut_sessions})
    return sessions.session_journey(
        cut_sessions,
        conversion.converted_at,
        visitor_id=conversion.visitor_id,
        conversion_id=conversion.conversion_id,
        environment=env,
        user_id=conversion.user_id,
        conversion_type=conversion.conversion_type,
        revenue=float(conversion.revenue) if conversion.revenue is not None else 0.0,
        conversions=conversions,
        own_domains=_account_domains(conn, account_id),
        settings=settings,
        text_order=order,
    )


def _nullable(value):
    return None if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NA else value


def touch_credits(credits: pd.DataFrame) -> list[dict]:
    """Engine output rows of one model and conversion → the API's touch credits, in journey order."""
    out = []
    for row in credits.sort_values("touch_index").itertuples(index=False):
        out.append(
            {
                "channel": row.channel,
                "credit": float(row.credit),
                "revenue_credit": float(row.revenue_credit),
                "session_id": _nullable(row.session_id),
                "touch_index": int(row.touch_index),
                "utm": {
                    "source": _nullable(row.utm_source),
                    "medium": _nullable(row.utm_medium),
                    "campaign": _nullable(row.utm_campaign),
                },
            }
        )
    return out


def credits_for(touches: pd.DataFrame, models: list[str] | None = None) -> dict[str, list[dict]]:
    """Credits of the journey under each model (default: every preset), by the pipeline's engine and options."""
    frame = touches.drop(columns=["touch_index"], errors="ignore")
    return {name: touch_credits(attribute(frame, name, ENGINE_OPTIONS)) for name in (models or list_presets())}


def provisional_credits(conn: psycopg.Connection, account_id: str, conversion: Conversion) -> dict[str, list[dict]]:
    return credits_for(load_conversion_journey(conn, account_id, conversion))


PIPELINE_CREDITS = """
select model, touch_index, session_id, channel, credit, revenue_credit, utm_source, utm_medium, utm_campaign
from attribution.attribution_credits
where account_id = %s and conversion_id = %s
order by model, touch_index
"""


def pipeline_credits(conn: psycopg.Connection, account_id: str, conversion_id: str) -> dict[str, list[dict]]:
    """What the pipeline wrote for the conversion, per model ({} before it ran for it).

    Reads attribution.attribution_credits, which the API's tenant role cannot see: run it
    outside that role (the query is scoped by account here)."""
    out: dict[str, list[dict]] = {}
    for model, index, session_id, channel, credit, revenue_credit, source, medium, campaign in conn.execute(
        PIPELINE_CREDITS, (account_id, conversion_id)
    ):
        out.setdefault(model, []).append(
            {
                "channel": channel,
                "credit": float(credit),
                "revenue_credit": float(revenue_credit),
                "session_id": session_id,
                "touch_index": index,
                "utm": {"source": source, "medium": medium, "campaign": campaign},
            }
        )
    return out
