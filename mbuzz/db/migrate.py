"""Run the Alembic migrations of the raw and attribution schemas."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database to `revision`; a no-op when it is already there."""
    command.upgrade(alembic_config(url), revision)


def current_revision(url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import create_engine, pool

    from mbuzz.settings import sqlalchemy_url

    eng = create_engine(sqlalchemy_url(url), poolclass=pool.NullPool)
    try:
        with eng.connect() as conn:
            return MigrationContext.configure(conn, opts={"version_table_schema": "public"}).get_current_revision()
    finally:
        eng.dispose()


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("postgresql://")).get_current_head()
