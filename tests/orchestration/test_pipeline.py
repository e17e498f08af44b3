"""The Dagster graph, materialised for real against PostgreSQL: dbt → attribution → marts, with checks."""

from __future__ import annotations

import os

import dagster as dg
import pytest

pytestmark = pytest.mark.slow


def test_definitions_form_one_graph(pipeline_env):
    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert {
        "raw_events",
        "attribution_credits",
        "channel_summaries",
        "marts/fct_conversion_journeys",
        "marts/channel_attribution_daily",
        "marts/source_attribution_daily",
    } <= keys
    # raw → journeys → attribution → aggregates, one connected piece
    assert (
        dg.AssetKey(["marts", "fct_conversion_journeys"]) in graph.get(dg.AssetKey("attribution_credits")).parent_keys
    )
    assert (
        dg.AssetKey("attribution_credits") in graph.get(dg.AssetKey(["marts", "channel_attribution_daily"])).parent_keys
    )
    assert defs.resolve_job_def("pipeline").partitions_def is not None
    schedules = {s.name: s.job_name for s in defs.schedules}
    assert schedules == {"hourly_incremental": "hourly", "nightly_data_driven": "pipeline"}


def test_full_run_materialises_everything_and_checks_pass(pipeline_run):
    result, messages = pipeline_run
    assert result.success, result.failures
    assert "attribution_credits" in result.materialized
    assert "marts/channel_attribution_daily" in result.materialized
    failed = [c for c in result.checks if not c[2]]
    assert failed == [] or all(severity == "WARN" for *_, severity in failed), failed
    names = {c[1] for c in result.checks}
    assert {
        "credits_are_consistent",
        "every_conversion_attributed",
        "journeys_expectations",
        "raw_events_expectations",
    } <= names
    assert any(name.startswith(("unique_", "not_null_")) for name in names)  # the dbt tests, as checks
    assert any(m.startswith("materialized attribution_credits") for m in messages)  # progress was reported


def test_credits_cover_every_conversion_under_every_model(pipeline_run, loaded_account, pconn):
    models = {
        r[0]
        for r in pconn.execute(
            "select distinct model from attribution.attribution_credits where account_id = %s", (loaded_account.id,)
        )
    }
    from attribution import list_presets
    from attribution.models import DATA_DRIVEN

    assert set(list_presets()) | set(DATA_DRIVEN) <= models  # ordered_shapley among them
    conversions = pconn.execute(
        "select count(*) from raw.conversions where account_id = %s", (loaded_account.id,)
    ).fetchone()[0]
    per_model = pconn.execute(
        """
        select model, count(distinct conversion_id), sum(credit)
        from attribution.attribution_credits where account_id = %s group by model
    """,
        (loaded_account.id,),
    ).fetchall()
    for model, n, total in per_model:
        assert n == conversions, model
        assert abs(total - conversions) < 1e-6, model


def test_aggregates_answer_the_report(pipeline_run, loaded_account, pconn):
    from datetime import date, timedelta

    from mbuzz.reports import attribution_report, model_comparison, removal_effects

    today = date.today()
    rows = attribution_report(pconn, loaded_account.id, "linear", today - timedelta(days=60), today)
    conversions = pconn.execute(
        "select count(*) from raw.conversions where account_id = %s", (loaded_account.id,)
    ).fetchone()[0]
    assert abs(sum(r.conversions for r in rows) - conversions) < 1e-6
    assert {"organic_search", "paid_search", "email", "direct"} <= {r.key["channel"] for r in rows}
    comparison = model_comparison(pconn, loaded_account.id, today - timedelta(days=60), today)
    assert all("markov" in per_model for per_model in comparison.values() if sum(per_model.values()) > 1)
    effects = removal_effects(pconn, loaded_account.id)
    assert effects and all(0 <= re <= 1 for _, re, _ in effects)


def test_run_records_its_configuration_hash(pipeline_run, loaded_account, pconn):
    row = pconn.execute(
        """
        select config_hash, config, finished_at from attribution.attribution_runs
        where run_id in (select run_id from attribution.attribution_credits where account_id = %s)
        order by started_at desc limit 1
    """,
        (loaded_account.id,),
    ).fetchone()
    assert len(row[0]) == 64 and row[2] is not None
    assert "linear" in row[1]["models"] and row[1]["channel_rules"]


def test_test_data_leaking_into_live_credits_fails_the_check(pipeline_run, loaded_account, pconn, pipeline_env):
    """A conversion recorded with a test key whose credits claim to be live: the blocking check sees it."""
    from orchestration.checks import no_test_data_in_live_credits
    from orchestration.resources import Warehouse

    warehouse = Warehouse(url=pipeline_env)
    assert no_test_data_in_live_credits(dg.build_asset_check_context(), warehouse=warehouse).passed
    conversion_id = pconn.execute(
        "select conversion_id from attribution.attribution_credits where account_id = %s and model = 'linear' limit 1",
        (loaded_account.id,),
    ).fetchone()[0]
    pconn.execute(
        "update raw.conversions set environment = 'test' where account_id = %s and conversion_id = %s",
        (loaded_account.id, conversion_id),
    )
    try:
        leaked = no_test_data_in_live_credits(dg.build_asset_check_context(), warehouse=warehouse)
        assert not leaked.passed and leaked.metadata["credits_with_wrong_environment"].value > 0
    finally:
        pconn.execute(
            "update raw.conversions set environment = 'live' where account_id = %s and conversion_id = %s",
            (loaded_account.id, conversion_id),
        )


def test_breaking_an_invariant_fails_the_check(pipeline_run, loaded_account, pconn, pipeline_env):
    """Corrupt one conversion's credits on purpose: the blocking check must see it."""
    from orchestration.checks import credits_are_consistent
    from orchestration.resources import Warehouse

    conversion_id = pconn.execute(
        "select conversion_id from attribution.attribution_credits where account_id = %s and model = 'linear' limit 1",
        (loaded_account.id,),
    ).fetchone()[0]
    warehouse = Warehouse(url=pipeline_env)
    ok = credits_are_consistent(dg.build_asset_check_context(), warehouse=warehouse)
    assert ok.passed
    pconn.execute(
        "update attribution.attribution_credits set credit = credit * 2 where conversion_id = %s and model = 'linear'",
        (conversion_id,),
    )
    try:
        broken = credits_are_consistent(dg.build_asset_check_context(), warehouse=warehouse)
        assert not broken.passed
        assert broken.metadata["not_summing_to_1"].value == 1
    finally:
        pconn.execute(
            "update attribution.attribution_credits set credit = credit / 2 "
            "where conversion_id = %s and model = 'linear'",
            (conversion_id,),
        )


def test_hourly_rules_only_run_attributes_new_conversions(pipeline_run, loaded_account, pconn):
    """The hourly schedule's run: a new day's traffic, rule-based models only, the guarding checks
    pass and the dbt tests are left to the nightly run."""
    from datetime import datetime, timezone

    from mbuzz.demo.traffic import generate, load_direct
    from mbuzz.pipeline import run_pipeline

    now = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    events, conversions = load_direct(
        pconn, loaded_account.id, generate(visitors=300, days=0.5, seed=5, end=now, prefix="hourly")
    )
    assert events > 0
    result = run_pipeline(partition=now.strftime("%Y-%m-%d"), hourly=True)
    assert result.success, result.failures
    checks = {c[1]: c[2] for c in result.checks}
    assert checks["every_conversion_attributed"] and checks["credits_are_consistent"]
    assert checks["journeys_expectations"] and checks["raw_events_expectations"]
    dbt_tests = [
        name for name in checks if name.startswith(("unique_", "not_null_", "accepted_values_", "relationships_"))
    ]
    assert dbt_tests == []
    assert "warehouse_models" in result.step_seconds and "attribution_models" in result.step_seconds
    today = pconn.execute(
        """
        select count(distinct conversion_id), count(distinct model) filter (where model in ('markov', 'shapley'))
        from attribution.attribution_credits
        where account_id = %s and run_id = (select run_id from attribution.attribution_runs
                                            where partition_key = %s order by started_at desc limit 1)
    """,
        (loaded_account.id, now.strftime("%Y-%m-%d")),
    ).fetchone()
    assert today[1] == 0  # rules only
    new_today = pconn.execute(
        "select count(*) from raw.conversions where account_id = %s and converted_at >= %s",
        (loaded_account.id, now.replace(hour=0)),
    ).fetchone()[0]
    assert today[0] == new_today


def test_a_launched_run_executes_every_step_in_one_process(pipeline_run, pipeline_env, tmp_path):
    """The way the daemon and the UI run a job: a new process loading the definitions. Every step
    runs in that one process (a process per step would import Dagster, dbt and pandas again for
    each step: minutes for an hourly run on two cores), and the hourly job succeeds."""
    import subprocess
    import sys
    from datetime import datetime, timezone
    from pathlib import Path

    config = tmp_path / "hourly.yaml"
    config.write_text("ops:\n  attribution_models:\n    config:\n      data_driven: false\n")
    day = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    out = subprocess.run(
        [
            str(Path(sys.executable).parent / "dagster"),
            "job",
            "execute",
            "-m",
            "orchestration.definitions",
            "-j",
            "hourly",
            "-c",
            str(config),
            "--tags",
            f'{{"dagster/partition": "{day}"}}',
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=Path(__file__).resolve().parents[2],
        env=dict(os.environ),
    )
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-3000:]
    assert "Executing steps in process" in log and "multiprocess" not in log
    assert "RUN_SUCCESS" in log and "STEP_FAILURE" not in log
