"""`mbuzz export mmm`: per period and channel, the platform's spend / impressions / clicks, the
sessions mbuzz classified, and one model's credits — over a complete calendar, in the long and
wide shapes media-mix models read, as CSV and Parquet; another account's numbers never appear."""

from __future__ import annotations

import csv
import json
import secrets
from datetime import timedelta

import psycopg
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from mbuzz.cli import cli
from mbuzz.spend import record_spend
from tests.dbt.dataset import day, dbt, insert_credits

pytestmark = pytest.mark.slow


def page_views(account_id: str, at, utm: str, visitors: int) -> list[dict]:
    return [
        {
            "event_id": f"evt_{secrets.token_hex(8)}",
            "event_type": "page_view",
            "visitor_id": f"vis_{secrets.token_hex(6)}",
            "occurred_at": at.isoformat(),
            "properties": {"url": f"https://shop.example/?{utm}"},
        }
        for _ in range(visitors)
    ]


@pytest.fixture(scope="module")
def warehouse(database_url):
    from mbuzz.accounts import create_account
    from mbuzz.db import events_are_unique
    from mbuzz.db.landing import land_events

    with psycopg.connect(database_url, autocommit=True) as conn:
        account = create_account(conn, f"MMM {secrets.token_hex(3)}").id
        other = create_account(conn, "MMM neighbour").id
        a_day, display_day = day(-1, 8).date().isoformat(), day(-2).date().isoformat()
        assert (
            record_spend(
                conn,
                account,
                "live",
                [
                    {
                        "date": a_day,
                        "channel": "paid_search",
                        "utm_source": "google",
                        "utm_medium": "cpc",
                        "utm_campaign": "brand",
                        "amount": "30",
                        "currency": "EUR",
                        "impressions": 3000,
                        "clicks": "90",
                    },
                    {
                        "date": a_day,
                        "channel": "paid_search",
                        "amount": "20",
                        "currency": "EUR",
                        "impressions": "1000",
                        "clicks": 10,
                    },
                    {
                        "date": display_day,
                        "channel": "display",
                        "amount": "10",
                        "currency": "EUR",
                    },  # no delivery numbers
                ],
            ).accepted
            == 3
        )
        record_spend(
            conn,
            other,
            "live",
            [{"date": a_day, "channel": "paid_search", "amount": 1000, "currency": "EUR", "impressions": 99999}],
        )
        now = conn.execute("select now()").fetchone()[0]
        for tenant, visitors in ((account, 3), (other, 7)):
            rows = page_views(tenant, day(-1, 8), "utm_source=google&utm_medium=cpc", visitors)
            land_events(
                conn,
                json.dumps(rows),
                unique=events_are_unique(conn),
                account_id=tenant,
                environment="live",
                received_at=now,
            )
    insert_credits(database_url, account)  # linear and last_touch: paid_search + email on day -1 and day -3
    insert_credits(database_url, other)
    dbt(
        database_url,
        "build",
        "-s",
        "+rpt_channel_roas",
        "+fct_sessions",
        "+dim_channels",
        "--exclude",
        "resource_type:unit_test",
        "--indirect-selection",
        "cautious",
        target="postgres",
    )
    return {"account": account, "a_day": a_day, "display_day": display_day}


def export(*args: str) -> tuple[int, str]:
    """Exit code and what the user reads (mbuzz's entry point prints an MbuzzError as one line)."""
    result = CliRunner().invoke(cli, ["export", "mmm", *args])
    error = "" if result.exception is None or isinstance(result.exception, SystemExit) else str(result.exception)
    return result.exit_code, result.output + error


def test_long_export_has_every_day_and_channel_with_the_models_credits(warehouse, tmp_path):
    out = tmp_path / "mmm.csv"
    code, output = export("--account", warehouse["account"], "--model", "linear", "--shape", "long", "-o", str(out))
    assert code == 0, output
    rows = list(csv.DictReader(out.open()))
    by_key = {(r["date"], r["channel"]): r for r in rows}
    first, last = day(-3).date(), day(-1).date()
    days = [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]
    channels = {"display", "email", "paid_search"}
    assert {r["channel"] for r in rows} == channels
    assert sorted({r["date"] for r in rows}) == days  # a complete calendar, quiet days included
    assert len(rows) == len(days) * len(channels)

    search = by_key[(warehouse["a_day"], "paid_search")]
    assert (float(search["spend"]), search["impressions"], search["clicks"]) == (50.0, "4000", "100")
    assert (float(search["conversions"]), float(search["revenue"])) == (0.5, 50.0)  # linear's half of conversion a
    assert search["visits"] == "3"  # this account's sessions, not the neighbour's 7
    # a quiet day of a channel whose platform reports impressions: zeros, not gaps
    quiet = by_key[(warehouse["display_day"], "paid_search")]
    assert (float(quiet["spend"]), quiet["impressions"], quiet["visits"]) == (0.0, "0", "0")
    # display's spend carried no impressions: they stay empty (not reported), never 0
    display = by_key[(warehouse["display_day"], "display")]
    assert (float(display["spend"]), display["impressions"], display["clicks"]) == (10.0, "", "")
    assert sum(float(r["conversions"]) for r in rows) == pytest.approx(2.0)  # two conversions, fully credited
    assert "no impressions were uploaded for display" in output


def test_wide_weekly_parquet_is_one_row_per_week_with_channel_columns(warehouse, tmp_path):
    out = tmp_path / "mmm.parquet"
    code, output = export("--account", warehouse["account"], "--model", "last_touch", "--grain", "week", "-o", str(out))
    assert code == 0, output
    table = pq.read_table(out).to_pylist()
    weeks = [row["week"] for row in table]
    assert weeks == sorted(set(weeks)) and all(week.weekday() == 0 for week in weeks)
    assert {
        "conversions",
        "revenue",
        "paid_search_spend",
        "paid_search_impressions",
        "email_conversions",
        "display_spend",
        "display_impressions",
    } <= set(table[0])
    assert sum(row["conversions"] for row in table) == pytest.approx(2.0)
    assert sum(row["email_conversions"] for row in table) == pytest.approx(2.0)  # last touch: all to email
    assert sum(row["paid_search_spend"] for row in table) == pytest.approx(50.0)
    assert sum(row["paid_search_impressions"] for row in table) == 4000
    assert all(row["display_impressions"] is None for row in table)


def test_a_range_outside_the_data_is_a_calendar_of_zeros(warehouse, tmp_path):
    out = tmp_path / "range.csv"
    start = day(-40).date().isoformat()
    code, output = export(
        "--account",
        warehouse["account"],
        "--model",
        "linear",
        "--from",
        start,
        "--to",
        day(-39).date().isoformat(),
        "--shape",
        "long",
        "-o",
        str(out),
    )
    assert code == 0, output
    rows = list(csv.DictReader(out.open()))
    assert rows and all(float(r["spend"]) == 0 and float(r["conversions"]) == 0 for r in rows)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "no_such_model"], "has no credits"),
        (["--model", "linear", "--from", "2026-02-01", "--to", "2026-01-01"], "is after"),
        (["--model", "linear", "--format", "xlsx"], "Invalid value for '--format'"),
    ],
)
def test_bad_requests_say_what_to_do_and_write_nothing(warehouse, tmp_path, args, message):
    out = tmp_path / "out.csv"
    code, output = export("--account", warehouse["account"], *args, "-o", str(out))
    assert code != 0 and message in output, output
    assert not out.exists()


def test_an_unknown_extension_and_an_unknown_account_are_refused(warehouse, tmp_path):
    code, output = export("--account", warehouse["account"], "--model", "linear", "-o", str(tmp_path / "out.xlsx"))
    assert code != 0 and "name it .csv or .parquet" in output
    code, output = export("--account", "acct_nope", "--model", "linear", "-o", str(tmp_path / "x.csv"))
    assert code != 0 and "acct_nope" in output
    assert not (tmp_path / "x.csv").exists()


def test_the_worked_example_of_the_docs_loads_an_export(warehouse, tmp_path, monkeypatch, capsys):
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "mmm.md").read_text()
    example = doc.split("```python\n", 1)[1].split("```", 1)[0]
    code, output = export(
        "--account", warehouse["account"], "--model", "linear", "--grain", "week", "-o", str(tmp_path / "mmm.csv")
    )
    assert code == 0, output
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(example, "docs/mmm.md", "exec"), scope)  # noqa: S102 - the docs' own example
    assert scope["spend_columns"] == ["display_spend", "paid_search_spend"]
    assert scope["y"].sum() == pytest.approx(2.0)
    assert "channels: display, paid_search" in capsys.readouterr().out
