"""The lake landing (mbuzz/lake.py, `mbuzz lake land`, the `lake_landing` asset): raw rows copied
to Parquet partitioned by account and day, exactly once — a rerun copies nothing, new rows are
copied once, and a landing SIGKILLed half-way is redone by the next run without doubles."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg
import pyarrow.dataset as ds
import pytest

from mbuzz.demo.traffic import generate, load_direct
from mbuzz.fx import record_rates
from mbuzz.spend import record_spend

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]


def lake_rows(lake: Path, table: str) -> list[dict]:
    return ds.dataset(lake / table, format="parquet", partitioning="hive").to_table().to_pylist()


def pg_count(url: str, table: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute(f"select count(*) from raw.{table}").fetchone()[0]


@pytest.fixture
def warehouse(new_database):
    """A database of its own (the lake copies every account of it) with two accounts' histories."""
    from mbuzz.accounts import create_account

    with new_database() as url:
        with psycopg.connect(url, autocommit=True) as conn:
            accounts = [create_account(conn, name).id for name in ("Lake A", "Lake B")]
            end = datetime.now(timezone.utc) - timedelta(hours=1)
            for seed, account in enumerate(accounts):  # received when they happened: all before the margin
                load_direct(conn, account, generate(visitors=60, days=5, seed=seed, end=end), streamed=True)
            record_spend(
                conn,
                accounts[0],
                "live",
                [{"date": "2026-11-01", "channel": "display", "amount": "5", "currency": "EUR", "impressions": 900}],
            )
            record_rates(
                conn,
                accounts[0],
                [{"date": "2026-11-01", "currency": "EUR", "quote_currency": "USD", "rate": "1.0842"}],
            )
            conn.execute("update raw.ad_spend set received_at = now() - interval '1 hour'")
            conn.execute("update raw.fx_rates set received_at = now() - interval '1 hour'")
        yield url, accounts


def test_every_raw_row_lands_once_partitioned_by_account_and_day(warehouse, tmp_path):
    from mbuzz import lake

    url, (a, b) = warehouse
    with psycopg.connect(url) as conn:
        first = lake.land(conn, str(tmp_path / "lake"))
    for table in ("events", "conversions", "ad_spend", "fx_rates"):
        assert first.copied[table] == pg_count(url, table) > 0, table
        assert len(lake_rows(tmp_path / "lake", table)) == first.copied[table]
    events = lake_rows(tmp_path / "lake", "events")
    with psycopg.connect(url) as conn:
        expected = {
            (r[0], r[1], r[2], str(r[3]))
            for r in conn.execute(
                "select account_id, event_id, event_type, (occurred_at at time zone 'UTC')::date from raw.events"
            )
        }
    assert {(r["account_id"], r["event_id"], r["event_type"], r["day"]) for r in events} == expected
    # one account's partition holds only its rows
    only_b = ds.dataset(tmp_path / "lake" / "events" / f"account_id={b}", format="parquet", partitioning="hive")
    assert only_b.count_rows() == sum(1 for r in events if r["account_id"] == b) > 0
    assert {json.loads(r["properties"]) is not None for r in events} == {True}
    spend = lake_rows(tmp_path / "lake", "ad_spend")
    assert [(r["account_id"], r["channel"], r["impressions"], r["clicks"]) for r in spend] == [
        (a, "display", 900, None)
    ]
    rates = lake_rows(tmp_path / "lake", "fx_rates")
    assert [(r["account_id"], r["day"], r["currency"], r["quote_currency"], str(r["rate"])) for r in rates] == [
        (a, "2026-11-01", "EUR", "USD", "1.0842000000")
    ]
    accounts = ds.dataset(tmp_path / "lake" / "accounts", format="parquet").to_table()
    assert sorted(accounts.column("id").to_pylist()) == sorted([a, b])
    assert not {"key_digest", "password_hash"} & set(accounts.column_names)
    assert not (tmp_path / "lake" / "api_keys").exists() and not (tmp_path / "lake" / "users").exists()

    # a rerun copies nothing; rows received since are copied once
    with psycopg.connect(url) as conn:
        again = lake.land(conn, str(tmp_path / "lake"))
    assert again.copied == {"events": 0, "conversions": 0, "ad_spend": 0, "fx_rates": 0}
    with psycopg.connect(url, autocommit=True) as conn:
        from mbuzz.db import events_are_unique
        from mbuzz.db.landing import land_events

        now = conn.execute("select now()").fetchone()[0]  # received now, as the API lands them
        rows = [
            {
                "event_id": f"late-{n}",
                "event_type": "page_view",
                "visitor_id": "vis_late",
                "occurred_at": now.isoformat(),
                "properties": {},
            }
            for n in range(7)
        ]
        added = land_events(
            conn, json.dumps(rows), unique=events_are_unique(conn), account_id=a, environment="live", received_at=now
        )
        held = lake.land(conn, str(tmp_path / "lake"))  # within the margin: not yet (a commit may be in flight)
        late = lake.land(conn, str(tmp_path / "lake"), margin=timedelta(0))
    assert held.copied["events"] == 0
    assert late.copied["events"] == added > 0
    assert len(lake_rows(tmp_path / "lake", "events")) == pg_count(url, "events")


def test_a_landing_killed_half_way_is_redone_by_the_next_run_without_doubles(warehouse, tmp_path):
    url, _ = warehouse
    target = tmp_path / "lake"
    # small chunks, and a SIGKILL of the whole process right after the second chunk of events is written
    script = (
        "import os, signal, psycopg\n"
        "from mbuzz import lake\n"
        "lake.CHUNK_ROWS = 200\n"
        "def progress(message):\n"
        "    if message == 'events: 400 rows written':\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        f"with psycopg.connect({url!r}) as conn:\n"
        f"    lake.land(conn, {str(target)!r}, on_progress=progress)\n"
    )
    killed = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=os.environ, timeout=300)
    assert killed.returncode == -9
    state = json.loads((target / "_mbuzz" / "state.json").read_text())
    assert state["events"]["pending"] and not state["events"]["committed"]
    assert 0 < len(lake_rows(target, "events")) < pg_count(url, "events")  # a half-written window

    answer = subprocess.run(
        [str(Path(sys.executable).parent / "mbuzz"), "lake", "land", "--lake", str(target), "--json"],
        cwd=REPO,
        env={**os.environ, "DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert answer.returncode == 0, answer.stderr
    result = json.loads(answer.stdout)
    assert result["redone"] == ["events"]
    events = lake_rows(target, "events")
    assert len(events) == pg_count(url, "events")
    assert len({(r["account_id"], r["event_id"], r["occurred_at"]) for r in events}) == len(events)  # no doubles
    assert len(lake_rows(target, "conversions")) == pg_count(url, "conversions")


def test_without_a_lake_the_command_says_what_to_set(warehouse):
    url, _ = warehouse
    env = {key: value for key, value in os.environ.items() if key != "MBUZZ_LAKE"}
    answer = subprocess.run(
        [str(Path(sys.executable).parent / "mbuzz"), "lake", "land"],
        cwd=REPO,
        env={**env, "DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert answer.returncode == 2 and "set MBUZZ_LAKE" in answer.stderr


def test_the_asset_lands_into_the_configured_lake(warehouse, tmp_path, monkeypatch):
    import dagster as dg

    from orchestration.assets.lake import lake_landing
    from orchestration.resources import Warehouse

    url, _ = warehouse
    monkeypatch.delenv("MBUZZ_LAKE", raising=False)
    skipped = dg.materialize([lake_landing], resources={"warehouse": Warehouse(url=url)})
    metadata = skipped.asset_materializations_for_node("lake_landing")[0].metadata
    assert "MBUZZ_LAKE is not set" in metadata["skipped"].value
    monkeypatch.setenv("MBUZZ_LAKE", str(tmp_path / "lake"))
    landed = dg.materialize([lake_landing], resources={"warehouse": Warehouse(url=url)})
    metadata = landed.asset_materializations_for_node("lake_landing")[0].metadata
    assert metadata["events_rows"].value == pg_count(url, "events")
