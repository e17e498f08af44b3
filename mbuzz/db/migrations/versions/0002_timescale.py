"""TimescaleDB where the extension is available: hypertables, compression, no retention

Detection, not configuration: when `timescaledb` is in pg_available_extensions
the extension is created and the time-series tables become hypertables with
1-week chunks. Raw events and conversions are compressed after 7 days,
segmented by account, and never dropped (no retention policy: raw data is kept
forever). No default time index is added (create_default_indexes => false):
0001's indexes, which all lead with account_id, are the indexes on both paths.
Without the extension this migration changes nothing, and the same tables and
indexes serve as plain PostgreSQL tables.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# (table, time column, compress after, segment by)
HYPERTABLES = (
    ("raw.events", "occurred_at", "7 days", "account_id"),
    ("raw.conversions", "converted_at", "7 days", "account_id"),
    ("attribution.attribution_credits", "converted_at", None, None),
)


def timescale_available(bind) -> bool:
    return bind.execute(sa.text("select 1 from pg_available_extensions where name = 'timescaledb'")).first() is not None


def enable_timescale(bind) -> bool:
    """Create the extension when it is installed and loadable; False (plain tables) otherwise.

    A server can list timescaledb in pg_available_extensions without having it in
    shared_preload_libraries, and then `create extension` fails: that server gets
    the plain-PostgreSQL schema, with a warning, instead of a failed migration."""
    if not timescale_available(bind):
        return False
    try:
        with bind.begin_nested():
            bind.execute(sa.text("create extension if not exists timescaledb"))
    except sa.exc.DBAPIError as exc:
        import logging

        logging.getLogger("alembic").warning(
            "timescaledb is installed but cannot be enabled (%s); using plain PostgreSQL tables. "
            "Add timescaledb to shared_preload_libraries and re-create the database to use it.",
            str(exc.orig).strip().splitlines()[0],
        )
        return False
    return True


def upgrade() -> None:
    bind = op.get_bind()
    if not enable_timescale(bind):
        return
    for table, time_column, compress_after, segment_by in HYPERTABLES:
        bind.execute(
            sa.text(
                "select create_hypertable(cast(:table as regclass), :time_column, "
                "chunk_time_interval => interval '7 days', create_default_indexes => false, "
                "if_not_exists => true, migrate_data => true)"
            ),
            {"table": table, "time_column": time_column},
        )
        if compress_after:
            # identifiers come from the constant above, never from input
            op.execute(
                f"alter table {table} set (timescaledb.compress, "
                f"timescaledb.compress_segmentby = '{segment_by}', "
                f"timescaledb.compress_orderby = '{time_column} desc')"
            )
            bind.execute(
                sa.text(
                    "select add_compression_policy(cast(:table as regclass), cast(:after as interval), if_not_exists => true)"
                ),
                {"table": table, "after": compress_after},
            )


def downgrade() -> None:
    # Hypertables cannot be turned back into plain tables in place; 0001's downgrade drops them.
    pass
