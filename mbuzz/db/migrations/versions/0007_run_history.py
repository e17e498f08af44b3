"""run history: each attribution run's window, status, counts and error in attribution.attribution_runs

A run is inserted 'running' before it computes anything and ends 'succeeded' (in the same
transaction that makes its credits visible), 'failed' (an error, recorded in `error`) or
'abandoned' (its process died: the next run finds it 'running' with its lease lock free).
Rows older than this migration are marked 'succeeded' when they finished, else 'abandoned'.
Not a raw table: no row-level security (the API's tenant role never reads attribution.*).

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "attribution_runs",
        sa.Column("status", sa.String(length=9), server_default="running", nullable=False),
        schema="attribution",
    )
    op.add_column("attribution_runs", sa.Column("window_start", sa.DateTime(timezone=True)), schema="attribution")
    op.add_column("attribution_runs", sa.Column("window_end", sa.DateTime(timezone=True)), schema="attribution")
    op.add_column("attribution_runs", sa.Column("conversions", sa.Integer()), schema="attribution")
    op.add_column("attribution_runs", sa.Column("credits_written", sa.BigInteger()), schema="attribution")
    op.add_column("attribution_runs", sa.Column("error", sa.Text()), schema="attribution")
    op.execute(
        "update attribution.attribution_runs set status = case when finished_at is null "
        "then 'abandoned' else 'succeeded' end"
    )
    op.create_check_constraint(
        "status", "attribution_runs", "status in ('running', 'succeeded', 'failed', 'abandoned')", schema="attribution"
    )
    op.create_index(op.f("ix_attribution_runs_status"), "attribution_runs", ["status"], schema="attribution")


def downgrade() -> None:
    op.drop_index(op.f("ix_attribution_runs_status"), table_name="attribution_runs", schema="attribution")
    op.drop_constraint("ck_attribution_runs_status", "attribution_runs", schema="attribution")
    for column in ("error", "credits_written", "conversions", "window_end", "window_start", "status"):
        op.drop_column("attribution_runs", column, schema="attribution")
