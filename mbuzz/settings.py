"""Settings: the one place that reads mbuzz's environment variables.

DATABASE_URL   use this PostgreSQL server (otherwise the embedded one under MBUZZ_HOME)
MBUZZ_HOME     where the embedded server keeps its data (default: ./.mbuzz)
REDIS_URL      rate-limit storage (otherwise in-process memory: one process only)
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

    @property
    def embedded(self) -> bool:
        return self.database_url is None


def get_settings() -> Settings:
    return Settings(
        database_url=os.environ.get("DATABASE_URL") or None,
        home=Path(os.environ.get("MBUZZ_HOME") or ".mbuzz").resolve(),
        redis_url=os.environ.get("REDIS_URL") or None,
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
            return "postgresql://" + url[len(prefix):]
    return url


def sqlalchemy_url(url: str) -> str:
    return "postgresql+psycopg://" + libpq_url(url)[len("postgresql://"):]


def with_database(url: str, database: str) -> str:
    """The same server URL pointing at another database."""
    parts = urlsplit(libpq_url(url))
    return urlunsplit(parts._replace(path="/" + database))
