"""Account-level (B2B) journeys (docs/b2b.md): `group` calls put three people into one company;
one deal -> one journey holding every touch of all three in time order, with the company's
milestones, identical on PostgreSQL and TimescaleDB; `journey_by account` models (rules, a
W-shaped DSL model) credit it through the run, markov and shapley run on it unchanged; a
`journey_by account` run where no company exists says so in the run history."""

from __future__ import annotations

import json
import secrets
from datetime import timedelta

import psycopg
import pytest

from attribution import attribute
from mbuzz.accounts import create_account
from mbuzz.attribution_runs import NO_GROUPS, run_attribution
from mbuzz.models_service import create_model
from orchestration.checks import UNATTRIBUTED
from tests.dbt.dataset import CONVERSION_COLUMNS, Dataset, _insert, day, dbt, fetch

pytestmark = pytest.mark.slow

BUILD = ("build",)
JOURNEYS = """
select group_id, journey_id, conversion_id, converted, touch_index, touch_ts, session_id, channel, milestones,
       identity_key, revenue
from marts.fct_group_conversion_journeys where account_id = %s order by journey_id, touch_index nulls first
"""
W_BY_ACCOUNT = """model "W by account"
  journey_by account
  credit first_touch with 0.3
  credit milestone_touch("mql") with 0.3
  credit last_touch with 0.3
  credit other_touches with 0.1 equally
end"""
LINEAR_BY_ACCOUNT = 'model "Linear by account"\n  journey_by account\n  distribute equally\nend'
START, END = day(-30), day(1)


def b2b_dataset(account_id: str) -> tuple[Dataset, list[dict]]:
    """acme: ana (paid search, then the company's MQL), ben (newsletter, the SQL) and cai
    (organic, then direct) — one deal closed with acme by cai; globex: two people, no deal
    (a non-converting company path); and a stranger outside any company."""
    d = Dataset(account_id)
    g = lambda visitor, company, at, **kw: d.event(  # noqa: E731
        visitor, at, event_type="group", group_id=company, traits={"name": company.title()}, **kw
    )
    # a group call is an event: sent right after a page view, it stays in that page's session
    d.event("vis_ana", day(-20, 9), "https://mysite.com/?gclid=a1")
    g("vis_ana", "acme", day(-20, 9, 1))
    d.event("vis_ana", day(-12, 10), "https://mysite.com/?gclid=a2")
    d.event("vis_ana", day(-12, 10, 2), "https://mysite.com/demo", event_type="mql")
    d.event("vis_ben", day(-10, 14), "https://mysite.com/?utm_source=newsletter&utm_medium=email")
    g("vis_ben", "acme", day(-10, 14, 1), user_id="user_ben")
    d.event("vis_ben", day(-10, 14, 3), "https://mysite.com/meeting", event_type="sql")
    d.event("vis_cai", day(-8, 11), "https://mysite.com/", "https://www.google.com/")
    g("vis_cai", "acme", day(-8, 11, 1))
    d.event("vis_cai", day(-2, 16), "https://mysite.com/pricing")
    d.event("vis_ana", day(-60, 9), "https://mysite.com/?utm_source=bing&utm_medium=cpc")  # outside the lookback
    for who in ("vis_dee", "vis_eli"):
        d.event(who, day(-9, 9), "https://mysite.com/", "https://www.google.com/")
        g(who, "globex", day(-9, 9, 1))
    d.event("vis_stranger", day(-3, 9), "https://mysite.com/?gclid=s1")
    c = account_id[-6:]
    conversions = [
        {
            "account_id": account_id,
            "conversion_id": f"deal_{c}_acme",
            "environment": "live",
            "conversion_type": "deal",
            "visitor_id": "vis_cai",
            "user_id": None,
            "revenue": 50000,
            "currency": "EUR",
            "converted_at": day(-1, 12),
            "received_at": day(-1, 12) + timedelta(seconds=1),
            "properties": json.dumps({"group_id": "acme"}),
        },
        {  # a person-level conversion outside any company: no account journey
            "account_id": account_id,
            "conversion_id": f"conv_{c}_stranger",
            "environment": "live",
            "conversion_type": "purchase",
            "visitor_id": "vis_stranger",
            "user_id": None,
            "revenue": 20,
            "currency": "EUR",
            "converted_at": day(-3, 10),
            "received_at": day(-3, 10) + timedelta(seconds=1),
            "properties": "{}",
        },
    ]
    return d, conversions


def load_b2b(url: str, account_id: str) -> None:
    d, conversions = b2b_dataset(account_id)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "insert into raw.accounts (id, name) values (%s, %s) on conflict do nothing", (account_id, "b2b fixture")
        )
        _insert(conn, "raw.conversions", CONVERSION_COLUMNS + ("properties",), conversions)
        from tests.dbt.dataset import EVENT_COLUMNS

        _insert(conn, "raw.events", EVENT_COLUMNS, d.events)


@pytest.fixture(scope="module")
def b2b_build(new_database):
    """A database of its own (runs span every account in a database), loaded and built once."""
    with new_database() as url:
        with psycopg.connect(url, autocommit=True) as conn:
            account = create_account(conn, "B2B fixture").id
        load_b2b(url, account)
        dbt(url, *BUILD, target="postgres")
        yield url, account


def test_one_deal_is_one_journey_of_every_member_in_time_order(b2b_build):
    url, account = b2b_build
    rows = fetch(url, JOURNEYS, (account,))
    deal = [r for r in rows if r[1].startswith("deal_")]
    assert [(r[0], r[4], r[7], r[8], r[9]) for r in deal] == [
        ("acme", 0, "paid_search", "", "visitor:vis_ana"),  # day -20
        ("acme", 1, "paid_search", "mql", "visitor:vis_ana"),  # the company's MQL
        ("acme", 2, "email", "sql", "user:user_ben"),  # ben, known as user_ben from his group call
        ("acme", 3, "organic_search", "", "visitor:vis_cai"),
        ("acme", 4, "direct", "", "visitor:vis_cai"),  # the deal's last touch
    ]
    assert [r[5] for r in deal] == sorted(r[5] for r in deal)
    assert {r[9] for r in deal} == {"visitor:vis_ana", "user:user_ben", "visitor:vis_cai"}
    assert all(r[3] and float(r[10]) == 50000 for r in deal)
    # globex has no deal: one non-converting company path; the stranger is in no company
    assert {r[1] for r in rows} == {f"deal_{account[-6:]}_acme", "path_group:globex"}
    assert len([r for r in rows if r[1] == "path_group:globex"]) == 2


def test_journey_by_account_models_credit_the_deal_in_the_run(b2b_build):
    url, account = b2b_build
    with psycopg.connect(url, autocommit=True) as conn:
        create_model(conn, account, W_BY_ACCOUNT)
        create_model(conn, account, LINEAR_BY_ACCOUNT)
        result = run_attribution(lambda: psycopg.connect(url), START, END, data_driven=False)
        assert result.skipped == {}
        # the blocking check holds: the presets credit every conversion, the account models every deal
        assert conn.execute(UNATTRIBUTED, {"start": START, "end": END}).fetchone() == (0,)
        credits = conn.execute(
            "select c.model, c.conversion_id, c.touch_index, c.channel, c.credit from attribution.attribution_credits c "
            "where c.account_id = %s order by c.model, c.conversion_id, c.touch_index",
            (account,),
        ).fetchall()
        names = dict(conn.execute("select id, name from raw.attribution_models where account_id = %s", (account,)))
    by_model: dict[str, list[tuple]] = {}
    for model, conversion, index, channel, credit in credits:
        by_model.setdefault(names.get(model, model), []).append((conversion, index, channel, round(credit, 9)))
    deal = f"deal_{account[-6:]}_acme"
    # W-shaped on the company's journey: 0.3 first (ana), 0.3 the company's MQL (ana), 0.3 last (cai)
    assert by_model["W by account"] == [
        (deal, 0, "paid_search", 0.3),
        (deal, 1, "paid_search", 0.3),
        (deal, 2, "email", 0.05),
        (deal, 3, "organic_search", 0.05),
        (deal, 4, "direct", 0.3),
    ]
    assert [c[3] for c in by_model["Linear by account"]] == [0.2] * 5
    # person-level presets still see each person alone: the deal has cai's touches only
    assert [c[2] for c in by_model["linear"] if c[0] == deal] == ["organic_search", "direct"]
    for rows in by_model.values():
        totals: dict[str, float] = {}
        for conversion, _, _, credit in rows:
            totals[conversion] = totals.get(conversion, 0) + credit
        assert all(abs(t - 1) < 1e-9 for t in totals.values())
    # the run's credits reach the marts under the model's id, like every model
    dbt(url, "run", "-s", "tag:credits", target="postgres")
    daily = fetch(
        url,
        "select sum(conversions) from marts.channel_attribution_daily where account_id = %s and model = %s",
        (account, next(k for k, v in names.items() if v == "W by account")),
    )
    assert abs(float(daily[0][0]) - 1) < 1e-9


def test_the_dashboard_preview_of_an_account_model_reads_company_journeys(b2b_build):
    from dsl import compile_source
    from ingest_api.dashboard import modeling

    url, account = b2b_build
    [compiled] = compile_source(LINEAR_BY_ACCOUNT)
    with psycopg.connect(url) as conn:
        recent = modeling.preview_recent(conn, account, compiled, now=END)
    assert recent["conversions"] == 1  # the acme deal only; the stranger's purchase is no company's
    assert abs(sum(c[1] for c in recent["channels"]) - 1) < 1e-9
    assert {c[0] for c in recent["channels"]} == {"paid_search", "email", "organic_search", "direct"}


def test_data_driven_models_run_unchanged_on_account_journeys(b2b_build):
    import pandas as pd

    url, account = b2b_build
    with psycopg.connect(url) as conn:
        cur = conn.execute(
            "select journey_id, converted, conversion_ts, coalesce(revenue, 0)::float8 as revenue, touch_ts, "
            "coalesce(channel, '') as channel, milestones from marts.fct_group_conversion_journeys "
            "where account_id = %s",
            (account,),
        )
        frame = pd.DataFrame(cur.fetchall(), columns=[d.name for d in cur.description])
    for model in ("markov", "shapley"):
        credits = attribute(frame, model, min_paths=1)
        assert abs(credits["credit"].sum() - 1) < 1e-9, model
        assert set(credits["journey_id"]) == {f"deal_{account[-6:]}_acme"}


def test_account_models_without_companies_are_skipped_with_a_reason(new_database):
    with new_database() as url:
        with psycopg.connect(url, autocommit=True) as conn:
            account = create_account(conn, "No companies").id
        d = Dataset(account)
        d.event("vis_1", day(-3, 9), "https://mysite.com/?gclid=x")
        d.conversion(f"conv_{secrets.token_hex(3)}", "vis_1", day(-3, 10), revenue=5.0)
        with psycopg.connect(url, autocommit=True) as conn:
            _insert(conn, "raw.conversions", CONVERSION_COLUMNS, d.conversions)
            from tests.dbt.dataset import EVENT_COLUMNS

            _insert(conn, "raw.events", EVENT_COLUMNS, d.events)
        dbt(url, *BUILD, target="postgres")
        with psycopg.connect(url, autocommit=True) as conn:
            model = create_model(conn, account, LINEAR_BY_ACCOUNT)
            result = run_attribution(lambda: psycopg.connect(url), START, END, data_driven=False)
            assert result.skipped == {model.id: NO_GROUPS}
            status, skipped = conn.execute(
                "select status, config -> 'skipped' from attribution.attribution_runs where run_id = %s",
                (result.run_id,),
            ).fetchone()
            assert status == "succeeded" and skipped == {account: {model.id: NO_GROUPS}}
            assert conn.execute(
                "select count(*) from attribution.attribution_credits where account_id = %s and model = %s",
                (account, model.id),
            ).fetchone() == (0,)
            # the person-level presets ran as always
            assert result.credits_written > 0


@pytest.mark.timescale
def test_timescale_gives_the_same_account_journeys(timescale_url, b2b_build):
    url, account = b2b_build
    load_b2b(timescale_url, account)
    dbt(timescale_url, *BUILD, target="timescaledb", threads=1)
    assert fetch(timescale_url, JOURNEYS, (account,)) == fetch(url, JOURNEYS, (account,))
