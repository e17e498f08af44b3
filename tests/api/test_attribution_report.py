"""GET /api/v1/attribution: answered from the daily aggregates through mbuzz.reports; empty with
a hint before the pipeline ran; unknown models and bad parameters are 422; tenancy and
environments are respected."""

from __future__ import annotations

import secrets

import pandas as pd
import pytest

URL = "/api/v1/attribution"
WINDOW = "from=2026-03-01&to=2026-03-31"


@pytest.fixture(scope="module")
def stand_in_tables(database_url):
    """The report reads stand-ins of the dbt aggregates, in a schema of its own (dbt's marts,
    materialized views built by the warehouse tests, are left alone)."""
    import psycopg

    from mbuzz import reports

    schema = f"api_report_{secrets.token_hex(4)}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f"create schema {schema}")
        conn.execute(
            f"create table {schema}.channel_attribution_daily (account_id text, environment text, "
            "model text, day date, channel text, conversions float8, revenue float8, touches bigint, local_day date)"
        )
        conn.execute(
            f"create table {schema}.source_attribution_daily (account_id text, environment text, "
            "model text, day date, channel text, utm_source text, utm_medium text, utm_campaign text, "
            "conversions float8, revenue float8, touches bigint, local_day date)"
        )
    with pytest.MonkeyPatch.context() as patch:
        for group_by, (relation, dims) in list(reports.GROUPINGS.items()):
            patch.setitem(reports.GROUPINGS, group_by, (relation.replace("marts.", f"{schema}."), dims))
        yield schema
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f"drop schema {schema} cascade")


@pytest.fixture
def aggregates(conn, tenant, other_tenant, stand_in_tables):
    """Rows of two accounts and both environments in the aggregates."""
    rows = [
        (tenant.account_id, "live", "linear", "2026-03-02", "email", 1.5, 150.0, 3),
        (tenant.account_id, "live", "linear", "2026-03-03", "email", 0.5, 50.0, 1),
        (tenant.account_id, "live", "linear", "2026-03-03", "paid_search", 1.0, 20.0, 2),
        (tenant.account_id, "live", "linear", "2026-04-03", "paid_search", 9.0, 90.0, 9),  # outside the window
        (tenant.account_id, "live", "first_touch", "2026-03-03", "direct", 3.0, 30.0, 3),
        (tenant.account_id, "test", "linear", "2026-03-03", "display", 7.0, 70.0, 7),
        (other_tenant.account_id, "live", "linear", "2026-03-03", "affiliate", 5.0, 5.0, 5),
    ]
    for row in rows:
        conn.execute(
            f"insert into {stand_in_tables}.channel_attribution_daily values (%s, %s, %s, %s, %s, %s, %s, %s)", row
        )
    sources = [
        (tenant.account_id, "live", "linear", "2026-03-02", "email", "newsletter", "email", "march", 1.5, 150.0, 3),
        (tenant.account_id, "live", "linear", "2026-03-03", "email", "newsletter", "email", "april", 0.5, 50.0, 1),
        (tenant.account_id, "live", "linear", "2026-03-03", "paid_search", "google", "cpc", None, 1.0, 20.0, 2),
    ]
    for row in sources:
        conn.execute(
            f"insert into {stand_in_tables}.source_attribution_daily values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            row,
        )
    return stand_in_tables


def test_by_channel(client, tenant, aggregates):
    response = client.get(f"{URL}?model=linear&{WINDOW}", headers=tenant.bearer())
    assert response.status_code == 200, response.json
    body = response.json
    assert body["model"] == "linear" and body["group_by"] == "channel" and body["environment"] == "live"
    no_spend = {"spend": None, "roas": None, "cost_per_conversion": None}
    assert body["rows"] == [
        {
            "channel": "email",
            "conversions": 2.0,
            "revenue": 200.0,
            "touches": 4,
            "share": pytest.approx(2 / 3),
            **no_spend,
        },
        {
            "channel": "paid_search",
            "conversions": 1.0,
            "revenue": 20.0,
            "touches": 2,
            "share": pytest.approx(1 / 3),
            **no_spend,
        },
    ]
    assert body["totals"] == {"conversions": 3.0, "revenue": 220.0, "spend": 0} and body["hint"] is None


def test_by_channel_with_spend(client, conn, tenant, other_tenant, aggregates):
    from mbuzz.spend import record_spend

    record_spend(
        conn,
        tenant.account_id,
        "live",
        [
            {"date": "2026-03-03", "channel": "paid_search", "utm_campaign": "brand", "amount": 6, "currency": "EUR"},
            {"date": "2026-03-04", "channel": "paid_search", "amount": 4, "currency": "EUR"},
            {"date": "2026-03-04", "channel": "display", "amount": 5, "currency": "EUR"},
            {"date": "2026-04-04", "channel": "email", "amount": 99, "currency": "EUR"},  # outside the window
        ],
    )
    record_spend(
        conn,
        other_tenant.account_id,
        "live",
        [{"date": "2026-03-03", "channel": "email", "amount": 1000, "currency": "EUR"}],
    )
    body = client.get(f"{URL}?model=linear&{WINDOW}", headers=tenant.bearer()).json
    rows = {r["channel"]: (r["spend"], r["roas"], r["cost_per_conversion"], r["conversions"]) for r in body["rows"]}
    assert rows == {
        "email": (None, None, None, 2.0),
        "paid_search": (10.0, 2.0, 10.0, 1.0),
        "display": (5.0, 0.0, None, 0.0),
    }  # spend without credit is a row: all cost
    assert body["totals"]["spend"] == 15.0
    # spend is per channel: a source or campaign report does not carry it
    source = client.get(f"{URL}?model=linear&{WINDOW}&group_by=source", headers=tenant.bearer()).json
    assert all("spend" not in r for r in source["rows"]) and "spend" not in source["totals"]


def test_by_source_and_campaign(client, tenant, aggregates):
    source = client.get(f"{URL}?model=linear&{WINDOW}&group_by=source", headers=tenant.bearer()).json
    assert [(r["utm_source"], r["utm_medium"], r["conversions"]) for r in source["rows"]] == [
        ("newsletter", "email", 2.0),
        ("google", "cpc", 1.0),
    ]
    campaign = client.get(f"{URL}?model=linear&{WINDOW}&group_by=campaign", headers=tenant.bearer()).json
    assert [(r["utm_campaign"], r["conversions"]) for r in campaign["rows"]] == [
        ("march", 1.5),
        ("(none)", 1.0),
        ("april", 0.5),
    ]


def test_environment_defaults_to_the_keys(client, tenant, aggregates):
    test = client.get(f"{URL}?model=linear&{WINDOW}", headers=tenant.bearer("test")).json
    assert test["environment"] == "test" and [r["channel"] for r in test["rows"]] == ["display"]
    live = client.get(f"{URL}?model=linear&{WINDOW}&environment=live", headers=tenant.bearer("test")).json
    assert [r["channel"] for r in live["rows"]] == ["email", "paid_search"]


def test_other_models_and_accounts(client, tenant, other_tenant, aggregates):
    first = client.get(f"{URL}?model=first_touch&{WINDOW}", headers=tenant.bearer()).json
    assert [r["channel"] for r in first["rows"]] == ["direct"]
    other = client.get(f"{URL}?model=linear&{WINDOW}", headers=other_tenant.bearer()).json
    assert [r["channel"] for r in other["rows"]] == ["affiliate"]
    nothing = client.get(f"{URL}?model=markov&{WINDOW}", headers=tenant.bearer()).json
    assert nothing["rows"] == [] and "no credited conversions" in nothing["hint"]


def test_custom_model_by_id_or_name(client, conn, tenant, aggregates):
    source = 'model "Mine"\n  credit last_touch with 1.0\nend\n'
    model = client.post("/api/v1/attribution_models", json={"source": source}, headers=tenant.bearer()).json
    conn.execute(
        f"insert into {aggregates}.channel_attribution_daily values (%s, 'live', %s, '2026-03-05', 'email', 1, 1, 1)",
        (tenant.account_id, model["id"]),
    )
    for name in (model["id"], "Mine"):
        body = client.get(f"{URL}?model={name}&{WINDOW}", headers=tenant.bearer()).json
        assert body["model"] == name and [r["channel"] for r in body["rows"]] == ["email"]


def test_unknown_model_is_422_listing_valid_ones(client, tenant, other_tenant):
    other = client.post(
        "/api/v1/attribution_models",
        json={"source": 'model "Theirs"\n  credit last_touch with 1.0\nend'},
        headers=other_tenant.bearer(),
    ).json
    for name in ("nope", other["id"], "Theirs"):
        response = client.get(f"{URL}?model={name}&{WINDOW}", headers=tenant.bearer())
        assert response.status_code == 422, response.json
        valid = response.json["error"]["details"]["valid_models"]
        assert "linear" in valid and "markov" in valid and other["id"] not in valid
        assert "linear" in response.json["error"]["message"]


@pytest.mark.parametrize(
    "query",
    [
        WINDOW,  # no model
        "model=linear&to=2026-03-31",  # no from
        "model=linear&from=2026-03-01",  # no to
        "model=linear&from=March&to=2026-03-31",
        "model=linear&from=2026-03-31&to=2026-03-01",  # reversed
        f"model=linear&{WINDOW}&group_by=device",
        f"model=linear&{WINDOW}&environment=staging",
        f"model=linear&{WINDOW}&ci=yes",
        f"model=linear&{WINDOW}&ci=1",
        f"model=linear&{WINDOW}&ci=true&group_by=campaign",  # intervals are per channel
    ],
)
def test_bad_parameters_are_422(client, tenant, query):
    response = client.get(f"{URL}?{query}", headers=tenant.bearer())
    assert response.status_code == 422, response.json
    assert response.json["error"]["code"] == "validation_error"


def test_before_the_pipeline_ran_it_is_empty_with_a_hint(client, tenant, monkeypatch):
    from mbuzz import reports

    for group_by, (_, dims) in list(reports.GROUPINGS.items()):  # as if dbt had not built them yet
        monkeypatch.setitem(reports.GROUPINGS, group_by, (f"marts.not_built_{secrets.token_hex(3)}", dims))
    response = client.get(f"{URL}?model=linear&{WINDOW}", headers=tenant.bearer())
    assert response.status_code == 200
    assert response.json["rows"] == [] and "run the pipeline" in response.json["hint"]
    assert response.json["totals"] == {"conversions": 0, "revenue": 0, "spend": 0}
    # the request's transaction survived the missing table (the key's use was still recorded)
    assert client.get(f"{URL}?model=linear&{WINDOW}&group_by=source", headers=tenant.bearer()).status_code == 200


def test_no_key_is_401(client):
    assert client.get(f"{URL}?model=linear&{WINDOW}").status_code == 401


def test_a_report_leaves_the_request_in_the_tenant_role(api_app, tenant):
    """After reading the marts the request is back under row-level security."""
    from flask import g

    from ingest_api import db
    from ingest_api.warehouse_reads import warehouse_reads

    with api_app.test_request_context():
        with db.transaction() as conn:
            db.scope_to_account(conn, tenant.account_id)
            g.db = conn
            with warehouse_reads(conn):
                assert conn.execute("select current_user").fetchone()[0] != "mbuzz_api"
            assert conn.execute("select current_user").fetchone()[0] == "mbuzz_api"
            accounts = conn.execute("select count(distinct account_id) from raw.api_keys").fetchone()[0]
            assert accounts == 1
            conn.rollback()


CI_WINDOW = "from=2024-03-01&to=2024-03-31"


@pytest.fixture
def interval_runs(conn, tenant, other_tenant, stand_in_tables):
    """A real run of `linear` on synthetic journeys (mbuzz.attribution_runs.run_models) over March
    2024 for the tenant: its credits summed into the stand-in aggregates and its intervals
    stored with a succeeded run. The other tenant has aggregates but no intervals."""
    import json

    from attribution.journeys import WAREHOUSE_JOURNEYS
    from attribution.models import load_model
    from attribution.synthetic import synthetic_touches
    from mbuzz.attribution_runs import run_models, write_intervals

    touches = synthetic_touches(8000, seed=11).assign(
        environment="live", conversion_type="purchase", utm_source=None, utm_medium=None, utm_campaign=None
    )
    touches["converted_at"] = touches["conversion_ts"]
    start, end = pd.Timestamp("2024-03-01", tz="UTC"), pd.Timestamp("2024-04-01", tz="UTC")
    credits, _, _, bounds = run_models(
        touches, {"linear": load_model("linear")}, WAREHOUSE_JOURNEYS, start, end, data_driven=False, seed=5
    )
    run_id = f"run_ci_{secrets.token_hex(4)}"
    conn.execute(
        "insert into attribution.attribution_runs (run_id, config_hash, config, status) "
        "values (%s, 'x', '{}', 'succeeded')",
        (run_id,),
    )
    write_intervals(conn, tenant.account_id, run_id, bounds)
    daily = (
        credits.assign(day=pd.to_datetime(credits["converted_at"], utc=True).dt.date)
        .groupby(["day", "channel"])
        .agg(conversions=("credit", "sum"), revenue=("revenue_credit", "sum"), touches=("credit", "size"))
        .reset_index()
    )
    for row in daily.itertuples():
        conn.execute(
            f"insert into {stand_in_tables}.channel_attribution_daily values (%s, 'live', 'linear', %s, %s, "
            "%s, %s, %s)",
            (tenant.account_id, row.day, row.channel, row.conversions, row.revenue, row.touches),
        )
    conn.execute(
        f"insert into {stand_in_tables}.channel_attribution_daily values (%s, 'live', 'linear', "
        "'2024-03-05', 'email', 3, 30, 3)",
        (other_tenant.account_id,),
    )
    return json.loads(
        bounds.drop(columns=["conversion_samples", "revenue_samples"])
        .assign(day=bounds["day"].astype(str))
        .to_json(orient="records")
    )


def test_ci_bounds_each_channel_row_and_contain_the_point(client, tenant, interval_runs):
    body = client.get(f"{URL}?model=linear&{CI_WINDOW}&ci=true", headers=tenant.bearer()).json
    assert len(body["rows"]) == 8
    for row in body["rows"]:
        assert row["ci_reason"] is None, row
        assert row["conversions_lower"] <= row["conversions"] <= row["conversions_upper"], row
        assert row["revenue_lower"] <= row["revenue"] <= row["revenue_upper"], row
        assert row["conversions_upper"] - row["conversions_lower"] > 0
    plain = client.get(f"{URL}?model=linear&{CI_WINDOW}", headers=tenant.bearer()).json
    assert all("conversions_lower" not in r for r in plain["rows"])  # only on request


def test_ci_of_a_longer_range_is_relatively_narrower(client, tenant, interval_runs):
    def widths(window):
        rows = client.get(f"{URL}?model=linear&{window}&ci=true", headers=tenant.bearer()).json["rows"]
        return {r["channel"]: (r["conversions_upper"] - r["conversions_lower"]) / r["conversions"] for r in rows}

    week, month = widths("from=2024-03-01&to=2024-03-07"), widths(CI_WINDOW)
    # a month has ~4.4× the conversions of a week: relative width ~1/√4.4 ≈ 0.48
    assert all(month[c] < 0.75 * week[c] for c in month)


def test_ci_of_one_day_is_the_stored_interval(client, tenant, interval_runs):
    stored = {r["channel"]: r for r in interval_runs if r["day"] == "2024-03-10"}
    rows = client.get(f"{URL}?model=linear&from=2024-03-10&to=2024-03-10&ci=true", headers=tenant.bearer()).json["rows"]
    assert rows
    for row in rows:
        assert row["conversions_lower"] == pytest.approx(stored[row["channel"]]["conversions_lower"])
        assert row["revenue_upper"] == pytest.approx(stored[row["channel"]]["revenue_upper"])


def test_ci_is_per_tenant_and_missing_with_a_reason(client, tenant, other_tenant, interval_runs):
    other = client.get(f"{URL}?model=linear&{CI_WINDOW}&ci=true", headers=other_tenant.bearer()).json
    assert [r["channel"] for r in other["rows"]] == ["email"]  # none of the tenant's channels or intervals
    assert other["rows"][0]["conversions_lower"] is None and "re-run" in other["rows"][0]["ci_reason"]
    # another account's custom model is unknown here (422), with or without ci
    theirs = client.post(
        "/api/v1/attribution_models",
        json={"source": 'model "T"\n  credit last_touch with 1.0\nend'},
        headers=other_tenant.bearer(),
    ).json
    response = client.get(f"{URL}?model={theirs['id']}&{CI_WINDOW}&ci=true", headers=tenant.bearer())
    assert response.status_code == 422 and theirs["id"] not in response.json["error"]["details"]["valid_models"]


def test_ci_false_days_without_a_run_have_no_interval(client, tenant, interval_runs):
    # February has no run: no rows at all; with ci the row list is the same as without
    body = client.get(f"{URL}?model=linear&from=2024-02-01&to=2024-02-28&ci=true", headers=tenant.bearer()).json
    assert body["rows"] == [] and "no credited conversions" in body["hint"]
