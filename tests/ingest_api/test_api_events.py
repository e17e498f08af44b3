"""POST /api/v1/events: per-event validation, idempotency, limits, environments, commit before answer."""

from __future__ import annotations

import gzip
import json
from datetime import datetime, timedelta, timezone

import pytest

from ingest_helpers import event, stored


def post(client, tenant, body, environment="live", **kwargs):
    return client.post("/api/v1/events", json=body, headers=tenant.bearer(environment), **kwargs)


def test_accepts_a_batch_and_stores_it(client, conn, tenant):
    events = [
        event(
            properties={
                "url": "https://a.example/?utm_source=news",
                "utm_source": "news",
                "utm_medium": "email",
                "utm_campaign": "nov",
                "gclid": "g1",
                "plan": {"seats": 3},
            }
        ),
        event(event_type="signup", user_id="user_9", session_id="sess_1", timestamp="2026-11-20T10:00:00Z"),
    ]
    response = post(client, tenant, {"events": events})
    assert response.status_code == 202
    assert response.json == {"accepted": 2, "duplicates": 0, "rejected": []}
    rows = {r["event_id"]: r for r in stored(conn, tenant.account_id)}
    assert set(rows) == {e["event_id"] for e in events}
    first, second = rows[events[0]["event_id"]], rows[events[1]["event_id"]]
    assert first["properties"]["plan"] == {"seats": 3} and first["properties"]["gclid"] == "g1"
    assert first["environment"] == "live" and first["source"] == "api" and first["api_key_id"] == tenant.live_key_id
    assert second["occurred_at"] == datetime(2026, 11, 20, 10, tzinfo=timezone.utc)
    assert (second["user_id"], second["session_id"], second["event_type"]) == ("user_9", "sess_1", "signup")
    assert second["received_at"] > second["occurred_at"]


def test_aliases_anonymous_id_and_message_id(client, conn, tenant):
    response = post(
        client, tenant, {"events": [{"event_type": "page_view", "anonymous_id": "anon-1", "messageId": "m-1"}]}
    )
    assert response.json["accepted"] == 1
    (row,) = stored(conn, tenant.account_id)
    assert (row["visitor_id"], row["event_id"]) == ("anon-1", "m-1")


def test_server_generates_event_ids_and_defaults_timestamp(client, conn, tenant):
    before = datetime.now(timezone.utc)
    response = post(client, tenant, {"events": [event(event_id=...), event(event_id=...)]})
    assert response.json["accepted"] == 2
    rows = stored(conn, tenant.account_id)
    assert all(r["event_id"].startswith("evt_") for r in rows)
    assert all(r["occurred_at"] >= before - timedelta(seconds=5) for r in rows)


def test_replaying_a_whole_batch_stores_nothing_new(client, conn, tenant):
    events = [event() for _ in range(20)]
    assert post(client, tenant, {"events": events}).json == {"accepted": 20, "duplicates": 0, "rejected": []}
    assert post(client, tenant, {"events": events}).json == {"accepted": 0, "duplicates": 20, "rejected": []}
    assert len(stored(conn, tenant.account_id)) == 20


def test_a_batch_partly_stored_before_lands_only_its_new_events(client, conn, tenant):
    """The batch is first tried as all new; the unique index refuses it and it lands again skipping
    the stored events, with the account scoping (role + row-level security) redone in the new transaction."""
    old = [event() for _ in range(5)]
    assert post(client, tenant, {"events": old[:3]}).json["accepted"] == 3
    new = [event() for _ in range(4)]
    response = post(client, tenant, {"events": new[:2] + old + new[2:]})
    assert response.json == {"accepted": 6, "duplicates": 3, "rejected": []}
    assert sorted(r["event_id"] for r in stored(conn, tenant.account_id)) == sorted(e["event_id"] for e in old + new)
    assert post(client, tenant, {"events": [event()]}).json["accepted"] == 1  # the connection is usable after


def test_a_server_started_before_migration_0005_still_lands_exactly_once(app, client, conn, tenant, monkeypatch):
    """Such a server chose the hypertable statement (raw.event_keys first, emptied by 0005): its
    insert into raw.events also skips conflicts, so replays stay duplicates on the unique schema."""
    monkeypatch.setitem(app.extensions, "mbuzz.events_unique", False)  # the app is shared: restored after
    first = [event() for _ in range(3)]
    stored_before_upgrade = event()
    assert post(client, tenant, {"events": [stored_before_upgrade]}).json["accepted"] == 1
    conn.execute("delete from raw.event_keys where account_id = %s", (tenant.account_id,))  # what 0005 does
    response = post(client, tenant, {"events": first + [stored_before_upgrade]})
    assert response.json == {"accepted": 3, "duplicates": 1, "rejected": []}
    assert post(client, tenant, {"events": first}).json == {"accepted": 0, "duplicates": 3, "rejected": []}
    assert len(stored(conn, tenant.account_id)) == 4


def test_retried_event_with_another_timestamp_is_a_duplicate(client, conn, tenant):
    first = event(timestamp="2026-11-01T12:00:00Z")
    retry = {**first, "timestamp": "2026-11-01T17:00:00Z"}
    assert post(client, tenant, {"events": [first]}).json["accepted"] == 1
    assert post(client, tenant, {"events": [retry]}).json == {"accepted": 0, "duplicates": 1, "rejected": []}
    (row,) = stored(conn, tenant.account_id)
    assert row["occurred_at"] == datetime(2026, 11, 1, 12, tzinfo=timezone.utc)


def test_repeats_within_one_batch_count_once(client, conn, tenant):
    one = event()
    response = post(client, tenant, {"events": [one, one, {**one, "event_type": "other"}]})
    assert response.json == {"accepted": 1, "duplicates": 2, "rejected": []}
    assert len(stored(conn, tenant.account_id)) == 1


def test_mixed_batch_reports_rejections_by_index_and_stores_the_rest(client, conn, tenant):
    events = [event(), {"event_type": "Page View", "visitor_id": "v"}, event(), "not an object"]
    response = post(client, tenant, {"events": events})
    assert response.status_code == 202
    assert response.json["accepted"] == 2
    assert [r["index"] for r in response.json["rejected"]] == [1, 3]
    assert len(stored(conn, tenant.account_id)) == 2


LONG = "x" * 300
VALIDATION_CASES = [
    ("missing event_type", {"visitor_id": "v"}, "event_type: is required"),
    ("event_type not a slug", {"event_type": "Page View", "visitor_id": "v"}, "event_type: must match"),
    ("event_type upper case", {"event_type": "PAGE", "visitor_id": "v"}, "event_type: must match"),
    ("event_type too long", {"event_type": "a" * 65, "visitor_id": "v"}, "event_type: longer than 64"),
    ("event_type not a string", {"event_type": 7, "visitor_id": "v"}, "event_type: must be of type string"),
    ("no visitor", {"event_type": "page_view"}, "visitor_id or anonymous_id: one of them is required"),
    ("empty visitor", {"event_type": "page_view", "visitor_id": ""}, "visitor_id: shorter than 1"),
    ("visitor too long", {"event_type": "page_view", "visitor_id": LONG}, "visitor_id: longer than 255"),
    ("visitor not a string", {"event_type": "page_view", "visitor_id": 12}, "visitor_id: must be of type string"),
    ("user_id not a string", {"event_type": "page_view", "visitor_id": "v", "user_id": 5}, "user_id: must be of type"),
    (
        "session_id too long",
        {"event_type": "page_view", "visitor_id": "v", "session_id": LONG},
        "session_id: longer than 255",
    ),
    ("event_id empty", {"event_type": "page_view", "visitor_id": "v", "event_id": ""}, "event_id: shorter than 1"),
    (
        "event_id not a string",
        {"event_type": "page_view", "visitor_id": "v", "event_id": 1},
        "event_id: must be of type string",
    ),
    (
        "timestamp garbage",
        {"event_type": "page_view", "visitor_id": "v", "timestamp": "yesterday"},
        "timestamp: is not an ISO-8601",
    ),
    (
        "timestamp a number",
        {"event_type": "page_view", "visitor_id": "v", "timestamp": 1700000000},
        "timestamp: must be of type string",
    ),
    (
        "timestamp far future",
        {"event_type": "page_view", "visitor_id": "v", "timestamp": "2999-01-01T00:00:00Z"},
        "timestamp: is more than 300 s in the future",
    ),
    (
        "properties not an object",
        {"event_type": "page_view", "visitor_id": "v", "properties": []},
        "properties: must be of type object",
    ),
    (
        "url not a string",
        {"event_type": "page_view", "visitor_id": "v", "properties": {"url": 3}},
        "properties.url: must be of type",
    ),
    (
        "utm too long",
        {"event_type": "page_view", "visitor_id": "v", "properties": {"utm_source": "s" * 1025}},
        "properties.utm_source: longer than 1024",
    ),
    (
        "gclid not a string",
        {"event_type": "page_view", "visitor_id": "v", "properties": {"gclid": {}}},
        "properties.gclid: must be of type",
    ),
    (
        "context not an object",
        {"event_type": "page_view", "visitor_id": "v", "context": "web"},
        "context: must be of type object",
    ),
    ("unknown field", {"event_type": "page_view", "visitor_id": "v", "visitorId": "v"}, "visitorId: unknown field"),
    ("not an object", ["page_view"], "event: must be of type object"),
    ("null", None, "event: must be of type object"),
    ("NUL character", {"event_type": "page_view", "visitor_id": "v\u0000"}, "event: contains a NUL character"),
    (
        "lone surrogate",
        {"event_type": "page_view", "visitor_id": "v", "properties": {"x": "\ud800"}},
        "unpaired UTF-16 surrogate",
    ),
    (
        "over 32 KB",
        {"event_type": "page_view", "visitor_id": "v", "properties": {"blob": "b" * 33000}},
        "event: larger than 32 KB",
    ),
]


@pytest.mark.parametrize("item, expected", [c[1:] for c in VALIDATION_CASES], ids=[c[0] for c in VALIDATION_CASES])
def test_each_validation_rule_rejects_the_event(client, conn, tenant, item, expected):
    response = post(client, tenant, {"events": [item, event()]})
    assert response.status_code == 202
    assert response.json["accepted"] == 1
    (rejection,) = response.json["rejected"]
    assert rejection["index"] == 0
    assert any(expected in error for error in rejection["errors"]), rejection["errors"]
    assert len(stored(conn, tenant.account_id)) == 1


def test_valid_edge_cases_are_accepted(client, conn, tenant):
    now = datetime.now(timezone.utc)
    events = [
        event(timestamp=(now + timedelta(seconds=60)).isoformat()),  # clock skew: clamped
        event(timestamp="2026-11-20T10:00:00"),  # no offset: UTC
        event(timestamp="2026-11-20T12:00:00+02:00"),  # offset honoured
        event(event_type="signup.completed-v2", user_id=None, session_id=None),
        event(properties={"url": None, "referrer": None, "nested": {"a": [1, 2.5, True, None]}}),
        event(properties={"emoji": "\U0001f600 ok", "blob": "b" * 30000}),
        event(visitor_id=..., anonymous_id="anon"),
    ]
    response = post(client, tenant, {"events": events})
    assert response.json == {"accepted": len(events), "duplicates": 0, "rejected": []}, response.json
    rows = {r["event_id"]: r for r in stored(conn, tenant.account_id)}
    clamped = rows[events[0]["event_id"]]
    assert clamped["occurred_at"] == clamped["received_at"]
    assert rows[events[1]["event_id"]]["occurred_at"] == datetime(2026, 11, 20, 10, tzinfo=timezone.utc)
    assert rows[events[2]["event_id"]]["occurred_at"] == datetime(2026, 11, 20, 10, tzinfo=timezone.utc)
    assert rows[events[5]["event_id"]]["properties"]["emoji"] == "\U0001f600 ok"


def test_test_key_events_are_stored_as_test_and_kept_apart(client, conn, tenant):
    shared = event()
    assert post(client, tenant, {"events": [shared, event()]}, environment="test").json["accepted"] == 2
    assert post(client, tenant, {"events": [event()]}, environment="live").json["accepted"] == 1
    assert len(stored(conn, tenant.account_id, environment="test")) == 2
    assert len(stored(conn, tenant.account_id, environment="live")) == 1


@pytest.mark.parametrize(
    "body, status, code",
    [
        (b'{"events": [', 400, "invalid_json"),
        (b'{"events": [{"event_type": NaN}]}', 400, "invalid_json"),
        (b'{"events": [{"x": 1e999}]}', 400, "invalid_json"),
        (b"\xff\xfe", 400, "invalid_json"),
        (b"[" * 5000 + b"]" * 5000, 400, "invalid_json"),
        (b"{}", 422, "validation_error"),
        (b'{"events": {}}', 422, "validation_error"),
        (b'{"events": "x"}', 422, "validation_error"),
        (b"[]", 422, "validation_error"),
        (b'"events"', 422, "validation_error"),
        (b"", 422, "validation_error"),
    ],
)
def test_bad_bodies(client, tenant, body, status, code):
    response = client.post("/api/v1/events", data=body, content_type="application/json", headers=tenant.bearer())
    assert (response.status_code, response.json["error"]["code"]) == (status, code), response.json


def test_numbers_are_stored_exactly_whichever_parser_reads_the_body(client, conn, tenant):
    """Bodies go through orjson unless they hold integers beyond 64 bits, which the standard
    parser keeps exact (orjson would round them to floats)."""
    big, small = event(properties={"order": 123456789012345678901234567890}), event(properties={"n": 42, "f": 0.1})
    response = post(client, tenant, {"events": [big]})
    assert response.json["accepted"] == 1, response.json
    assert post(client, tenant, {"events": [small]}).json["accepted"] == 1
    rows = {r["event_id"]: r["properties"] for r in stored(conn, tenant.account_id)}
    assert rows[big["event_id"]]["order"] == 123456789012345678901234567890
    assert rows[small["event_id"]] == {"n": 42, "f": 0.1}


def test_non_json_content_type_is_415(client, tenant):
    response = client.post(
        "/api/v1/events", data="events=1", content_type="application/x-www-form-urlencoded", headers=tenant.bearer()
    )
    assert response.status_code == 415 and response.json["error"]["code"] == "unsupported_media_type"


def test_more_than_500_events_is_413(client, conn, tenant):
    response = post(client, tenant, {"events": [event() for _ in range(501)]})
    assert response.status_code == 413 and response.json["error"]["code"] == "payload_too_large"
    assert stored(conn, tenant.account_id) == []
    assert post(client, tenant, {"events": [event() for _ in range(500)]}).json["accepted"] == 500


def test_body_over_512_kb_is_413(client, conn, tenant):
    events = [event(properties={"blob": "b" * 20000}) for _ in range(27)]
    assert len(json.dumps({"events": events})) > 512 * 1024
    response = post(client, tenant, {"events": events})
    assert response.status_code == 413 and response.json["error"]["code"] == "payload_too_large"
    assert stored(conn, tenant.account_id) == []


def test_gzip_bodies_are_accepted_and_bombs_refused(client, conn, tenant):
    body = gzip.compress(json.dumps({"events": [event()]}).encode())
    headers = {**tenant.bearer(), "Content-Encoding": "gzip"}
    response = client.post("/api/v1/events", data=body, content_type="application/json", headers=headers)
    assert response.json["accepted"] == 1
    bomb = gzip.compress(b'{"events": [' + b" " * (2 * 1024 * 1024) + b"]}")
    response = client.post("/api/v1/events", data=bomb, content_type="application/json", headers=headers)
    assert response.status_code == 413
    response = client.post("/api/v1/events", data=b"not gzip", content_type="application/json", headers=headers)
    assert response.status_code == 400
