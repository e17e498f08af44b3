"""plain PostgreSQL: raw.events itself is the idempotency wall (unique (account_id, event_id))

On plain PostgreSQL the index on `(account_id, event_id)` becomes unique and
landing inserts straight into raw.events `on conflict do nothing`: one table
and one index written per event instead of two tables and two indexes (the
event's id was stored twice). raw.event_keys stays the wall only where
raw.events is a TimescaleDB hypertable, whose unique indexes must include the
time column (a retried event with another timestamp must still be a duplicate);
on plain PostgreSQL it is emptied here and no longer written.
`mbuzz.db.events_are_unique(conn)` tells landing code which wall is in place.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

INDEX = "ix_events_account_id_event_id"


def _hypertable(bind) -> bool:
    if bind.execute(sa.text("select 1 from pg_extension where extname = 'timescaledb'")).first() is None:
        return False
    return (
        bind.execute(
            sa.text(
                "select 1 from timescaledb_information.hypertables "
                "where hypertable_schema = 'raw' and hypertable_name = 'events'"
            )
        ).first()
        is not None
    )


def upgrade() -> None:
    bind = op.get_bind()
    if _hypertable(bind):
        return
    op.drop_index(INDEX, table_name="events", schema="raw")
    op.create_index(INDEX, "events", ["account_id", "event_id"], unique=True, schema="raw")
    op.execute("truncate raw.event_keys")


def downgrade() -> None:
    bind = op.get_bind()
    if _hypertable(bind):
        return
    op.execute(
        "insert into raw.event_keys (account_id, event_id, received_at) "
        "select account_id, event_id, min(received_at) from raw.events group by account_id, event_id "
        "on conflict do nothing"
    )
    op.drop_index(INDEX, table_name="events", schema="raw")
    op.create_index(INDEX, "events", ["account_id", "event_id"], unique=False, schema="raw")
