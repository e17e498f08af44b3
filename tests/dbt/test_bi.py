"""Database access for BI tools (`mbuzz bi grant|list|revoke`), against a built warehouse.

A role made by `mbuzz bi grant` connects with the printed URL and reads schema `bi` only: a
query that forgets `where account_id` returns its own account's rows, another account's rows
never show, writes fail, and raw tables, keys, users, marts and attribution tables answer
"permission denied". Views made by dbt's on-run-end hook (roles granted before the build) and by
`bi grant` (after it) behave alike. Bad input changes nothing. A revoked role's open session is
ended and it cannot connect again. SQLAlchemy, with the URL a BI tool uses, runs the query of a
"credited conversions per channel" chart. The same isolation holds on TimescaleDB.

Roles are cluster-global and the server is shared: every test role is named after this session's
database and dropped in teardown."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from mbuzz.paths import PROJECT_DIR
from tests.dbt.dataset import day, dbt, fetch, insert_credits

pytestmark = pytest.mark.slow

MBUZZ = str(Path(sys.executable).parent / "mbuzz")
CHART = (  # what a "credited conversions per channel" chart runs: no account filter, the view has it
    "select channel, sum(conversions) as credited_conversions from bi.channel_attribution_daily "
    "where model = 'linear' and day >= %(since)s group by channel order by channel"
)
SINCE = day(-30)  # the chart's time range (the fixture's credits are on days -1 and -3)
DENIED = (
    "raw.accounts",
    "raw.api_keys",
    "raw.users",
    "raw.events",
    "raw.conversions",
    "raw.bi_roles",
    "attribution.attribution_credits",
    "marts.fct_conversions",
    "marts.channel_attribution_daily",
)


def role_for(url: str) -> str:
    return f"bi_{url.rsplit('/', 1)[-1].split('?')[0]}_{secrets.token_hex(3)}"


def mbuzz(url: str, *args: str) -> subprocess.CompletedProcess:
    import os

    env = {**os.environ, "DATABASE_URL": url, "MBUZZ_DBT_TARGET": "postgres"}
    return subprocess.run([MBUZZ, *args], env=env, cwd=PROJECT_DIR, capture_output=True, text=True, timeout=120)


def grant(url: str, account: str, role: str) -> dict:
    result = mbuzz(url, "bi", "grant", "--account", account, "--role", role, "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def drop_role(url: str, role: str) -> None:
    """Teardown: whatever a test left, the role goes (its grants in this database first)."""
    with psycopg.connect(url, autocommit=True) as conn:
        if conn.execute("select 1 from pg_roles where rolname = %s", (role,)).fetchone():
            conn.execute("select pg_terminate_backend(pid) from pg_stat_activity where usename = %s", (role,))
            conn.execute(sql.SQL("drop owned by {}").format(sql.Identifier(role)))
            conn.execute(sql.SQL("drop role {}").format(sql.Identifier(role)))
        conn.execute("delete from raw.bi_roles where role_name = %s", (role,))


@pytest.fixture(scope="module")
def warehouse(database_url):
    from mbuzz.accounts import create_account

    with psycopg.connect(database_url, autocommit=True) as conn:
        account = create_account(conn, f"BI {secrets.token_hex(3)}").id
        other = create_account(conn, "BI neighbour").id
    insert_credits(database_url, account)
    insert_credits(database_url, other)
    roles = [role_for(database_url), role_for(database_url)]
    try:
        # granted before the build: the views and grants come from dbt's on-run-end hook
        before = grant(database_url, account, roles[0])
        dbt(database_url, "build", "--resource-type", "seed", "--resource-type", "model", target="postgres")
        after = grant(database_url, other, roles[1])  # after the build: made by `bi grant`
        yield {"url": database_url, "account": account, "other": other, "mine": before, "theirs": after}
    finally:
        for role in roles:
            drop_role(database_url, role)


def analyst_relations(url: str) -> set[str]:
    rows = fetch(
        url,
        "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
        "join pg_attribute a on a.attrelid = c.oid and a.attname = 'account_id' "
        "where n.nspname = 'marts' and c.relkind in ('r', 'v', 'm')",
    )
    return {r[0] for r in rows}


def test_bi_schema_has_a_view_per_mart_and_aggregate(warehouse):
    views = {
        r[0]
        for r in fetch(warehouse["url"], "select table_name from information_schema.views where table_schema = 'bi'")
    }
    assert {
        "channel_attribution_daily",
        "source_attribution_daily",
        "fct_conversions",
        "fct_attribution_credits",
    } <= views
    assert views == analyst_relations(warehouse["url"])
    assert warehouse["theirs"]["views"] == len(views)


def test_a_query_without_account_filter_sees_only_its_account(warehouse):
    url = warehouse["url"]
    for grant_, account, other in (
        (warehouse["mine"], warehouse["account"], warehouse["other"]),
        (warehouse["theirs"], warehouse["other"], warehouse["account"]),
    ):
        with psycopg.connect(grant_["url"], autocommit=True) as conn:
            assert conn.execute("select current_user").fetchone()[0] == grant_["role"]
            for view in analyst_relations(url):
                seen = {
                    r[0]
                    for r in conn.execute(sql.SQL("select distinct account_id from bi.{}").format(sql.Identifier(view)))
                }
                assert seen <= {account}, view
            rows = conn.execute("select count(*) from bi.fct_attribution_credits").fetchone()[0]
            assert (
                rows
                == fetch(url, "select count(*) from marts.fct_attribution_credits where account_id = %s", (account,))[
                    0
                ][0]
            )
            assert rows > 0
            hidden = conn.execute("select count(*) from bi.fct_attribution_credits where account_id = %s", (other,))
            assert hidden.fetchone()[0] == 0


def test_writes_and_everything_outside_bi_are_denied(warehouse):
    with psycopg.connect(warehouse["mine"]["url"], autocommit=True) as conn:
        for relation in DENIED:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(f"select * from {relation} limit 1")
        # views over marts views and materialized views are not updatable at all; over a table they
        # would be, and the missing privilege refuses the write
        for statement in (
            "insert into bi.fct_attribution_credits (account_id) values ('x')",
            "update bi.channel_attribution_daily set conversions = 0",
        ):
            with pytest.raises(psycopg.errors.Error):
                conn.execute(statement)
        for statement in (
            "insert into bi.fct_conversions (account_id) values ('x')",
            "delete from bi.fct_conversions",
            "update bi.fct_conversion_journeys set account_id = 'x'",
            "create table bi.mine (x int)",
            "create view bi.mine as select 1",
            "select raw.refresh_bi_views()",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
    assert fetch(warehouse["url"], "select count(*) from marts.fct_conversions where account_id = 'x'")[0][0] == 0


def test_the_password_is_shown_once_and_stored_as_a_scram_verifier(warehouse):
    url, grant_ = warehouse["url"], warehouse["mine"]
    password = psycopg.conninfo.conninfo_to_dict(grant_["url"])["password"]
    assert len(password) >= 32 and grant_["sqlalchemy_url"].startswith("postgresql+psycopg://")
    stored = fetch(url, "select rolpassword from pg_authid where rolname = %s", (grant_["role"],))[0][0]
    assert stored.startswith("SCRAM-SHA-256$4096:") and password not in stored
    listed = mbuzz(url, "bi", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert password not in listed.stdout
    rows = {r["role"]: r for r in json.loads(listed.stdout)}
    assert rows[grant_["role"]]["account_id"] == warehouse["account"] and rows[grant_["role"]]["exists"]
    assert rows[warehouse["theirs"]["role"]]["account_id"] == warehouse["other"]


def test_bad_input_changes_nothing(warehouse):
    url = warehouse["url"]
    before = fetch(url, "select role_name from raw.bi_roles order by 1")
    role = role_for(url)
    try:
        cases = (
            (("grant", "--account", "acct_nope", "--role", role), "no account"),
            (
                ("grant", "--account", warehouse["account"], "--role", warehouse["mine"]["role"]),
                "already has database access",
            ),
            (("grant", "--account", warehouse["account"], "--role", "postgres"), "exists already on this server"),
            (("grant", "--account", warehouse["account"], "--role", "x; drop table raw.accounts"), "invalid role name"),
            (("revoke", "postgres"), "no BI role"),
            (("revoke", role), "no BI role"),
        )
        for args, message in cases:
            result = mbuzz(url, "bi", *args)
            assert result.returncode == 1 and message in result.stderr, (args, result.stdout, result.stderr)
        assert fetch(url, "select role_name from raw.bi_roles order by 1") == before
        assert fetch(url, "select 1 from pg_roles where rolname = %s", (role,)) == []
        assert fetch(url, "select 1 from pg_roles where rolname = 'postgres'") == [(1,)]
    finally:
        drop_role(url, role)


def test_revoke_ends_open_sessions_and_the_role_cannot_connect(warehouse):
    url = warehouse["url"]
    role = role_for(url)
    database = sql.Identifier(url.rsplit("/", 1)[-1])
    with psycopg.connect(url, autocommit=True) as conn:  # a locked-down database: `bi grant` grants CONNECT
        conn.execute(sql.SQL("revoke connect on database {} from public").format(database))
    try:
        made = grant(url, warehouse["account"], role)
        session = psycopg.connect(made["url"], autocommit=True)
        assert session.execute("select count(*) from bi.fct_attribution_credits").fetchone()[0] > 0
        result = mbuzz(url, "bi", "revoke", role, "--json")
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == {"role": role, "sessions_ended": 1}
        with pytest.raises(psycopg.OperationalError):
            session.execute("select 1")
        session.close()
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(made["url"]).close()
        assert fetch(url, "select 1 from pg_roles where rolname = %s", (role,)) == []
        assert fetch(url, "select 1 from raw.bi_roles where role_name = %s", (role,)) == []
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(sql.SQL("grant connect on database {} to public").format(database))
        drop_role(url, role)


def test_views_are_made_again_after_a_rebuild(warehouse):
    url = warehouse["url"]
    dbt(url, "run", "-s", "fct_attribution_credits", "channel_attribution_daily", target="postgres")
    with psycopg.connect(warehouse["theirs"]["url"], autocommit=True) as conn:
        assert {r[0] for r in conn.execute("select distinct account_id from bi.fct_attribution_credits")} == {
            warehouse["other"]
        }


def test_refreshes_at_the_same_time_do_not_collide(warehouse):
    """Two dbt commands (or dbt and `bi grant`) ending together refresh the views one after the other."""
    from concurrent.futures import ThreadPoolExecutor

    from mbuzz import bi

    def refresh(_: int) -> int:
        with psycopg.connect(warehouse["url"]) as conn:
            return bi.refresh_views(conn)

    with ThreadPoolExecutor(4) as pool:
        counts = set(pool.map(refresh, range(8)))
    assert counts == {len(analyst_relations(warehouse["url"]))}


def test_sqlalchemy_runs_a_chart_query_with_the_bi_url(warehouse):
    """What Superset (SQLAlchemy) does with the URL `mbuzz bi grant` prints."""
    from sqlalchemy import create_engine, pool, text

    engine = create_engine(warehouse["mine"]["sqlalchemy_url"], poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            chart = [tuple(r) for r in connection.execute(text(CHART.replace("%(since)s", ":since")), {"since": SINCE})]
    finally:
        engine.dispose()
    expected = fetch(
        warehouse["url"],
        CHART.replace("bi.channel_attribution_daily", "marts.channel_attribution_daily").replace(
            "where ", "where account_id = %(account)s and "
        ),
        {"account": warehouse["account"], "since": SINCE},
    )
    assert chart == [tuple(r) for r in expected]
    assert {channel for channel, _ in chart} == {"paid_search", "email"}


@pytest.mark.timescale
def test_isolation_on_timescale(timescale_url):
    """The views over TimescaleDB's continuous aggregates and marts show a role one account.
    (PGlite serves one session and any user name: the role is taken with `set role`.)"""
    from mbuzz import bi
    from mbuzz.accounts import create_account

    with psycopg.connect(timescale_url, autocommit=True) as conn:
        account = create_account(conn, f"BI ts {secrets.token_hex(3)}").id
        other = create_account(conn, "BI ts neighbour").id
    insert_credits(timescale_url, account)
    insert_credits(timescale_url, other)
    dbt(
        timescale_url,
        "run",
        "-s",
        "fct_attribution_credits",
        "channel_attribution_daily",
        "source_attribution_daily",
        target="timescaledb",
        threads=1,
    )
    role = f"bi_ts_{secrets.token_hex(4)}"
    try:
        with psycopg.connect(timescale_url) as conn:
            made = bi.grant(conn, account, role)
        assert made.views >= 3
        with psycopg.connect(timescale_url, autocommit=True) as conn:
            conn.execute(sql.SQL("set role {}").format(sql.Identifier(role)))
            for view in ("channel_attribution_daily", "source_attribution_daily", "fct_attribution_credits"):
                seen = {
                    r[0]
                    for r in conn.execute(sql.SQL("select distinct account_id from bi.{}").format(sql.Identifier(view)))
                }
                assert seen == {account}, view
            credited = conn.execute("select sum(conversions) from bi.channel_attribution_daily").fetchone()[0]
            for relation in ("marts.channel_attribution_daily", "raw.accounts", "attribution.attribution_credits"):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(f"select 1 from {relation} limit 1")
            conn.execute("reset role")
        mine = fetch(
            timescale_url,
            "select sum(conversions) from marts.channel_attribution_daily where account_id = %s",
            (account,),
        )[0][0]
        assert credited == mine and credited > 0
        with psycopg.connect(timescale_url) as conn:
            bi.revoke(conn, role)
        assert fetch(timescale_url, "select 1 from pg_roles where rolname = %s", (role,)) == []
    finally:
        with psycopg.connect(timescale_url, autocommit=True) as conn:
            if conn.execute("select 1 from pg_roles where rolname = %s", (role,)).fetchone():
                conn.execute(sql.SQL("drop owned by {}").format(sql.Identifier(role)))
                conn.execute(sql.SQL("drop role {}").format(sql.Identifier(role)))
