"""ad spend: what each channel (or campaign) cost per day, for ROAS and cost per conversion

One row per account, environment, day, channel and campaign (utm_source / utm_medium /
utm_campaign; '' when the spend is for the whole channel): uploading the same day again
replaces its amount (`POST /api/v1/spend`, `mbuzz spend import`). A plain table on both
paths: it holds a few rows per channel and day. Tenant-scoped by row-level security like the
other raw tables (0003).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ROLE = "mbuzz_api"
POLICY = "tenant_isolation"


def upgrade() -> None:
    op.create_table(
        "ad_spend",
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("environment", sa.String(length=4), server_default="live", nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("utm_source", sa.Text(), server_default="", nullable=False),
        sa.Column("utm_medium", sa.Text(), server_default="", nullable=False),
        sa.Column("utm_campaign", sa.Text(), server_default="", nullable=False),
        sa.Column("amount", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("environment in ('test', 'live')", name=op.f("ck_ad_spend_environment")),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_ad_spend_amount_not_negative")),
        sa.ForeignKeyConstraint(
            ["account_id"], ["raw.accounts.id"], name=op.f("fk_ad_spend_account_id_accounts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint(
            "account_id",
            "environment",
            "day",
            "channel",
            "utm_source",
            "utm_medium",
            "utm_campaign",
            name=op.f("pk_ad_spend"),
        ),
        schema="raw",
    )
    bind = op.get_bind()
    if bind.execute(sa.text("select 1 from pg_roles where rolname = :r"), {"r": ROLE}).first() is not None:
        op.execute(f"grant select, insert, update on raw.ad_spend to {ROLE}")
    op.execute("alter table raw.ad_spend enable row level security")
    op.execute(
        f"create policy {POLICY} on raw.ad_spend "
        "using (account_id = current_setting('mbuzz.account_id', true)) "
        "with check (account_id = current_setting('mbuzz.account_id', true))"
    )


def downgrade() -> None:
    op.drop_table("ad_spend", schema="raw")
