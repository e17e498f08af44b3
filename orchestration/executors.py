"""How a run executes its steps: one executor, `mbuzz`, for every job, which picks its kind when
the run starts from MBUZZ_EXECUTOR (mbuzz/settings.py), or from the run's config
(`execution: {config: {kind: dask}}`, e.g. in the Launchpad):

- `in_process` (default): every step in the run's own process. The steps of this graph run one
  after another anyway and dbt has its own threads, and each new step process would import
  Dagster, dbt and pandas again (≈ 8 s each on two cores; docs/operations.md "Scaling out").
- `multiprocess`: Dagster's multiprocess executor, a process per step on the run's machine.
- `dask`: each step a task on a dask cluster (dagster-dask's executor): the scheduler at
  MBUZZ_DASK_SCHEDULER (`tcp://host:8786`, workers started there with `dask worker`), or, when
  that is unset, a LocalCluster of the run's own (`local_cluster_options`), started when the
  run starts and stopped when it ends.

Picking at run start, not when the definitions load, keeps one Definitions for every setting
(the UI shows the same jobs) and lets one process run a job both ways (the tests do). dagster-dask
is imported only by a dask run: importing it imports `dask.dataframe` and pandas (≈ 10 s), and
loading the definitions (the daemon's ticks, every run worker) must stay light.
"""

from __future__ import annotations

import dagster as dg

from mbuzz.errors import MbuzzError
from mbuzz.settings import EXECUTORS, get_settings


def local_cluster_options(workers: int) -> dict:
    """The dask LocalCluster of a run without a scheduler (`dask.distributed.LocalCluster` kwargs):
    worker processes with one thread each (Dagster steps are not thread-safe), bound to 127.0.0.1,
    no dashboard, and no memory limit (the nanny would otherwise restart a worker that reaches its
    share of the machine's memory: a step's peak is the attribution run's chunk, not a share)."""
    return {
        "n_workers": workers,
        "threads_per_worker": 1,
        "processes": True,
        "host": "127.0.0.1",
        "dashboard_address": None,
        "memory_limit": 0,
    }


def resolved(config: dict) -> dict:
    """The executor's config with every empty value taken from the settings."""
    settings = get_settings()
    kind = config.get("kind") or settings.executor
    if kind not in EXECUTORS:
        raise MbuzzError(f"the mbuzz executor's kind must be one of {', '.join(EXECUTORS)}, got {kind!r}")
    return {
        "kind": kind,
        "dask_address": config.get("dask_address") or settings.dask_scheduler or "",
        "dask_workers": config.get("dask_workers") or settings.dask_workers,
    }


def _requirements(config: dict) -> list:
    return [] if resolved(config)["kind"] == "in_process" else list(dg.multiple_process_executor_requirements())


@dg.executor(
    name="mbuzz",
    config_schema={
        "kind": dg.Field(
            str, default_value="", description=f"{' | '.join(EXECUTORS)}; empty: MBUZZ_EXECUTOR (default in_process)"
        ),
        "dask_address": dg.Field(
            str,
            default_value="",
            description="dask: a scheduler's address; empty: MBUZZ_DASK_SCHEDULER, else a LocalCluster",
        ),
        "dask_workers": dg.Field(
            int, default_value=0, description="dask: the LocalCluster's worker processes; 0: MBUZZ_DASK_WORKERS (2)"
        ),
    },
    requirements=_requirements,
)
def mbuzz_executor(init_context: dg.InitExecutorContext) -> dg.Executor:
    """in_process, multiprocess or dask, as MBUZZ_EXECUTOR (or this config's kind) says."""
    from dagster._core.execution.retries import RetryMode

    config = resolved(init_context.executor_config)
    if config["kind"] == "in_process":
        from dagster._core.executor.in_process import InProcessExecutor

        return InProcessExecutor(retries=RetryMode.ENABLED)
    if config["kind"] == "multiprocess":
        from dagster._core.executor.multiprocess import MultiprocessExecutor

        return MultiprocessExecutor(retries=RetryMode.ENABLED, max_concurrent=None)
    from dagster_dask.executor import DaskExecutor

    if config["dask_address"]:
        return DaskExecutor("existing", {"address": config["dask_address"]})

    class OwnClusterExecutor(DaskExecutor):
        """dagster-dask's executor on a LocalCluster this run starts and stops: dagster-dask's own
        `local` mode hands its LocalCluster to a Client that does not close it, which leaves the
        worker processes to the garbage collector."""

        def execute(self, plan_context, execution_plan):
            from dask.distributed import LocalCluster

            with LocalCluster(**local_cluster_options(config["dask_workers"])) as cluster:
                self.cluster_type, self.cluster_configuration = "existing", {"address": cluster.scheduler_address}
                yield from super().execute(plan_context, execution_plan)

    return OwnClusterExecutor("local", {})
