"""Received conversions and the incremental journeys: after a bulk load (every row received
within `mbuzz__received_margin_minutes` of the watermark), the next runs rebuild only the
conversions the journeys do not show yet — a replay, a row committed late — and not every
conversion of the load; the result is still what a full refresh gives."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta, timezone

import pytest

from tests.dbt.dataset import build_dataset, day, dbt, fetch, load, physical_rows

pytestmark = pytest.mark.slow

ROWS = (
    "select identity_key, journey_id, touch_index, conversion_type, revenue, touch_ts, session_id, channel, "
    "milestones, conversion_received_at from marts.fct_conversion_journeys where account_id = %s "
    "order by journey_id, touch_index nulls first"
)


def test_conversions_the_journeys_already_show_are_not_rebuilt_after_a_bulk_load(database_url):
    account = f"acct_dbtrecv{secrets.token_hex(3)}"
    c = account[-6:]
    dataset = build_dataset(account)
    loaded = datetime.now(timezone.utc)
    for row in dataset.events + dataset.conversions:  # a bulk load: everything received now
        row["received_at"] = loaded
    load(database_url, dataset)
    # seeds, staging and the warehouse models (the tests of this module need no dbt tests)
    dbt(
        database_url,
        "build",
        "-s",
        "@int_sessions",
        "--exclude",
        "resource_type:test",
        "resource_type:unit_test",
        "--full-refresh",
        target="postgres",
    )
    warehouse = ("run", "-s", "int_sessions+")
    before = physical_rows(database_url, account)
    assert fetch(
        database_url,
        "select conversion_received_at from marts.fct_conversion_journeys where account_id = %s and journey_id = %s",
        (account, f"conv_{c}_ghost"),
    ) == [(loaded,)]

    n_events, n_conversions = len(dataset.events), len(dataset.conversions)
    now = datetime.now(timezone.utc)
    dataset.event("vis_phone", day(0, 9), "https://mysite.com/pricing", received_at=now)
    # a replay of the touchless conversion with another revenue: newer, so it is the conversion now
    dataset.conversion(f"conv_{c}_ghost", "vis_ghost", day(-3, 12), revenue=45.0, received_at=now)
    # a conversion committed after the build although received before it (within the margin)
    dataset.conversion(
        f"conv_{c}_late", "vis_offline", day(-7, 15), revenue=5.0, received_at=loaded - timedelta(minutes=20)
    )
    load(
        database_url,
        dataset,
        events=dataset.events[n_events:],
        conversions=dataset.conversions[n_conversions:],
        with_account=False,
    )
    dbt(database_url, *warehouse, target="postgres")
    incremental = fetch(database_url, ROWS, (account,))
    after = physical_rows(database_url, account)

    journeys = {}
    for identity, journey, _, _, revenue, *_ in incremental:
        journeys.setdefault(journey, (identity, revenue))
    assert journeys[f"conv_{c}_ghost"] == ("visitor:vis_ghost", 45)
    assert journeys[f"conv_{c}_late"] == ("visitor:vis_offline", 5)
    # rebuilt: the replayed conversion's identity and the visitor with a new event
    for identity in ("visitor:vis_ghost", "user:user_42"):
        assert not after[identity] & before[identity], identity
    # untouched: user_7's sessions ended before the late-event window, and its conversion, like
    # every row of the load, was received within the margin but is already in its journey
    untouched = {"user:user_7", "visitor:vis_browse"} | {i for i in before if i.startswith("visitor:par_")}
    assert len(untouched) > 25
    assert {i: after[i] for i in untouched} == {i: before[i] for i in untouched}

    dbt(database_url, *warehouse, "--full-refresh", target="postgres")
    assert fetch(database_url, ROWS, (account,)) == incremental
