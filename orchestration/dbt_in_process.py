"""dbt inside the Dagster step's process, with the same selection and events as dagster-dbt's CLI.

`DbtCliResource.cli()` starts two processes per step (`dbt --version`, then `dbt`), each paying
dbt's import (~6-8 s on two cores) before any SQL runs: half a minute of every pipeline run and
most of an hourly one. `InProcessDbt` runs the same command through dbt's programmatic entry
point (`dbtRunner`, via `mbuzz.warehouse.run_dbt`) in the step's own process, and converts each
dbt event with dagster-dbt's own translation (`DbtCoreCliEventMessage.to_default_asset_events`),
so materialisations, dbt tests as asset checks and subset selection behave as with the CLI.
dbt runs in a worker thread and its events are yielded as they happen (live progress in the UI).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import dagster as dg
from dagster_dbt import DagsterDbtTranslator
from dagster_dbt.asset_utils import get_updated_cli_invocation_params_for_context
from dagster_dbt.core.dbt_cli_event import DbtCoreCliEventMessage

_DONE = object()


class InProcessDbt(dg.ConfigurableResource):
    """Runs dbt commands for @dbt_assets in this process; `yield from dbt.stream(["build"], context)`."""

    def stream(self, args: Sequence[str], context: dg.AssetExecutionContext) -> Iterator:
        from dbt_common.events.functions import msg_to_dict

        from mbuzz.warehouse import run_dbt

        params = get_updated_cli_invocation_params_for_context(
            context=context, manifest={}, dagster_dbt_translator=DagsterDbtTranslator()
        )
        full = [*args, *params.selection_args, "--quiet"]
        if list(args[:1]) == ["build"] and not context.selected_asset_check_keys:
            # no dbt tests in this run (the hourly job): their unit tests wait for the nightly run too
            full += ["--exclude", "resource_type:unit_test"]
        if params.indirect_selection:
            full += ["--indirect-selection", params.indirect_selection]
        project = params.dbt_project
        if project is not None:
            full += ["--project-dir", str(project.project_dir)]
        target_path = Path(project.project_dir, project.target_path) if project is not None else None

        events: queue.Queue = queue.Queue()
        outcome: dict = {}

        def run() -> None:
            try:
                # check: a failure raises DbtError naming the failed nodes, surfaced in the step below
                run_dbt(
                    full,
                    callbacks=[lambda msg: events.put(msg_to_dict(msg))],
                    target_path=str(target_path) if target_path else None,
                )
            except BaseException as exc:
                outcome["error"] = exc
            finally:
                events.put(_DONE)

        worker = threading.Thread(target=run, name="dbt", daemon=True)
        worker.start()
        while (raw := events.get()) is not _DONE:
            event = DbtCoreCliEventMessage(raw_event=raw, event_history_metadata={})
            yield from event.to_default_asset_events(
                manifest=params.manifest,
                dagster_dbt_translator=params.dagster_dbt_translator,
                context=context,
                target_path=target_path,
                project=project,
            )
        worker.join()
        context.log.debug(f"dbt {' '.join(full)}")
        if "error" in outcome:
            raise outcome["error"]
