"""mbuzz/sessions.py on hand-made events (the fast tier; test_agreement.py compares it with dbt)."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

from mbuzz.sessions import own_domains, visitor_journey, warehouse_settings

T = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)


def ev(event_id, minutes, url=None, referrer=None, visitor="v", event_type="page_view", **extra):
    props = {k: v for k, v in {"url": url, "referrer": referrer}.items() if v}
    return {
        "event_id": event_id,
        "environment": extra.pop("environment", "live"),
        "event_type": event_type,
        "visitor_id": visitor,
        "user_id": extra.pop("user_id", None),
        "session_id": extra.pop("session_id", None),
        "occurred_at": T + timedelta(minutes=minutes),
        "properties": {**props, **extra},
        "context": {},
    }


def journey(events, minutes=24 * 60, **kwargs):
    return visitor_journey(
        events,
        T + timedelta(minutes=minutes),
        account_id="acct_1",
        visitor_id="v",
        conversion_id="conv_1",
        revenue=10.0,
        **kwargs,
    )


def sid(first_event, visitor="v"):
    return "sess_" + hashlib.md5(f"acct_1|live|{visitor}|{first_event}".encode()).hexdigest()[:24]


def test_exactly_the_timeout_stays_more_splits():
    j = journey([ev("e1", 0, "https://s.com/"), ev("e2", 30, "https://s.com/"), ev("e3", 60.02, "https://s.com/")])
    assert j["session_id"].tolist() == [sid("e1"), sid("e3")]


def test_campaign_change_splits_untagged_and_same_campaign_do_not():
    j = journey(
        [
            ev("e1", 0, "https://s.com/?utm_source=a&utm_medium=email"),
            ev("e2", 1, "https://s.com/x"),
            ev("e3", 2, "https://s.com/?utm_source=A&utm_medium=EMAIL"),
            ev("e4", 3, "https://s.com/?gclid=1"),
        ]
    )
    assert j["session_id"].tolist() == [sid("e1"), sid("e4")]
    assert j["channel"].tolist() == ["email", "paid_search"]


def test_client_session_ids_win_and_milestones_mark_their_touch():
    j = journey(
        [
            ev("e1", 0, "https://s.com/?utm_source=bing&utm_medium=cpc", session_id="cs"),
            ev("e2", 300, "https://s.com/", session_id="cs", event_type="mql"),
            ev("e3", 400, "https://s.com/", "https://www.google.com/"),
        ]
    )
    assert j["session_id"].tolist() == ["cs", sid("e3")]
    assert j["milestones"].tolist() == ["mql", ""]
    assert j["channel"].tolist() == ["paid_search", "organic_search"]


def test_self_referral_keeps_the_previous_source():
    j = journey(
        [
            ev("e1", 0, "https://s.com/", "https://news.example.org/"),
            ev("e2", 120, "https://s.com/", "https://blog.s.com/"),
        ],
        own_domains=own_domains({"own_domains": ["www.S.com"]}),
    )
    assert j["channel"].tolist() == ["referral", "referral"]
    assert j["utm_source"].tolist() == ["news.example.org", "news.example.org"]


def test_lookback_other_environments_and_no_touch():
    j = journey([ev("old", -31 * 24 * 60, "https://s.com/?gclid=1"), ev("t", 0, "https://s.com/", environment="test")])
    assert j["channel"].tolist() == [""] and j["touch_index"].isna().all()


def test_identified_visitors_join_the_users_journey():
    events = [
        ev("a1", 0, "https://s.com/?gclid=1", visitor="a"),
        ev("a2", 1, visitor="a", event_type="identify", user_id="u1"),
        ev("v1", 60, "https://s.com/?utm_source=nl&utm_medium=email"),
    ]
    j = visitor_journey(
        events, T + timedelta(hours=2), account_id="acct_1", visitor_id="v", user_id="u1", conversion_id="conv_1"
    )
    assert j["channel"].tolist() == ["paid_search", "email"] and j["identity_key"].iloc[0] == "user:u1"
    anonymous = visitor_journey(
        events, T + timedelta(hours=2), account_id="acct_1", visitor_id="v", conversion_id="conv_1"
    )
    assert anonymous["channel"].tolist() == ["email"]


def test_settings_come_from_dbt_project_vars():
    settings = warehouse_settings()
    assert settings.session_timeout_minutes == 30 and settings.lookback_days == 30
    assert settings.milestone_types == ("mql", "sql")


def test_a_referrer_without_a_landing_url_keeps_the_previous_source_in_both_python_copies():
    """The case where `mbuzz channels explain` and the warehouse port once differed: a referrer and
    no landing host. SQL's `referrer_host = landing_host` is NULL there, so int_sessions_classified
    keeps the group's previous source; explain used to call it an external referral."""
    from mbuzz.channels import explain

    j = journey(
        [
            ev("e1", 0, "https://s.com/?utm_source=newsletter&utm_medium=email"),
            ev("e2", 120, None, "https://news.example.org/"),
        ]
    )
    assert j["utm_source"].tolist() == ["newsletter", "newsletter"]
    assert j["channel"].tolist() == ["email", "email"]

    result = explain(None, "https://news.example.org/", previous={"source": "newsletter", "medium": "email"})
    assert (result.source, result.medium, result.channel) == ("newsletter", "email", "email")
    assert result.self_referral is None and "no landing host" in result.rule
    # with a landing URL the same referrer is an external referral, in both
    assert explain("https://s.com/", "https://news.example.org/").medium == "referral"
