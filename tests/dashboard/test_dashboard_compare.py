"""The comparison page (where the models disagree, and why) and the report's trend charts, over the dbt
daily aggregates; another account's rows, models and skipped-model reasons never show."""

from __future__ import annotations

import json

import pytest

from dashboard_helpers import credit_conversions


@pytest.fixture
def credited(aggregates, conn, admin, other_admin):
    # per conversion: linear and first_touch ⅓ each; last_touch all to paid_social; markov .5/.3/.2
    credit_conversions(conn, admin.account_id, models=("linear", "last_touch", "first_touch", "markov"))
    credit_conversions(conn, other_admin.account_id, models=("linear", "their_model"))
    return admin


def record_skipped(conn, reasons: dict) -> None:
    conn.execute(
        "insert into attribution.attribution_runs (run_id, config_hash, config, status) "
        "values (%s, %s, %s, 'succeeded')",
        (f"run_skip_{len(reasons)}", "0" * 64, json.dumps({"data_driven": ["markov"], "skipped": reasons})),
    )


def test_comparison_page_shares_spread_and_why(signed_in, credited, conn, other_admin):
    record_skipped(
        conn,
        {
            credited.account_id: {"ordered_shapley": "a path touches 23 distinct channels; ..."},
            other_admin.account_id: {"algorithmic": "their own reason"},
        },
    )
    page = signed_in.get("/dashboard/reports/compare")
    assert page.status_code == 200
    html = page.data.decode()
    assert "Where the models disagree" in html and "<svg" in html
    # paid_social: last_touch 100% vs markov 20%; it closes 3 journeys and opens 1 (first_touch ⅓ × 3)
    assert "last_touch gives `paid_social` 5.0× what markov does (100% vs 20%)" in html.replace("&#96;", "`")
    assert "close journeys that other channels opened (75%" in html
    assert "80.0 pts" in html  # the spread
    assert "their_model" not in html and "their own reason" not in html
    assert "ordered_shapley" in html and "23 distinct channels" in html  # the reason, not a silent zero


def test_comparison_page_of_the_other_account(client, credited, other_admin):
    from dashboard_helpers import sign_in

    sign_in(client, other_admin)
    html = client.get("/dashboard/reports/compare").data.decode()
    assert "their_model" in html and "markov" not in html and "paid_social" in html


def test_comparison_page_bad_range_and_no_results(signed_in, aggregates):
    html = signed_in.get("/dashboard/reports/compare?from=2026-03-31&to=2026-03-01").data.decode()
    assert 'role="alert"' in html and "No attribution results yet" in html
    assert signed_in.get("/dashboard/reports/compare?from=nope").status_code == 200


def test_comparison_page_needs_sign_in(client):
    response = client.get("/dashboard/reports/compare")
    assert response.status_code in (302, 303) and "login" in response.headers["Location"]


def test_report_has_the_trend_per_day_and_week(signed_in, credited):
    html = signed_in.get("/dashboard/reports?model=markov").data.decode()  # 90 days: per week by default
    assert "Trend under markov" in html and 'class="line-chart"' in html
    assert 'data-series="paid_search"' in html and 'value="week" selected' in html and "per week" in html
    day = signed_in.get("/dashboard/reports?model=markov&bucket=day").data.decode()
    assert 'value="day" selected' in day and "per day" in day
    assert 'id="compare-link"' in html


def test_report_says_why_a_data_driven_model_has_no_results(signed_in, credited, conn):
    record_skipped(
        conn, {credited.account_id: {"ordered_shapley": "the ordered Shapley model needs at least 100 paths"}}
    )
    html = signed_in.get("/dashboard/reports?model=ordered_shapley").data.decode()
    assert "ordered_shapley could not run on this account&#39;s data in the latest run" in html
    assert "needs at least 100 paths" in html
