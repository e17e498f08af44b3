"""Journeys seeded straight into marts.fct_conversion_journeys (a plain table standing in for the
dbt model; the company journeys' mart beside it, empty) for tests of the attribution run itself: `conversions` conversions per account, each
of `touches` touches, converted on START's day (the run window START .. END)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

START = datetime(2026, 3, 1, tzinfo=timezone.utc)
END = START + timedelta(days=1)

TABLE = """
create schema if not exists marts;
create table if not exists marts.fct_conversion_journeys (
    account_id text, environment text, journey_id text, conversion_id text, converted boolean,
    conversion_ts timestamptz, conversion_type text, revenue numeric, touch_index int, touch_ts timestamptz,
    session_id text, channel text, utm_source text, utm_medium text, utm_campaign text, milestones text);
-- the company journeys' mart exists in every built warehouse (the credits check reads it); empty here
create table if not exists marts.fct_group_conversion_journeys
    (like marts.fct_conversion_journeys, group_id text)
"""

SEED = """
insert into marts.fct_conversion_journeys
select %(account)s, 'live', 'conv_' || c, 'conv_' || c, true,
       %(start)s + make_interval(secs => c), 'purchase', null, t,
       %(start)s + make_interval(secs => c) - make_interval(hours => %(touches)s - t),
       'sess_' || c || '_' || t, (array['paid_search', 'email', 'direct', 'organic_search'])[1 + (c + t) %% 4],
       'google', 'cpc', 'spring', ''
from generate_series(1, %(conversions)s) c, generate_series(0, %(touches)s - 1) t
"""


def seed_journeys(conn, conversions: int, touches: int = 3, accounts: int = 1) -> list[str]:
    """Accounts (new) with seeded journeys; `conn` is autocommit."""
    from mbuzz.accounts import create_account

    conn.execute(TABLE)
    ids = []
    for n in range(accounts):
        account = create_account(conn, f"Runs {n}")
        conn.execute(SEED, {"account": account.id, "start": START, "conversions": conversions, "touches": touches})
        ids.append(account.id)
    return ids
