"""bi roles: read-only PostgreSQL logins for analysts and BI tools, one account each

`mbuzz bi grant --account acct_…` creates a LOGIN role and records it in `raw.bi_roles`
(role name -> account). The role is granted CONNECT on the database, USAGE on schema `bi` and
SELECT on the views in it, nothing else: no raw, marts or attribution table, no writes.

Schema `bi` holds one security_barrier view per analyst-facing relation of `marts` (the marts
and the daily aggregates: every relation there with an `account_id` column):

    create view bi.fct_conversions with (security_barrier) as
    select * from marts.fct_conversions
    where account_id = (select account_id from raw.bi_roles where role_name = current_user)

The view reads the marts with its owner's rights, and `current_user` is the analyst's role, so
a query that forgets `where account_id` still sees one account. `raw.refresh_bi_views()`
(re)creates the views and their grants: dbt drops them when it rebuilds a mart (`drop ...
cascade`), so the project's on-run-end hook calls it after every dbt command, and `mbuzz bi
grant` calls it too. Roles themselves are cluster-global; they are created and dropped by
`mbuzz bi grant` / `mbuzz bi revoke`, never by this migration.

Revision ID: 0012
Revises: 0011 (0011_fx_rates)
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

REFRESH = r"""
create or replace function raw.refresh_bi_views() returns integer
language plpgsql as $fn$
declare
    rel record;
    bi_role record;
    made integer := 0;
begin
    -- one refresh at a time (two dbt commands, or dbt and `mbuzz bi grant`, may end together)
    perform pg_advisory_xact_lock(hashtext('mbuzz.refresh_bi_views'));
    -- views whose mart is gone (or lost its account_id) go too
    for rel in
        select v.relname from pg_class v join pg_namespace vn on vn.oid = v.relnamespace
        where vn.nspname = 'bi' and v.relkind = 'v'
          and not exists (
              select 1 from pg_class m join pg_namespace mn on mn.oid = m.relnamespace
              join pg_attribute a on a.attrelid = m.oid and a.attname = 'account_id' and not a.attisdropped
              where mn.nspname = 'marts' and m.relname = v.relname and m.relkind in ('r', 'v', 'm', 'p')
          )
    loop
        execute format('drop view bi.%I', rel.relname);
    end loop;
    for rel in
        select m.relname from pg_class m join pg_namespace mn on mn.oid = m.relnamespace
        where mn.nspname = 'marts' and m.relkind in ('r', 'v', 'm', 'p')
          and m.relname not like '%\_\_dbt\_%'
          and exists (
              select 1 from pg_attribute a
              where a.attrelid = m.oid and a.attname = 'account_id' and not a.attisdropped
          )
        order by m.relname
    loop
        -- drop and create (not "or replace"): a rebuilt mart may have other columns
        execute format('drop view if exists bi.%I', rel.relname);
        execute format(
            'create view bi.%I with (security_barrier) as select * from marts.%I '
            'where account_id = (select b.account_id from raw.bi_roles b where b.role_name = current_user)',
            rel.relname, rel.relname
        );
        made := made + 1;
    end loop;
    for bi_role in select b.role_name from raw.bi_roles b join pg_roles r on r.rolname = b.role_name loop
        execute format('grant usage on schema bi to %I', bi_role.role_name);
        execute format('grant select on all tables in schema bi to %I', bi_role.role_name);
    end loop;
    return made;
end
$fn$
"""


def upgrade() -> None:
    op.execute("create schema if not exists bi")
    op.execute("revoke all on schema bi from public")
    op.create_table(
        "bi_roles",
        sa.Column("role_name", sa.Text(), nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["raw.accounts.id"], name=op.f("fk_bi_roles_account_id_accounts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("role_name", name=op.f("pk_bi_roles")),
        schema="raw",
    )
    op.create_index(op.f("ix_bi_roles_account_id"), "bi_roles", ["account_id"], schema="raw")
    op.execute(REFRESH)
    op.execute("revoke all on function raw.refresh_bi_views() from public")


def downgrade() -> None:
    op.execute("drop function if exists raw.refresh_bi_views()")
    op.drop_table("bi_roles", schema="raw")
    op.execute("drop schema if exists bi cascade")
