"""GET /api/v1/attribution/comparison and /attribution/trend: from the daily aggregates, tenant-scoped;
bad ranges, buckets and unknown models are 422; another account's rows and models never show."""

from __future__ import annotations

import secrets

import pytest

from tests.api.test_attribution_report import stand_in_tables  # noqa: F401  (the fixture)

WINDOW = "from=2026-03-01&to=2026-03-31"


@pytest.fixture
def credited(conn, tenant, other_tenant, stand_in_tables):  # noqa: F811
    """Four models over three channels; `direct` closes journeys (last touch) and opens none."""
    rows = []
    for model, per_channel in {
        "linear": {"paid_search": 4.0, "email": 3.0, "direct": 3.0},
        "markov": {"paid_search": 5.0, "email": 3.5, "direct": 1.5},
        "first_touch": {"paid_search": 6.0, "email": 4.0, "direct": 0.0},
        "last_touch": {"paid_search": 2.0, "email": 3.0, "direct": 5.0},
    }.items():
        for channel, conversions in per_channel.items():
            rows.append((tenant.account_id, "live", model, "2026-03-02", channel, conversions / 2, 10 * conversions, 1))
            rows.append((tenant.account_id, "live", model, "2026-03-10", channel, conversions / 2, 10 * conversions, 1))
    rows.append((tenant.account_id, "live", "linear", "2026-04-10", "email", 50.0, 500.0, 1))  # outside the window
    rows.append((other_tenant.account_id, "live", "linear", "2026-03-03", "affiliate", 5.0, 5.0, 5))
    for row in rows:
        conn.execute(
            f"insert into {stand_in_tables}.channel_attribution_daily values (%s, %s, %s, %s, %s, %s, %s, %s)", row
        )
    return stand_in_tables


def test_comparison_side_by_side_with_spread_and_notes(client, tenant, credited):
    response = client.get(f"/api/v1/attribution/comparison?{WINDOW}", headers=tenant.bearer())
    assert response.status_code == 200, response.json
    body = response.json
    assert body["models"] == ["first_touch", "last_touch", "linear", "markov"]
    direct = next(c for c in body["channels"] if c["channel"] == "direct")
    assert direct["shares"] == pytest.approx({"linear": 0.3, "markov": 0.15, "first_touch": 0.0, "last_touch": 0.5})
    assert direct["high"] == "last_touch" and direct["low"] == "first_touch"
    assert direct["spread"] == pytest.approx(0.5) and direct["ratio"] is None
    email = next(c for c in body["channels"] if c["channel"] == "email")
    assert email["ratio"] == pytest.approx(0.4 / 0.3) and email["std"] > 0
    # the largest disagreement first, with its reason from first- vs last-touch credit
    assert body["notes"][0].startswith("last_touch gives `direct` 50% of its conversions, first_touch gives it none")
    assert "close journeys that other channels opened" in body["notes"][0]
    assert "affiliate" not in {c["channel"] for c in body["channels"]}
    assert body["hint"] is None


def test_comparison_of_another_account_shows_only_its_rows(client, other_tenant, credited):
    body = client.get(f"/api/v1/attribution/comparison?{WINDOW}", headers=other_tenant.bearer()).json
    assert [c["channel"] for c in body["channels"]] == ["affiliate"] and body["models"] == ["linear"]


def test_trend_per_day_and_week(client, tenant, credited):
    day = client.get(f"/api/v1/attribution/trend?model=markov&{WINDOW}", headers=tenant.bearer())
    assert day.status_code == 200, day.json
    rows = day.json["rows"]
    assert {(r["period"], r["channel"]) for r in rows} == {
        (d, c) for d in ("2026-03-02", "2026-03-10") for c in ("paid_search", "email", "direct")
    }
    first = next(r for r in rows if r["period"] == "2026-03-02" and r["channel"] == "paid_search")
    assert first["conversions"] == pytest.approx(2.5) and first["revenue"] == pytest.approx(50.0)
    week = client.get(f"/api/v1/attribution/trend?model=markov&{WINDOW}&bucket=week", headers=tenant.bearer()).json
    assert {r["period"] for r in week["rows"]} == {"2026-03-02", "2026-03-09"}  # ISO weeks start on Monday
    assert week["bucket"] == "week"


@pytest.mark.parametrize(
    "query",
    [
        "from=2026-03-31&to=2026-03-01",  # reversed
        "from=March&to=2026-03-31",
        "to=2026-03-31",  # no from
        f"{WINDOW}&environment=staging",
    ],
)
def test_comparison_bad_parameters_are_422(client, tenant, query):
    response = client.get(f"/api/v1/attribution/comparison?{query}", headers=tenant.bearer())
    assert response.status_code == 422, response.json
    assert response.json["error"]["code"] == "validation_error"


@pytest.mark.parametrize(
    "query",
    [
        WINDOW,  # no model
        "model=linear&from=2026-03-31&to=2026-03-01",
        f"model=fancy&{WINDOW}",
        f"model=linear&{WINDOW}&bucket=month",
    ],
)
def test_trend_bad_parameters_are_422(client, tenant, query):
    response = client.get(f"/api/v1/attribution/trend?{query}", headers=tenant.bearer())
    assert response.status_code == 422, response.json
    assert response.json["error"]["code"] == "validation_error"


def test_trend_of_another_accounts_model_is_refused(client, tenant, other_tenant):
    other = client.post(
        "/api/v1/attribution_models",
        json={"source": 'model "Theirs"\n  credit last_touch with 1.0\nend'},
        headers=other_tenant.bearer(),
    ).json
    response = client.get(f"/api/v1/attribution/trend?model={other['id']}&{WINDOW}", headers=tenant.bearer())
    assert response.status_code == 422 and other["id"] not in response.json["error"]["details"]["valid_models"]


def test_before_the_pipeline_ran_both_say_so(client, tenant, monkeypatch):
    from mbuzz import reports

    for group_by, (_, dims) in list(reports.GROUPINGS.items()):
        monkeypatch.setitem(reports.GROUPINGS, group_by, (f"marts.not_built_{secrets.token_hex(3)}", dims))
    for url in (f"/api/v1/attribution/comparison?{WINDOW}", f"/api/v1/attribution/trend?model=linear&{WINDOW}"):
        response = client.get(url, headers=tenant.bearer())
        assert response.status_code == 200 and "run the pipeline" in response.json["hint"]


def test_no_key_is_401(client):
    assert client.get(f"/api/v1/attribution/comparison?{WINDOW}").status_code == 401
    assert client.get(f"/api/v1/attribution/trend?model=linear&{WINDOW}").status_code == 401
