"""Ad spend (`raw.ad_spend`): per-row validation, upsert by day / channel / campaign, the CSV
upload through `mbuzz spend import`, and row-level security fencing one account's spend off."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import psycopg
import pytest
from click.testing import CliRunner

from mbuzz.cli import cli
from mbuzz.spend import SpendInputError, parse_csv, record_spend


def stored(conn, account_id: str) -> list[tuple]:
    return conn.execute(
        "select environment, day, channel, utm_source, utm_medium, utm_campaign, amount, currency "
        "from raw.ad_spend where account_id = %s order by environment, day, channel, utm_campaign",
        (account_id,),
    ).fetchall()


def test_valid_rows_are_stored_and_invalid_ones_reported_with_their_index(conn, account):
    result = record_spend(
        conn,
        account.id,
        "live",
        [
            {
                "date": "2026-11-01",
                "channel": "paid_search",
                "utm_source": "Google",
                "utm_medium": "cpc",
                "utm_campaign": "Brand",
                "amount": "120.50",
                "currency": "eur",
            },
            {"date": "2026-11-01", "channel": "Paid_Social", "amount": 40, "currency": "EUR"},
            {"date": "2026-13-01", "channel": "paid_search", "amount": 1, "currency": "EUR"},
            {"date": "2026-11-02", "channel": "tv", "amount": 1, "currency": "EUR"},
            {"date": "2026-11-02", "channel": "email", "amount": -3, "currency": "EUR"},
            {"date": "2026-11-02", "channel": "email", "amount": "abc", "currency": "euro"},
            {"date": "2026-11-02", "channel": "email", "amount": True, "currency": "EUR", "cpm": 4},
            "not an object",
        ],
    )
    assert result.accepted == 2
    errors = {r["index"]: r["errors"] for r in result.rejected}
    assert sorted(errors) == [2, 3, 4, 5, 6, 7]
    assert errors[2] == ["date: '2026-13-01' is not a date (YYYY-MM-DD)"]
    assert errors[3][0].startswith("channel: 'tv' is not a channel; one of ") and "paid_search" in errors[3][0]
    assert errors[4] == ["amount: must be a number >= 0 and < 1e+14"]
    assert errors[5] == [
        "amount: 'abc' is not a number",
        "currency: 'euro' is not an ISO 4217 currency code (EUR, USD)",
    ]
    assert errors[6][0].startswith("cpm: unknown field") and "amount: required, a number >= 0" in errors[6]
    assert stored(conn, account.id) == [
        ("live", date(2026, 11, 1), "paid_search", "google", "cpc", "brand", Decimal("120.5000"), "EUR"),
        ("live", date(2026, 11, 1), "paid_social", "", "", "", Decimal("40.0000"), "EUR"),
    ]


def test_impressions_and_clicks_are_optional_whole_numbers_stored_as_null_when_not_reported(conn, account):
    base = {"date": "2026-11-03", "channel": "display", "amount": "5", "currency": "EUR"}
    result = record_spend(
        conn,
        account.id,
        "live",
        [
            {**base, "utm_campaign": "a", "impressions": 1200, "clicks": "34"},
            {**base, "utm_campaign": "b", "impressions": "", "clicks": None},
            {**base, "utm_campaign": "c"},
            {**base, "utm_campaign": "d", "impressions": -1},
            {**base, "utm_campaign": "e", "impressions": 1.5, "clicks": "many"},
            {**base, "utm_campaign": "f", "clicks": True},
        ],
    )
    assert result.accepted == 3
    errors = {r["index"]: r["errors"] for r in result.rejected}
    assert errors[3] == ["impressions: -1 is not a whole number >= 0 (leave it empty when not reported)"]
    assert [e.split(":")[0] for e in errors[4]] == ["impressions", "clicks"]
    assert errors[5][0].startswith("clicks: True is not a whole number")
    rows = conn.execute(
        "select utm_campaign, impressions, clicks from raw.ad_spend where account_id = %s "
        "and day = '2026-11-03' order by 1",
        (account.id,),
    ).fetchall()
    assert rows == [("a", 1200, 34), ("b", None, None), ("c", None, None)]
    # uploading the day again replaces the delivery numbers with the amount
    record_spend(conn, account.id, "live", [{**base, "utm_campaign": "a", "impressions": 10}])
    assert conn.execute(
        "select impressions, clicks from raw.ad_spend where account_id = %s and utm_campaign = 'a'", (account.id,)
    ).fetchone() == (10, None)


def test_the_same_day_channel_and_campaign_again_replaces_the_amount(conn, account):
    row = {"date": "2026-11-01", "channel": "display", "utm_campaign": "retarget", "amount": "10", "currency": "USD"}
    record_spend(conn, account.id, "live", [row])
    result = record_spend(
        conn, account.id, "live", [{**row, "amount": "12.25"}, {**row, "utm_campaign": "other", "amount": 1}]
    )
    assert result.accepted == 2 and not result.rejected
    record_spend(conn, account.id, "test", [{**row, "amount": "99"}])  # test-key spend is kept apart
    assert stored(conn, account.id) == [
        ("live", date(2026, 11, 1), "display", "", "", "other", Decimal("1.0000"), "USD"),
        ("live", date(2026, 11, 1), "display", "", "", "retarget", Decimal("12.2500"), "USD"),
        ("test", date(2026, 11, 1), "display", "", "", "retarget", Decimal("99.0000"), "USD"),
    ]


def test_an_upload_that_is_not_a_list_of_rows_is_refused_whole(conn, account):
    with pytest.raises(SpendInputError, match="must be a list"):
        record_spend(conn, account.id, "live", {"date": "2026-11-01"})
    with pytest.raises(SpendInputError, match="header lacks amount, currency"):
        parse_csv("date,channel\n2026-11-01,email\n")
    with pytest.raises(SpendInputError, match="no header row"):
        parse_csv("")
    assert stored(conn, account.id) == []


def test_cli_import_stores_a_csv_and_names_the_bad_lines(conn, account, tmp_path):
    path = tmp_path / "spend.csv"
    path.write_text(
        "date,channel,utm_source,utm_medium,utm_campaign,amount,currency\n"
        "2026-11-01,paid_search,google,cpc,brand,120.50,EUR\n"
        "2026-11-01,email,,,,5,EUR\n"
        "2026-11-02,paid_search,google,cpc,brand,,EUR\n"
    )
    result = CliRunner().invoke(cli, ["spend", "import", str(path), "--account", account.id])
    assert result.exit_code == 1
    assert "2 rows stored" in result.output and "1 rejected" in result.output
    assert "line 4: amount: required, a number >= 0" in result.output
    assert [r[2] for r in stored(conn, account.id)] == ["email", "paid_search"]

    path.write_text("date,channel,amount,currency\n2026-11-03,email,7,EUR\n")
    result = CliRunner().invoke(cli, ["spend", "import", str(path), "--account", account.id, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"accepted": 1, "rejected": []}

    result = CliRunner().invoke(cli, ["spend", "import", str(path), "--account", "acct_nobody"])
    # the `mbuzz` entry point prints MbuzzError messages as one line; here it surfaces as the exception
    assert result.exit_code != 0 and "no account 'acct_nobody'" in str(result.exception)


def test_row_level_security_fences_spend_by_account(conn, database_url, account):
    from mbuzz.accounts import create_account

    other = create_account(conn, "Spend neighbour")
    record_spend(conn, account.id, "live", [{"date": "2026-11-01", "channel": "email", "amount": 1, "currency": "EUR"}])
    record_spend(conn, other.id, "live", [{"date": "2026-11-01", "channel": "email", "amount": 2, "currency": "EUR"}])
    with psycopg.connect(database_url) as api:
        api.execute(
            "select set_config('role', 'mbuzz_api', true), set_config('mbuzz.account_id', %s, true)", (account.id,)
        )
        # a query that forgot its account scope still sees only this account's rows
        assert api.execute("select account_id, amount from raw.ad_spend").fetchall() == [
            (account.id, Decimal("1.0000"))
        ]
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            api.execute(
                "insert into raw.ad_spend (account_id, day, channel, amount, currency) "
                "values (%s, '2026-11-02', 'email', 3, 'EUR')",
                (other.id,),
            )
