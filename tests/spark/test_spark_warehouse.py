"""The warehouse on Spark (preview): the tests' fixture dataset (tests/dbt/dataset.py) built into
PostgreSQL, landed to the lake (mbuzz.lake.land: Parquet), then `dbt build --target spark` of the
models ported so far on a real standalone cluster (tests/spark/cluster.py) — the Spark tables
equal the PostgreSQL ones row for row, timestamps compared in UTC."""

from __future__ import annotations

import json
import os
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from mbuzz.db import connect
from mbuzz.fx import record_rates
from mbuzz.lake import land
from mbuzz.paths import PROJECT_DIR
from mbuzz.warehouse import run_dbt
from tests.dbt.dataset import build_dataset, dbt, fetch, load

pytestmark = [pytest.mark.spark, pytest.mark.slow]

DBT_TIMEOUT = 420  # seconds: ~2.5 min on a busy 2-core machine (the first build of a cluster)

# what runs on Spark today (docs/operations.md, "Spark (preview)")
PORTED = (
    "stg_raw__accounts", "stg_raw__events", "stg_raw__fx_rates", "stg_raw__conversions", "stg_raw__email_hashes",
    "int_sessions", "int_sessions_classified", "int_identities", "int_touches_identified", "dim_channels",
    "fct_sessions", "fct_conversion_journeys", "fct_conversions",
)  # fmt: skip
SEEDS = ("channel_rules", "click_ids", "source_categories")
# the models' data tests too, but only those whose every parent is built here (not the unit tests:
# their fixtures are PostgreSQL SQL)
BUILD_FLAGS = ("--indirect-selection", "cautious", "--exclude-resource-type", "unit_test")
CLICK_IDS = ("gclid", "gbraid", "wbraid", "dclid", "msclkid", "fbclid", "ttclid", "li_fat_id")
UTMS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")

# (relation, its columns, the order): each compared for the fixture account only
TABLES = {
    "accounts": (
        "staging.stg_raw__accounts",
        ("account_id", "account_name", "tier", "own_domains", "reporting_currency", "timezone", "created_at"),
        "account_id",
    ),
    "events": (
        "staging.stg_raw__events",
        (
            "event_id", "environment", "event_type", "visitor_id", "user_id", "client_session_id", "occurred_at",
            "received_at", "page_url", "referrer", "placement", *UTMS, *CLICK_IDS,
        ),
        "event_id",
    ),
    "sessions": (
        "intermediate.int_sessions",
        (
            "session_id", "environment", "visitor_id", "user_id", "started_at", "ended_at", "event_count",
            "is_client_session", "landing_event_id", "landing_url", "landing_host", "referrer", "referrer_host",
            *UTMS, *CLICK_IDS, "first_mql_at", "first_sql_at", "max_received_at",
        ),
        "session_id",
    ),
    "channels": (
        "intermediate.int_sessions_classified",
        (
            "session_id", "environment", "visitor_id", "user_id", "started_at", "ended_at", "landing_event_id",
            "landing_host", "referrer_host", *UTMS, "gclid", "fbclid", "source", "medium", "campaign",
            "source_category", "is_self_referral", "channel", "channel_rule", "max_received_at",
        ),
        "session_id",
    ),
    "conversions": (
        "staging.stg_raw__conversions",
        (
            "conversion_id", "environment", "conversion_type", "visitor_id", "user_id", "event_id", "revenue",
            "currency", "original_revenue", "original_currency", "fx_rate_missing", "group_id", "converted_at",
            "converted_local_date", "received_at",
        ),
        "conversion_id",
    ),
    "identities": (
        "intermediate.int_identities",
        ("environment", "visitor_id", "user_id", "identified_at"),
        "environment, visitor_id",
    ),
    "fct_sessions": (
        "marts.fct_sessions",
        (
            "session_id", "environment", "visitor_id", "user_id", "identity_key", "started_at", "ended_at",
            "started_date", "event_count", "landing_url", "channel", "channel_rule", "first_mql_at", "first_sql_at",
        ),
        "session_id",
    ),
    "journeys": (
        "marts.fct_conversion_journeys",
        (
            "environment", "journey_id", "conversion_id", "converted", "conversion_ts", "conversion_type",
            "revenue", "touch_index", "touch_ts", "session_id", "channel", "utm_source", "utm_medium",
            "utm_campaign", "milestones", "identity_key", "max_received_at", "conversion_received_at",
        ),
        "journey_id, coalesce(touch_index, -1)",  # one order on both: Spark sorts nulls first, PostgreSQL last
    ),
    "fct_conversions": (
        "marts.fct_conversions",
        (
            "conversion_id", "environment", "conversion_type", "identity_key", "revenue", "currency",
            "fx_rate_missing", "converted_date", "touch_count", "first_touch_at", "first_touch_channel",
            "last_touch_channel",
        ),
        "conversion_id",
    ),
}  # fmt: skip
RATE_OLD, RATE = "1.2500000000", "1.0842000000"  # EUR → USD: the first upload, and the one replacing it


def normalise(value):
    """One form for both engines: timestamps as UTC datetimes (PyHive gives Spark's as text in the
    session zone, UTC), dates as ISO text, arrays as lists (Spark's come as JSON text), numbers as Decimal."""
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc)
    if isinstance(value, date):  # PyHive gives Spark's dates as text
        return value.isoformat()
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] == " " and value[13] == ":":
        return datetime.fromisoformat(value).replace(tzinfo=timezone.utc)
    if isinstance(value, str) and value.startswith("["):
        return json.loads(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return Decimal(value)
    return value


def rows(fetch_rows, relation: str, columns: tuple[str, ...], order: str, account: str) -> list[tuple]:
    query = f"select {', '.join(columns)} from {relation} where account_id = '{account}' order by {order}"
    return [tuple(normalise(v) for v in row) for row in fetch_rows(query)]


@pytest.fixture(scope="module")
def built(database_url, fixture_account, spark_cluster, tmp_path_factory):
    """The dataset in PostgreSQL (the ported models built there), landed to a fresh lake, and
    the same models built on the cluster over Thrift."""
    load(database_url, build_dataset(fixture_account))
    lake = tmp_path_factory.mktemp("lake")
    with connect(database_url) as conn:
        days = reporting_in_usd(conn, fixture_account, RATE_OLD)
        landed = land(conn, str(lake), until=datetime.now(timezone.utc), margin=timedelta(0))
        conn.commit()  # the next upload's received_at (its transaction's start) is after that window
        # uploaded again: PostgreSQL keeps the newest row, the lake both versions (staging keeps the newest)
        record_rates(conn, fixture_account, [rate_row(day, RATE) for day in days])
        conn.commit()
        relanded = land(conn, str(lake), until=datetime.now(timezone.utc), margin=timedelta(0))
    assert landed.copied["events"] > 0 and landed.accounts > 0
    assert relanded.copied["fx_rates"] >= len(days) > 0
    dbt(database_url, "build", "--select", *SEEDS, *PORTED, *BUILD_FLAGS, target="postgres")
    env = {
        "MBUZZ_LAKE": str(lake),
        "MBUZZ_SPARK_HOST": "127.0.0.1",
        "MBUZZ_SPARK_PORT": str(spark_cluster.thrift_port),
        "MBUZZ_SPARK_AUTH": "NOSASL",
    }
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        run_dbt(
            ["build", "--select", *SEEDS, *PORTED, *BUILD_FLAGS],
            url=database_url,
            target="spark",
            threads=2,
            subprocess_mode=True,
            timeout=DBT_TIMEOUT,
            target_path=str(Path(os.environ.get("MBUZZ_TEST_DBT_TARGETS", PROJECT_DIR / "target")) / "pytest-spark"),
        )
    return lake


def rate_row(day, rate: str) -> dict:
    return {"date": day.isoformat(), "currency": "EUR", "quote_currency": "USD", "rate": rate}


def reporting_in_usd(conn, account: str, rate: str) -> list:
    """The account reports in USD, with an EUR rate for every conversion day but the first (whose
    revenue is a visible gap: fx_rate_missing). Returns the days with a rate."""
    conn.execute(
        'update raw.accounts set settings = settings || \'{"currency": "USD"}\'::jsonb where id = %s', (account,)
    )
    days = [
        row[0]
        for row in conn.execute(
            "select distinct (converted_at at time zone 'UTC')::date from raw.conversions"
            " where account_id = %s and revenue <> 0 order by 1",
            (account,),
        )
    ][1:]
    record_rates(conn, account, [rate_row(day, rate) for day in days])
    conn.commit()
    return days


@pytest.mark.parametrize("name", list(TABLES))
def test_spark_equals_postgres(name, built, database_url, fixture_account, spark_sql):
    relation, columns, order = TABLES[name]
    expected = rows(lambda q: fetch(database_url, q), relation, columns, order, fixture_account)
    actual = rows(spark_sql, relation, columns, order, fixture_account)
    assert expected, f"{relation}: no rows on PostgreSQL (the fixture did not build)"
    assert len(actual) == len(expected)
    for want, got in zip(expected, actual):
        assert dict(zip(columns, got)) == dict(zip(columns, want))


def test_the_attribution_asset_on_spark_credits_the_spark_journeys_as_postgres_does(
    built, database_url, fixture_account, monkeypatch
):
    """MBUZZ_WAREHOUSE=spark: the asset's run (mbuzz.spark_attribution.run, a local Spark application)
    reads the journeys the spark target built into the lake and writes credits equal to PostgreSQL's
    run on its own journeys, every preset, to 1e-9; the run is recorded in PostgreSQL."""
    import pandas as pd
    import pyarrow.dataset as ds

    from mbuzz.attribution_runs import run_attribution
    from orchestration.assets.attribution import attribution_service

    lo, hi = fetch(
        database_url,
        "select min(converted_at), max(converted_at) from raw.conversions where account_id = %s",
        (fixture_account,),
    )[0]
    start = datetime(lo.year, lo.month, lo.day, tzinfo=timezone.utc)
    end = datetime(hi.year, hi.month, hi.day, tzinfo=timezone.utc) + timedelta(days=1)
    postgres = run_attribution(lambda: connect(database_url), start, end, data_driven=False)
    for key, value in {
        "MBUZZ_WAREHOUSE": "spark",
        "MBUZZ_LAKE": str(built),
        "MBUZZ_SPARK_MASTER": "local[1]",
        "SPARK_LOCAL_IP": "127.0.0.1",
    }.items():
        monkeypatch.setenv(key, value)
    spark = attribution_service()(lambda: connect(database_url), start, end, data_driven=False)
    assert spark.conversions == postgres.conversions > 0 and spark.models == postgres.models

    columns = ["model", "conversion_id", "touch_index", "channel", "credit", "revenue_credit"]
    want = pd.DataFrame(
        fetch(
            database_url,
            f"select {', '.join(columns)} from attribution.attribution_credits where account_id = %s and run_id = %s",
            (fixture_account, postgres.run_id),
        ),
        columns=columns,
    )
    credits = ds.dataset(built / "attribution_credits", format="parquet", partitioning="hive").to_table()
    got = credits.to_pandas().query("account_id == @fixture_account and run_id == @spark.run_id")[columns]
    assert len(want) > 0 and len(got) == len(want)
    order = ["model", "conversion_id", "touch_index"]
    want, got = (
        frame.assign(touch_index=frame["touch_index"].fillna(-1).astype(int))
        .astype({"credit": float, "revenue_credit": float})
        .sort_values(order, ignore_index=True)
        for frame in (want, got)
    )
    for name in ("model", "conversion_id", "touch_index", "channel"):
        assert got[name].tolist() == want[name].tolist(), name
    for name in ("credit", "revenue_credit"):
        assert abs(got[name].to_numpy() - want[name].to_numpy()).max() < 1e-9, name
    status, engine = fetch(
        database_url,
        "select status, config->>'engine' from attribution.attribution_runs where run_id = %s",
        (spark.run_id,),
    )[0]
    assert (status, engine) == ("succeeded", "spark")
