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
