"""The ingestion path on a real TimescaleDB (npm PGlite build): one multi-row INSERT per batch, no COPY."""

from __future__ import annotations

import base64
import secrets

import psycopg
import pytest

from ingest_helpers import event, make_tenant

pytestmark = pytest.mark.timescale


def test_events_land_and_dedupe_on_timescale_hypertables(timescale_url):
    from ingest_api import create_app

    with psycopg.connect(timescale_url, autocommit=True) as conn:  # one session at a time on this server
        tenant = make_tenant(conn)
        policies = {
            r[0]
            for r in conn.execute(
                "select tablename from pg_policies where schemaname = 'raw' and policyname = 'tenant_isolation'"
            )
        }
        hypertables = {
            r[0]
            for r in conn.execute(
                "select hypertable_name from timescaledb_information.hypertables where hypertable_schema = 'raw'"
            )
        }
    assert {"events", "conversions"} <= hypertables
    # compressed hypertables refuse row security; their key tables, through which every insert goes, have it
    assert {"event_keys", "conversion_keys", "accounts", "api_keys"} <= policies
    assert "events" not in policies

    app = create_app(
        {
            "DATABASE_URL": timescale_url,
            "DB_POOL_SIZE": 1,
            "TESTING": True,
            "RATELIMIT_KEY_PREFIX": f"ts-{secrets.token_hex(4)}",
        }
    )
    client = app.test_client()
    events = [event(), event(timestamp="2026-01-05T10:00:00Z"), event(timestamp="2025-06-01T00:00:00Z")]
    first = client.post("/api/v1/events", json={"events": events}, headers=tenant.bearer())
    again = client.post(
        "/api/v1/events",
        json={"events": [{**e, "timestamp": "2026-02-01T00:00:00Z"} for e in events]},
        headers=tenant.bearer(),
    )
    segment = client.post(
        "/v1/batch",
        json={"batch": [{"type": "page", "anonymousId": "a", "messageId": "ts-m1"}]},
        headers={"Authorization": "Basic " + base64.b64encode(f"{tenant.live_key}:".encode()).decode()},
    )
    app.extensions["mbuzz.db"].dispose()  # release the server's one session
    assert first.status_code == 202 and first.json == {"accepted": 3, "duplicates": 0, "rejected": []}
    assert again.json == {"accepted": 0, "duplicates": 3, "rejected": []}
    assert segment.status_code == 200 and segment.json["accepted"] == 1
    with psycopg.connect(timescale_url, autocommit=True) as conn:
        count = conn.execute("select count(*) from raw.events where account_id = %s", (tenant.account_id,)).fetchone()[
            0
        ]
    assert count == 4
