"""The one Definitions of mbuzz (loaded by workspace.yaml; `dagster dev` at the repo root shows it)."""

from __future__ import annotations

import dagster as dg

from orchestration.assets.attribution import attribution_models
from orchestration.assets.dbt import attribution_marts, warehouse_models
from orchestration.assets.docs import dbt_docs
from orchestration.assets.lake import lake_landing
from orchestration.assets.raw import raw_accounts, raw_ad_spend, raw_conversions, raw_events, raw_fx_rates
from orchestration.checks import checks
from orchestration.dbt_in_process import InProcessDbt
from orchestration.executors import mbuzz_executor
from orchestration.resources import Warehouse
from orchestration.schedules import hourly_incremental, hourly_job, nightly_data_driven, pipeline_job

defs = dg.Definitions(
    assets=[
        raw_events,
        raw_conversions,
        raw_accounts,
        raw_ad_spend,
        raw_fx_rates,
        warehouse_models,
        attribution_models,
        attribution_marts,
        lake_landing,
        dbt_docs,
    ],
    asset_checks=checks,
    jobs=[pipeline_job, hourly_job],
    schedules=[hourly_incremental, nightly_data_driven],
    # in_process (default), multiprocess or dask, picked when a run starts from MBUZZ_EXECUTOR
    # (orchestration/executors.py)
    executor=mbuzz_executor,
    resources={
        "dbt": InProcessDbt(),
        "warehouse": Warehouse(),
    },
)


# Reconstructable entry points of the two jobs (`dg.reconstructable(pipeline)`): what an executor
# that runs steps in other processes (multiprocess, dask) loads there (mbuzz/pipeline.py).
def pipeline() -> dg.JobDefinition:
    return defs.resolve_job_def("pipeline")


def hourly() -> dg.JobDefinition:
    return defs.resolve_job_def("hourly")
