"""POST /api/v1/conversions and GET /api/v1/conversions/{id}: recording, idempotency, provisional
credits, validation, tenancy, test vs live. Every response is checked against the OpenAPI document
by the `client` fixture."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta, timezone

import pytest

from attribution import list_presets

NOW = datetime.now(timezone.utc).replace(microsecond=0)


def iso(moment: datetime) -> str:
    return moment.isoformat()


def send(client, tenant, events, environment="live"):
    response = client.post("/api/v1/events", json={"events": events}, headers=tenant.bearer(environment))
    assert response.status_code == 202 and not response.json["rejected"], response.json
    return response


def journey_events(visitor: str) -> list[dict]:
    """paid search (with the mql) → 40 minutes later an email session → conversion event."""
    t = NOW - timedelta(hours=3)
    return [
        {
            "event_type": "page_view",
            "visitor_id": visitor,
            "event_id": f"{visitor}-1",
            "timestamp": iso(t),
            "properties": {"url": "https://shop.example.com/?gclid=abc"},
        },
        {
            "event_type": "mql",
            "visitor_id": visitor,
            "event_id": f"{visitor}-2",
            "timestamp": iso(t + timedelta(minutes=5)),
        },
        {
            "event_type": "page_view",
            "visitor_id": visitor,
            "event_id": f"{visitor}-3",
            "timestamp": iso(t + timedelta(minutes=45)),
            "properties": {"url": "https://shop.example.com/?utm_source=newsletter&utm_medium=email&utm_campaign=nov"},
        },
        {
            "event_type": "purchase",
            "visitor_id": visitor,
            "event_id": f"{visitor}-4",
            "timestamp": iso(t + timedelta(minutes=50)),
        },
    ]


def new_visitor() -> str:
    return f"vis_{secrets.token_hex(5)}"


def test_by_event_is_201_with_provisional_credits_for_every_preset(client, conn, tenant):
    visitor = new_visitor()
    send(client, tenant, journey_events(visitor))
    response = client.post(
        "/api/v1/conversions",
        json={
            "event_id": f"{visitor}-4",
            "conversion_type": "purchase",
            "revenue": 100,
            "currency": "eur",
            "properties": {"order_id": "o-1"},
        },
        headers=tenant.bearer(),
    )
    assert response.status_code == 201, response.json
    body = response.json
    conversion = body["conversion"]
    assert body["conversion_id"] == conversion["id"] and conversion["id"].startswith("conv_")
    assert conversion["visitor_id"] == visitor and conversion["currency"] == "EUR" and conversion["revenue"] == 100
    assert conversion["environment"] == "live" and conversion["properties"] == {"order_id": "o-1"}
    assert conversion["converted_at"] == iso(NOW - timedelta(hours=3) + timedelta(minutes=50))
    assert body["credits_status"] == "provisional"
    credits = body["attribution_credits"]
    assert sorted(credits) == list_presets()
    for model, touches in credits.items():
        assert [t["channel"] for t in touches] == ["paid_search", "email"], model
        assert sum(t["credit"] for t in touches) == pytest.approx(1.0)
        assert sum(t["revenue_credit"] for t in touches) == pytest.approx(100.0)
        assert [t["touch_index"] for t in touches] == [0, 1]
        assert touches[0]["utm"] == {"source": "google", "medium": "cpc", "campaign": None}
        assert touches[1]["utm"] == {"source": "newsletter", "medium": "email", "campaign": "nov"}
        assert all(t["session_id"].startswith("sess_") for t in touches)
    assert [t["credit"] for t in credits["first_touch"]] == [1.0, 0.0]
    assert [t["credit"] for t in credits["last_touch"]] == [0.0, 1.0]
    assert [t["credit"] for t in credits["linear"]] == [0.5, 0.5]
    # w-shaped: first 0.3 + mql 0.3 on touch 0, last 0.3; other_touches (none) redistributed
    assert [t["credit"] for t in credits["w_shaped"]] == pytest.approx([2 / 3, 1 / 3])
    row = conn.execute(
        "select environment, api_key_id, revenue, currency from raw.conversions where conversion_id = %s",
        (conversion["id"],),
    ).fetchone()
    assert row[0] == "live" and row[1] == tenant.live_key_id and float(row[2]) == 100 and row[3] == "EUR"


def test_by_visitor_and_timestamp(client, tenant):
    visitor = new_visitor()
    send(client, tenant, journey_events(visitor)[:2])
    at = NOW - timedelta(hours=1)
    response = client.post(
        "/api/v1/conversions",
        json={"visitor_id": visitor, "timestamp": iso(at), "conversion_type": "signup"},
        headers=tenant.bearer(),
    )
    assert response.status_code == 201, response.json
    assert response.json["conversion"]["converted_at"] == iso(at)
    assert response.json["conversion"]["revenue"] is None
    assert [t["channel"] for t in response.json["attribution_credits"]["linear"]] == ["paid_search"]


def test_conversion_without_any_touch_is_unassigned(client, tenant):
    response = client.post(
        "/api/v1/conversions",
        json={
            "visitor_id": new_visitor(),
            "timestamp": iso(NOW - timedelta(minutes=3)),
            "conversion_type": "purchase",
            "revenue": 12.5,
            "currency": "USD",
        },
        headers=tenant.bearer(),
    )
    assert response.status_code == 201, response.json
    for touches in response.json["attribution_credits"].values():
        assert len(touches) == 1
        assert touches[0]["channel"] == "unassigned" and touches[0]["credit"] == 1.0
        assert touches[0]["revenue_credit"] == 12.5 and touches[0]["session_id"] is None


def test_a_conversion_dated_before_1677_is_stored_unassigned_not_a_500(client, tenant):
    """Found by the fuzzer: a valid RFC 3339 time outside what nanoseconds hold broke the engine."""
    response = client.post(
        "/api/v1/conversions",
        json={
            "visitor_id": new_visitor(),
            "timestamp": "1269-03-23T20:36:34.5432+18:17",
            "conversion_type": "purchase",
        },
        headers=tenant.bearer(),
    )
    assert response.status_code == 201, response.json
    assert {t[0]["channel"] for t in response.json["attribution_credits"].values()} == {"unassigned"}


@pytest.mark.parametrize("by", ["event", "visitor"])
def test_repeat_is_200_with_the_same_conversion_and_nothing_stored(client, conn, tenant, by):
    visitor = new_visitor()
    send(client, tenant, journey_events(visitor))
    body = (
        {"event_id": f"{visitor}-4", "conversion_type": "purchase"}
        if by == "event"
        else {"visitor_id": visitor, "timestamp": iso(NOW - timedelta(minutes=30)), "conversion_type": "purchase"}
    )
    first = client.post("/api/v1/conversions", json=body, headers=tenant.bearer())
    assert first.status_code == 201
    again = client.post("/api/v1/conversions", json=body, headers=tenant.bearer())
    assert again.status_code == 200, again.json
    assert again.json["conversion_id"] == first.json["conversion_id"]
    assert again.json["attribution_credits"] == first.json["attribution_credits"]
    count = conn.execute(
        "select count(*) from raw.conversions where account_id = %s and visitor_id = %s", (tenant.account_id, visitor)
    ).fetchone()[0]
    assert count == 1


def test_same_visitor_and_time_with_another_type_is_another_conversion(client, tenant):
    body = {"visitor_id": new_visitor(), "timestamp": iso(NOW - timedelta(minutes=30)), "conversion_type": "signup"}
    first = client.post("/api/v1/conversions", json=body, headers=tenant.bearer())
    second = client.post("/api/v1/conversions", json={**body, "conversion_type": "purchase"}, headers=tenant.bearer())
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json["conversion_id"] != second.json["conversion_id"]


# -- sent_at: a browser whose clock is wrong (mbuzz.js sends sent_at with every conversion) -----

SKEW = timedelta(hours=-1)  # the browser's clock is an hour behind the server's


def recent_page_view(visitor: str) -> dict:
    """A paid search landing 10 minutes ago on the server's clock (as the Segment door stores a
    skew-corrected page view)."""
    return {
        "event_type": "page_view",
        "visitor_id": visitor,
        "event_id": f"{visitor}-pv",
        "timestamp": iso(datetime.now(timezone.utc) - timedelta(minutes=10)),
        "properties": {"url": "https://shop.example.com/?gclid=abc"},
    }


def skewed_conversion(visitor: str, **fields) -> dict:
    """A purchase 'now' by the browser's clock, sent 200 ms after the call."""
    at = datetime.now(timezone.utc) + SKEW
    return {
        "visitor_id": visitor,
        "conversion_type": "purchase",
        "timestamp": iso(at),
        "sent_at": iso(at + timedelta(milliseconds=200)),
        **fields,
    }


def channels(response) -> list[str]:
    return [t["channel"] for t in response.json["attribution_credits"]["linear"]]


def test_sent_at_corrects_a_skewed_clock_so_the_conversion_follows_its_page_view(client, conn, tenant):
    visitor, control = new_visitor(), new_visitor()
    send(client, tenant, [recent_page_view(visitor), recent_page_view(control)])
    body = skewed_conversion(visitor)
    before = datetime.now(timezone.utc)
    response = client.post("/api/v1/conversions", json=body, headers=tenant.bearer())
    after = datetime.now(timezone.utc)
    assert response.status_code == 201, response.json
    converted_at = datetime.fromisoformat(response.json["conversion"]["converted_at"])
    # timestamp + (received − sent_at): 200 ms before it arrived, on the server's clock
    assert before - timedelta(milliseconds=200) <= converted_at <= after - timedelta(milliseconds=200)
    assert channels(response) == ["paid_search"]
    stored = conn.execute(
        "select converted_at from raw.conversions where account_id = %s and visitor_id = %s",
        (tenant.account_id, visitor),
    ).fetchone()[0]
    assert stored == converted_at
    # the same request without sent_at keeps the browser's time: an hour before the page view
    uncorrected = {k: v for k, v in skewed_conversion(control).items() if k != "sent_at"}
    response = client.post("/api/v1/conversions", json=uncorrected, headers=tenant.bearer())
    assert response.status_code == 201 and channels(response) == ["unassigned"]


def test_a_retry_with_a_later_sent_at_is_the_same_conversion(client, conn, tenant):
    visitor = new_visitor()
    send(client, tenant, [recent_page_view(visitor)])
    body = skewed_conversion(visitor)
    first = client.post("/api/v1/conversions", json=body, headers=tenant.bearer())
    retry_sent = datetime.fromisoformat(body["sent_at"]) + timedelta(seconds=2)
    again = client.post("/api/v1/conversions", json={**body, "sent_at": iso(retry_sent)}, headers=tenant.bearer())
    assert (first.status_code, again.status_code) == (201, 200), again.json
    assert again.json["conversion_id"] == first.json["conversion_id"]
    assert again.json["conversion"]["converted_at"] == first.json["conversion"]["converted_at"]
    count = conn.execute(
        "select count(*) from raw.conversions where account_id = %s and visitor_id = %s", (tenant.account_id, visitor)
    ).fetchone()[0]
    assert count == 1


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"sent_at": "yesterday"}, "sent_at: is not an ISO-8601 date-time"),
        ({"sent_at": 1700000000}, "sent_at: must be of type string"),
        (
            {"timestamp": "9999-12-31T23:59:59Z", "sent_at": "0001-01-01T00:00:00Z"},
            "sent_at/timestamp: the clock-skew correction leaves the representable range",
        ),
        # the browser says it converted an hour after it sent: an hour ahead on the server's clock
        (
            {"timestamp": "2026-06-01T13:00:00Z", "sent_at": "2026-06-01T12:00:00Z"},
            "timestamp: is more than 300 s in the future",
        ),
        ({"timestamp": None}, "sent_at: only with timestamp"),
    ],
)
def test_a_bad_sent_at_is_422_and_nothing_is_stored(client, conn, tenant, fields, message):
    visitor = new_visitor()
    body = {k: v for k, v in skewed_conversion(visitor, **fields).items() if v is not None}
    response = client.post("/api/v1/conversions", json=body, headers=tenant.bearer())
    assert response.status_code == 422, response.json
    assert message in response.json["error"]["message"], response.json["error"]["message"]
    count = conn.execute(
        "select count(*) from raw.conversions where account_id = %s and visitor_id = %s", (tenant.account_id, visitor)
    ).fetchone()[0]
    assert count == 0


def test_sent_at_with_event_id_is_422(client, tenant):
    visitor = new_visitor()
    send(client, tenant, journey_events(visitor))
    body = {"event_id": f"{visitor}-4", "conversion_type": "purchase", "sent_at": iso(NOW)}
    response = client.post("/api/v1/conversions", json=body, headers=tenant.bearer())
    assert response.status_code == 422 and "sent_at: only with timestamp" in response.json["error"]["message"]


def test_a_skewed_conversion_sees_only_its_own_accounts_sessions(client, conn, tenant, other_tenant):
    visitor = new_visitor()
    send(client, other_tenant, [recent_page_view(visitor)])
    response = client.post("/api/v1/conversions", json=skewed_conversion(visitor), headers=tenant.bearer())
    assert response.status_code == 201 and channels(response) == ["unassigned"]
    assert (
        client.get(f"/api/v1/conversions/{response.json['conversion_id']}", headers=other_tenant.bearer()).status_code
        == 404
    )
    count = conn.execute(
        "select count(*) from raw.conversions where account_id = %s", (other_tenant.account_id,)
    ).fetchone()[0]
    assert count == 0


def test_identified_user_journey_spans_their_visitors(client, tenant):
    laptop, phone, user = new_visitor(), new_visitor(), f"user_{secrets.token_hex(4)}"
    t = NOW - timedelta(days=2)
    send(
        client,
        tenant,
        [
            {
                "event_type": "page_view",
                "visitor_id": laptop,
                "timestamp": iso(t),
                "properties": {"url": "https://shop.example.com/", "referrer": "https://www.google.com/"},
            },
            {
                "event_type": "identify",
                "visitor_id": laptop,
                "user_id": user,
                "timestamp": iso(t + timedelta(minutes=1)),
            },
            {
                "event_type": "page_view",
                "visitor_id": phone,
                "timestamp": iso(t + timedelta(days=1)),
                "properties": {"url": "https://shop.example.com/?utm_source=facebook&utm_medium=paid_social"},
            },
        ],
    )
    response = client.post(
        "/api/v1/conversions",
        json={
            "visitor_id": phone,
            "user_id": user,
            "timestamp": iso(t + timedelta(days=1, hours=1)),
            "conversion_type": "signup",
        },
        headers=tenant.bearer(),
    )
    assert response.status_code == 201, response.json
    channels = [x["channel"] for x in response.json["attribution_credits"]["linear"]]
    assert channels == ["organic_search", "paid_social"]


def test_test_key_stores_test_conversions_from_test_events(client, conn, tenant):
    visitor = new_visitor()
    send(client, tenant, journey_events(visitor), environment="test")
    response = client.post(
        "/api/v1/conversions",
        json={"event_id": f"{visitor}-4", "conversion_type": "purchase"},
        headers=tenant.bearer("test"),
    )
    assert response.status_code == 201, response.json
    assert response.json["conversion"]["environment"] == "test"
    assert [t["channel"] for t in response.json["attribution_credits"]["linear"]] == ["paid_search", "email"]
    # live events do not count for a test conversion, and a live key cannot convert a test event
    refused = client.post(
        "/api/v1/conversions",
        json={"event_id": f"{visitor}-3", "conversion_type": "purchase"},
        headers=tenant.bearer("live"),
    )
    assert refused.status_code == 422 and "test key" in refused.json["error"]["message"]
    other = client.post(
        "/api/v1/conversions",
        json={"visitor_id": visitor, "timestamp": iso(NOW - timedelta(minutes=10)), "conversion_type": "purchase"},
        headers=tenant.bearer("live"),
    )
    assert other.status_code == 201
    assert [t["channel"] for t in other.json["attribution_credits"]["linear"]] == ["unassigned"]
    environment = conn.execute(
        "select environment from raw.conversions where conversion_id = %s", (response.json["conversion_id"],)
    ).fetchone()[0]
    assert environment == "test"


def test_unknown_event_is_422_with_a_clear_message(client, tenant):
    response = client.post(
        "/api/v1/conversions", json={"event_id": "nope-1", "conversion_type": "purchase"}, headers=tenant.bearer()
    )
    assert response.status_code == 422
    assert "no event 'nope-1'" in response.json["error"]["message"]
    assert response.json["error"]["code"] == "validation_error"


def test_another_accounts_event_is_unknown(client, tenant, other_tenant):
    visitor = new_visitor()
    send(client, other_tenant, journey_events(visitor))
    response = client.post(
        "/api/v1/conversions", json={"event_id": f"{visitor}-4", "conversion_type": "purchase"}, headers=tenant.bearer()
    )
    assert response.status_code == 422 and "no event" in response.json["error"]["message"]


GOOD = {"visitor_id": "vis_x", "timestamp": "2026-01-02T03:04:05Z", "conversion_type": "purchase"}


@pytest.mark.parametrize(
    "body, fragment",
    [
        ({"visitor_id": "vis_x", "conversion_type": "purchase"}, "timestamp: required"),
        ({"timestamp": "2026-01-02T03:04:05Z", "conversion_type": "purchase"}, "visitor_id: required"),
        ({"conversion_type": "purchase"}, "visitor_id and timestamp: required"),
        ({**GOOD, "conversion_type": "Big Purchase"}, "conversion_type: must match"),
        ({k: v for k, v in GOOD.items() if k != "conversion_type"}, "conversion_type: is required"),
        ({**GOOD, "revenue": -1, "currency": "EUR"}, "revenue"),
        ({**GOOD, "revenue": "12", "currency": "EUR"}, "revenue: must be of type number"),
        ({**GOOD, "revenue": 10}, "currency: required with revenue"),
        ({**GOOD, "revenue": 10, "currency": "EURO"}, "currency: must match"),
        ({**GOOD, "revenue": 10, "currency": "E1R"}, "currency: must match"),
        ({**GOOD, "timestamp": "yesterday"}, "timestamp"),
        ({**GOOD, "timestamp": "2999-01-01T00:00:00Z"}, "in the future"),
        ({**GOOD, "properties": "x"}, "properties: must be of type object"),
        ({**GOOD, "colour": "red"}, "colour: unknown field"),
        ({**GOOD, "visitor_id": ""}, "visitor_id: shorter than 1"),
        (
            {"event_id": "e-1", "timestamp": "2026-01-02T03:04:05Z", "conversion_type": "purchase"},
            "timestamp: leave it out",
        ),
        ({**GOOD, "properties": {"blob": "x" * 40_000}}, "properties: larger than 32 KB"),
        ({**GOOD, "properties": {"note": "a\u0000b"}}, "NUL character"),  # found by the fuzzer: was a 500
        ({**GOOD, "properties": {"note": "\ud800"}}, "unpaired UTF-16 surrogate"),
    ],
)
def test_invalid_bodies_are_422(client, tenant, body, fragment):
    response = client.post("/api/v1/conversions", json=body, headers=tenant.bearer())
    assert response.status_code == 422, response.json
    assert fragment in response.json["error"]["message"], response.json["error"]["message"]


def test_event_of_another_visitor_is_422(client, tenant):
    visitor = new_visitor()
    send(client, tenant, journey_events(visitor))
    response = client.post(
        "/api/v1/conversions",
        json={"event_id": f"{visitor}-4", "visitor_id": "someone_else", "conversion_type": "purchase"},
        headers=tenant.bearer(),
    )
    assert response.status_code == 422 and "another visitor" in response.json["error"]["message"]


def test_malformed_and_wrong_media_type(client, tenant):
    bad_json = client.post(
        "/api/v1/conversions", data=b"{nope", headers={**tenant.bearer(), "Content-Type": "application/json"}
    )
    assert bad_json.status_code == 400 and bad_json.json["error"]["code"] == "invalid_json"
    text = client.post("/api/v1/conversions", data=b"x", headers={**tenant.bearer(), "Content-Type": "text/plain"})
    assert text.status_code == 415
    empty = client.post(
        "/api/v1/conversions", data=b"", headers={**tenant.bearer(), "Content-Type": "application/json"}
    )
    assert empty.status_code == 422
    huge = client.post(
        "/api/v1/conversions", data=b" " * (600 * 1024), headers={**tenant.bearer(), "Content-Type": "application/json"}
    )
    assert huge.status_code == 413


@pytest.mark.parametrize("method, path", [("post", "/api/v1/conversions"), ("get", "/api/v1/conversions/conv_x")])
def test_no_or_bad_key_is_401(client, method, path):
    response = getattr(client, method)(path, json=GOOD if method == "post" else None)
    assert response.status_code == 401
    bad = getattr(client, method)(
        path, json=GOOD if method == "post" else None, headers={"Authorization": "Bearer sk_live_" + "x" * 32}
    )
    assert bad.status_code == 401


def test_get_returns_the_conversion_and_provisional_credits(client, tenant):
    visitor = new_visitor()
    send(client, tenant, journey_events(visitor))
    created = client.post(
        "/api/v1/conversions",
        json={"event_id": f"{visitor}-4", "conversion_type": "purchase", "revenue": 50, "currency": "EUR"},
        headers=tenant.bearer(),
    )
    response = client.get(f"/api/v1/conversions/{created.json['conversion_id']}", headers=tenant.bearer())
    assert response.status_code == 200
    assert response.json["conversion"] == created.json["conversion"]
    assert response.json["credits_status"] == "provisional"
    assert response.json["attribution_credits"] == created.json["attribution_credits"]


def test_get_prefers_the_pipelines_credits_once_written(client, conn, tenant):
    created = client.post(
        "/api/v1/conversions",
        json={
            "visitor_id": new_visitor(),
            "timestamp": iso(NOW - timedelta(minutes=5)),
            "conversion_type": "purchase",
            "revenue": 10,
            "currency": "EUR",
        },
        headers=tenant.bearer(),
    )
    conversion_id = created.json["conversion_id"]
    conn.execute(
        "insert into attribution.attribution_credits (account_id, credit_id, run_id, environment, model, conversion_id, "
        "conversion_type, converted_at, touch_index, session_id, channel, credit, revenue_credit, utm_source, "
        "utm_medium, utm_campaign) values (%s, %s, 'run_t', 'live', 'markov', %s, 'purchase', now(), 0, 'sess_a', "
        "'email', 1.0, 10.0, 'nl', 'email', null)",
        (tenant.account_id, f"cred_{secrets.token_hex(8)}", conversion_id),
    )
    response = client.get(f"/api/v1/conversions/{conversion_id}", headers=tenant.bearer())
    assert response.status_code == 200
    assert response.json["credits_status"] == "final"
    assert response.json["attribution_credits"] == {
        "markov": [
            {
                "channel": "email",
                "credit": 1.0,
                "revenue_credit": 10.0,
                "session_id": "sess_a",
                "touch_index": 0,
                "utm": {"source": "nl", "medium": "email", "campaign": None},
            }
        ]
    }


def test_other_accounts_conversion_is_404(client, tenant, other_tenant):
    created = client.post(
        "/api/v1/conversions", json={**GOOD, "visitor_id": new_visitor()}, headers=other_tenant.bearer()
    )
    assert created.status_code == 201
    response = client.get(f"/api/v1/conversions/{created.json['conversion_id']}", headers=tenant.bearer())
    assert response.status_code == 404 and response.json["error"]["code"] == "not_found"
    assert client.get("/api/v1/conversions/conv_missing", headers=tenant.bearer()).status_code == 404
    # the owner sees it
    assert (
        client.get(f"/api/v1/conversions/{created.json['conversion_id']}", headers=other_tenant.bearer()).status_code
        == 200
    )


def test_rate_limited_is_429(client, conn):
    from ingest_helpers import make_tenant

    tiny = make_tenant(conn, tier="tiny")  # 3 requests a minute
    statuses = [
        client.post(
            "/api/v1/conversions", json={**GOOD, "visitor_id": new_visitor()}, headers=tiny.bearer()
        ).status_code
        for _ in range(4)
    ]
    assert statuses == [201, 201, 201, 429]


def test_database_down_is_503(tenant):
    from ingest_api import create_app

    app = create_app(
        {
            "DATABASE_URL": "postgresql://postgres@127.0.0.1:1/none",
            "TESTING": True,
            "RATELIMIT_KEY_PREFIX": f"down-{secrets.token_hex(3)}",
        }
    )
    client = app.test_client()
    for response in (
        client.post("/api/v1/conversions", json=GOOD, headers=tenant.bearer()),
        client.get("/api/v1/conversions/conv_x", headers=tenant.bearer()),
        client.get("/api/v1/attribution_models", headers=tenant.bearer()),
        client.get("/api/v1/attribution?model=linear&from=2026-01-01&to=2026-01-31", headers=tenant.bearer()),
    ):
        assert response.status_code == 503 and response.headers["Retry-After"]
        assert response.json["error"]["code"] == "service_unavailable"
