"""What an account sent: recent events, UTM breakdown, events per day and per key.

The dashboard's overview reads `raw.events` only through these functions. Every
query is bound with parameters and filtered by `account_id` (and the dashboard
also runs them under row-level security, as the API role). Days are UTC days of
`occurred_at`, which the `(account_id, occurred_at)` index serves.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign")
TOP_N = 10
MAX_PER_PAGE = 200


@dataclass(frozen=True)
class EventRow:
    event_id: str
    event_type: str
    environment: str
    visitor_id: str
    occurred_at: datetime
    received_at: datetime
    source: str
    api_key_id: str | None
    properties: dict[str, Any]

    @property
    def url(self) -> str | None:
        value = self.properties.get("url") or self.properties.get("page_url")
        return value if isinstance(value, str) else None


@dataclass(frozen=True)
class EventPage:
    rows: list[EventRow]
    page: int
    per_page: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.page > 1


@dataclass(frozen=True)
class DailyUsage:
    days: list[date]
    test: list[int]
    live: list[int]

    @property
    def total(self) -> int:
        return sum(self.test) + sum(self.live)


@dataclass(frozen=True)
class KeyUsage:
    api_key_id: str | None
    environment: str
    events: int
    last_event_at: datetime | None


def _bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """[start 00:00 UTC, the day after end 00:00 UTC)."""
    return (
        datetime.combine(start, time.min, timezone.utc),
        datetime.combine(end + timedelta(days=1), time.min, timezone.utc),
    )


def recent_events(
    conn,
    account_id: str,
    page: int = 1,
    per_page: int = 25,
    event_type: str | None = None,
    environment: str | None = None,
) -> EventPage:
    """Newest first; one extra row is read to know whether there is a next page."""
    page = max(int(page), 1)
    per_page = min(max(int(per_page), 1), MAX_PER_PAGE)
    rows = conn.execute(
        """
        select event_id, event_type, environment, visitor_id, occurred_at, received_at, source, api_key_id, properties
        from raw.events
        where account_id = %(account_id)s
          and (%(event_type)s::text is null or event_type = %(event_type)s)
          and (%(environment)s::text is null or environment = %(environment)s)
        order by occurred_at desc, event_id
        limit %(limit)s offset %(offset)s
        """,
        {
            "account_id": account_id,
            "event_type": event_type or None,
            "environment": environment or None,
            "limit": per_page + 1,
            "offset": (page - 1) * per_page,
        },
    ).fetchall()
    return EventPage([EventRow(*r) for r in rows[:per_page]], page, per_page, len(rows) > per_page)


def event_types(conn, account_id: str, days: int = 90) -> list[str]:
    """Event types seen in the last `days` days (the filter's choices)."""
    rows = conn.execute(
        "select distinct event_type from raw.events where account_id = %s and occurred_at >= now() - make_interval(days => %s) "
        "order by 1",
        (account_id, days),
    ).fetchall()
    return [r[0] for r in rows]


def utm_breakdown(
    conn, account_id: str, start: date, end: date, environment: str | None = None, limit: int = TOP_N
) -> dict[str, list[tuple[str, int, int]]]:
    """{utm field: [(value, events, visitors)]}: the top `limit` values of each field over [start, end]."""
    lower, upper = _bounds(start, end)
    out: dict[str, list[tuple[str, int, int]]] = {}
    for field in UTM_FIELDS:  # the JSON key is a constant of this module, bound as a value anyway
        rows = conn.execute(
            """
            select properties ->> %(field)s as value, count(*)::bigint, count(distinct visitor_id)::bigint
            from raw.events
            where account_id = %(account_id)s and occurred_at >= %(lower)s and occurred_at < %(upper)s
              and (%(environment)s::text is null or environment = %(environment)s)
              and coalesce(properties ->> %(field)s, '') <> ''
            group by 1
            order by 2 desc, 1
            limit %(limit)s
            """,
            {
                "field": field,
                "account_id": account_id,
                "lower": lower,
                "upper": upper,
                "environment": environment or None,
                "limit": limit,
            },
        ).fetchall()
        out[field] = [(v, n, visitors) for v, n, visitors in rows]
    return out


def events_per_day(conn, account_id: str, start: date, end: date) -> DailyUsage:
    """Events per UTC day over [start, end], test and live apart (days without events are 0)."""
    lower, upper = _bounds(start, end)
    rows = conn.execute(
        """
        select (occurred_at at time zone 'UTC')::date as day, environment, count(*)::bigint
        from raw.events
        where account_id = %s and occurred_at >= %s and occurred_at < %s
        group by 1, 2
        """,
        (account_id, lower, upper),
    ).fetchall()
    counts: dict[tuple[date, str], int] = {(day, env): n for day, env, n in rows}
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    return DailyUsage(days, [counts.get((d, "test"), 0) for d in days], [counts.get((d, "live"), 0) for d in days])


def events_per_key(conn, account_id: str, start: date, end: date) -> list[KeyUsage]:
    """Events per API key (None: events without a key, e.g. loaded directly) over [start, end]."""
    lower, upper = _bounds(start, end)
    rows = conn.execute(
        """
        select api_key_id, environment, count(*)::bigint, max(received_at)
        from raw.events
        where account_id = %s and occurred_at >= %s and occurred_at < %s
        group by 1, 2
        order by 3 desc, 1
        """,
        (account_id, lower, upper),
    ).fetchall()
    return [KeyUsage(*r) for r in rows]


def event_totals(conn, account_id: str) -> dict[str, int]:
    """{environment: events ever} (for empty states: has this account sent anything?)."""
    rows = conn.execute(
        "select environment, count(*)::bigint from raw.events where account_id = %s group by 1", (account_id,)
    ).fetchall()
    totals = defaultdict(int, {env: n for env, n in rows})
    return {"test": totals["test"], "live": totals["live"]}
