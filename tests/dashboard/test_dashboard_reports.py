"""Attribution report pages over the dbt daily aggregates: model picker, table, comparison, drill-down, Markov."""
from __future__ import annotations

import pytest

from dashboard_helpers import credit_conversions


def test_no_results_yet_says_how_to_get_them(signed_in):
    page = signed_in.get("/dashboard/reports")
    assert page.status_code == 200
    assert b"No attribution results yet" in page.data and b"mbuzz pipeline run" in page.data


@pytest.fixture
def credited(aggregates, conn, admin, other_admin):
    credit_conversions(conn, admin.account_id)
    credit_conversions(conn, other_admin.account_id, models=("linear", "their_model"))
    return admin


def test_report_table_chart_and_models_side_by_side(signed_in, credited):
    page = signed_in.get("/dashboard/reports")
    assert page.status_code == 200
    html = page.data.decode()
    assert 'value="linear" selected' in html  # the default model
    assert "Channels under linear" in html and "<svg" in html
    assert "paid_search" in html and "Models side by side" in html
    assert "their_model" not in html  # another account's model never shows
    assert "3.00" in html  # 3 conversions in total
    last = signed_in.get("/dashboard/reports?model=last_touch").data.decode()
    assert 'value="last_touch" selected' in last and "Channels under last_touch" in last


def test_markov_shows_removal_effects(signed_in, credited):
    html = signed_in.get("/dashboard/reports?model=markov").data.decode()
    assert "Markov removal effects" in html and "60.0%" in html


def test_unknown_model_falls_back_with_a_message(signed_in, credited):
    html = signed_in.get("/dashboard/reports?model=their_model").data.decode()
    assert "There are no results for model" in html and 'value="linear" selected' in html


def test_drill_down_to_campaigns(signed_in, credited):
    html = signed_in.get("/dashboard/reports/campaigns?channel=email&model=linear").data.decode()
    assert "Campaigns in email under linear" in html
    assert "weekly-digest" in html and "brand-search" not in html
    empty = signed_in.get("/dashboard/reports/campaigns?channel=nope&model=linear").data.decode()
    assert "No campaigns credited in nope" in empty
    assert signed_in.get("/dashboard/reports/campaigns").status_code == 404


def test_test_environment_is_apart(signed_in, credited):
    html = signed_in.get("/dashboard/reports?env=test").data.decode()
    assert "No attribution results yet for test" in html


def test_spend_and_roas_columns_once_spend_is_uploaded(signed_in, credited, conn, other_admin):
    from datetime import datetime, timedelta, timezone

    from mbuzz.spend import record_spend

    assert "ROAS" not in signed_in.get("/dashboard/reports").data.decode()  # no spend: no columns
    day = (datetime.now(timezone.utc) - timedelta(days=2)).date().isoformat()  # the credited day
    record_spend(conn, credited.account_id, "live", [
        {"date": day, "channel": "paid_search", "amount": 40, "currency": "EUR"},
        {"date": day, "channel": "display", "amount": 10, "currency": "EUR"},
    ])
    record_spend(conn, other_admin.account_id, "live", [{"date": day, "channel": "email", "amount": 999, "currency": "EUR"}])
    html = signed_in.get("/dashboard/reports").data.decode()
    assert "<th scope=\"col\" class=\"n\">Spend</th>" in html and "ROAS" in html
    assert "40.00" in html and "2.50×" in html  # paid_search: 100 credited revenue (linear) / 40
    assert "999" not in html  # another account's spend never shows
    assert "Spend with no credited conversion under linear: display." in html
