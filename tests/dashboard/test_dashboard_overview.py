"""Overview: recent events (paged, filtered), UTM top 10, usage per day and key; `mbuzz.usage` scoping."""

from __future__ import annotations

import json
import secrets
from datetime import date, datetime, timedelta, timezone

from mbuzz import usage
from mbuzz.accounts import create_key


def insert_events(
    conn,
    account_id: str,
    n: int,
    *,
    event_type: str = "page_view",
    environment: str = "live",
    key_id: str | None = None,
    days_ago: int = 1,
    utm: dict | None = None,
) -> None:
    at = datetime.now(timezone.utc) - timedelta(days=days_ago)
    properties = {"url": "https://shop.example.com/", **(utm or {})}
    with conn.cursor() as cur:
        cur.executemany(
            "insert into raw.events (account_id, event_id, environment, event_type, visitor_id, occurred_at, "
            "properties, api_key_id) values (%s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (
                    account_id,
                    f"e-{secrets.token_hex(6)}",
                    environment,
                    event_type,
                    f"vis_{i % 7}",
                    at - timedelta(minutes=i),
                    json.dumps(properties),
                    key_id,
                )
                for i in range(n)
            ],
        )


def test_empty_account_shows_next_steps(signed_in):
    page = signed_in.get("/dashboard/")
    assert page.status_code == 200
    assert b"No events yet" in page.data and b"No events in this range" in page.data
    assert b"No events with UTM parameters" in page.data


def test_events_are_listed_paged_and_filtered(signed_in, conn, admin, other_admin):
    key = create_key(conn, admin.account_id, "test", "site").key
    insert_events(
        conn,
        admin.account_id,
        30,
        key_id=key.id,
        environment="test",
        utm={"utm_source": "google", "utm_medium": "cpc", "utm_campaign": "brand"},
    )
    insert_events(conn, admin.account_id, 2, event_type="signup", days_ago=2)
    insert_events(conn, other_admin.account_id, 5, event_type="their_event")

    page = signed_in.get("/dashboard/")
    assert page.data.count(b"<td>page_view</td>") == 25
    assert b"their_event" not in page.data
    assert b'rel="next"' in page.data
    second = signed_in.get("/dashboard/?page=2")
    assert second.data.count(b"<td>page_view</td>") == 5 and second.data.count(b"<td>signup</td>") == 2
    assert b'rel="prev"' in second.data and b'rel="next"' not in second.data

    filtered = signed_in.get("/dashboard/?type=signup")
    assert filtered.data.count(b"<td>signup</td>") == 2 and b"<td>page_view</td>" not in filtered.data
    none = signed_in.get("/dashboard/?type=nothing")
    assert b"No events match this filter" in none.data

    assert b"google" in page.data and b"brand" in page.data  # UTM breakdown
    assert b"32 events in the range: 2 live, 30 test" in page.data  # usage
    assert b"<svg" in page.data and b"sk_test_" in page.data  # chart, per-key usage (masked)


def test_bad_dates_fall_back_with_a_message(signed_in):
    page = signed_in.get("/dashboard/?from=yesterday&to=2026-13-01")
    assert page.status_code == 200 and b"is not a date" in page.data
    swapped = signed_in.get("/dashboard/?from=2026-02-01&to=2026-01-01")
    assert b"were swapped" in swapped.data
    assert signed_in.get("/dashboard/?page=abc").status_code == 200


def test_usage_queries_are_scoped_by_account(conn, admin, other_admin):
    insert_events(conn, admin.account_id, 3, utm={"utm_source": "mine"})
    insert_events(conn, other_admin.account_id, 4, environment="test", utm={"utm_source": "theirs"})
    today = date.today()
    start = today - timedelta(days=7)
    assert [r.event_type for r in usage.recent_events(conn, admin.account_id).rows] == ["page_view"] * 3
    assert usage.utm_breakdown(conn, admin.account_id, start, today)["utm_source"] == [("mine", 3, 3)]
    daily = usage.events_per_day(conn, admin.account_id, start, today)
    assert sum(daily.live) == 3 and sum(daily.test) == 0 and len(daily.days) == 8
    assert [(k.environment, k.events) for k in usage.events_per_key(conn, admin.account_id, start, today)] == [
        ("live", 3)
    ]
    assert usage.event_totals(conn, other_admin.account_id) == {"test": 4, "live": 0}


def test_utm_breakdown_is_top_ten(conn, admin):
    for i in range(12):
        insert_events(conn, admin.account_id, i + 1, utm={"utm_source": f"src{i:02d}"})
    top = usage.utm_breakdown(conn, admin.account_id, date.today() - timedelta(days=3), date.today())["utm_source"]
    assert len(top) == 10 and top[0] == ("src11", 12, 7) and top[-1][0] == "src02"
