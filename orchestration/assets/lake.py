"""The lake landing as an asset: new raw rows copied to Parquet under MBUZZ_LAKE (mbuzz/lake.py).

Not configured (no MBUZZ_LAKE), it copies nothing and says so in its metadata; the rest of the
graph never waits on it: PostgreSQL stays the front door, the lake is for engines beside it.
"""

import dagster as dg

from orchestration.resources import Warehouse


@dg.asset(
    key="lake_landing",
    group_name="lake",
    kinds={"parquet"},
    deps=["raw_events", "raw_conversions", "raw_accounts", "raw_ad_spend"],
    description="Raw events, conversions, spend and accounts received since the last run, copied exactly once to "
    "Parquet under MBUZZ_LAKE, partitioned by account and day (docs/operations.md, 'The lake').",
)
def lake_landing(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    from mbuzz import lake
    from mbuzz.settings import get_settings

    target = get_settings().lake
    if not target:
        return dg.MaterializeResult(metadata={"skipped": "MBUZZ_LAKE is not set: no lake configured"})
    with warehouse.connect() as conn:
        result = lake.land(conn, target, on_progress=context.log.info)
    return dg.MaterializeResult(
        metadata={
            "lake": target,
            **{f"{table}_rows": rows for table, rows in result.copied.items()},
            "accounts": result.accounts,
            "redone": ", ".join(result.redone) or "none",
        }
    )
