"""Impressions end to end (docs/impressions.md): through the API and the dbt build, on plain
PostgreSQL and on TimescaleDB, then the attribution run.

- visitor `clicker`: a paid-search visit 2 days before converting and a display impression
  3 hours before it (and one 3 days before: outside the 1-day impression lookback);
- visitor `viewer`: only a YouTube (video, cpm) impression 2 hours before converting: a
  view-through conversion;
- visitor `browser`: a visit and a paid-social impression an hour before it, no conversion.
Impressions make no sessions; fct_journey_impressions holds them as journey touches of kind
`impression`; the attribution run credits the click for `clicker` and the impression for `viewer`.
"""

from __future__ import annotations

import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg
import pytest

from tests.dbt.dataset import dbt, fetch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "ingest_api"))
from ingest_helpers import contract_client_class, make_tenant  # noqa: E402

pytestmark = pytest.mark.slow

NOW = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
WAREHOUSE = (
    "-s",
    "+fct_journey_impressions",
    "+fct_sessions",
    "+fct_conversions",
    "--exclude",
    "resource_type:test",
    "resource_type:unit_test",
)
TESTS = ("-s", "int_impressions", "fct_journey_impressions")
IMPRESSIONS = (
    "select journey_id, channel, utm_campaign, placement, touch_kind, converted from marts.fct_journey_impressions "
    "where account_id = %s order by journey_id, touch_ts"
)


def at(hours: float) -> str:
    return (NOW + timedelta(hours=hours)).isoformat()


def impression(visitor: str, hours: float, source: str, medium: str, campaign: str, placement: str) -> dict:
    return {
        "event_type": "impression",
        "visitor_id": visitor,
        "event_id": f"{visitor}-imp-{hours}",
        "timestamp": at(hours),
        "properties": {"utm_source": source, "utm_medium": medium, "utm_campaign": campaign, "placement": placement},
    }


def page(visitor: str, hours: float, query: str) -> dict:
    return {
        "event_type": "page_view",
        "visitor_id": visitor,
        "event_id": f"{visitor}-pv-{hours}",
        "timestamp": at(hours),
        "properties": {"url": f"https://shop.example/?{query}"},
    }


def load(url: str, pool: int):
    from ingest_api import create_app

    with psycopg.connect(url, autocommit=True) as conn:
        tenant = make_tenant(conn)
    app = create_app({"DATABASE_URL": url, "DB_POOL_SIZE": pool, "TESTING": True})
    app.test_client_class = contract_client_class()
    client = app.test_client()
    try:
        events = [
            page("clicker", -48, "utm_source=google&utm_medium=cpc&utm_campaign=brand"),
            impression("clicker", -72, "google", "display", "spring", "sidebar"),
            impression("clicker", -3, "google", "display", "spring", "top_banner"),
            impression("viewer", -2, "youtube", "cpm", "launch", "preroll"),
            page("browser", -5, "utm_source=news&utm_medium=email"),
            impression("browser", -6, "facebook", "paid_social", "retarget", "feed"),
        ]
        response = client.post("/api/v1/events", json={"events": events}, headers=tenant.bearer())
        assert response.status_code == 202 and response.json["accepted"] == len(events), response.json
        ids = {}
        for visitor in ("clicker", "viewer"):
            body = {
                "visitor_id": visitor,
                "timestamp": at(0),
                "conversion_type": "purchase",
                "revenue": 100,
                "currency": "EUR",
            }
            response = client.post("/api/v1/conversions", json=body, headers=tenant.bearer())
            assert response.status_code == 201, response.json
            ids[visitor] = response.json["conversion_id"]
    finally:
        app.extensions["mbuzz.db"].dispose()
    return tenant, ids


def check(url: str, tenant, ids: dict) -> None:
    account = tenant.account_id
    # impressions are no sessions
    assert fetch(url, "select count(*) from marts.fct_sessions where account_id = %s", (account,)) == [(2,)]
    assert fetch(url, IMPRESSIONS, (account,)) == sorted(
        [
            (ids["clicker"], "display", "spring", "top_banner", "impression", True),
            (ids["viewer"], "paid_video", "launch", "preroll", "impression", True),
            ("path_visitor:browser", "paid_social", "retarget", "feed", "impression", False),
        ]
    )


def test_impressions_through_the_warehouse_on_postgres(database_url):
    from mbuzz.attribution_runs import load_journeys

    tenant, ids = load(database_url, 2)
    dbt(database_url, "build", *WAREHOUSE, target="postgres")
    dbt(database_url, "test", *TESTS, target="postgres")
    check(database_url, tenant, ids)
    with psycopg.connect(database_url) as conn:
        frame = load_journeys(conn, tenant.account_id, NOW - timedelta(days=1), NOW + timedelta(days=1), True)
    from attribution import attribute
    from attribution.journeys import WAREHOUSE_JOURNEYS

    credits = attribute(frame, "last_touch", WAREHOUSE_JOURNEYS)
    by_conversion = {
        row.journey_id: (row.channel, row.touch_kind, row.credit) for row in credits.itertuples() if row.credit > 0
    }
    expected = {
        ids["clicker"]: ("paid_search", "visit", 1.0),  # the impression after the click takes nothing
        ids["viewer"]: ("paid_video", "impression", 1.0),  # a view-through conversion
    }
    assert by_conversion == expected

    # the attribution run writes the kind on every credit; the report counts view-through
    from mbuzz.attribution_runs import run_attribution

    run_attribution(
        lambda: psycopg.connect(database_url), NOW - timedelta(days=1), NOW + timedelta(days=1), data_driven=False
    )
    dbt(database_url, "run", "-s", "fct_attribution_credits", "rpt_channel_attribution", target="postgres")
    stored = fetch(
        database_url,
        "select conversion_id, channel, touch_kind, credit from marts.fct_attribution_credits "
        "where account_id = %s and model = 'last_touch' and credit > 0",
        (tenant.account_id,),
    )
    assert {r[0]: tuple(r[1:]) for r in stored} == expected
    assert fetch(
        database_url,
        "select channel, conversions::float8, view_through_conversions::float8 from marts.rpt_channel_attribution "
        "where account_id = %s and model = 'last_touch' order by channel",
        (tenant.account_id,),
    ) == [("paid_search", 1.0, 0.0), ("paid_video", 1.0, 1.0)]
    # a model that names impressions credits the one after the click too
    shared = attribute(
        frame, 'model "m" credit impressions with 0.2 credit last_touch with 0.8 end', WAREHOUSE_JOURNEYS
    )
    clicker = shared[shared["journey_id"] == ids["clicker"]].set_index("channel")["credit"].to_dict()
    assert clicker == pytest.approx({"paid_search": 0.8, "display": 0.2})


@pytest.mark.timescale
def test_impressions_through_the_warehouse_on_timescale(timescale_url):
    tenant, ids = load(timescale_url, 1)
    dbt(timescale_url, "build", *WAREHOUSE, target="timescaledb", threads=1)
    dbt(timescale_url, "test", *TESTS, target="timescaledb", threads=1)
    check(timescale_url, tenant, ids)
