"""MBUZZ_WAREHOUSE picks the engine, and the asset graph is the same on each: the same asset keys,
the same checks, the same jobs. Loading the definitions for Spark touches no database either."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from mbuzz.errors import MbuzzError
from mbuzz.paths import PROJECT_DIR
from tests.orchestration.test_imports import Listener

pytestmark = pytest.mark.slow

DESCRIBE = """
import json, orchestration.definitions as d
graph = d.defs.resolve_asset_graph()
print(json.dumps({
    "assets": sorted(k.to_user_string() for k in graph.get_all_asset_keys()),
    "checks": sorted(k.to_user_string() for k in graph.asset_check_keys),
    "jobs": sorted(j.name for j in d.defs.resolve_all_job_defs()),
    "executor": d.defs.resolve_job_def("pipeline").executor_def.name,
    "attribution_kinds": sorted(graph.get(d.dg.AssetKey("attribution_credits")).kinds),
}))
"""


def _load(tmp_path: Path, warehouse: str, target: Path, port: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MBUZZ_", "DAGSTER_", "DBT_"))}
    env.update(
        {
            "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{port}/nowhere",
            "MBUZZ_HOME": str(tmp_path / warehouse / "home"),  # no embedded server may start here
            "MBUZZ_DBT_TARGET_PATH": str(target),
            "DAGSTER_HOME": str(tmp_path / warehouse / "dagster"),
            "MBUZZ_WAREHOUSE": warehouse,
        }
    )
    return subprocess.Popen(
        [sys.executable, "-c", DESCRIBE],
        cwd=PROJECT_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture(scope="module")
def spark_manifest(tmp_path_factory) -> Path:
    """The manifest `mbuzz warehouse parse` writes under MBUZZ_WAREHOUSE=spark (the spark target)."""
    from mbuzz.warehouse import parse_project

    target = tmp_path_factory.mktemp("dbt-spark-parsed")
    previous = os.environ.get("MBUZZ_WAREHOUSE")
    os.environ["MBUZZ_WAREHOUSE"] = "spark"
    try:
        parse_project(target)
    finally:
        if previous is None:
            os.environ.pop("MBUZZ_WAREHOUSE")
        else:
            os.environ["MBUZZ_WAREHOUSE"] = previous
    return target


def test_both_warehouses_show_the_same_assets_checks_and_jobs(dbt_target, spark_manifest, tmp_path):
    # the two manifests really are of two targets (the graph is not the same by reading one file twice)
    targets = {
        json.loads((folder / "manifest.json").read_text())["metadata"]["adapter_type"]
        for folder in (dbt_target, spark_manifest)
    }
    assert targets == {"postgres", "spark"}
    listener = Listener()
    try:
        procs = {
            "postgres": _load(tmp_path, "postgres", dbt_target, listener.port),
            "spark": _load(tmp_path, "spark", spark_manifest, listener.port),
        }
        outs = {}
        for name, proc in procs.items():
            stdout, stderr = proc.communicate(timeout=300)
            assert proc.returncode == 0, stderr[-3000:]
            outs[name] = json.loads(stdout.strip().splitlines()[-1])
    finally:
        listener.close()
    postgres, spark = outs["postgres"], outs["spark"]
    assert len(postgres["assets"]) > 10 and len(postgres["checks"]) > 10  # the whole graph loaded
    assert {"attribution_credits", "marts/channel_attribution_daily"} <= set(postgres["assets"])
    assert "attribution_credits:credits_are_consistent" in postgres["checks"]
    assert spark["assets"] == postgres["assets"]
    assert spark["checks"] == postgres["checks"]
    assert spark["jobs"] == postgres["jobs"]
    assert spark["executor"] == postgres["executor"] == "mbuzz"
    assert postgres["attribution_kinds"] == ["postgres", "python"]
    assert spark["attribution_kinds"] == ["python", "spark"]
    assert listener.connections == 0  # neither load connected to the database
    assert not (tmp_path / "postgres" / "home").exists() and not (tmp_path / "spark" / "home").exists()


@pytest.mark.parametrize(
    ("name", "value", "allowed"),
    [
        ("MBUZZ_WAREHOUSE", "oracle", "postgres, spark"),
        ("MBUZZ_EXECUTOR", "threads", "in_process, multiprocess, dask"),
    ],
)
def test_an_unknown_warehouse_or_executor_names_the_allowed_values(monkeypatch, name, value, allowed):
    from mbuzz.settings import get_settings

    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=f"{name} must be one of {allowed}, got '{value}'"):
        get_settings()


def test_dask_workers_must_be_a_positive_number(monkeypatch):
    from mbuzz.settings import get_settings

    monkeypatch.setenv("MBUZZ_DASK_WORKERS", "0")
    with pytest.raises(ValueError, match="MBUZZ_DASK_WORKERS must be a positive whole number"):
        get_settings()


def test_the_spark_warehouse_runs_dbt_on_the_spark_target(monkeypatch):
    from mbuzz.warehouse import dbt_env

    monkeypatch.delenv("MBUZZ_DBT_TARGET", raising=False)
    monkeypatch.setenv("MBUZZ_WAREHOUSE", "spark")
    # no detection (that would connect): a closed port proves it
    assert dbt_env("postgresql://postgres@127.0.0.1:9/nowhere")["MBUZZ_DBT_TARGET"] == "spark"
    monkeypatch.setenv("MBUZZ_DBT_TARGET", "timescaledb")
    with pytest.raises(MbuzzError, match="MBUZZ_WAREHOUSE=spark .* MBUZZ_DBT_TARGET is 'timescaledb'"):
        dbt_env("postgresql://postgres@127.0.0.1:9/nowhere")


def test_the_postgres_warehouse_keeps_the_chosen_or_detected_target(monkeypatch, database_url):
    from mbuzz.warehouse import dbt_env

    monkeypatch.setenv("MBUZZ_WAREHOUSE", "postgres")
    monkeypatch.setenv("MBUZZ_DBT_TARGET", "timescaledb")
    assert dbt_env(database_url)["MBUZZ_DBT_TARGET"] == "timescaledb"
    monkeypatch.delenv("MBUZZ_DBT_TARGET")
    assert dbt_env(database_url)["MBUZZ_DBT_TARGET"] in ("postgres", "timescaledb")  # detected


def test_attribution_on_spark_is_the_spark_run_and_it_needs_the_lake(monkeypatch, database_url):
    from mbuzz.attribution_runs import run_attribution
    from mbuzz.db import connect
    from mbuzz.spark_attribution import run
    from orchestration.assets.attribution import attribution_service

    monkeypatch.setenv("MBUZZ_WAREHOUSE", "postgres")
    assert attribution_service() is run_attribution
    monkeypatch.setenv("MBUZZ_WAREHOUSE", "spark")
    assert attribution_service() is run
    monkeypatch.delenv("MBUZZ_LAKE", raising=False)
    with pytest.raises(MbuzzError, match="attribution on Spark reads the lake: set MBUZZ_LAKE"):
        run(lambda: connect(database_url), datetime(2026, 1, 1), datetime(2026, 1, 2))


def test_the_executor_kind_comes_from_the_settings_unless_the_run_config_names_one(monkeypatch):
    from orchestration.executors import resolved

    monkeypatch.setenv("MBUZZ_EXECUTOR", "dask")
    monkeypatch.setenv("MBUZZ_DASK_WORKERS", "3")
    monkeypatch.delenv("MBUZZ_DASK_SCHEDULER", raising=False)
    assert resolved({"kind": "", "dask_address": "", "dask_workers": 0}) == {
        "kind": "dask",
        "dask_address": "",
        "dask_workers": 3,
    }
    assert resolved({"kind": "multiprocess"})["kind"] == "multiprocess"
    with pytest.raises(MbuzzError, match="kind must be one of in_process, multiprocess, dask, got 'threads'"):
        resolved({"kind": "threads"})
