"""raw and attribution schemas: accounts, keys, users, events, conversions, models, credits

Revision ID: 0001
Revises:
Create Date: 2026-11-25 16:58:27.156822
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("create schema if not exists raw")
    op.execute("create schema if not exists attribution")
    op.create_table(
        "attribution_credits",
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("credit_id", sa.String(length=40), nullable=False),
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("environment", sa.String(length=4), server_default="live", nullable=False),
        sa.Column("model", sa.Text(), nullable=False),
        sa.Column("conversion_id", sa.String(length=40), nullable=False),
        sa.Column("conversion_type", sa.String(length=64), nullable=True),
        sa.Column("converted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("touch_index", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Text(), nullable=True),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("credit", sa.Float(), nullable=False),
        sa.Column("revenue_credit", sa.Float(), server_default="0", nullable=False),
        sa.Column("utm_source", sa.Text(), nullable=True),
        sa.Column("utm_medium", sa.Text(), nullable=True),
        sa.Column("utm_campaign", sa.Text(), nullable=True),
        sa.CheckConstraint("environment in ('test', 'live')", name=op.f("ck_attribution_credits_environment")),
        schema="attribution",
    )
    op.create_index(
        op.f("ix_attribution_credits_account_id_conversion_id"),
        "attribution_credits",
        ["account_id", "conversion_id"],
        unique=False,
        schema="attribution",
    )
    op.create_index(
        op.f("ix_attribution_credits_account_id_model_converted_at"),
        "attribution_credits",
        ["account_id", "model", "converted_at"],
        unique=False,
        schema="attribution",
    )
    op.create_table(
        "attribution_runs",
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("config_hash", sa.String(length=64), nullable=False),
        sa.Column("config", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("partition_key", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_attribution_runs")),
        schema="attribution",
    )
    op.create_table(
        "channel_summaries",
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("model", sa.Text(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("removal_effect", sa.Float(), nullable=True),
        sa.Column("total_conversions", sa.Float(), nullable=True),
        sa.Column("ci_low", sa.Float(), nullable=True),
        sa.Column("ci_high", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("account_id", "run_id", "model", "channel", name=op.f("pk_channel_summaries")),
        schema="attribution",
    )
    op.create_table(
        "accounts",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("tier", sa.String(length=20), server_default="standard", nullable=False),
        sa.Column(
            "settings", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
        schema="raw",
    )
    op.create_table(
        "conversion_keys",
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("dedupe_key", sa.Text(), nullable=False),
        sa.Column("conversion_id", sa.String(length=40), nullable=False),
        sa.Column("converted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "dedupe_key", name=op.f("pk_conversion_keys")),
        schema="raw",
    )
    op.create_table(
        "conversions",
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("conversion_id", sa.String(length=40), nullable=False),
        sa.Column("environment", sa.String(length=4), nullable=False),
        sa.Column("conversion_type", sa.String(length=64), nullable=False),
        sa.Column("visitor_id", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=True),
        sa.Column("event_id", sa.Text(), nullable=True),
        sa.Column("revenue", sa.Numeric(precision=18, scale=4), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("converted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column(
            "properties", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False
        ),
        sa.Column("api_key_id", sa.String(length=40), nullable=True),
        sa.CheckConstraint("environment in ('test', 'live')", name=op.f("ck_conversions_environment")),
        schema="raw",
    )
    op.create_index(
        op.f("ix_conversions_account_id_conversion_id"),
        "conversions",
        ["account_id", "conversion_id"],
        unique=False,
        schema="raw",
    )
    op.create_index(
        op.f("ix_conversions_account_id_converted_at"),
        "conversions",
        ["account_id", "converted_at"],
        unique=False,
        schema="raw",
    )
    op.create_index(
        op.f("ix_conversions_account_id_visitor_id"),
        "conversions",
        ["account_id", "visitor_id"],
        unique=False,
        schema="raw",
    )
    op.create_table(
        "event_keys",
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "event_id", name=op.f("pk_event_keys")),
        schema="raw",
    )
    op.create_table(
        "events",
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("environment", sa.String(length=4), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("visitor_id", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=True),
        sa.Column("session_id", sa.Text(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("original_timestamp", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "properties", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False
        ),
        sa.Column(
            "context", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False
        ),
        sa.Column("api_key_id", sa.String(length=40), nullable=True),
        sa.Column("source", sa.String(length=16), server_default="api", nullable=False),
        sa.CheckConstraint("environment in ('test', 'live')", name=op.f("ck_events_environment")),
        schema="raw",
    )
    op.create_index(
        op.f("ix_events_account_id_event_id"), "events", ["account_id", "event_id"], unique=False, schema="raw"
    )
    op.create_index(
        op.f("ix_events_account_id_occurred_at"), "events", ["account_id", "occurred_at"], unique=False, schema="raw"
    )
    op.create_index(
        op.f("ix_events_account_id_visitor_id_occurred_at"),
        "events",
        ["account_id", "visitor_id", "occurred_at"],
        unique=False,
        schema="raw",
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.Text(), server_default="", nullable=False),
        sa.Column("environment", sa.String(length=4), nullable=False),
        sa.Column("key_digest", sa.String(length=64), nullable=False),
        sa.Column("key_prefix", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("environment in ('test', 'live')", name=op.f("ck_api_keys_environment")),
        sa.ForeignKeyConstraint(
            ["account_id"], ["raw.accounts.id"], name=op.f("fk_api_keys_account_id_accounts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_digest", name=op.f("uq_api_keys_key_digest")),
        schema="raw",
    )
    op.create_index(op.f("ix_api_keys_account_id"), "api_keys", ["account_id"], unique=False, schema="raw")
    op.create_table(
        "attribution_models",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("compiled", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["raw.accounts.id"],
            name=op.f("fk_attribution_models_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attribution_models")),
        sa.UniqueConstraint("account_id", "name", name=op.f("uq_attribution_models_account_id_name")),
        schema="raw",
    )
    op.create_table(
        "users",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["raw.accounts.id"], name=op.f("fk_users_account_id_accounts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
        schema="raw",
    )
    op.create_index(op.f("ix_users_account_id"), "users", ["account_id"], unique=False, schema="raw")


def downgrade() -> None:
    op.drop_index(op.f("ix_users_account_id"), table_name="users", schema="raw")
    op.drop_table("users", schema="raw")
    op.drop_table("attribution_models", schema="raw")
    op.drop_index(op.f("ix_api_keys_account_id"), table_name="api_keys", schema="raw")
    op.drop_table("api_keys", schema="raw")
    op.drop_index(op.f("ix_events_account_id_visitor_id_occurred_at"), table_name="events", schema="raw")
    op.drop_index(op.f("ix_events_account_id_occurred_at"), table_name="events", schema="raw")
    op.drop_index(op.f("ix_events_account_id_event_id"), table_name="events", schema="raw")
    op.drop_table("events", schema="raw")
    op.drop_table("event_keys", schema="raw")
    op.drop_index(op.f("ix_conversions_account_id_visitor_id"), table_name="conversions", schema="raw")
    op.drop_index(op.f("ix_conversions_account_id_converted_at"), table_name="conversions", schema="raw")
    op.drop_index(op.f("ix_conversions_account_id_conversion_id"), table_name="conversions", schema="raw")
    op.drop_table("conversions", schema="raw")
    op.drop_table("conversion_keys", schema="raw")
    op.drop_table("accounts", schema="raw")
    op.drop_table("channel_summaries", schema="attribution")
    op.drop_table("attribution_runs", schema="attribution")
    op.drop_index(
        op.f("ix_attribution_credits_account_id_model_converted_at"),
        table_name="attribution_credits",
        schema="attribution",
    )
    op.drop_index(
        op.f("ix_attribution_credits_account_id_conversion_id"), table_name="attribution_credits", schema="attribution"
    )
    op.drop_table("attribution_credits", schema="attribution")
    op.execute("drop schema if exists attribution")
    op.execute("drop schema if exists raw")
