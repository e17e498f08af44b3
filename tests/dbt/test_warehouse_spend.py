"""marts.rpt_channel_roas: spend joined with every model's credited conversions by account, day
and channel — ROAS and cost per conversion, spend without credits and credits without spend,
and no other account's spend."""

from __future__ import annotations

from decimal import Decimal

import psycopg
import pytest

from tests.dbt.dataset import day, dbt, fetch, insert_credits, spend_accounts

pytestmark = pytest.mark.slow


def test_roas_joins_spend_with_each_models_credits(database_url):
    with psycopg.connect(database_url, autocommit=True) as conn:
        account, other, a_day, display_day = spend_accounts(conn, "ROAS")
    # linear: paid_search and email get half of each conversion (revenue 100 on a_day, 40 three
    # days earlier); last_touch: all to email
    insert_credits(database_url, account)
    dbt(
        database_url,
        "build",
        "-s",
        "+rpt_channel_roas",
        "+rpt_campaign_roas",
        "+dim_channels",
        "--exclude",
        "resource_type:unit_test",
        "--indirect-selection",
        "cautious",
        target="postgres",
    )

    rows = fetch(
        database_url,
        "select model, day::text, channel, spend, spend_currency, conversions, revenue, roas, "
        "cost_per_conversion from marts.rpt_channel_roas where account_id = %s order by model, day, channel",
        (account,),
    )
    by_key = {(r[0], r[1], r[2]): r[3:] for r in rows}
    three_days_before = day(-3, 9).date().isoformat()
    assert by_key[("linear", a_day, "paid_search")] == (Decimal("50"), "EUR", 0.5, 50.0, 1.0, Decimal("100"))
    assert by_key[("linear", a_day, "email")] == (Decimal("10"), "EUR", 0.5, 50.0, 5.0, 20.0)
    assert by_key[("linear", three_days_before, "paid_search")] == (Decimal("0"), None, 0.5, 20.0, None, None)
    # spend the model credits nothing: ROAS 0, no cost per conversion (none was credited)
    assert by_key[("last_touch", a_day, "paid_search")] == (Decimal("50"), "EUR", 0.0, 0.0, 0.0, None)
    for model in ("linear", "last_touch"):
        assert by_key[(model, display_day, "display")] == (Decimal("10"), "EUR", 0, 0, 0.0, None)
    assert len(rows) == 10  # 2 models × (3 credited day-channels + paid_search and display spend days)
    assert sum(r[3] for r in rows) == Decimal("140")  # (50 + 10 + 10) per model; the neighbour's 1000 is not here

    # a window: divide the sums of its days
    window = fetch(
        database_url,
        "select sum(revenue) / nullif(sum(spend), 0) from marts.rpt_channel_roas "
        "where account_id = %s and model = 'linear' and channel = 'paid_search'",
        (account,),
    )
    assert window == [(pytest.approx(70 / 50),)]

    # campaigns: only campaign-level spend, matched on the sessions' classified campaign
    campaigns = fetch(
        database_url,
        "select model, day::text, channel, utm_source, utm_medium, utm_campaign, spend, "
        "conversions, revenue, roas, cost_per_conversion from marts.rpt_campaign_roas "
        "where account_id = %s and model = 'linear' order by day, channel, utm_campaign",
        (account,),
    )
    assert campaigns == [
        ("linear", three_days_before, "email", "newsletter", "email", "march", Decimal("0"), 0.5, 20.0, None, None),
        ("linear", a_day, "email", "newsletter", "email", "march", Decimal("10"), 0.5, 50.0, 5.0, 20.0),
        # spend for a campaign no session of the account came from: all cost, no credit
        ("linear", a_day, "paid_search", "google", "cpc", "brand", Decimal("30"), 0.0, 0.0, 0.0, None),
    ]
