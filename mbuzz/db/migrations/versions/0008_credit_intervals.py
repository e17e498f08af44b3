"""credit intervals: 95% bootstrap intervals on each run's credited conversions and revenue

One row per account, run, model, environment, channel and UTC day: the point totals, the
percentile bounds, the resample totals (Poisson bootstrap, so a date range's interval is the
replicate-wise sum over its days) and the reason when there is no interval. Written in the
run's transaction with its credits (mbuzz/attribution_runs.py). Not a raw table: no row-level
security (the API's tenant role never reads attribution.*; every query filters by account).

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "credit_intervals",
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("model", sa.Text(), nullable=False),
        sa.Column("environment", sa.String(length=4), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("conversions", sa.Float(), nullable=False),
        sa.Column("revenue", sa.Float(), nullable=False),
        sa.Column("conversions_lower", sa.Float(), nullable=True),
        sa.Column("conversions_upper", sa.Float(), nullable=True),
        sa.Column("revenue_lower", sa.Float(), nullable=True),
        sa.Column("revenue_upper", sa.Float(), nullable=True),
        sa.Column("conversion_samples", postgresql.ARRAY(sa.Float()), nullable=True),
        sa.Column("revenue_samples", postgresql.ARRAY(sa.Float()), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint(
            "account_id", "run_id", "model", "environment", "channel", "day", name=op.f("pk_credit_intervals")
        ),
        schema="attribution",
    )
    op.create_index(
        op.f("ix_credit_intervals_account_id_model_environment_day"),
        "credit_intervals",
        ["account_id", "model", "environment", "day"],
        unique=False,
        schema="attribution",
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_credit_intervals_account_id_model_environment_day"),
        table_name="credit_intervals",
        schema="attribution",
    )
    op.drop_table("credit_intervals", schema="attribution")
