"""Identity end to end, through the API and the dbt build, on plain PostgreSQL and on TimescaleDB.

Cross-device stitching: a phone session (visitor A, campaign A), a laptop session (visitor B,
campaign B), an identify on both with the same user id, then a conversion: ONE journey with
both sessions' touches. Offline conversions: a CRM deal naming only the hashed e-mail of the
laptop's identify joins the same user's journey; a deal whose hash nobody identified yet is
kept, unmatched, until a later identify carries it: the next (incremental) run gives it the
journey a full refresh gives. marts.rpt_identity_match_daily counts all of it, and the
`identity_match_rate` check warns on a crafted drop.
"""

from __future__ import annotations

import hashlib
import secrets
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from tests.dbt.dataset import dbt, fetch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "ingest_api"))
from ingest_helpers import contract_client_class, make_tenant  # noqa: E402

pytestmark = pytest.mark.slow

TODAY = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
ADA, BOB = "ada@example.com", "Bob@Example.com"
BOB_HASH = hashlib.sha256(b"bob@example.com").hexdigest()
WAREHOUSE = ("-s", "+rpt_identity_match_daily", "--exclude", "resource_type:test", "resource_type:unit_test")
JOURNEYS = (
    "select journey_id, identity_key, touch_index, utm_campaign from marts.fct_conversion_journeys "
    "where account_id = %s and converted order by journey_id, touch_index"
)
MART = (
    "select day::text, conversions, matched_conversions, conversion_match_rate::float, sessions, "
    "stitched_sessions, session_stitch_rate::float from marts.rpt_identity_match_daily "
    "where account_id = %s and environment = 'live' order by day"
)


def at(days: int, hour: int, minute: int = 0) -> str:
    return (TODAY + timedelta(days=days, hours=hour, minutes=minute)).isoformat()


def visit(visitor: str, days: int, campaign: str, user: str | None = None, email: str | None = None) -> list[dict]:
    """A page view from a campaign, then (a minute later, the same session) an identify."""
    events = [
        {
            "event_type": "page_view",
            "visitor_id": visitor,
            "event_id": f"{visitor}-pv",
            "timestamp": at(days, 9),
            "properties": {
                "url": f"https://shop.example/?utm_source=src_{campaign}&utm_medium=email&utm_campaign={campaign}"
            },
        }
    ]
    if user:
        traits = {"email": email} if email else {}
        events.append(
            {
                "event_type": "identify",
                "visitor_id": visitor,
                "user_id": user,
                "event_id": f"{visitor}-id",
                "timestamp": at(days, 9, 1),
                "properties": {"traits": traits},
            }
        )
    return events


def app_client(url: str, pool: int):
    from ingest_api import create_app

    app = create_app(
        {
            "DATABASE_URL": url,
            "DB_POOL_SIZE": pool,
            "TESTING": True,
            "RATE_LIMIT_TIERS": {"standard": "1000/second", "default": "1000/second"},
            "RATELIMIT_KEY_PREFIX": f"identity-{secrets.token_hex(4)}",
        }
    )
    app.test_client_class = contract_client_class()  # every answer checked against the OpenAPI document
    return app, app.test_client()


def post(client, path: str, body: dict, tenant, status: int) -> dict:
    response = client.post(path, json=body, headers=tenant.bearer())
    assert response.status_code == status, response.json
    return response.json


def first_phase(url: str, pool: int):
    """Phone, laptop, a third visitor not yet identified; a web conversion and two CRM deals."""
    with psycopg.connect(url, autocommit=True) as conn:
        tenant = make_tenant(conn)
    app, client = app_client(url, pool)
    try:
        events = [
            *visit("phone-A", -3, "camp_a", "user_1"),
            *visit("laptop-B", -2, "camp_b", "user_1", ADA),
            *visit("tablet-C", -2, "camp_c"),
        ]
        assert post(client, "/api/v1/events", {"events": events}, tenant, 202)["accepted"] == len(events)
        web = post(
            client,
            "/api/v1/conversions",
            {"visitor_id": "laptop-B", "timestamp": at(-1, 10), "conversion_type": "purchase"},
            tenant,
            201,
        )
        # the provisional journey already follows the user across both devices
        assert [t["utm"]["campaign"] for t in web["attribution_credits"]["linear"]] == ["camp_a", "camp_b"]
        batch = post(
            client,
            "/api/v1/conversions/batch",
            {
                "conversions": [
                    {
                        "external_id": "deal-ada",
                        "conversion_type": "closed_won",
                        "timestamp": at(-1, 12),
                        "email_sha256": hashlib.sha256(ADA.encode()).hexdigest(),
                        "revenue": 900,
                        "currency": "EUR",
                    },
                    {"external_id": "deal-bob", "conversion_type": "closed_won", "timestamp": at(-1, 13), "email": BOB},
                ]
            },
            tenant,
            200,
        )
    finally:
        app.extensions["mbuzz.db"].dispose()  # the TimescaleDB server takes one session at a time
    assert batch["match_report"] == {"user_id": 0, "visitor_id": 0, "email_sha256": 1, "unmatched": 1}
    ids = {r["external_id"]: r["conversion_id"] for r in batch["results"]}
    return tenant, web["conversion_id"], ids["deal-ada"], ids["deal-bob"]


def expected_first(web: str, ada: str, bob: str) -> list[tuple]:
    return sorted(
        [
            (web, "user:user_1", 0, "camp_a"),
            (web, "user:user_1", 1, "camp_b"),
            (ada, "user:user_1", 0, "camp_a"),
            (ada, "user:user_1", 1, "camp_b"),
            (bob, f"visitor:email_sha256:{BOB_HASH}", None, None),  # kept, unmatched: a journey without touches
        ],
        key=lambda r: (r[0], -1 if r[2] is None else r[2]),
    )


def day(n: int) -> str:
    return (TODAY + timedelta(days=n)).date().isoformat()


def check_first(url: str, tenant, web: str, ada: str, bob: str) -> None:
    assert fetch(url, JOURNEYS, (tenant.account_id,)) == expected_first(web, ada, bob)
    assert fetch(url, MART, (tenant.account_id,)) == [
        (day(-3), 0, 0, None, 1, 1, 1.0),
        (day(-2), 0, 0, None, 2, 1, 0.5),
        (day(-1), 3, 2, 0.6667, 0, 0, None),
    ]


def test_cross_device_and_offline_conversions_on_postgres(database_url):
    tenant, web, ada, bob = first_phase(database_url, 2)
    dbt(database_url, "build", *WAREHOUSE, target="postgres")
    check_first(database_url, tenant, web, ada, bob)
    dbt(
        database_url,
        "test",
        "-s",
        "rpt_identity_match_daily",
        "stg_raw__email_hashes",
        "int_identities",
        target="postgres",
    )

    # later, the third visitor identifies with Bob's address: the next incremental run gives his
    # CRM deal its journey, and the hash's touchless journey is gone
    app, client = app_client(database_url, 2)
    try:
        late = [
            {
                "event_type": "identify",
                "visitor_id": "tablet-C",
                "user_id": "user_2",
                "event_id": "tablet-C-id",
                "timestamp": at(-2, 9, 2),
                "properties": {"traits": {"email": BOB}},
            }
        ]
        assert post(client, "/api/v1/events", {"events": late}, tenant, 202)["accepted"] == 1
    finally:
        app.extensions["mbuzz.db"].dispose()
    dbt(database_url, "run", *WAREHOUSE[:2], target="postgres")
    incremental = fetch(database_url, JOURNEYS, (tenant.account_id,))
    assert [r for r in incremental if r[0] == bob] == [(bob, "user:user_2", 0, "camp_c")]
    assert len(incremental) == 5
    assert fetch(database_url, MART, (tenant.account_id,))[1:] == [
        (day(-2), 0, 0, None, 2, 2, 1.0),
        (day(-1), 3, 3, 1.0, 0, 0, None),
    ]
    dbt(database_url, "run", *WAREHOUSE[:2], "--full-refresh", target="postgres")
    assert fetch(database_url, JOURNEYS, (tenant.account_id,)) == incremental
    with psycopg.connect(database_url, autocommit=True) as conn:
        for schema in ("raw", "staging", "intermediate", "marts"):
            for (table,) in conn.execute(
                "select table_name from information_schema.tables where table_schema = %s", (schema,)
            ).fetchall():
                if "pytest" in table:
                    continue
                hits = conn.execute(
                    f'select count(*) from "{schema}"."{table}" as t where lower(t::text) like %s',
                    ("%bob@example.com%",),
                ).fetchone()[0]
                assert hits == 0, f"{schema}.{table} holds the plain address"


@pytest.mark.timescale
def test_cross_device_and_offline_conversions_on_timescale(timescale_url):
    tenant, web, ada, bob = first_phase(timescale_url, 1)
    dbt(timescale_url, "build", *WAREHOUSE, target="timescaledb", threads=1)
    check_first(timescale_url, tenant, web, ada, bob)


def test_the_check_warns_on_a_sharp_drop_of_the_match_rate(database_url):
    """Crafted days in the mart the check reads: a steady 80 % then 40 % (warned), a tiny account's
    0 % (too few conversions to judge), a steady account (silent)."""
    from orchestration.checks import identity_match_rate
    from orchestration.resources import Warehouse

    dbt(database_url, "run", "-s", "rpt_identity_match_daily", target="postgres")
    dropped, tiny, steady = (f"acct_idchk{secrets.token_hex(3)}" for _ in range(3))
    rows = []
    for n in range(-15, 0):
        rows.append((dropped, day(n), 50, 40 if n < -1 else 20))
        rows.append((tiny, day(n), 3 if n < -1 else 2, 3 if n < -1 else 0))
        rows.append((steady, day(n), 30, 27 if n % 2 else 24))
    rows.append((dropped, day(0), 50, 0))  # today is not complete: never judged
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.cursor().executemany(
            "insert into marts.rpt_identity_match_daily (account_id, environment, day, conversions, "
            "matched_conversions, sessions, stitched_sessions) values (%s, 'live', %s, %s, %s, 0, 0)",
            rows,
        )
    try:
        result = identity_match_rate(warehouse=Warehouse(url=database_url))
        assert result.severity == dg.AssetCheckSeverity.WARN
        drops = [d for d in result.metadata["drops"].value if d["account_id"] in (dropped, tiny, steady)]
        assert drops == [
            {
                "account_id": dropped,
                "environment": "live",
                "day": day(-1),
                "match_rate": 0.4,
                "median_14d": 0.8,
                "conversions": 50,
            }
        ]
        assert not result.passed
    finally:
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(
                "delete from marts.rpt_identity_match_daily where account_id = any(%s)", ([dropped, tiny, steady],)
            )
