"""`impression` events (docs/impressions.md): stored like any event, rejected alone without a campaign."""

from __future__ import annotations

import secrets

from ingest_helpers import event, stored


def impression(**properties) -> dict:
    props = {"utm_source": "google", "utm_medium": "display", "utm_campaign": "spring", "placement": "top_banner"}
    props.update(properties)
    return event(event_type="impression", properties={k: v for k, v in props.items() if v is not ...})


def test_impressions_without_a_campaign_are_rejected_alone(client, conn, tenant):
    body = {
        "events": [
            impression(),
            impression(utm_campaign=...),
            impression(utm_campaign="  "),
            impression(utm_campaign="x" * 256),
            event(),
        ]
    }
    response = client.post("/api/v1/events", json=body, headers=tenant.bearer())
    assert response.status_code == 202 and response.json["accepted"] == 2
    reason = "properties.utm_campaign: is required for impression (the campaign of the ad seen, 1-255 characters)"
    assert {r["index"]: r["errors"] for r in response.json["rejected"]} == {1: [reason], 2: [reason], 3: [reason]}
    rows = stored(conn, tenant.account_id)
    assert sorted(r["event_type"] for r in rows) == ["impression", "page_view"]
    (kept,) = [r for r in rows if r["event_type"] == "impression"]
    assert kept["properties"]["placement"] == "top_banner"


def test_segment_track_impression_takes_the_campaign_from_context(client, conn, tenant):
    def message(**context) -> dict:
        return {
            "type": "track",
            "event": "Impression",
            "messageId": f"m-{secrets.token_hex(8)}",
            "anonymousId": f"anon-{secrets.token_hex(4)}",
            "properties": {"placement": "feed"},
            "context": context,
        }

    batch = {
        "writeKey": tenant.live_key,
        "batch": [message(campaign={"name": "spring", "medium": "paid_social"}), message()],
    }
    response = client.post("/v1/batch", json=batch)
    assert response.status_code == 200 and response.json["accepted"] == 1
    assert response.json["rejected"][0]["errors"][0].startswith("properties.utm_campaign: is required for impression")
    assert [r["event_type"] for r in stored(conn, tenant.account_id)] == ["impression"]


def test_an_impression_lands_in_its_own_tenant_only(client, conn, tenant, other_tenant):
    response = client.post("/api/v1/events", json={"events": [impression()]}, headers=other_tenant.bearer())
    assert response.status_code == 202 and response.json["accepted"] == 1
    assert stored(conn, tenant.account_id) == [] and len(stored(conn, other_tenant.account_id)) == 1
