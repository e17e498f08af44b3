"""Credits land exactly: COPY on PostgreSQL, unnest()ed arrays where the server refuses COPY
FROM STDIN (the PGlite TimescaleDB server, whose credits table is a hypertable)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pandas as pd
import psycopg
import pytest

from mbuzz.attribution_runs import _copy_frame, write_credits

START = datetime(2026, 3, 1, tzinfo=timezone.utc)
READ = """
select model, conversion_id, conversion_type, converted_at, touch_index, session_id, channel, credit,
       revenue_credit, utm_source, utm_medium, utm_campaign, environment, run_id
from attribution.attribution_credits where account_id = %s order by model, conversion_id, touch_index
"""


def credit_rows() -> list[dict]:
    rows = []
    for j in range(40):
        for t in range(3):
            rows.append(
                {
                    "environment": "live",
                    "model": "linear" if j % 2 else "markov",
                    "journey_id": f"conv_{j:03d}",
                    "conversion_type": "purchase",
                    "converted_at": START + timedelta(hours=j, microseconds=123457),
                    "touch_index": t,
                    "session_id": f"sess_{j}_{t}",
                    "channel": ["paid_search", "email", "direct"][t],
                    "credit": 1 / 3,
                    "revenue_credit": 99.99 / 3,
                    # NULL, empty text, and text CSV must quote
                    "utm_source": None if t == 0 else ("" if t == 1 else 'news, "letter"'),
                    "utm_medium": "email",
                    "utm_campaign": "é–spring\nsale" if j == 7 else None,
                }
            )
    return rows


def credits() -> pd.DataFrame:
    return pd.DataFrame(credit_rows())


def expected(run_id: str) -> list[tuple]:
    columns = (
        "model",
        "journey_id",
        "conversion_type",
        "converted_at",
        "touch_index",
        "session_id",
        "channel",
        "credit",
        "revenue_credit",
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "environment",
    )
    return sorted(tuple(row[c] for c in columns) + (run_id,) for row in credit_rows())


def write_and_read(url: str) -> tuple[list[tuple], str]:
    from mbuzz.accounts import create_account

    with psycopg.connect(url, autocommit=True) as conn:
        account = create_account(conn, "credits")
    with psycopg.connect(url) as conn:
        with conn.transaction():
            written = write_credits(
                conn,
                account.id,
                "run_test",
                credits(),
                pd.DataFrame(),
                START,
                START + timedelta(days=3),
                ["linear", "markov"],
            )
        assert written == len(credits())
        rows = conn.execute(READ, (account.id,)).fetchall()
    return [tuple(r) for r in rows], account.id


def test_credits_are_copied_and_read_back_exactly(database_url):
    rows, _ = write_and_read(database_url)
    assert sorted(rows) == expected("run_test")


def test_copy_is_used_on_postgresql_and_refused_by_pglite(database_url, timescale_url):
    frame = pd.DataFrame({"account_id": ["nobody"], "event_id": ["e1"], "received_at": [START]})
    for url, copies in ((database_url, True), (timescale_url, False)):
        with psycopg.connect(url) as conn:
            assert _copy_frame(conn, "raw.event_keys", frame) is copies
            conn.rollback()  # nothing kept either way


@pytest.mark.timescale
def test_where_copy_is_refused_the_same_credits_land(timescale_url):
    rows, _ = write_and_read(timescale_url)
    assert sorted(rows) == expected("run_test")
