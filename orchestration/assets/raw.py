"""The raw tables the ingestion API writes: external assets at the root of the graph."""
from __future__ import annotations

import dagster as dg

raw_events = dg.AssetSpec(
    "raw_events", group_name="raw", kinds={"postgres"},
    description="raw.events: every accepted tracking event (hypertable under TimescaleDB). Written only by the API.",
)
raw_conversions = dg.AssetSpec(
    "raw_conversions", group_name="raw", kinds={"postgres"},
    description="raw.conversions: conversions recorded through POST /api/v1/conversions.",
)
raw_accounts = dg.AssetSpec(
    "raw_accounts", group_name="raw", kinds={"postgres"},
    description="raw.accounts and raw.attribution_models: tenants and their custom DSL models.",
)
