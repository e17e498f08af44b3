"""The raw tables the ingestion API writes, at the root of the graph.

`raw_events` is an asset whose "materialisation" writes nothing: the API has
already landed the rows. It records what landed (rows, newest event, newest
arrival) so the UI shows it, and it lets the raw-event checks (Great
Expectations suite, freshness) run as part of every pipeline run.
"""

import dagster as dg

from orchestration.resources import Warehouse


@dg.asset(
    key="raw_events",
    group_name="raw",
    kinds={"postgres"},
    description="raw.events: every accepted tracking event (hypertable under TimescaleDB). Written only by the API; "
    "materialising it records what has landed.",
)
def raw_events(warehouse: Warehouse) -> dg.MaterializeResult:
    with warehouse.connect() as conn:
        rows, accounts, newest_event, newest_arrival = conn.execute(
            "select count(*), count(distinct account_id), max(occurred_at), max(received_at) from raw.events"
        ).fetchone()
    return dg.MaterializeResult(
        metadata={
            "rows": rows,
            "accounts": accounts,
            "newest_event": str(newest_event),
            "newest_arrival": str(newest_arrival),
        }
    )


raw_conversions = dg.AssetSpec(
    "raw_conversions",
    group_name="raw",
    kinds={"postgres"},
    description="raw.conversions: conversions recorded through POST /api/v1/conversions.",
)
raw_accounts = dg.AssetSpec(
    "raw_accounts",
    group_name="raw",
    kinds={"postgres"},
    description="raw.accounts and raw.attribution_models: tenants and their custom DSL models.",
)
raw_ad_spend = dg.AssetSpec(
    "raw_ad_spend",
    group_name="raw",
    kinds={"postgres"},
    description="raw.ad_spend: cost per channel (or campaign) and day, uploaded through POST /api/v1/spend or "
    "`mbuzz spend import`; joined with the credits in marts.rpt_channel_roas.",
)
raw_fx_rates = dg.AssetSpec(
    "raw_fx_rates",
    group_name="raw",
    kinds={"postgres"},
    description="raw.fx_rates: each account's daily exchange rates (POST /api/v1/fx_rates, `mbuzz fx import`); "
    "staging converts revenue and spend into the reporting currency with them.",
)
