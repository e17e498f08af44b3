"""The Spark tier's cluster (tests/spark/cluster.py) is a real one: a master, two workers and the
Thrift server on 127.0.0.1, queries running on the workers' executors, and nothing left running
once it is stopped."""

from __future__ import annotations

import os
import socket

import psutil
import pytest

from tests.spark.cluster import SparkCluster

pytestmark = [pytest.mark.spark, pytest.mark.slow]


def test_the_cluster_is_real(spark_cluster, spark_sql):
    assert spark_cluster.alive() == ["master", "worker1", "worker2", "thrift"]
    assert spark_sql("select count(*), sum(id) from range(1000)") == [(1000, 499500)]
    assert spark_sql("select current_timezone()") == [("UTC",)]
    assert spark_sql("set spark.master")[0][1] == spark_cluster.master_url
    # the master sees both workers, and the Thrift server as an application running on their executors
    state = spark_cluster.master_state()
    assert state["aliveworkers"] == 2 and {w["host"] for w in state["workers"]} == {"127.0.0.1"}
    [app] = state["activeapps"]
    assert app["name"].startswith("SparkSQL") and app["cores"] == 2  # the Thrift server
    assert sum(w["coresused"] for w in state["workers"]) == 2


def test_stop_ends_every_process_it_started(tmp_path):
    cluster = SparkCluster(tmp_path, workers=1, worker_memory="512m")
    cluster.start()
    pids = [proc.pid for _name, proc, _log in cluster.procs]
    port = cluster.thrift_port
    cluster.stop()
    assert cluster.alive() == [] and cluster.procs == []
    # every process group is gone, launchers, JVMs and the executors the workers started
    # (zombies aside: what no init reaps here is dead all the same)
    left = [
        (proc.pid, proc.info["cmdline"])
        for proc in psutil.process_iter(["cmdline", "status"])
        if _group(proc.pid) in pids and proc.info["status"] != psutil.STATUS_ZOMBIE
    ]
    assert left == []
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0


def _group(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None
