"""The Identity page over marts.rpt_identity_match_daily: empty state, the two charts and the table
with rates, the test environment apart, another account's numbers never shown."""

from __future__ import annotations

from datetime import date, timedelta

import pytest


@pytest.fixture(scope="session")
def identity_mart(database_url, tmp_path_factory):
    """The mart, built by dbt (with its ancestors) on the session's database."""
    from mbuzz.warehouse import run_dbt

    run_dbt(
        [
            "build",
            "--select",
            "+rpt_identity_match_daily",
            "--exclude",
            "resource_type:test",
            "resource_type:unit_test",
            "--target-path",
            str(tmp_path_factory.mktemp("dbt-identity")),
        ],
        url=database_url,
        subprocess_mode=True,
    )


def put_days(conn, account_id: str, rows: list[tuple]) -> None:
    conn.cursor().executemany(
        "insert into marts.rpt_identity_match_daily (account_id, environment, day, conversions, matched_conversions, "
        "sessions, stitched_sessions) values (%s, %s, %s, %s, %s, %s, %s)",
        [(account_id, *r) for r in rows],
    )


def test_no_numbers_yet_says_how_to_get_them(signed_in):
    page = signed_in.get("/dashboard/identity")
    assert page.status_code == 200
    assert b"No identity numbers yet for live" in page.data and b"mbuzz pipeline run" in page.data
    assert b'aria-current="page">Identity<' in page.data


def test_charts_table_and_rates_of_the_account_only(signed_in, identity_mart, conn, admin, other_admin):
    today = date.today()
    d1, d2 = (today - timedelta(days=2)).isoformat(), (today - timedelta(days=1)).isoformat()
    put_days(
        conn, admin.account_id, [("live", d1, 10, 8, 40, 10), ("live", d2, 10, 4, 60, 30), ("test", d2, 1, 1, 1, 1)]
    )
    put_days(conn, other_admin.account_id, [("live", d2, 7771, 5551, 9871, 3331)])
    html = signed_in.get("/dashboard/identity").data.decode()
    assert html.count("<svg") == 2
    assert "Conversions per day, matched to a session or not" in html
    assert (
        "12 of 20 conversions matched a session (60.0%); 40 of 100 sessions stitched to a known user (40.0%)." in html
    )
    assert f'<th scope="row">{d2}</th>' in html and "40.0%" in html and "50.0%" in html
    for theirs in ("7,771", "5,551", "9,871", "3,331", "7771"):
        assert theirs not in html  # another account's numbers never show
    test = signed_in.get("/dashboard/identity?env=test").data.decode()
    assert "1 of 1 conversions matched a session (100.0%)" in test
    narrow = signed_in.get(f"/dashboard/identity?from={d2}&to={d2}").data.decode()
    assert "4 of 10 conversions matched" in narrow
    bad = signed_in.get("/dashboard/identity?from=soon").data.decode()
    assert 'role="alert"' in bad


def test_the_page_needs_a_sign_in(client):
    page = client.get("/dashboard/identity")
    assert page.status_code in (302, 303) and "/dashboard/login" in page.headers["Location"]
