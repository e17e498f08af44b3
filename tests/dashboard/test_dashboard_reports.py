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
    record_spend(
        conn,
        credited.account_id,
        "live",
        [
            {"date": day, "channel": "paid_search", "amount": 40, "currency": "EUR"},
            {"date": day, "channel": "display", "amount": 10, "currency": "EUR"},
        ],
    )
    record_spend(
        conn, other_admin.account_id, "live", [{"date": day, "channel": "email", "amount": 999, "currency": "EUR"}]
    )
    html = signed_in.get("/dashboard/reports").data.decode()
    assert '<th scope="col" class="n">Spend</th>' in html and "ROAS" in html
    assert "40.00" in html and "2.50×" in html  # paid_search: 100 credited revenue (linear) / 40
    assert "999" not in html  # another account's spend never shows
    assert "Spend with no credited conversion under linear: display." in html


def test_intervals_show_as_error_bars_and_a_column(signed_in, credited, conn, other_admin):
    """A run's stored intervals (the days of the sample credits) are error bars on the channel
    chart and a column of the table; another account's intervals never show; without any the
    page says there are none."""
    from datetime import datetime, timedelta, timezone

    import pandas as pd

    from mbuzz.attribution_runs import write_intervals
    from mbuzz.ids import new_id

    html = signed_in.get("/dashboard/reports?model=linear").data.decode()
    assert 'class="error-bar"' not in html and "No 95% intervals for these days" in html
    day = (datetime.now(timezone.utc) - timedelta(days=2)).date()
    run_id = new_id("run")
    conn.execute(
        "insert into attribution.attribution_runs (run_id, config_hash, config, status) "
        "values (%s, %s, '{}', 'succeeded')",
        (run_id, "0" * 64),
    )
    samples = [[0.8 + 0.4 * i / 99 for i in range(100)]] * 3  # each channel's replicates: 0.8 .. 1.2
    bounds = pd.DataFrame(
        {
            "model": "linear",
            "environment": "live",
            "channel": ["paid_search", "email", "paid_social"],
            "day": day,
            "conversions": 1.0,
            "revenue": 100.0,
            "conversions_lower": 0.81,
            "conversions_upper": 1.19,
            "revenue_lower": 81.0,
            "revenue_upper": 119.0,
            "conversion_samples": samples,
            "revenue_samples": [[100 * x for x in s] for s in samples],
            "reason": None,
        }
    )
    write_intervals(conn, other_admin.account_id, run_id, bounds.assign(conversion_samples=[[9.0] * 100] * 3))
    write_intervals(conn, credited.account_id, run_id, bounds)
    html = signed_in.get("/dashboard/reports?model=linear").data.decode()
    assert html.count('class="error-bar"') == 3 and "95% interval: 0.81 to 1.19" in html
    assert "0.81–1.19" in html and "9.00" not in html
    assert "No 95% intervals" not in html and "bootstrap over journeys" in html
