"""Run the Dagster pipeline in-process (what `mbuzz pipeline run` and the demo call).

Runs are recorded in the Dagster instance under MBUZZ_HOME/dagster, the same one
`mbuzz ui` opens, so a run started here is visible in the Dagster UI.
"""

from __future__ import annotations

import os
import threading
import uuid
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Callable

from mbuzz.settings import get_settings


def dagster_home() -> Path:
    home = get_settings().dagster_home
    home.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(home)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text("telemetry:\n  enabled: false\n")
    return home


@dataclass
class PipelineResult:
    success: bool
    run_id: str
    materialized: list[str] = field(default_factory=list)
    checks: list[tuple[str, str, bool, str]] = field(default_factory=list)  # asset, check, passed, severity
    failures: list[str] = field(default_factory=list)
    step_seconds: dict[str, float] = field(default_factory=dict)  # wall time of each step, in run order


def first_conversion_day() -> date | None:
    from mbuzz.db import connect

    with connect() as conn:
        row = conn.execute("select min(converted_at)::date from raw.conversions").fetchone()
    return row[0]


def run_pipeline(
    partition: str | None = None,
    all_days: bool = False,
    data_driven: bool = True,
    on_event: Callable[[str], None] = lambda _: None,
    hourly: bool = False,
) -> PipelineResult:
    """Materialise the whole graph for one day (default: today, UTC) or for every day with conversions.

    `hourly`: what the hourly schedule runs (the `hourly` job: rule-based models, no dbt tests)."""
    import dagster as dg

    from mbuzz.warehouse import parse_project

    dagster_home()
    on_event("parsing the dbt project")
    parse_project()  # the manifest the definitions load follows the models on disk
    from orchestration.definitions import defs
    from orchestration.partitions import daily

    job = defs.resolve_job_def("hourly" if hourly else "pipeline")
    data_driven = data_driven and not hourly
    today = daily.get_last_partition_key()
    tags: dict[str, str] = {}
    partition_key = None
    if all_days:
        first = first_conversion_day()
        start = max(first.isoformat(), daily.get_first_partition_key()) if first else today
        tags = {"dagster/asset_partition_range_start": start, "dagster/asset_partition_range_end": today}
    else:
        partition_key = partition or today

    instance = dg.DagsterInstance.get()
    run_id = str(uuid.uuid4())
    run_config = {
        "ops": {"attribution_models": {"config": {"data_driven": data_driven}}},
        "loggers": {"console": {"config": {"log_level": "ERROR"}}},
    }
    stop = threading.Event()
    in_process = get_settings().executor == "in_process"
    if not in_process:  # execute_job makes its own run id: the watcher finds the run by this tag
        tags = {**tags, INVOCATION_TAG: run_id}
    watcher = threading.Thread(target=_follow, args=(instance, run_id, stop, on_event, not in_process), daemon=True)
    watcher.start()
    try:
        if in_process:
            result = job.execute_in_process(
                run_config=run_config,
                instance=instance,
                partition_key=partition_key,
                tags=tags,
                run_id=run_id,
                raise_on_error=False,
            )
        else:
            result = _execute_out_of_process(job.name, instance, run_config, tags, partition_key)
    finally:
        stop.set()
        watcher.join(5)
    out = PipelineResult(success=result.success, run_id=result.run_id)
    for event in result.all_events:
        if event.event_type_value == "ASSET_MATERIALIZATION":
            out.materialized.append(event.asset_key.to_user_string())
        elif event.event_type_value == "ASSET_CHECK_EVALUATION":
            data = event.event_specific_data
            out.checks.append((data.asset_key.to_user_string(), data.check_name, data.passed, data.severity.value))
        elif event.event_type_value == "STEP_FAILURE":
            error = event.event_specific_data.error
            out.failures.append(f"{event.step_key}: {error.message.strip() if error else 'failed'}")
    out.step_seconds = _step_seconds(instance, result.run_id)
    return out


# the tag a run started by run_pipeline with an out-of-process executor carries (its own id for it)
INVOCATION_TAG = "mbuzz/invocation"


def _execute_out_of_process(job_name: str, instance, run_config: dict, tags: dict, partition_key: str | None):
    """The job through `dagster.execute_job`, with the executor of the definitions (MBUZZ_EXECUTOR:
    multiprocess or dask), whose step processes load the job from its reconstructable entry point."""
    import dagster as dg

    from orchestration import definitions

    if partition_key is not None:
        tags = {**tags, "dagster/partition": partition_key}
    entry = dg.reconstructable(getattr(definitions, job_name))
    return dg.execute_job(entry, instance=instance, run_config=run_config, tags=tags, raise_on_error=False)


def _step_seconds(instance, run_id: str) -> dict[str, float]:
    started: dict[str, float] = {}
    seconds: dict[str, float] = {}
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None or not event.step_key:
            continue
        if event.event_type_value == "STEP_START":
            started[event.step_key] = entry.timestamp
        elif event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE") and event.step_key in started:
            seconds[event.step_key] = round(entry.timestamp - started[event.step_key], 2)
    return seconds


def _describe(event) -> str | None:
    kind = event.event_type_value
    if kind == "STEP_START":
        return f"running {event.step_key}"
    if kind == "ASSET_MATERIALIZATION":
        return f"materialized {event.asset_key.to_user_string()}"
    if kind == "ASSET_CHECK_EVALUATION":
        data = event.event_specific_data
        state = "passed" if data.passed else f"FAILED ({data.severity.value})"
        return f"check {data.asset_key.to_user_string()}:{data.check_name} {state}"
    if kind == "STEP_FAILURE":
        return f"step failed: {event.step_key}"
    return None


def _follow(
    instance, run_id: str, stop: threading.Event, on_event: Callable[[str], None], by_tag: bool = False
) -> None:
    """Report the run's progress from the instance's event log while it executes (`by_tag`: the
    run is the one tagged INVOCATION_TAG=run_id, found once it is stored)."""
    cursor = None
    tagged = run_id
    while by_tag:
        import dagster as dg

        runs = instance.get_run_records(filters=dg.RunsFilter(tags={INVOCATION_TAG: tagged}), limit=1)
        if runs:
            run_id = runs[0].dagster_run.run_id
            break
        if stop.is_set():
            return
        stop.wait(0.5)
    while True:
        done = stop.is_set()
        try:
            page = instance.get_records_for_run(run_id, cursor=cursor)
        except Exception:  # the run may not be stored yet
            page = None
        if page is not None:
            for record in page.records:
                event = record.event_log_entry.dagster_event
                message = _describe(event) if event else None
                if message:
                    on_event(message)
            cursor = page.cursor
        if done:
            return
        stop.wait(0.5)
