"""What each SDK call stores, read back from raw.events / raw.conversions of a live `mbuzz serve`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from hashlib import sha256
from pathlib import Path

from sdk_helpers import rows

EXAMPLES = Path(__file__).resolve().parents[3] / "docs" / "api" / "examples"


def test_track_stores_the_slug_the_name_and_the_client_made_id(live_server, conn, tenant, make_client):
    client = make_client(tenant.live_key, live_server.url)
    when = datetime(2026, 11, 20, 14, 3, 12, tzinfo=timezone.utc)
    event_id = client.track(
        "vis_a",
        "Order Completed",
        {"order_id": "A-1", "total": 49.5},
        user_id="user_1",
        timestamp=when,
        session_id="sess_1",
    )
    assert event_id.startswith("evt_")
    assert client.flush(timeout=30)

    [row] = rows(conn, "events", tenant.account_id)
    assert (row["event_id"], row["event_type"], row["visitor_id"], row["user_id"], row["session_id"]) == (
        event_id,
        "order_completed",
        "vis_a",
        "user_1",
        "sess_1",
    )
    assert row["occurred_at"] == when
    assert row["properties"] == {"order_id": "A-1", "total": 49.5, "event_name": "Order Completed"}
    assert row["context"]["library"]["name"] == "mbuzz-sdk-python"
    assert client.stats.sent == 1 and client.stats.pending == 0


def test_page_copies_the_utms_and_keeps_click_ids_in_the_url(live_server, conn, tenant, make_client):
    client = make_client(tenant.live_key, live_server.url)
    url = "https://shop.example.com/pricing?utm_source=google&utm_medium=cpc&utm_campaign=bf&gclid=EAIa1"
    client.page("vis_p", url, referrer="https://www.google.com/", name="Pricing", properties={"title": "Pricing"})
    assert client.flush(timeout=30)

    [row] = rows(conn, "events", tenant.account_id)
    assert row["event_type"] == "page_view"
    assert row["properties"] == {
        "url": url,
        "referrer": "https://www.google.com/",
        "name": "Pricing",
        "title": "Pricing",
        "utm_source": "google",
        "utm_medium": "cpc",
        "utm_campaign": "bf",
    }


def test_identify_stores_traits_and_links_the_visitor(live_server, conn, tenant, make_client):
    client = make_client(tenant.live_key, live_server.url)
    client.identify("user_7", {"email": "ada@example.com", "plan": "pro"}, visitor_id="vis_i")
    client.identify("user_8")  # no visitor: the user id stands in for it
    assert client.flush(timeout=30)

    stored = {r["user_id"]: r for r in rows(conn, "events", tenant.account_id)}
    assert (stored["user_7"]["event_type"], stored["user_7"]["visitor_id"]) == ("identify", "vis_i")
    assert stored["user_7"]["properties"] == {
        "traits": {"email_sha256": sha256(b"ada@example.com").hexdigest(), "plan": "pro"}
    }  # the e-mail is hashed on arrival, never stored
    assert (stored["user_8"]["visitor_id"], stored["user_8"]["properties"]) == ("user_8", {"traits": {}})


def test_alias_links_the_previous_anonymous_id_to_the_user(live_server, conn, tenant, make_client):
    errors = []
    client = make_client(tenant.live_key, live_server.url, on_error=lambda error, calls: errors.append(error))
    event_id = client.alias("vis_anon_1", "user_9")
    assert client.flush(timeout=30)

    assert errors == [] and client.stats.sent == 1
    [row] = rows(conn, "events", tenant.account_id)
    assert (row["event_id"], row["event_type"], row["visitor_id"], row["user_id"]) == (
        event_id,
        "alias",
        "vis_anon_1",
        "user_9",
    )


def test_group_stores_the_company_and_its_traits(live_server, conn, tenant, make_client):
    client = make_client(tenant.live_key, live_server.url)
    client.group("user_g", "org_acme", {"name": "Acme", "plan": "enterprise"}, visitor_id="vis_g")
    assert client.group("user_g", "") is None  # a group needs its id
    assert client.flush(timeout=30)

    [row] = rows(conn, "events", tenant.account_id)
    assert (row["event_type"], row["visitor_id"], row["user_id"]) == ("group", "vis_g", "user_g")
    assert row["properties"] == {"group_id": "org_acme", "traits": {"name": "Acme", "plan": "enterprise"}}
    assert (client.stats.sent, client.stats.failed) == (1, 1)


def test_conversion_by_event_and_by_visitor(live_server, conn, tenant, make_client):
    client = make_client(tenant.live_key, live_server.url)
    checkout = client.track("vis_c", "Checkout Completed")
    assert client.conversion(
        "Purchase", event_id=checkout, revenue=149.9, currency="EUR", properties={"order_id": "A-1042"}
    )  # sent after the event it names
    assert client.conversion("signup", visitor_id="vis_c2", user_id="user_c2")
    assert client.flush(timeout=30)

    assert client.stats.sent == 3 and client.stats.failed == client.stats.rejected == 0
    by_type = {r["conversion_type"]: r for r in rows(conn, "conversions", tenant.account_id)}
    assert set(by_type) == {"purchase", "signup"}
    purchase = by_type["purchase"]
    assert (purchase["event_id"], purchase["visitor_id"], str(purchase["revenue"]), purchase["currency"]) == (
        checkout,
        "vis_c",
        "149.9000",
        "EUR",
    )
    assert purchase["properties"] == {"order_id": "A-1042"}
    assert (by_type["signup"]["visitor_id"], by_type["signup"]["user_id"]) == ("vis_c2", "user_c2")


def test_a_conversion_the_server_refuses_is_rejected_and_reported(live_server, conn, tenant, make_client):
    reported = []
    client = make_client(
        tenant.live_key, live_server.url, on_error=lambda error, calls: reported.append((error, calls))
    )
    client.conversion("purchase", visitor_id="vis_r", revenue=10)  # revenue needs a currency: 422
    client.conversion("purchase", event_id="evt_unknown")  # no such event: 422
    assert client.flush(timeout=30)

    assert (client.stats.rejected, client.stats.sent) == (2, 0)
    assert [error.status for error, _ in reported] == [422, 422]
    assert reported[0][1] == [
        {
            "conversion_type": "purchase",
            "timestamp": reported[0][1][0]["timestamp"],
            "visitor_id": "vis_r",
            "revenue": 10,
        }
    ]
    assert rows(conn, "conversions", tenant.account_id) == []


def test_test_keys_store_test_events(live_server, conn, tenant, make_client):
    client = make_client(tenant.test_key, live_server.url)
    client.track("vis_t", "mql")
    assert client.flush(timeout=30)
    assert [r["environment"] for r in rows(conn, "events", tenant.account_id)] == ["test"]


def test_invalid_calls_never_raise_and_are_counted(live_server, conn, tenant, make_client):
    reported = []
    client = make_client(tenant.live_key, live_server.url, on_error=lambda error, calls: reported.append(error))
    assert client.track("vis_x", "!!!") is None  # no letter or digit
    assert client.track("", "signup") is None  # no visitor
    assert client.track(None, "signup") is None  # type: ignore[arg-type]
    assert client.page("vis_x", "") is None
    assert client.identify("") is None
    assert client.alias("vis_x", None) is None  # type: ignore[arg-type]
    assert client.conversion("purchase") is False  # neither visitor nor event
    assert client.conversion("purchase", event_id="e", timestamp=datetime.now(timezone.utc)) is False
    assert client.track("vis_x", "big", {"blob": "x" * 40_000}) is None  # over 32 KB per event
    circular: dict = {}
    circular["self"] = circular
    assert client.track("vis_x", "loop", circular) is None
    # anything else JSON cannot carry is sent as its text
    assert client.track("vis_x", "odd", {"when": datetime(2026, 1, 1), "delta": timedelta(seconds=3)})
    assert client.flush(timeout=30)

    stats = client.stats
    assert (stats.calls, stats.failed, stats.sent) == (11, 10, 1)
    assert len(reported) == 10 and all(type(error).__name__ == "DeliveryError" for error in reported)
    [row] = rows(conn, "events", tenant.account_id)
    assert row["properties"]["when"] == "2026-01-01 00:00:00" and row["properties"]["delta"] == "0:00:03"


def test_the_documented_example_runs(live_server, conn, tenant):
    result = subprocess.run(
        [sys.executable, "sdk_python.py"],
        cwd=EXAMPLES,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "MBUZZ_API_URL": live_server.url, "MBUZZ_API_KEY": tenant.test_key},
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"sent": 4, "failed": 0, "rejected": 0}
    assert sorted(r["event_type"] for r in rows(conn, "events", tenant.account_id)) == [
        "checkout_completed",
        "identify",
        "page_view",
    ]
    [purchase] = rows(conn, "conversions", tenant.account_id)
    assert (purchase["conversion_type"], purchase["environment"]) == ("purchase", "test")
