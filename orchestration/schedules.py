"""Jobs and schedules: the hourly incremental run and the nightly data-driven run.

`pipeline` is the whole graph with every check (nightly, backfills, the demo). `hourly` is the
same graph without the dbt tests, which scan whole tables (seconds at a million events, every
hour, for data the nightly run tests anyway); the checks that guard what users see — the credit
invariants, the Great Expectations suites on new raw events and on the journeys, raw-event
freshness — still run, and the blocking ones still stop bad credits from reaching the marts.
"""

import dagster as dg

from orchestration.assets.dbt import attribution_marts, warehouse_models
from orchestration.assets.docs import dbt_docs
from orchestration.checks import journeys_expectations

# The whole graph: dbt warehouse → attribution → marts and aggregates.
pipeline_job = dg.define_asset_job(
    "pipeline",
    selection=dg.AssetSelection.all(),
    description="Raw events → dbt → attribution (all models) → marts and aggregates, every check.",
)

hourly_job = dg.define_asset_job(
    "hourly",
    selection=(
        dg.AssetSelection.all()
        - dg.AssetSelection.checks_for_assets(warehouse_models, attribution_marts)
        - dg.AssetSelection.assets(dbt_docs)  # the nightly run refreshes the docs' catalog
        | dg.AssetSelection.checks(journeys_expectations)
    ),
    description="The whole graph, incrementally, without the dbt tests and the docs' catalog (the nightly run "
    "has them).",
)


@dg.schedule(
    job=hourly_job,
    cron_schedule="15 * * * *",
    execution_timezone="UTC",
    description="Hourly: incremental dbt, rule-based models for today's conversions.",
)
def hourly_incremental(context: dg.ScheduleEvaluationContext):
    day = context.scheduled_execution_time.strftime("%Y-%m-%d")
    return dg.RunRequest(
        run_key=f"hourly-{context.scheduled_execution_time:%Y-%m-%dT%H}",
        partition_key=day,
        run_config={"ops": {"attribution_models": {"config": {"data_driven": False}}}},
    )


@dg.schedule(
    job=pipeline_job,
    cron_schedule="30 2 * * *",
    execution_timezone="UTC",
    description="Nightly: yesterday's conversions under every model, Markov, Shapley and algorithmic "
    "included, and every check.",
)
def nightly_data_driven(context: dg.ScheduleEvaluationContext):
    from datetime import timedelta

    day = (context.scheduled_execution_time - timedelta(days=1)).strftime("%Y-%m-%d")
    return dg.RunRequest(
        run_key=f"nightly-{day}",
        partition_key=day,
        run_config={"ops": {"attribution_models": {"config": {"data_driven": True}}}},
    )
