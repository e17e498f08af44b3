"""Segment-compatible endpoints: mapping, skew correction, messageId dedupe, and the real client end to end."""

from __future__ import annotations

import base64
import secrets
from datetime import datetime, timedelta, timezone
from hashlib import sha256

import pytest

from ingest_helpers import stored


def basic(key: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


def message(**overrides) -> dict:
    base = {
        "type": "track",
        "event": "Order Completed",
        "messageId": f"m-{secrets.token_hex(8)}",
        "anonymousId": f"anon-{secrets.token_hex(4)}",
        "properties": {"revenue": 42},
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not ...}


def test_batch_maps_messages_to_events(client, conn, tenant):
    sent_at = datetime(2026, 11, 20, 12, 0, 10, tzinfo=timezone.utc)  # the client clock
    original = sent_at - timedelta(seconds=10)
    page = message(
        type="page",
        event=...,
        name="Pricing",
        properties={"title": "Pricing"},
        originalTimestamp=original.isoformat(),
        context={
            "page": {"url": "https://shop.example.com/pricing", "referrer": "https://google.com/"},
            "campaign": {"name": "bf", "source": "google", "medium": "cpc", "term": "shoes", "content": "ad1"},
            "ip": "203.0.113.9",
        },
    )
    track = message(userId="user_1", timestamp=original.isoformat())
    identify = message(type="identify", event=..., userId="user_1", traits={"email": "a@example.com"})
    body = {
        "batch": [page, track, identify],
        "sentAt": sent_at.isoformat(),
        "context": {"library": {"name": "x"}},
        "writeKey": tenant.live_key,
    }
    before = datetime.now(timezone.utc)
    response = client.post("/v1/batch", json=body, headers=basic(tenant.live_key))
    after = datetime.now(timezone.utc)
    assert response.status_code == 200
    assert response.json == {"success": True, "accepted": 3, "duplicates": 0, "rejected": []}
    rows = {r["event_id"]: r for r in stored(conn, tenant.account_id)}
    p = rows[page["messageId"]]
    assert p["event_type"] == "page_view" and p["source"] == "segment"
    assert p["properties"] == {
        "title": "Pricing",
        "name": "Pricing",
        "url": "https://shop.example.com/pricing",
        "referrer": "https://google.com/",
        "utm_campaign": "bf",
        "utm_source": "google",
        "utm_medium": "cpc",
        "utm_term": "shoes",
        "utm_content": "ad1",
    }
    assert p["context"]["ip"] == "203.0.113.9" and p["context"]["library"] == {"name": "x"}
    assert (p["original_timestamp"], p["sent_at"]) == (original, sent_at)
    # skew-corrected: received − (sentAt − originalTimestamp) = received − 10 s, whatever the client clock said
    assert before - timedelta(seconds=10) <= p["occurred_at"] <= after - timedelta(seconds=10)
    assert p["occurred_at"] == p["received_at"] - timedelta(seconds=10)
    t = rows[track["messageId"]]
    assert (t["event_type"], t["user_id"], t["visitor_id"]) == ("order_completed", "user_1", track["anonymousId"])
    assert t["properties"] == {"revenue": 42, "event_name": "Order Completed"}
    assert t["original_timestamp"] == original  # `timestamp` stands in for originalTimestamp
    i = rows[identify["messageId"]]
    assert i["event_type"] == "identify" and i["properties"] == {
        "traits": {"email_sha256": sha256(b"a@example.com").hexdigest()}
    }


def test_user_id_stands_in_for_a_missing_anonymous_id(client, conn, tenant):
    msg = message(anonymousId=..., userId="user_7")
    assert client.post("/v1/batch", json={"batch": [msg]}, headers=basic(tenant.live_key)).json["accepted"] == 1
    (row,) = stored(conn, tenant.account_id)
    assert row["visitor_id"] == "user_7"


def test_message_id_dedupes_forever(client, conn, tenant):
    batch = {"batch": [message() for _ in range(5)]}
    assert client.post("/v1/batch", json=batch, headers=basic(tenant.live_key)).json["accepted"] == 5
    again = client.post("/v1/batch", json=batch, headers=basic(tenant.live_key)).json
    assert again == {"success": True, "accepted": 0, "duplicates": 5, "rejected": []}
    assert len(stored(conn, tenant.account_id)) == 5


@pytest.mark.parametrize(
    "path, body, event_type",
    [
        ("/v1/track", {"event": "Signed Up", "userId": "u1"}, "signed_up"),
        ("/v1/page", {"anonymousId": "a1", "name": "Home", "properties": {"url": "https://x.example/"}}, "page_view"),
        ("/v1/identify", {"userId": "u1", "traits": {"plan": "pro"}}, "identify"),
    ],
)
def test_single_message_endpoints(client, conn, tenant, path, body, event_type):
    response = client.post(
        path, json={**body, "messageId": f"m-{secrets.token_hex(6)}"}, headers=basic(tenant.live_key)
    )
    assert response.status_code == 200 and response.json["accepted"] == 1
    (row,) = stored(conn, tenant.account_id)
    assert row["event_type"] == event_type


REJECTIONS = [
    ("group without groupId", message(type="group"), "groupId: is required for group"),
    ("group with empty groupId", message(type="group", groupId=" "), "groupId: is required for group"),
    ("alias without previousId", message(type="alias", userId="u_1"), "previousId: is required for alias"),
    ("alias without userId", message(type="alias", previousId="anon-1", userId=...), "userId: is required for alias"),
    ("unknown type", message(type="launch"), "type: must be one of"),
    ("no type in a batch", message(type=...), "type: is required"),
    ("track without event", message(event=...), "event: is required for track"),
    ("track with empty slug", message(event="!!!"), "event: is required for track"),
    ("no visitor", message(anonymousId=...), "anonymousId or userId: one of them is required"),
    ("bad timestamp", message(timestamp="soon"), "timestamp: is not an ISO-8601"),
    ("bad sentAt", message(sentAt="later"), "sentAt: is not an ISO-8601"),
    ("far future", message(timestamp="2999-01-01T00:00:00Z"), "timestamp: is more than 300 s in the future"),
    (
        "skew out of range",
        message(originalTimestamp="9999-12-31T00:00:00Z", sentAt="0001-01-02T00:00:00Z"),
        "sentAt/originalTimestamp: the clock-skew correction leaves the representable range",
    ),
    ("properties not an object", message(properties=[1]), "properties: must be of type object"),
    ("utm not a string", message(context={"campaign": {"source": 5}}), "properties.utm_source: must be of type"),
    ("not an object", "track", "event: must be of type object"),
]


@pytest.mark.parametrize("bad, expected", [c[1:] for c in REJECTIONS], ids=[c[0] for c in REJECTIONS])
def test_invalid_messages_are_reported_not_dropped(client, conn, tenant, bad, expected):
    response = client.post("/v1/batch", json={"batch": [message(), bad]}, headers=basic(tenant.live_key))
    assert response.status_code == 200
    assert response.json["accepted"] == 1
    (rejection,) = response.json["rejected"]
    assert rejection["index"] == 1
    assert any(expected in e for e in rejection["errors"]), rejection["errors"]


def test_segment_with_a_test_key_stores_test_events(client, conn, tenant):
    response = client.post("/v1/batch", json={"batch": [message()]}, headers=basic(tenant.test_key))
    assert response.json["accepted"] == 1
    assert len(stored(conn, tenant.account_id, environment="test")) == 1


def test_write_key_in_the_body_authenticates_like_basic_auth(client, conn, tenant, other_tenant):
    """analytics.js sends the write key in the body, without an Authorization header."""
    response = client.post("/v1/track", json={**message(), "writeKey": tenant.live_key})
    assert response.status_code == 200 and response.json["accepted"] == 1
    response = client.post("/v1/batch", json={"batch": [message()], "writeKey": tenant.test_key})
    assert response.json["accepted"] == 1
    assert len(stored(conn, tenant.account_id, environment="live")) == 1
    assert len(stored(conn, tenant.account_id, environment="test")) == 1
    assert stored(conn, other_tenant.account_id) == []


def test_beacons_sent_as_text_plain_are_json(client, conn, tenant):
    """analytics.js sends beacons (sendBeacon, on page unload) with Content-Type text/plain."""
    import json

    body = json.dumps(
        {"batch": [message(), message(type="page", event=..., name="Home")], "writeKey": tenant.live_key}
    ).encode()
    response = client.post("/v1/batch", data=body, headers={"Content-Type": "text/plain;charset=UTF-8"})
    assert response.status_code == 200 and response.json["accepted"] == 2
    assert len(stored(conn, tenant.account_id)) == 2
    broken = client.post("/v1/track", data=b"{not json", headers={"Content-Type": "text/plain"})
    assert broken.status_code == 400
    # only the Segment endpoints take text/plain; mbuzz's own API wants application/json
    events = client.post(
        "/api/v1/events",
        data=json.dumps({"events": []}).encode(),
        headers={**tenant.bearer(), "Content-Type": "text/plain"},
    )
    assert events.status_code == 415
    assert len(stored(conn, tenant.account_id)) == 2


@pytest.mark.parametrize(
    "write_key, message_fragment",
    [
        ("sk_live_" + "x" * 5, "malformed writeKey"),
        ("sk_live_" + "A" * 32, "not valid"),  # well-formed, unknown
        (None, "missing API key"),
    ],
)
def test_bad_or_missing_write_keys_are_401_and_store_nothing(client, conn, tenant, write_key, message_fragment):
    body = {"batch": [message()], **({"writeKey": write_key} if write_key else {})}
    response = client.post("/v1/batch", json=body)
    assert response.status_code == 401 and message_fragment in response.json["error"]["message"]
    assert stored(conn, tenant.account_id) == []


def test_basic_auth_wins_over_a_write_key_in_the_body(client, conn, tenant, other_tenant):
    response = client.post(
        "/v1/batch", json={"batch": [message()], "writeKey": other_tenant.live_key}, headers=basic(tenant.live_key)
    )
    assert response.json["accepted"] == 1
    assert len(stored(conn, tenant.account_id)) == 1 and stored(conn, other_tenant.account_id) == []


@pytest.mark.parametrize(
    "body, status",
    [
        ({}, 422),
        ({"batch": {}}, 422),
        ({"batch": [message() for _ in range(501)]}, 413),
    ],
)
def test_segment_envelope_errors(client, tenant, body, status):
    assert client.post("/v1/batch", json=body, headers=basic(tenant.live_key)).status_code == status


def test_the_real_segment_client_round_trip(live_server, conn, tenant):
    """segment-analytics-python, unchanged, pointed at a live `mbuzz serve`."""
    from segment.analytics.client import Client

    errors = []
    client = Client(
        write_key=tenant.live_key,
        host=live_server.url,
        sync_mode=True,
        on_error=lambda error, batch: errors.append(error),
        max_retries=1,
    )
    client.track(
        user_id="user_42",
        event="Trial Started",
        properties={"plan": "pro"},
        context={"campaign": {"source": "newsletter", "medium": "email", "name": "nov"}},
        message_id="seg-track-1",
    )
    client.page(
        anonymous_id="anon-42",
        name="Pricing",
        properties={"url": "https://shop.example.com/pricing"},
        message_id="seg-page-1",
    )
    client.identify(
        user_id="user_42", anonymous_id="anon-42", traits={"email": "u42@example.com"}, message_id="seg-id-1"
    )
    client.track(user_id="user_42", event="Trial Started", message_id="seg-track-1")  # a retry: deduped
    client.flush()
    assert errors == []
    rows = {r["event_id"]: r for r in stored(conn, tenant.account_id)}
    assert set(rows) == {"seg-track-1", "seg-page-1", "seg-id-1"}
    track = rows["seg-track-1"]
    assert track["event_type"] == "trial_started" and track["user_id"] == "user_42"
    assert track["properties"]["utm_source"] == "newsletter" and track["properties"]["utm_campaign"] == "nov"
    assert track["sent_at"] is not None and track["original_timestamp"] is not None
    assert rows["seg-page-1"]["event_type"] == "page_view"
    assert rows["seg-page-1"]["properties"]["url"] == "https://shop.example.com/pricing"
    log = live_server.log.read_text()
    assert tenant.live_key not in log and "/v1/batch" in log
