"""The semantic layer and dbt's docs site, against a built warehouse.

MetricFlow's answers (`mbuzz warehouse metrics`, MetricFlow's Python API under it) equal the
marts' own numbers — credited conversions, revenue, spend and ROAS per channel and model, cost
per conversion per campaign, conversions per week — and never include another account's rows; a
model the account does not have answers empty with a note. `mbuzz warehouse docs` generates the
docs site and serves it on 127.0.0.1 (index.html, catalog.json with the marts' column types);
every mart and aggregate column has a description; the nightly job refreshes the catalog."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import psycopg
import pytest

from mbuzz.paths import PROJECT_DIR
from tests.dbt.dataset import dbt, fetch, insert_credits, spend_accounts

pytestmark = pytest.mark.slow

MBUZZ = str(Path(sys.executable).parent / "mbuzz")
TARGET = Path(os.environ.get("MBUZZ_TEST_DBT_TARGETS", PROJECT_DIR / "target")) / "pytest-postgres"


@pytest.fixture(scope="module")
def warehouse(database_url):
    with psycopg.connect(database_url, autocommit=True) as conn:
        account, other, a_day, display_day = spend_accounts(conn, "Semantic")
    insert_credits(database_url, account)  # linear and last_touch: paid_search + email, two conversions
    insert_credits(database_url, other)
    # every model (the docs test reads the catalog of all the marts), no tests: they are other files'
    dbt(database_url, "build", "--resource-type", "seed", "--resource-type", "model", target="postgres")
    return {"account": account, "other": other, "url": database_url}


def env(url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": url,
        "MBUZZ_DBT_TARGET_PATH": str(TARGET),
        "MBUZZ_DBT_TARGET": "postgres",
        "PYTHONUNBUFFERED": "1",
    }


def mbuzz(url: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([MBUZZ, *args], env=env(url), cwd=PROJECT_DIR, capture_output=True, text=True, timeout=300)


def metrics(url: str, *args: str) -> dict:
    result = mbuzz(url, "warehouse", "metrics", *args, "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def test_metrics_equal_the_marts(warehouse):
    url, account = warehouse["url"], warehouse["account"]
    answer = metrics(
        url,
        "--account",
        account,
        "--metrics",
        "credited_conversions,attributed_revenue,spend,roas",
        "--group-by",
        "channel,model__name",
    )
    got = {
        (r["channel"], r["model__name"]): (r["credited_conversions"], r["attributed_revenue"], r["spend"], r["roas"])
        for r in answer["rows"]
    }
    marts = fetch(
        url,
        "select channel, model, sum(conversions), sum(revenue), sum(spend), "
        "sum(revenue) / nullif(sum(spend), 0) from marts.rpt_channel_roas where account_id = %s "
        "group by channel, model",
        (account,),
    )
    expected = {(c, m): tuple(None if v is None else float(v) for v in values) for c, m, *values in marts}
    assert (
        got.keys()
        == expected.keys()
        == {(c, m) for c in ("paid_search", "email", "display") for m in ("linear", "last_touch")}
    )
    for key, values in expected.items():
        assert got[key] == pytest.approx(values), key
    assert got[("paid_search", "linear")] == pytest.approx((1.0, 70.0, 50.0, 1.4))  # not the neighbour's 1000
    assert answer["note"] is None

    # touches per channel and model: rpt_channel_attribution's (display has spend, no touches)
    touches = metrics(
        url, "--account", account, "--metrics", "touch_count", "--group-by", "channel", "--model", "linear"
    )
    assert {(r["channel"], r["touch_count"]) for r in touches["rows"]} == {("display", 0.0)} | {
        (c, float(t))
        for c, t in fetch(
            url,
            "select channel, touches from marts.rpt_channel_attribution where account_id = %s and model = 'linear'",
            (account,),
        )
    }


def test_cost_per_conversion_by_campaign_and_conversions_by_week(warehouse):
    url, account = warehouse["url"], warehouse["account"]
    answer = metrics(
        url,
        "--account",
        account,
        "--model",
        "linear",
        "--metrics",
        "cost_per_conversion,spend",
        "--group-by",
        "attribution__utm_source,attribution__utm_medium,attribution__utm_campaign",
        "--where",
        "{{ Dimension('attribution__utm_campaign') }} != ''",
    )
    got = {
        (r["attribution__utm_source"], r["attribution__utm_campaign"]): (r["spend"], r["cost_per_conversion"])
        for r in answer["rows"]
    }
    marts = fetch(
        url,
        "select utm_source, utm_campaign, sum(spend), sum(spend) / nullif(sum(conversions), 0) "
        "from marts.rpt_campaign_roas where account_id = %s and model = 'linear' "
        "group by utm_source, utm_campaign",
        (account,),
    )
    assert got == {(s, c): (float(spend), None if cpc is None else float(cpc)) for s, c, spend, cpc in marts}
    assert got[("newsletter", "march")] == (10.0, 10.0)  # 10 spent, one credited conversion

    weekly = metrics(
        url,
        "--account",
        account,
        "--metrics",
        "credited_conversions",
        "--group-by",
        "metric_time__week,model__name",
        "--order",
        "metric_time__week",
    )
    got = {(r["metric_time__week"][:10], r["model__name"]): r["credited_conversions"] for r in weekly["rows"]}
    marts = fetch(
        url,
        "select date_trunc('week', day at time zone 'UTC')::date::text, model, sum(conversions) "
        "from marts.channel_attribution_daily where account_id = %s group by 1, 2",
        (account,),
    )
    assert got == {(w, m): float(c) for w, m, c in marts}
    assert sum(got.values()) == 4.0  # two conversions under two models


def test_a_model_the_account_does_not_have_is_empty_with_a_note(warehouse):
    url, account = warehouse["url"], warehouse["account"]
    answer = metrics(url, "--account", account, "--metrics", "roas", "--group-by", "channel", "--model", "markov")
    assert answer["rows"] == []
    assert "markov" in answer["note"] and "last_touch, linear" in answer["note"]

    table = mbuzz(url, "warehouse", "metrics", "--account", account, "--metrics", "roas", "--model", "markov")
    assert table.returncode == 0 and "note: account" in table.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--account", "acct_doesnotexist", "--metrics", "roas"], "no account"),
        (["--metrics", "roas", "--account", "acct_x' or '1'='1"], "not an account id"),
        (["--metrics", "profit"], "unknown metric profit"),
        (["--metrics", "roas", "--model", "x' or '1'='1"], "not a model name"),
        (["--metrics", "roas", "--group-by", "attribution__colour"], "MetricFlow could not answer"),
    ],
)
def test_bad_metric_queries_say_what_to_do(warehouse, args, message):
    if "--account" not in args:
        args = ["--account", warehouse["account"], *args]
    result = mbuzz(warehouse["url"], "warehouse", "metrics", *args)
    assert result.returncode == 1
    assert message in result.stderr and "Traceback" not in result.stderr


def test_docs_are_generated_and_served_on_localhost(warehouse):
    url = warehouse["url"]
    server = subprocess.Popen(
        [MBUZZ, "warehouse", "docs", "--port", "0"],
        env=env(url),
        cwd=PROJECT_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = []
        while not (lines and "serving the docs at" in lines[-1]):
            line = server.stdout.readline()
            assert line, f"mbuzz warehouse docs ended: {''.join(lines)}{server.stderr.read()}"
            lines.append(line)
        assert lines[0].startswith("[1/2] dbt docs generate")
        base = lines[-1].split(" at ", 1)[1].split()[0]
        assert base.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(base, timeout=30) as page:
            assert page.status == 200 and b"dbt" in page.read(4096).lower()
        with urllib.request.urlopen(base + "catalog.json", timeout=30) as response:
            catalog = json.load(response)
        with urllib.request.urlopen(base + "manifest.json", timeout=30) as response:
            manifest = json.load(response)
        with pytest.raises(urllib.error.HTTPError) as missing:  # only the site's files, not target/
            urllib.request.urlopen(base + "run_results.json", timeout=30)
        assert missing.value.code == 404
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
    roas = catalog["nodes"]["model.mbuzz.rpt_channel_roas"]["columns"]
    assert roas["spend"]["type"] == "numeric" and roas["day"]["type"] == "date"

    # every column of every mart and aggregate, as built, has a description
    undocumented = [
        f"{node['metadata']['name']}.{column}"
        for unique_id, node in catalog["nodes"].items()
        if node["metadata"]["schema"] == "marts"
        for column in node["columns"]
        if not (manifest["nodes"][unique_id]["columns"].get(column, {}).get("description") or "").strip()
    ]
    marts = {node["metadata"]["name"] for node in catalog["nodes"].values() if node["metadata"]["schema"] == "marts"}
    assert {
        "fct_sessions",
        "fct_conversions",
        "fct_conversion_journeys",
        "fct_attribution_credits",
        "dim_channels",
        "rpt_channel_roas",
        "rpt_campaign_roas",
        "channel_attribution_daily",
        "source_attribution_daily",
    } <= marts
    assert undocumented == []


def test_nightly_job_refreshes_the_catalog_hourly_does_not():
    from orchestration.definitions import defs

    def keys(job):
        return {key.to_user_string() for key in defs.resolve_job_def(job).asset_layer.executable_asset_keys}

    assert "dbt_docs" in keys("pipeline") and "dbt_docs" not in keys("hourly")
    assert {s.job_name for s in defs.schedules if s.name == "nightly_data_driven"} == {"pipeline"}
