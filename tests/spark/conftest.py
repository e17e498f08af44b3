"""Fixtures of the Spark tier (tests/spark/cluster.py): a real standalone cluster from the pyspark
wheel — a master, two workers and the Thrift server, all on 127.0.0.1 — started once per session
and stopped (every process group it started) at the end. Skipped, with the reason, where there is
no Java; every test here is marked `spark` and `slow`."""

from __future__ import annotations

import secrets

import pytest

from tests.spark.cluster import JavaMissing, SparkCluster, java


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/spark/" in item.nodeid.replace("\\", "/"):
            item.add_marker(pytest.mark.spark)
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def fixture_account() -> str:
    """The account the fixture dataset is loaded under (the session's database is shared)."""
    return f"acct_spk{secrets.token_hex(4)}"


@pytest.fixture(scope="session")
def spark_cluster(tmp_path_factory):
    try:
        java()
    except JavaMissing as exc:
        pytest.skip(str(exc))
    cluster = SparkCluster(tmp_path_factory.mktemp("spark"), workers=2, worker_memory="1g", worker_cores=1)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def spark_sql(spark_cluster):
    """`spark_sql(query)` → rows, over the cluster's Thrift server (PyHive)."""
    from pyhive import hive

    conn = hive.connect(host="127.0.0.1", port=spark_cluster.thrift_port, auth="NOSASL")

    def run(query: str) -> list[tuple]:
        cursor = conn.cursor()
        try:
            cursor.execute(query)
            return cursor.fetchall() if cursor.description else []
        finally:
            cursor.close()

    try:
        yield run
    finally:
        conn.close()
