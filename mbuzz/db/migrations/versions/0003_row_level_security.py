"""row-level security on raw tables: the second tenant wall behind the API's own scoping

Every raw table that carries an account gets a policy keyed by the
per-transaction setting `mbuzz.account_id`, and a non-login role `mbuzz_api`
that the API switches to inside each request's transaction:

    select set_config('role', 'mbuzz_api', true), set_config('mbuzz.account_id', 'acct_…', true)

Superusers and table owners bypass row security (no FORCE), so the migrations,
dbt, Dagster and the CLI keep seeing every row; only code running as
`mbuzz_api` is fenced in, and when the setting is missing it sees nothing.

Roles are cluster-global: the role is created only when missing (this
migration runs once per database, and test sessions create many databases on
one server), and when the migrating user may not create roles the role part
is skipped with a notice (the API then needs a DBA to create `mbuzz_api`).

TimescaleDB refuses row security on hypertables that use compression
(timescale/timescaledb#6827), so on that path `raw.events` and
`raw.conversions` keep only the API's scoping; their idempotency walls
(`raw.event_keys`, `raw.conversion_keys`), through which every insert goes,
still carry the policy.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ROLE = "mbuzz_api"

# (table, tenant column, privileges granted to the API role)
TABLES = (
    ("raw.accounts", "id", "select"),
    ("raw.api_keys", "account_id", "select"),
    ("raw.users", "account_id", "select"),
    ("raw.events", "account_id", "select, insert"),
    ("raw.event_keys", "account_id", "select, insert"),
    ("raw.conversions", "account_id", "select, insert"),
    ("raw.conversion_keys", "account_id", "select, insert"),
    ("raw.attribution_models", "account_id", "select, insert, update, delete"),
)

POLICY = "tenant_isolation"


def _compressed_hypertable(bind, table: str) -> bool:
    if bind.execute(sa.text("select 1 from pg_extension where extname = 'timescaledb'")).first() is None:
        return False
    schema, name = table.split(".")
    return (
        bind.execute(
            sa.text(
                "select 1 from timescaledb_information.hypertables "
                "where hypertable_schema = :schema and hypertable_name = :name and compression_enabled"
            ),
            {"schema": schema, "name": name},
        ).first()
        is not None
    )


def upgrade() -> None:
    bind = op.get_bind()
    # Create the role only when missing; tolerate a migrating user without CREATEROLE.
    op.execute(
        f"""
        do $$
        begin
            if not exists (select 1 from pg_roles where rolname = '{ROLE}') then
                create role {ROLE} nologin;
            end if;
        exception
            when duplicate_object or unique_violation then
                null;  -- another database's migration created it at the same moment
            when insufficient_privilege then
                raise notice 'cannot create role {ROLE}: ask a superuser to run "create role {ROLE} nologin"';
        end
        $$
        """
    )
    has_role = bind.execute(sa.text("select 1 from pg_roles where rolname = :r"), {"r": ROLE}).first() is not None
    if has_role:
        # The connecting (API) user must be a member to `set role`; superusers already may.
        op.execute(
            f"""
            do $$
            begin
                if not exists (
                    select 1 from pg_roles where rolname = current_user and rolsuper
                ) and not pg_has_role(current_user, '{ROLE}', 'member') then
                    execute format('grant {ROLE} to %I', current_user);
                end if;
            end
            $$
            """
        )
        op.execute(f"grant usage on schema raw to {ROLE}")
    for table, column, privileges in TABLES:
        # identifiers come from the constants above, never from input
        if has_role:
            op.execute(f"grant {privileges} on {table} to {ROLE}")
        if _compressed_hypertable(bind, table):
            continue
        op.execute(f"alter table {table} enable row level security")
        op.execute(f"drop policy if exists {POLICY} on {table}")
        op.execute(
            f"create policy {POLICY} on {table} "
            f"using ({column} = current_setting('mbuzz.account_id', true)) "
            f"with check ({column} = current_setting('mbuzz.account_id', true))"
        )


def downgrade() -> None:
    bind = op.get_bind()
    for table, _column, privileges in TABLES:
        op.execute(f"drop policy if exists {POLICY} on {table}")
        op.execute(f"alter table {table} disable row level security")
    if bind.execute(sa.text("select 1 from pg_roles where rolname = :r"), {"r": ROLE}).first() is not None:
        for table, _column, privileges in TABLES:
            op.execute(f"revoke {privileges} on {table} from {ROLE}")
        op.execute(f"revoke usage on schema raw from {ROLE}")
        # The role itself is cluster-wide and may serve other databases: it is kept.
