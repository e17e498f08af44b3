"""Alembic environment: migrates the schemas mbuzz owns (`raw`, `attribution`)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from mbuzz.db.migrations_support import include_name, include_object
from mbuzz.db.models import Base
from mbuzz.settings import sqlalchemy_url

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connectable = config.attributes.get("connection")
    if connectable is None:
        connectable = create_engine(sqlalchemy_url(config.get_main_option("sqlalchemy.url")), poolclass=pool.NullPool)
        with connectable.connect() as connection:
            _run(connection)
    else:
        _run(connectable)


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_schemas=True,
        include_name=include_name,
        include_object=include_object,
        version_table_schema="public",
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
