"""Attribution on Spark (mbuzz/spark_attribution.py) equals the PostgreSQL run on the same journeys.

Journeys are seeded into PostgreSQL's marts.fct_conversion_journeys (tests/journeys_seed.py: converted
journeys and non-converting paths, so the data-driven models fit), attributed there by
run_attribution, and copied to a Parquet folder of the lake that the Spark run reads
(`spark_journeys`; test_spark_warehouse.py attributes the dbt-built Spark journeys). The Spark run is one
application on the session's standalone cluster (an extra worker of this module gives it a core:
the Thrift server holds the other two). Its credits equal PostgreSQL's per (conversion, touch,
model) to 1e-9 under every preset, a custom DSL model and the four data-driven models; the blocking
checks in Spark SQL pass on them and fail on corrupted copies; and fct_attribution_credits and the
daily aggregates built by `dbt --target spark` over them equal the PostgreSQL ones."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pandas as pd
import psycopg
import pytest

from attribution.models import DATA_DRIVEN, list_presets
from mbuzz import models_service
from mbuzz.attribution_runs import custom_models, run_attribution
from mbuzz.paths import PROJECT_DIR
from mbuzz.spark_attribution import check_credits, run_spark_attribution, spark_session
from mbuzz.warehouse import run_dbt
from tests.dbt.dataset import dbt, fetch
from tests.journeys_seed import END, START, seed_journeys
from tests.spark.cluster import READY_TIMEOUT, ClusterError, free_port

pytestmark = [pytest.mark.spark, pytest.mark.slow]

TOLERANCE = 1e-9
DBT_TIMEOUT = 420
DSL = """model "Spark U"
  credit first_touch with 0.4
  credit last_touch with 0.4
  credit middle_touches with 0.2 equally
end
"""
# paths that never converted (the data-driven models need them), touched the days before START
PATHS = """
insert into marts.fct_conversion_journeys
select %(account)s, 'live', 'path_' || c, null, false, null, null, null, t,
       %(start)s - make_interval(hours => c) + make_interval(mins => t),
       'psess_' || c || '_' || t, (array['paid_search', 'email', 'direct', 'organic_search'])[1 + (c * t) %% 4],
       'google', 'cpc', 'spring', ''
from generate_series(1, %(paths)s) c, generate_series(0, 1 + c %% 3) t
"""
JOURNEYS = "select * from marts.fct_conversion_journeys where account_id = any(%s)"
CREDITS = ("model", "conversion_id", "touch_index", "channel", "credit", "revenue_credit", "environment", "local_day")
AGGREGATES = {
    "channel_attribution_daily": ("environment", "model", "day", "local_day", "channel"),
    "source_attribution_daily": (
        "environment", "model", "day", "local_day", "channel", "utm_source", "utm_medium", "utm_campaign",
    ),
    "rpt_channel_attribution": ("environment", "model", "channel"),
}  # fmt: skip
MEASURES = {
    "channel_attribution_daily": ("conversions", "revenue", "touches"),
    "source_attribution_daily": ("conversions", "revenue", "touches"),
    "rpt_channel_attribution": ("conversions", "view_through_conversions", "revenue", "touches", "conversions_touched"),
}
AGGREGATE_MODELS = ("fct_attribution_credits", *AGGREGATES)


@pytest.fixture(scope="module")
def extra_worker(spark_cluster, tmp_path_factory):
    """One more worker (1 core) on the session's master, for the attribution application; stopped after."""
    import signal

    folder = tmp_path_factory.mktemp("attribution-worker")
    log = folder / "worker.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [str(Path(spark_cluster.env()["SPARK_HOME"]) / "bin" / "spark-class"),
             "org.apache.spark.deploy.worker.Worker", spark_cluster.master_url,
             "--host", "127.0.0.1", "--port", str(free_port()), "--webui-port", str(free_port()),
             "--cores", "1", "--memory", "1g", "--work-dir", str(folder)],
            cwd=folder, env=spark_cluster.env(), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        while "Successfully registered with master" not in log.read_text(errors="replace"):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise ClusterError(f"the attribution worker did not register:\n{log.read_text(errors='replace')}")
            time.sleep(0.5)
        yield proc
    finally:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(proc.pid, sig)
                proc.wait(timeout=15)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                continue
            break


@pytest.fixture(scope="module")
def spark(spark_cluster, extra_worker, tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SPARK_LOCAL_IP", "127.0.0.1")
        patch.setenv("SPARK_LOCAL_HOSTNAME", "localhost")
        session = spark_session(
            spark_cluster.master_url,
            {
                "spark.driver.host": "127.0.0.1",
                "spark.driver.bindAddress": "127.0.0.1",
                "spark.driver.memory": "1g",
                "spark.executor.memory": "768m",
                "spark.cores.max": "1",
                "spark.ui.enabled": "false",
                "spark.sql.shuffle.partitions": "4",
                "spark.sql.catalogImplementation": "in-memory",
                "spark.sql.warehouse.dir": str(tmp_path_factory.mktemp("attribution-warehouse")),
            },
        )
        try:
            yield session
        finally:
            session.stop()


def spark_journeys(database_url: str, accounts: list[str], lake: Path) -> str:
    """The journeys the Spark run reads: PostgreSQL's marts.fct_conversion_journeys of the accounts, every
    column, copied to Parquet (seeded, not dbt-built: the data-driven models need many paths;
    test_spark_warehouse.py attributes the journeys dbt builds on Spark)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    with psycopg.connect(database_url) as conn:
        cur = conn.execute(JOURNEYS, (accounts,))
        frame = pd.DataFrame(cur.fetchall(), columns=[d.name for d in cur.description])
    frame["revenue"] = frame["revenue"].astype(float)
    folder = lake / "journeys"
    folder.mkdir(parents=True)
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), folder / "part-0.parquet", coerce_timestamps="us")
    return str(folder)


@pytest.fixture(scope="module")
def runs(database_url, spark, tmp_path_factory):
    """The same journeys attributed by PostgreSQL's run_attribution and by the Spark run."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        # the session's database is shared with the other Spark modules: leave its journeys marts as found
        existed = conn.execute("select to_regclass('marts.fct_conversion_journeys') is not null").fetchone()[0]
        accounts = seed_journeys(conn, conversions=40, touches=3, accounts=2)
        for account in accounts:
            conn.execute(PATHS, {"account": account, "start": START, "paths": 60})
        models_service.create_model(conn, accounts[0], DSL)
        custom = {a: custom_models(conn, a) for a in accounts}
    assert custom[accounts[0]] and not custom[accounts[1]]
    postgres = run_attribution(lambda: psycopg.connect(database_url), START, END, data_driven=True)
    lake = tmp_path_factory.mktemp("attribution-lake")
    result = run_spark_attribution(
        spark,
        START,
        END,
        journeys=spark_journeys(database_url, accounts, lake),
        credits=str(lake / "attribution_credits"),
        accounts=None,
        account_ids=accounts,
        custom=custom,
    )
    yield accounts, postgres, result, lake
    with psycopg.connect(database_url, autocommit=True) as conn:
        if existed:
            conn.execute("delete from marts.fct_conversion_journeys where account_id = any(%s)", (accounts,))
        else:
            conn.execute("drop table marts.fct_conversion_journeys, marts.fct_group_conversion_journeys cascade")


def _postgres_credits(database_url: str, run_id: str, account: str) -> pd.DataFrame:
    rows = fetch(
        database_url,
        f"select {', '.join(CREDITS)} from attribution.attribution_credits where run_id = %s and account_id = %s",
        (run_id, account),
    )
    return pd.DataFrame(rows, columns=list(CREDITS))


def _spark_credits(spark, lake: Path, account: str) -> pd.DataFrame:
    frame = spark.read.parquet(str(lake / "attribution_credits")).where(f"account_id = '{account}'")
    return frame.select(*CREDITS).toPandas()


def _keyed(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.astype({"touch_index": "int64", "credit": float, "revenue_credit": float})
    frame["local_day"] = pd.to_datetime(frame["local_day"]).dt.date
    return frame.sort_values(["model", "conversion_id", "touch_index"]).reset_index(drop=True)


def test_spark_credits_equal_postgres(runs, database_url, spark):
    accounts, postgres, result, lake = runs
    assert result.checks is not None and result.checks.passed and result.checks.conversion_models > 0
    for account in accounts:
        want = _keyed(_postgres_credits(database_url, postgres.run_id, account))
        got = _keyed(_spark_credits(spark, lake, account))
        # every preset, the four data-driven models and (the first account's) the custom DSL model ran on both
        custom = {m for m in want["model"] if m.startswith("amod_")}
        assert set(want["model"]) == set(list_presets()) | set(DATA_DRIVEN) | custom
        assert len(custom) == (1 if account == accounts[0] else 0)
        assert set(want["model"]) == set(got["model"])
        assert len(got) == len(want) > 0
        pd.testing.assert_frame_equal(
            got.drop(columns=["credit", "revenue_credit"]), want.drop(columns=["credit", "revenue_credit"])
        )
        assert (got["credit"] - want["credit"]).abs().max() <= TOLERANCE
        assert (got["revenue_credit"] - want["revenue_credit"]).abs().max() <= TOLERANCE
    assert result.conversions == 80 and result.credits_written == sum(
        len(_spark_credits(spark, lake, a)) for a in accounts
    )


def test_blocking_checks_fail_on_corrupted_credits(runs, spark):
    from pyspark.sql import functions as F

    accounts, _postgres, result, lake = runs
    credits = spark.read.parquet(str(lake / "attribution_credits"))
    journeys = str(lake / "journeys")
    expected = result.account_models
    assert check_credits(spark, credits, journeys, START, END, expected).passed
    first = credits.where("model = 'linear'").orderBy("conversion_id", "touch_index").first()
    one = (
        (F.col("account_id") == first["account_id"])
        & (F.col("model") == "linear")
        & (F.col("conversion_id") == first["conversion_id"])
    )
    touch = one & (F.col("touch_index") == first["touch_index"])
    negative = credits.withColumn("credit", F.when(touch, -F.col("credit")).otherwise(F.col("credit")))
    assert check_credits(spark, negative, journeys, START, END, expected).failures().keys() >= {
        "negative",
        "not_summing_to_1",
    }
    halved = credits.withColumn(
        "revenue_credit", F.when(one, F.col("revenue_credit") / 2).otherwise(F.col("revenue_credit"))
    )
    halved = halved.withColumn("credit", F.when(one, F.col("credit") / 2).otherwise(F.col("credit")))
    assert check_credits(spark, halved, journeys, START, END, expected).failures().get("not_summing_to_1") == 1
    dropped = credits.where(~one)
    assert check_credits(spark, dropped, journeys, START, END, expected).failures().get("unattributed") == 1
    no_markov = credits.where("model <> 'markov'")
    assert check_credits(spark, no_markov, journeys, START, END, expected).failures().get("unattributed") == 80


def test_aggregates_equal_postgres(runs, database_url, spark_cluster, spark_sql):
    accounts, _postgres, _result, lake = runs
    dbt(database_url, "run", "--select", *AGGREGATE_MODELS, target="postgres")
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
            ["run", "--select", *AGGREGATE_MODELS],
            url=database_url,
            target="spark",
            threads=2,
            subprocess_mode=True,
            timeout=DBT_TIMEOUT,
            target_path=str(
                Path(os.environ.get("MBUZZ_TEST_DBT_TARGETS", PROJECT_DIR / "target")) / "pytest-spark-attribution"
            ),
        )
    for name, keys in AGGREGATES.items():
        relation = f"marts.{name}"
        columns = (*keys, *MEASURES[name])
        query = (
            f"select {', '.join(columns)} from {relation} where account_id in ({', '.join(repr(a) for a in accounts)})"
        )
        want = pd.DataFrame(fetch(database_url, query), columns=list(columns))
        got = pd.DataFrame(spark_sql(query), columns=list(columns))
        assert len(got) == len(want) > 0, name
        for frame in (want, got):
            for key in ("day", "local_day"):
                if key in frame:
                    frame[key] = pd.to_datetime(frame[key], utc=key == "day").dt.strftime("%Y-%m-%d")
            for measure in MEASURES[name]:
                frame[measure] = frame[measure].astype(float)
        want = want.sort_values(list(keys)).reset_index(drop=True)
        got = got.sort_values(list(keys)).reset_index(drop=True)
        pd.testing.assert_frame_equal(got[list(keys)], want[list(keys)], check_dtype=False)
        for measure in MEASURES[name]:
            assert (got[measure] - want[measure]).abs().max() <= TOLERANCE, (name, measure)
