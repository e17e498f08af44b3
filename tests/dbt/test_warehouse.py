"""`dbt build` on real databases: the fixture dataset's sessions, channels and journeys; an
incremental run after late events equals a full refresh; after a bulk load, an incremental run
rebuilds only the late-event window; an incremental run builds a new account's whole history; a
clean build on an empty database;
and the TimescaleDB path giving the same marts and aggregates as plain PostgreSQL."""

from __future__ import annotations

import secrets
from datetime import datetime, timezone
from decimal import Decimal

import psycopg
import pytest
from psycopg import sql

from mbuzz.channels import explain
from mbuzz.sessions import JOURNEY_COLUMNS
from mbuzz.settings import with_database
from mbuzz.spend import record_spend
from tests.dbt.dataset import (
    OWN_DOMAIN,
    build_dataset,
    day,
    dbt,
    fetch,
    identity_changes,
    insert_credits,
    late_events,
    load,
    parity_cases,
    physical_rows,
)

pytestmark = pytest.mark.slow

SESSIONS = """
select session_id, visitor_id, user_id, identity_key, started_at, ended_at, event_count, is_client_session,
       landing_url, referrer_host, utm_source, utm_medium, utm_campaign, gclid, source, medium, campaign,
       source_category, is_self_referral, channel, channel_rule, first_mql_at, first_sql_at, environment
from marts.fct_sessions where account_id = %s order by session_id
"""
JOURNEY_FIELDS = [*(c for c in JOURNEY_COLUMNS if c != "identity_key"), "environment"]
JOURNEYS = f"""
select {", ".join(JOURNEY_FIELDS)}
from marts.fct_conversion_journeys where account_id = %s order by journey_id, touch_index nulls first
"""
CONVERSIONS = """
select conversion_id, conversion_type, identity_key, revenue, converted_at, touch_count,
       first_touch_channel, last_touch_channel
from marts.fct_conversions where account_id = %s order by conversion_id
"""
CHANNEL_DAILY = """
select model, day, channel, conversions, revenue, touches
from marts.channel_attribution_daily where account_id = %s order by model, day, channel
"""
ROAS = """
select model, day, channel, spend, conversions, revenue, roas, cost_per_conversion
from marts.rpt_channel_roas where account_id = %s order by model, day, channel
"""
SOURCE_DAILY = """
select model, day, channel, utm_source, utm_medium, utm_campaign, conversions, revenue, touches
from marts.source_attribution_daily where account_id = %s
order by model, day, channel, utm_source nulls first, utm_medium nulls first, utm_campaign nulls first
"""


def normalise(rows: list[tuple]) -> list[tuple]:
    """Rows comparable across servers: floats rounded, Decimals as floats, timestamps in UTC."""

    def value(v):
        if isinstance(v, float):
            return round(v, 9)
        if isinstance(v, Decimal):
            return round(float(v), 9)
        if isinstance(v, datetime):
            return v.astimezone(timezone.utc)
        return v

    return [tuple(value(v) for v in row) for row in rows]


def snapshot(url: str, account_id: str) -> dict[str, list[tuple]]:
    return {
        name: normalise(fetch(url, query, (account_id,)))
        for name, query in (("sessions", SESSIONS), ("journeys", JOURNEYS), ("conversions", CONVERSIONS))
    }


@pytest.fixture(scope="module")
def pg_build(database_url, fixture_account):
    """The fixture dataset loaded into the session's database and built once with `dbt build`."""
    dataset = build_dataset(fixture_account)
    load(database_url, dataset)
    dbt(database_url, "build", target="postgres")
    return dataset, snapshot(database_url, fixture_account)


def journeys_by_id(url: str, account_id: str) -> dict[str, list[dict]]:
    rows = fetch(url, JOURNEYS, (account_id,))
    cols = JOURNEY_FIELDS
    out: dict[str, list[dict]] = {}
    for row in rows:
        record = dict(zip(cols, row))
        out.setdefault(record["journey_id"], []).append(record)
    return out


def test_journeys_of_the_fixture(database_url, fixture_account, pg_build):
    c = fixture_account[-6:]
    journeys = journeys_by_id(database_url, fixture_account)

    paid = journeys[f"conv_{c}_paid"]
    assert [t["channel"] for t in paid] == ["paid_search", "email", "direct"]
    assert [t["touch_index"] for t in paid] == [0, 1, 2]
    # the first mql marks its touch; the sql happened after the conversion: no mark
    assert [t["milestones"] for t in paid] == ["mql", "", ""]
    assert {t["revenue"] for t in paid} == {Decimal("120")} and all(t["converted"] for t in paid)
    assert paid[0]["utm_source"] == "google" and paid[0]["utm_medium"] == "cpc"  # from the gclid

    # identity: the laptop's organic visit (within 30 days) and the phone's paid social visit
    user = journeys[f"conv_{c}_user"]
    assert [t["channel"] for t in user] == ["organic_search", "paid_social"]
    assert {t["revenue"] for t in user} == {Decimal("0")} and user[0]["conversion_type"] == "signup"

    ghost = journeys[f"conv_{c}_ghost"]
    assert len(ghost) == 1 and ghost[0]["touch_index"] is None and ghost[0]["channel"] is None
    assert ghost[0]["session_id"] is None and ghost[0]["milestones"] == ""

    assert f"conv_{c}_test" not in journeys  # test-key data stays out of live marts
    assert all(t["environment"] == "live" for ts in journeys.values() for t in ts)

    browse = journeys["path_visitor:vis_browse"]
    assert [t["channel"] for t in browse] == ["referral", "referral"]  # the self-referral keeps the source
    assert all(not t["converted"] and t["conversion_id"] is None and t["conversion_ts"] is None for t in browse)
    assert [t["channel"] for t in journeys["path_visitor:vis_client"]] == ["paid_search"]
    assert len(journeys["path_visitor:vis_gap"]) == 2
    assert "path_visitor:vis_paid" not in journeys and "path_user:user_42" not in journeys


def test_sessions_of_the_fixture(database_url, fixture_account, pg_build):
    rows = fetch(
        database_url,
        "select visitor_id, session_id, event_count, user_id, identity_key, channel "
        "from marts.fct_sessions where account_id = %s order by visitor_id, started_at",
        (fixture_account,),
    )
    by_visitor: dict[str, list[tuple]] = {}
    for row in rows:
        by_visitor.setdefault(row[0], []).append(row)
    assert [r[2] for r in by_visitor["vis_paid"]] == [3, 1, 1, 1]  # gclid visit (incl. mql), email, direct, sql
    assert [r[2] for r in by_visitor["vis_gap"]] == [2, 1]  # exactly 30 min stays, 30:01 splits
    assert by_visitor["vis_client"] == [("vis_client", "cs_abc", 2, None, "visitor:vis_client", "paid_search")]
    assert {r[4] for r in by_visitor["vis_laptop"] + by_visitor["vis_phone"]} == {"user:user_42"}
    assert "vis_test" not in by_visitor


def test_dbt_channels_agree_with_python_explain(database_url, fixture_account, pg_build):
    """Every session of the fixture: the warehouse's channel equals `mbuzz channels explain`'s."""
    rows = fetch(
        database_url,
        "select visitor_id, landing_url, referrer, source, medium, campaign, channel, channel_rule "
        "from marts.fct_sessions where account_id = %s order by visitor_id, started_at, session_id",
        (fixture_account,),
    )
    previous: dict[str, dict] = {}
    for visitor, url, referrer, source, medium, campaign, channel, rule in rows:
        result = explain(url, referrer, own_domains=[OWN_DOMAIN], previous=previous.get(visitor))
        assert (result.channel, result.priority, result.source, result.medium, result.campaign) == (
            channel,
            rule,
            source,
            medium,
            campaign,
        ), (visitor, url, referrer)
        previous[visitor] = {"source": source, "medium": medium, "campaign": campaign}
    assert len(rows) > 40


def journey_rows(url: str, account_id: str) -> list[tuple]:
    """Every column of the account's journey rows (identity_key and max_received_at included)."""
    return normalise(
        fetch(
            url,
            "select * from marts.fct_conversion_journeys where account_id = %s "
            "order by journey_id, touch_index nulls first",
            (account_id,),
        )
    )


def test_incremental_run_after_late_events_and_identity_changes_equals_full_refresh(
    database_url, fixture_account, pg_build
):
    """Late events, a new visitor, an anonymous converter identified as an existing user, a visitor
    relinked to another user and new conversions: `dbt run` rebuilds only the identities they
    touch, and gives exactly what a full refresh gives."""
    dataset, _ = pg_build
    c = fixture_account[-6:]
    before_rows = physical_rows(database_url, fixture_account)
    received = datetime.now(timezone.utc)
    n_events, n_conversions = len(dataset.events), len(dataset.conversions)
    late_events(dataset, received)
    identity_changes(dataset, received)
    load(
        database_url,
        dataset,
        events=dataset.events[n_events:],
        conversions=dataset.conversions[n_conversions:],
        with_account=False,
    )

    dbt(database_url, "run", "-s", "int_sessions+", target="postgres")
    incremental = snapshot(database_url, fixture_account)
    incremental_rows = journey_rows(database_url, fixture_account)
    gap = [r for r in incremental["sessions"] if r[1] == "vis_gap"]
    assert [r[6] for r in gap] == [4]  # the late event merged the two sessions
    assert any(r[1] == "vis_new" for r in incremental["sessions"])

    journeys = journeys_by_id(database_url, fixture_account)
    identities = {
        journey: identity
        for identity, journey in fetch(
            database_url,
            "select distinct identity_key, journey_id from marts.fct_conversion_journeys where account_id = %s",
            (fixture_account,),
        )
    }
    # vis_paid logged in as user_42: its conversion is user_42's, with the laptop's and phone's touches
    assert identities[f"conv_{c}_paid"] == "user:user_42"
    assert [t["channel"] for t in journeys[f"conv_{c}_paid"]] == [
        "organic_search",
        "paid_search",
        "email",
        "paid_social",
        "direct",
    ]
    assert [t["channel"] for t in journeys[f"conv_{c}_user"]] == [
        "organic_search",
        "paid_search",
        "email",
        "paid_social",
    ]
    assert [t["milestones"] for t in journeys[f"conv_{c}_user"]] == ["", "mql", "", ""]  # user_42's first mql
    # vis_swap moved from user_7 to user_8: user_7's journey lost its organic touch, user_8 has a path
    assert [t["channel"] for t in journeys[f"conv_{c}_seven"]] == ["paid_search"]
    assert [t["channel"] for t in journeys["path_user:user_8"]] == ["organic_search", "email"]
    # new conversions; the one recorded with a user_id took vis_client's path along
    assert [t["channel"] for t in journeys[f"conv_{c}_new"]] == ["paid_social"]
    assert identities[f"conv_{c}_client"] == "user:user_55"
    assert [t["channel"] for t in journeys[f"conv_{c}_client"]] == ["paid_search"]
    assert "path_visitor:vis_client" not in journeys
    gone = {"visitor:vis_paid", "visitor:vis_client"}
    assert not gone & set(identities.values())

    # incremental: every identity the changes do not touch kept its rows untouched (same ctids)
    touched = gone | {
        "visitor:vis_gap",
        "visitor:vis_new",
        "user:user_42",
        "user:user_7",
        "user:user_8",
        "user:user_55",
    }
    after_rows = physical_rows(database_url, fixture_account)
    untouched = set(before_rows) - touched
    assert len(untouched) > 25
    assert {i: after_rows.get(i) for i in untouched} == {i: before_rows[i] for i in untouched}
    assert not after_rows["user:user_42"] & before_rows["user:user_42"]  # rebuilt

    dbt(database_url, "run", "-s", "int_sessions+", "--full-refresh", target="postgres")
    assert snapshot(database_url, fixture_account) == incremental
    assert journey_rows(database_url, fixture_account) == incremental_rows


def physical_sessions(url: str, account_id: str, table: str) -> dict[str, set[tuple]]:
    """Each visitor's session rows in an intermediate table as (session_id, ctid)."""
    out: dict[str, set[tuple]] = {}
    for visitor, session, ctid in fetch(
        url, f"select visitor_id, session_id, ctid::text from intermediate.{table} where account_id = %s", (account_id,)
    ):
        out.setdefault(visitor, set()).add((session, ctid))
    return out


def test_incremental_run_after_a_bulk_load_rebuilds_only_the_late_event_window(database_url, pg_build):
    """A history bulk-loaded (every event received now, as by a migration): the next incremental
    run rebuilds, in int_sessions_classified and the journeys as in int_sessions, only the
    visitors with sessions in the late-event window, not everything received within the margin,
    and still gives exactly what a full refresh gives."""
    account = f"acct_dbtbulk{secrets.token_hex(3)}"
    dataset = build_dataset(account)
    loaded = datetime.now(timezone.utc)
    for event in dataset.events:  # conversions keep their own (historical) received_at
        event["received_at"] = loaded
    load(database_url, dataset)
    warehouse = ("run", "-s", "int_sessions+")
    dbt(database_url, *warehouse, target="postgres")  # a new account: built whole by an incremental run
    before = {
        table: physical_sessions(database_url, account, table) for table in ("int_sessions", "int_sessions_classified")
    }
    before_rows = physical_rows(database_url, account)
    # the account's newest session ends at day(-1, 9): the late-event window starts at day(-4, 9)
    assert max(
        r[0]
        for r in fetch(
            database_url,
            "select max(ended_at) from intermediate.int_sessions where account_id = %s and environment = 'live'",
            (account,),
        )
    ) == day(-1, 9)

    n_events = len(dataset.events)
    received = datetime.now(timezone.utc)
    dataset.event("vis_phone", day(0, 9), "https://mysite.com/pricing", received_at=received)
    dataset.event("vis_phone", day(0, 9, 3), "https://mysite.com/cart", received_at=received)
    dataset.event("vis_gap", day(-4, 10, 45), "https://mysite.com/late", received_at=received)  # within the window
    load(database_url, dataset, events=dataset.events[n_events:], with_account=False)
    dbt(database_url, *warehouse, target="postgres")
    incremental = snapshot(database_url, account), journey_rows(database_url, account)
    assert [r[6] for r in incremental[0]["sessions"] if r[1] == "vis_gap"] == [4]  # the late event merged them
    assert day(0, 9) in [r[4] for r in incremental[0]["sessions"] if r[1] == "vis_phone"]

    # every visitor whose sessions all ended before the window kept its rows in both models
    old = {"vis_laptop", "vis_browse", "vis_swap", "vis_seven"} | {
        v for v in before["int_sessions"] if v.startswith("par_")
    }
    for table, rows in before.items():
        after = physical_sessions(database_url, account, table)
        assert {v: after[v] for v in old} == {v: rows[v] for v in old}, table
        assert not after["vis_gap"] & rows["vis_gap"] and not after["vis_phone"] & rows["vis_phone"], table
    # and so did every identity of only such visitors (or only old conversions)
    after_rows = physical_rows(database_url, account)
    untouched = {"visitor:vis_browse", "user:user_7", "visitor:vis_ghost"} | {
        i for i in before_rows if i.startswith("visitor:par_")
    }
    assert len(untouched) > 25
    assert {i: after_rows[i] for i in untouched} == {i: before_rows[i] for i in untouched}
    assert not after_rows["user:user_42"] & before_rows["user:user_42"]  # rebuilt
    assert not after_rows["visitor:vis_gap"] & before_rows["visitor:vis_gap"]

    dbt(database_url, *warehouse, "--full-refresh", target="postgres")
    assert (snapshot(database_url, account), journey_rows(database_url, account)) == incremental


def test_incremental_run_builds_the_whole_history_of_a_new_account(database_url, pg_build):
    """An account whose weeks of history arrive (with their historical received_at) after other
    accounts have sessions: an incremental run sessionises, classifies and journeys all of it,
    not only the other accounts' late-event window, exactly as a full refresh does."""
    account = f"acct_dbtnew{secrets.token_hex(3)}"
    dataset = build_dataset(account)
    # other accounts have sessions, and their late-event window starts after most of this history
    scan_from = fetch(
        database_url,
        "select min(scan_from) from (select max(ended_at) - interval '3 days' "
        "as scan_from from intermediate.int_sessions group by account_id, environment) as w",
    )[0][0]
    assert scan_from is not None
    assert sum(event["occurred_at"] < scan_from for event in dataset.events) > len(dataset.events) / 2
    load(database_url, dataset)

    warehouse = ("run", "-s", "int_sessions+")
    dbt(database_url, *warehouse, target="postgres")
    incremental = snapshot(database_url, account), journey_rows(database_url, account)
    sessions = incremental[0]["sessions"]
    assert min(r[4] for r in sessions) == min(e["occurred_at"] for e in dataset.events if e["environment"] == "live")
    assert day(-40, 9) in [r[4] for r in sessions if r[1] == "vis_laptop"]  # weeks before the window
    assert len({r[1] for r in sessions if r[1].startswith("par_")}) == len({c["visitor_id"] for c in parity_cases()})
    c = account[-6:]
    assert [t["channel"] for t in journeys_by_id(database_url, account)[f"conv_{c}_user"]] == [
        "organic_search",
        "paid_social",
    ]  # the laptop's visit of day -20 included

    dbt(database_url, *warehouse, "--full-refresh", target="postgres")
    assert (snapshot(database_url, account), journey_rows(database_url, account)) == incremental


def test_build_is_clean_on_an_empty_database(server_url):
    from mbuzz.db.migrate import upgrade

    name = f"mbuzz_dbt_empty_{secrets.token_hex(4)}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    url = with_database(server_url, name)
    try:
        upgrade(url)
        dbt(url, "build", target="postgres")
        assert fetch(url, "select count(*) from marts.fct_conversion_journeys") == [(0,)]
        assert fetch(url, "select count(*) from marts.channel_attribution_daily") == [(0,)]
        assert fetch(url, "select count(*) from marts.dim_channels")[0][0] == 19
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


@pytest.mark.timescale
def test_timescale_path_gives_identical_marts(timescale_url, database_url, fixture_account, pg_build):
    """The same fixture on real TimescaleDB (hypertables, continuous aggregates) and on plain
    PostgreSQL: identical sessions, journeys, conversions and daily aggregates."""
    dataset, pg_snapshot = pg_build
    original = build_dataset(fixture_account)  # the events as of the PostgreSQL snapshot
    load(timescale_url, original)
    # the raw chunks compressed, as the 7-day policy does in production: compressed chunks have no
    # ctid (TimescaleDB supports only tableoid there), so staging must not depend on it
    with psycopg.connect(timescale_url, autocommit=True) as conn:
        for table in ("raw.events", "raw.conversions"):
            conn.execute(f"select compress_chunk(c, if_not_compressed => true) from show_chunks('{table}') as c")
        assert conn.execute("select count(*) from timescaledb_information.chunks where is_compressed").fetchone()[0]
    dbt(timescale_url, "build", target="timescaledb", threads=1)
    assert snapshot(timescale_url, fixture_account) == pg_snapshot

    # the Timescale objects are real: a compressed sessions hypertable and continuous aggregates
    hypertables = fetch(
        timescale_url,
        "select hypertable_schema || '.' || hypertable_name, compression_enabled "
        "from timescaledb_information.hypertables",
    )
    assert ("intermediate.int_sessions", True) in hypertables
    caggs = {
        r[0]
        for r in fetch(
            timescale_url,
            "select view_name from timescaledb_information.continuous_aggregates where view_schema = 'marts'",
        )
    }
    assert {"channel_attribution_daily", "source_attribution_daily"} <= caggs

    # credits (and ad spend) written after the build reach both paths' aggregates and ROAS identically
    for url, target, threads in ((database_url, "postgres", None), (timescale_url, "timescaledb", 1)):
        insert_credits(url, fixture_account)
        with psycopg.connect(url, autocommit=True) as conn:
            assert (
                record_spend(
                    conn,
                    fixture_account,
                    "live",
                    [
                        {
                            "date": day(-1, 8).date().isoformat(),
                            "channel": "paid_search",
                            "amount": "25",
                            "currency": "EUR",
                        },
                        {"date": day(-2).date().isoformat(), "channel": "display", "amount": "5", "currency": "EUR"},
                    ],
                ).accepted
                == 2
            )
        dbt(url, "build", "-s", "tag:credits", target=target, threads=threads)
    for query in (CHANNEL_DAILY, SOURCE_DAILY, ROAS):
        pg_rows = normalise(fetch(database_url, query, (fixture_account,)))
        assert pg_rows and normalise(fetch(timescale_url, query, (fixture_account,))) == pg_rows
    linear_paid = [
        r
        for r in normalise(fetch(database_url, CHANNEL_DAILY, (fixture_account,)))
        if r[0] == "linear" and r[2] == "paid_search"
    ]
    assert [(r[3], r[4], r[5]) for r in linear_paid] == [(0.5, 20.0, 1), (0.5, 50.0, 1)]

    # a second run keeps the continuous aggregates (no rebuild) and real-time answers stay right
    dbt(timescale_url, "run", "-s", "tag:credits", target="timescaledb", threads=1)
    assert normalise(fetch(timescale_url, CHANNEL_DAILY, (fixture_account,))) == normalise(
        fetch(database_url, CHANNEL_DAILY, (fixture_account,))
    )

    # the incremental path on TimescaleDB (sessions in a hypertable): late events and identity
    # changes give exactly what a full refresh gives
    n_events, n_conversions = len(original.events), len(original.conversions)
    received = datetime.now(timezone.utc)
    late_events(original, received)
    identity_changes(original, received)
    load(
        timescale_url,
        original,
        events=original.events[n_events:],
        conversions=original.conversions[n_conversions:],
        with_account=False,
    )
    warehouse = ("-s", "int_sessions+", "--exclude", "tag:credits")
    dbt(timescale_url, "run", *warehouse, target="timescaledb", threads=1)
    incremental = snapshot(timescale_url, fixture_account), journey_rows(timescale_url, fixture_account)
    assert "path_user:user_8" in {r[0] for r in incremental[0]["journeys"]}
    dbt(timescale_url, "run", *warehouse, "--full-refresh", target="timescaledb", threads=1)
    assert (snapshot(timescale_url, fixture_account), journey_rows(timescale_url, fixture_account)) == incremental
