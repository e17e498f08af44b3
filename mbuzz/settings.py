"""Settings: the one place that reads mbuzz's environment variables.

DATABASE_URL            use this PostgreSQL server (otherwise the embedded one under MBUZZ_HOME)
MBUZZ_HOME              where the embedded server keeps its data (default: ./.mbuzz)
REDIS_URL               rate-limit storage (otherwise in-process memory: one process only)
MBUZZ_SECRET_KEY        signs dashboard sessions and setup links (otherwise $MBUZZ_HOME/secret_key)
MBUZZ_DBT_TARGET        dbt target, `postgres` or `timescaledb` (otherwise detected)
MBUZZ_DBT_THREADS       dbt threads (default 4; 1 for single-connection servers such as PGlite)
MBUZZ_DBT_TARGET_PATH   dbt's target folder: manifest and partial-parse state (default: target/)
DAGSTER_HOME            the Dagster instance (default: $MBUZZ_HOME/dagster)
PGUSER                  the database user when DATABASE_URL names none (libpq's default: postgres)
MBUZZ_WAREHOUSE         the warehouse engine the Dagster graph runs on: `postgres` (default; the dbt target is
                        then MBUZZ_DBT_TARGET or detected, postgres or timescaledb) or `spark` (dbt target
                        `spark`, attribution through mbuzz.spark_attribution; docs/operations.md)
MBUZZ_EXECUTOR          how a Dagster run executes its steps: `in_process` (default: every step in the run's
                        process), `multiprocess` (a process per step) or `dask` (each step a task on a dask
                        cluster; dagster-dask)
MBUZZ_DASK_SCHEDULER    with MBUZZ_EXECUTOR=dask: the scheduler's address (tcp://host:8786); unset, each run
                        starts a LocalCluster of its own on 127.0.0.1 (worker processes, no dashboard)
MBUZZ_DASK_WORKERS      worker processes of that LocalCluster (default 2)
MBUZZ_SPARK_MASTER      with MBUZZ_WAREHOUSE=spark: the master of the attribution application (default
                        local[*]: in the asset's process; spark://host:7077 for a cluster)
MBUZZ_SPARK_JOURNEYS    with MBUZZ_WAREHOUSE=spark: the journeys it reads, a table name or a Parquet folder
                        (default <MBUZZ_LAKE>/marts/fct_conversion_journeys, where the spark target builds them)
MBUZZ_SPARK_CREDITS     ... and where it writes the credits (default <MBUZZ_LAKE>/attribution_credits)
MBUZZ_JOURNEY_CHUNK     journey rows the attribution run reads (and credits) at a time (default 100000;
                        cut on journey boundaries: peak memory follows this, not the history)

The ingestion API's own limits are Flask config (`ingest_api/config.py`, `MBUZZ_*` JSON values
loaded by Flask's prefixed-env loader).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

WAREHOUSES = ("postgres", "spark")
EXECUTORS = ("in_process", "multiprocess", "dask")


def _choice(env, name: str, allowed: tuple[str, ...]) -> str:
    value = (env.get(name) or allowed[0]).strip()
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return value


@dataclass(frozen=True)
class Settings:
    database_url: str | None
    home: Path
    redis_url: str | None
    secret_key: str | None = None
    dbt_target: str | None = None
    dbt_threads: int | None = None
    dbt_target_path: str | None = None
    dagster_home: Path | None = None
    db_user: str = "postgres"
    lake: str | None = None  # MBUZZ_LAKE: a folder or object-store URL the raw rows are copied to (mbuzz/lake.py)
    journey_chunk: int = 100_000  # MBUZZ_JOURNEY_CHUNK: touch rows per chunk of the attribution run
    warehouse: str = "postgres"  # MBUZZ_WAREHOUSE: one of WAREHOUSES
    executor: str = "in_process"  # MBUZZ_EXECUTOR: one of EXECUTORS
    dask_scheduler: str | None = None  # MBUZZ_DASK_SCHEDULER: an existing dask scheduler's address
    dask_workers: int = 2  # MBUZZ_DASK_WORKERS: worker processes of a run's own LocalCluster
    spark_master: str = "local[*]"  # MBUZZ_SPARK_MASTER: the Spark attribution application's master
    spark_journeys: str | None = None  # MBUZZ_SPARK_JOURNEYS: default <lake>/marts/fct_conversion_journeys
    spark_credits: str | None = None  # MBUZZ_SPARK_CREDITS: default <lake>/attribution_credits

    @property
    def embedded(self) -> bool:
        return self.database_url is None


def get_settings() -> Settings:
    """The settings as the environment has them now (read on every call: tests and the CLI set them)."""
    env = os.environ
    home = Path(env.get("MBUZZ_HOME") or ".mbuzz").resolve()
    threads = env.get("MBUZZ_DBT_THREADS")
    chunk = env.get("MBUZZ_JOURNEY_CHUNK")
    if chunk is not None and (not chunk.strip().isdigit() or int(chunk) < 1):
        raise ValueError(f"MBUZZ_JOURNEY_CHUNK must be a positive whole number of rows, got {chunk!r}")
    workers = env.get("MBUZZ_DASK_WORKERS")
    if workers is not None and (not workers.strip().isdigit() or int(workers) < 1):
        raise ValueError(f"MBUZZ_DASK_WORKERS must be a positive whole number of processes, got {workers!r}")
    return Settings(
        database_url=env.get("DATABASE_URL") or None,
        home=home,
        redis_url=env.get("REDIS_URL") or None,
        secret_key=env.get("MBUZZ_SECRET_KEY") or None,
        dbt_target=env.get("MBUZZ_DBT_TARGET") or None,
        dbt_threads=int(threads) if threads else None,
        dbt_target_path=env.get("MBUZZ_DBT_TARGET_PATH") or None,
        dagster_home=Path(env.get("DAGSTER_HOME") or home / "dagster").resolve(),
        db_user=env.get("PGUSER") or "postgres",
        lake=env.get("MBUZZ_LAKE") or None,
        journey_chunk=int(chunk) if chunk else 100_000,
        warehouse=_choice(env, "MBUZZ_WAREHOUSE", WAREHOUSES),
        executor=_choice(env, "MBUZZ_EXECUTOR", EXECUTORS),
        dask_scheduler=env.get("MBUZZ_DASK_SCHEDULER") or None,
        dask_workers=int(workers) if workers else 2,
        spark_master=env.get("MBUZZ_SPARK_MASTER") or "local[*]",
        spark_journeys=env.get("MBUZZ_SPARK_JOURNEYS") or None,
        spark_credits=env.get("MBUZZ_SPARK_CREDITS") or None,
    )


def mask_url(url: str) -> str:
    """The URL with its password replaced by ***, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def libpq_url(url: str) -> str:
    """A URL psycopg and dbt understand (no SQLAlchemy driver suffix)."""
    for prefix in ("postgresql+psycopg://", "postgresql+psycopg2://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix) :]
    return url


def sqlalchemy_url(url: str) -> str:
    return "postgresql+psycopg://" + libpq_url(url)[len("postgresql://") :]


def with_database(url: str, database: str) -> str:
    """The same server URL pointing at another database."""
    parts = urlsplit(libpq_url(url))
    return urlunsplit(parts._replace(path="/" + database))
