"""Jobs and schedules: the hourly incremental run and the nightly data-driven run."""

import dagster as dg

# The whole graph: dbt warehouse → attribution → marts and aggregates.
pipeline_job = dg.define_asset_job("pipeline", selection=dg.AssetSelection.all(),
                                   description="Raw events → dbt → attribution (all models) → marts and aggregates.")


@dg.schedule(job=pipeline_job, cron_schedule="15 * * * *", execution_timezone="UTC",
             description="Hourly: incremental dbt, rule-based models for today's conversions.")
def hourly_incremental(context: dg.ScheduleEvaluationContext):
    day = context.scheduled_execution_time.strftime("%Y-%m-%d")
    return dg.RunRequest(
        run_key=f"hourly-{context.scheduled_execution_time:%Y-%m-%dT%H}",
        partition_key=day,
        run_config={"ops": {"attribution_models": {"config": {"data_driven": False}}}},
    )


@dg.schedule(job=pipeline_job, cron_schedule="30 2 * * *", execution_timezone="UTC",
             description="Nightly: yesterday's conversions under every model, Markov, Shapley and algorithmic included.")
def nightly_data_driven(context: dg.ScheduleEvaluationContext):
    from datetime import timedelta

    day = (context.scheduled_execution_time - timedelta(days=1)).strftime("%Y-%m-%d")
    return dg.RunRequest(run_key=f"nightly-{day}", partition_key=day,
                         run_config={"ops": {"attribution_models": {"config": {"data_driven": True}}}})
