"""fx rates: an account's daily exchange rates into its reporting currency

`POST /api/v1/fx_rates` and `mbuzz fx import` store, per account, how many units of
`quote_currency` one unit of `currency` was worth on `day` (the account's local day). dbt converts
conversion revenue and ad spend into the account's reporting currency (`settings.currency`) with
the rate of the amount's day; an amount without a rate is a flagged gap, never a silent 1.0
(docs/money.md). Rates are per account (tenant isolation, each account brings its own source),
so the table has the same row-level security as the other raw tables.

It also gives each credit its conversion's local day (`attribution.attribution_credits.local_day`,
the date of converted_at in the account's `settings.timezone`, UTC when unset), written by the
attribution runs: a TimescaleDB continuous aggregate buckets by one constant time zone only, so the
daily aggregates group by this column too and the ROAS marts use it as their day. Existing credits
are backfilled.

Revision ID: 0011
Revises: 0010 (0010_offline_conversions)
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

ROLE = "mbuzz_api"
POLICY = "tenant_isolation"


def upgrade() -> None:
    op.create_table(
        "fx_rates",
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("quote_currency", sa.String(length=3), nullable=False),
        sa.Column("rate", sa.Numeric(precision=24, scale=10), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("rate > 0", name=op.f("ck_fx_rates_rate_positive")),
        sa.CheckConstraint("currency <> quote_currency", name=op.f("ck_fx_rates_two_currencies")),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$' and quote_currency ~ '^[A-Z]{3}$'", name=op.f("ck_fx_rates_codes")),
        sa.ForeignKeyConstraint(
            ["account_id"], ["raw.accounts.id"], name=op.f("fk_fx_rates_account_id_accounts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("account_id", "day", "currency", "quote_currency", name=op.f("pk_fx_rates")),
        schema="raw",
    )
    bind = op.get_bind()
    if bind.execute(sa.text("select 1 from pg_roles where rolname = :r"), {"r": ROLE}).first() is not None:
        op.execute(f"grant select, insert, update on raw.fx_rates to {ROLE}")
    op.execute("alter table raw.fx_rates enable row level security")
    op.execute(
        f"create policy {POLICY} on raw.fx_rates "
        "using (account_id = current_setting('mbuzz.account_id', true)) "
        "with check (account_id = current_setting('mbuzz.account_id', true))"
    )

    op.add_column("attribution_credits", sa.Column("local_day", sa.Date(), nullable=True), schema="attribution")
    op.execute(
        "update attribution.attribution_credits as c "
        "set local_day = (c.converted_at at time zone coalesce(nullif(a.settings ->> 'timezone', ''), 'UTC'))::date "
        "from raw.accounts as a where a.id = c.account_id"
    )


def downgrade() -> None:
    op.drop_column("attribution_credits", "local_day", schema="attribution")
    op.drop_table("fx_rates", schema="raw")
