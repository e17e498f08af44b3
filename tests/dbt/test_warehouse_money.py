"""Money done right (docs/money.md), on plain PostgreSQL and on the TimescaleDB tier: revenue and
spend converted into the account's reporting currency with the rate of the amount's local day; a
missing rate is a null amount with fx_rate_missing and a row of marts.rpt_fx_gaps (never 1.0);
an account in America/Los_Angeles counts a 02:00 UTC conversion on the previous local day."""

from __future__ import annotations

import secrets
from datetime import datetime, timezone
from decimal import Decimal

import psycopg
import pytest

from mbuzz.accounts import create_account
from mbuzz.fx import record_rates
from mbuzz.spend import record_spend
from tests.dbt.dataset import dbt, fetch

pytestmark = pytest.mark.slow

SELECT = (
    "-s",
    "+fct_conversions",
    "+rpt_fx_gaps",
    "+rpt_channel_roas",
    "--exclude",
    "resource_type:unit_test",
    "--indirect-selection",
    "cautious",
)


def load(url: str) -> tuple[str, str]:
    """A USD account in Los Angeles and a neighbour (EUR, UTC) with rates of its own."""
    with psycopg.connect(url, autocommit=True) as conn:
        account = create_account(conn, f"Money {secrets.token_hex(3)}", currency="USD", timezone="America/Los_Angeles")
        neighbour = create_account(conn, "Money neighbour", currency="USD")
        # EUR → USD: 1.10 on Nov 1 (LA day of 2026-11-02T02:00Z), 1.50 on Nov 2 (the UTC day)
        record_rates(
            conn,
            account.id,
            [
                {"date": "2026-11-01", "currency": "EUR", "quote_currency": "USD", "rate": "1.10"},
                {"date": "2026-11-02", "currency": "EUR", "quote_currency": "USD", "rate": "1.50"},
            ],
        )
        # the neighbour's own GBP rate must not fill this account's gap
        record_rates(
            conn, neighbour.id, [{"date": "2026-11-01", "currency": "GBP", "quote_currency": "USD", "rate": 9}]
        )
        rows = [
            ("c_eur", Decimal("100"), "EUR", datetime(2026, 11, 2, 2, 0, tzinfo=timezone.utc)),
            ("c_gbp", Decimal("50"), "GBP", datetime(2026, 11, 1, 20, 0, tzinfo=timezone.utc)),
            ("c_usd", Decimal("20"), "USD", datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)),
            ("c_none", None, None, datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)),
        ]
        for conversion_id, revenue, currency, at in rows:
            conn.execute(
                "insert into raw.conversions (account_id, conversion_id, environment, conversion_type, visitor_id, "
                "revenue, currency, converted_at) values (%s, %s, 'live', 'purchase', %s, %s, %s, %s)",
                (account.id, f"{conversion_id}_{account.id[-6:]}", f"v_{conversion_id}", revenue, currency, at),
            )
        result = record_spend(
            conn,
            account.id,
            "live",
            [
                {"date": "2026-11-01", "channel": "paid_search", "amount": "10", "currency": "EUR"},
                {"date": "2026-11-01", "channel": "display", "amount": "1000", "currency": "JPY"},
            ],
        )
        assert result.accepted == 2
        # the engine's writer: each credit carries its conversion's local day (Los Angeles)
        import pandas as pd

        from mbuzz.attribution_runs import write_credits

        start, end = datetime(2026, 10, 1, tzinfo=timezone.utc), datetime(2026, 12, 1, tzinfo=timezone.utc)
        credits = pd.DataFrame(
            {
                "environment": ["live", "live"],
                "model": ["linear", "linear"],
                "journey_id": [f"c_usd_{account.id[-6:]}", f"c_eur_{account.id[-6:]}"],
                "conversion_type": ["purchase", "purchase"],
                "converted_at": ["2026-11-01T12:00:00Z", "2026-11-02T02:00:00Z"],
                "touch_index": [0, 0],
                "session_id": [None, None],
                "channel": ["paid_search", "paid_search"],
                "credit": [1.0, 1.0],
                "revenue_credit": [20.0, 110.0],
                "utm_source": [None, None],
                "utm_medium": [None, None],
                "utm_campaign": [None, None],
            }
        )
        with conn.transaction():
            write_credits(conn, account.id, "run_money", credits, pd.DataFrame(), start, end, ["linear"])
    return account.id, neighbour.id


def check(url: str, account: str) -> None:
    suffix = account[-6:]
    conversions = {
        r[0].removesuffix(f"_{suffix}"): r[1:]
        for r in fetch(
            url,
            "select conversion_id, revenue, currency, original_revenue, original_currency, fx_rate_missing, "
            "converted_date::text from marts.fct_conversions where account_id = %s",
            (account,),
        )
    }
    # 02:00 UTC on Nov 2 is 18:00 on Nov 1 in Los Angeles: Nov 1's rate, Nov 1's day
    assert conversions["c_eur"] == (Decimal("110.0000"), "USD", Decimal("100.0000"), "EUR", False, "2026-11-01")
    # no GBP rate for this account: a gap (null, flagged), not 50 × 1.0 nor the neighbour's rate
    assert conversions["c_gbp"] == (None, "USD", Decimal("50.0000"), "GBP", True, "2026-11-01")
    assert conversions["c_usd"] == (Decimal("20.0000"), "USD", Decimal("20.0000"), "USD", False, "2026-11-01")
    assert conversions["c_none"][:5] == (Decimal("0.0000"), "USD", Decimal("0.0000"), None, False)

    spend = fetch(
        url,
        "select channel, amount, currency, original_amount, original_currency, fx_rate_missing "
        "from staging.stg_raw__ad_spend where account_id = %s order by channel",
        (account,),
    )
    assert spend == [
        ("display", None, "USD", Decimal("1000.0000"), "JPY", True),
        ("paid_search", Decimal("11.0000"), "USD", Decimal("10.0000"), "EUR", False),
    ]
    gaps = fetch(
        url,
        "select currency, reporting_currency, day::text, conversions, revenue, spend_rows, spend "
        "from marts.rpt_fx_gaps where account_id = %s order by currency",
        (account,),
    )
    assert gaps == [
        ("GBP", "USD", "2026-11-01", 1, Decimal("50.0000"), 0, Decimal("0")),
        ("JPY", "USD", "2026-11-01", 0, Decimal("0"), 1, Decimal("1000.0000")),
    ]
    roas = fetch(
        url,
        "select day::text, channel, spend, spend_currency, conversions, revenue from marts.rpt_channel_roas "
        "where account_id = %s order by day, channel",
        (account,),
    )
    # both conversions are Nov 1 in Los Angeles (one is Nov 2 in UTC): one local day, with the
    # converted spend; the unconverted JPY spend is missing (0), not 1000 "USD"
    assert roas == [
        ("2026-11-01", "display", Decimal("0"), "USD", 0.0, 0.0),
        ("2026-11-01", "paid_search", Decimal("11.0000"), "USD", 2.0, 130.0),
    ]
    utc_days = fetch(
        url,
        "select (day at time zone 'UTC')::date::text, local_day::text, conversions from marts.channel_attribution_daily "
        "where account_id = %s order by day",
        (account,),
    )
    assert utc_days == [("2026-11-01", "2026-11-01", 1.0), ("2026-11-02", "2026-11-01", 1.0)]


def test_money_on_postgres(database_url):
    account, neighbour = load(database_url)
    dbt(database_url, "build", *SELECT, target="postgres")
    check(database_url, account)
    assert fetch(database_url, "select count(*) from marts.rpt_fx_gaps where account_id = %s", (neighbour,)) == [(0,)]

    # what the dashboard's report reads: the gaps for its banner, the spend in the reporting currency
    from datetime import date

    from mbuzz import reports

    with psycopg.connect(database_url, autocommit=True) as conn:
        gaps = reports.fx_gaps(conn, account, date(2026, 10, 1), date(2026, 11, 30))
        spend = reports.spend_by_channel(conn, account, date(2026, 10, 1), date(2026, 11, 30))
        by_channel = reports.attribution_report(conn, account, "linear", date(2026, 11, 1), date(2026, 11, 1))
    assert [(g.currency, g.day.isoformat(), g.conversions, g.spend_rows) for g in gaps] == [
        ("GBP", "2026-11-01", 1, 0),
        ("JPY", "2026-11-01", 0, 1),
    ]
    assert spend == {"paid_search": pytest.approx(11.0), "display": None}
    # both credited conversions are on the local Nov 1 (one is Nov 2 in UTC)
    assert [(r.key["channel"], r.conversions, r.revenue) for r in by_channel] == [("paid_search", 2.0, 130.0)]

    # the Dagster asset check warns, listing the missing pairs
    from orchestration.checks import fx_rates_cover_every_amount
    from orchestration.resources import Warehouse

    result = fx_rates_cover_every_amount(warehouse=Warehouse(url=database_url))
    assert not result.passed and result.severity.value == "WARN"
    mine = [(m["currency"], m["day"]) for m in result.metadata["missing"].value if m["account_id"] == account]
    assert mine == [("GBP", "2026-11-01"), ("JPY", "2026-11-01")]


@pytest.mark.timescale
def test_money_on_timescale(timescale_url):
    account, _ = load(timescale_url)
    dbt(timescale_url, "build", *SELECT, target="timescaledb", threads=1)
    check(timescale_url, account)
