"""The attribution asset: journeys (dbt) → every model → attribution.attribution_credits.

A thin call of the attribution-run service of the warehouse MBUZZ_WAREHOUSE names
(`attribution_service()`): `mbuzz.attribution_runs.run_attribution` on PostgreSQL,
`mbuzz.spark_attribution.run` on Spark, the same call with the same result.

Partitioned by conversion day; a backfill of many days runs as one run over the
range (one pass of the engine, vectorised over all journeys at once).
"""

from collections.abc import Callable
from typing import TYPE_CHECKING

import dagster as dg
from dagster_dbt import get_asset_key_for_model

from mbuzz.settings import get_settings
from orchestration.assets.dbt import warehouse_models
from orchestration.partitions import daily, window
from orchestration.resources import Warehouse

if TYPE_CHECKING:
    from mbuzz.attribution_runs import RunResult


def attribution_service() -> Callable[..., "RunResult"]:
    """The attribution run of the configured warehouse, called as
    `run(connect, start, end, *, data_driven, partition_key, log) -> mbuzz.attribution_runs.RunResult`.

    On Spark that is `mbuzz.spark_attribution.run`: the same arguments as `run_attribution`
    (`connect` opens a PostgreSQL connection: the run history and the custom models stay there)
    and the same RunResult, with the journeys read from, and the credits written to, the Spark
    warehouse (docs/operations.md, "Spark (preview)")."""
    if get_settings().warehouse == "postgres":
        from mbuzz.attribution_runs import run_attribution

        return run_attribution
    from mbuzz.spark_attribution import run

    return run


class AttributionConfig(dg.Config):
    data_driven: bool = True  # Markov, Shapley and algorithmic too (the nightly run); False: rule-based only


JOURNEYS = get_asset_key_for_model([warehouse_models], "fct_conversion_journeys")
# account-level (B2B) journeys, read by `journey_by account` models (docs/b2b.md)
GROUP_JOURNEYS = get_asset_key_for_model([warehouse_models], "fct_group_conversion_journeys")
# the journeys' impression touches (docs/impressions.md), read beside them
IMPRESSIONS = get_asset_key_for_model([warehouse_models], "fct_journey_impressions")


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            "attribution_credits",
            deps=[JOURNEYS, IMPRESSIONS, GROUP_JOURNEYS],
            group_name="attribution",
            kinds={"python", get_settings().warehouse},
            description="Per-touch credits of every conversion under every preset, active custom DSL "
            "model (on company journeys for `journey_by account`) and data-driven model "
            "(attribution.attribution_credits).",
        ),
        dg.AssetSpec(
            "channel_summaries",
            deps=[JOURNEYS, IMPRESSIONS],
            group_name="attribution",
            kinds={"python", get_settings().warehouse},
            description="Markov removal effects, textbook totals and bootstrap intervals per run "
            "(attribution.channel_summaries).",
        ),
    ],
    partitions_def=daily,
    backfill_policy=dg.BackfillPolicy.single_run(),
    name="attribution_models",
)
def attribution_models(context: dg.AssetExecutionContext, config: AttributionConfig, warehouse: Warehouse):
    # imported when the step runs: loading the definitions (the daemon's schedule ticks, `dagster`
    # commands, the code server) needs neither pandas nor the engine
    run_attribution = attribution_service()
    start, end = window(context)
    result = run_attribution(
        warehouse.connect,
        start,
        end,
        data_driven=config.data_driven,
        partition_key=context.partition_key if context.has_partition_key else None,
        log=context.log.debug,
    )
    for model, reason in result.skipped.items():
        context.log.warning(f"{model} skipped: {reason}")
    yield dg.MaterializeResult(
        asset_key="channel_summaries",
        metadata={
            "run_id": result.run_id,
            "config_hash": result.config_hash,
            "markov": "skipped: " + result.skipped["markov"] if "markov" in result.skipped else "written",
        },
    )
    yield dg.MaterializeResult(
        asset_key="attribution_credits",
        metadata={
            "run_id": result.run_id,
            "config_hash": result.config_hash,
            "window": f"{start:%Y-%m-%d} .. {end:%Y-%m-%d}",
            "conversions": result.conversions,
            "credits_written": result.credits_written,
            "models": ", ".join(result.models),
            "skipped_models": ", ".join(f"{m}: {r}" for m, r in result.skipped.items()) or "none",
        },
    )
