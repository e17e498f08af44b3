"""POST /api/v1/events: check each event on its own, land the valid ones, answer 202.

Follows one event: the body is parsed and its envelope validated against
docs/api/openapi.yml by `@authenticated`; here each item is checked against
the document's `Event` schema plus the rules a schema cannot say (timestamp
parsing and the future tolerance, text PostgreSQL cannot store); valid items
become rows in a `landing.Batch` (which holds the 32 KB per-event limit on
the row as stored) and `landing.land` stores them in one statement; the 202
answers accepted / duplicates / rejected.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from flask import Blueprint, current_app, g

from ingest_api import landing, openapi, storable
from ingest_api.auth import authenticated
from mbuzz.identity import scrub_traits
from mbuzz.ids import new_id

bp = Blueprint("events", __name__, url_prefix="/api/v1")


class EventChecker:
    """The per-event rules, configured from the app and the size of the body they came in."""

    def __init__(self, received_at: datetime, body: bytes) -> None:
        config = current_app.config
        self.received_at = received_at
        self.received_iso = received_at.isoformat()
        self.tolerance = timedelta(seconds=config["FUTURE_TOLERANCE_SECONDS"])
        self.max_bytes = config["MAX_EVENT_BYTES"]
        self.schema = current_app.extensions["mbuzz.event_validator"]
        self.check_text = storable.body_may_hold_unstorable_text(body)

    def row(self, item: Any, errors: list[str]) -> tuple[dict | None, list[str]]:
        """The row to land for an item and its schema errors (from `schema.errors_each`), or its errors."""
        if errors:
            return None, errors
        if self.check_text and (problem := storable.unstorable_text(item)):
            return None, [f"event: {problem}"]
        if problem := identity_event_problem(item.get("event_type"), item.get("user_id"), item.get("properties")):
            return None, [problem]
        if problem := impression_problem(item.get("event_type"), item.get("properties"), item.get("context")):
            return None, [problem]
        if problem := scrub_traits(item.get("properties"), item.get("context")):  # plain e-mail: hashed, never stored
            return None, [problem]
        occurred_at = self.received_iso
        if "timestamp" in item:
            try:
                occurred_at = landing.settle_future(
                    landing.parse_timestamp(item["timestamp"]), self.received_at, self.tolerance
                ).isoformat()
            except ValueError as exc:
                return None, [f"timestamp: {exc}"]
        return {
            "event_id": item.get("event_id") or item.get("messageId") or new_id("evt"),
            "event_type": item["event_type"],
            "visitor_id": item.get("visitor_id") or item["anonymous_id"],
            "user_id": item.get("user_id"),
            "session_id": item.get("session_id"),
            "occurred_at": occurred_at,
            "sent_at": None,
            "original_timestamp": None,
            "properties": item.get("properties") or {},
            "context": item.get("context") or {},
        }, []


def identity_event_problem(
    event_type: str | None, user_id: Any, properties: Any, names: tuple[str, str] = ("user_id", "properties.group_id")
) -> str | None:
    """What an `alias` (links its visitor to `user_id`) or `group` (the visitor's company:
    `properties.group_id`) event lacks, or None. Both doors use it; `names` are the fields as the
    caller sent them (Segment's are userId and groupId)."""
    user_field, group_field = names
    if event_type == "alias" and not (isinstance(user_id, str) and user_id.strip()):
        return f"{user_field}: is required for alias (the user the visitor becomes)"
    if event_type == "group":
        group_id = properties.get("group_id") if isinstance(properties, dict) else None
        if not (isinstance(group_id, str) and group_id.strip()) or len(group_id) > 255:
            return f"{group_field}: is required for group (the company or account id, 1-255 characters)"
        if not isinstance(properties.get("traits", {}), dict):
            return "traits: must be an object"
    return None


def impression_problem(event_type: str | None, properties: Any, context: Any) -> str | None:
    """What an `impression` (an ad served and seen, docs/impressions.md) lacks, or None: its
    campaign, `properties.utm_campaign` (or Segment's `context.campaign.name`, the field the
    warehouse reads next), as 1-255 characters. Both doors use it."""
    if event_type != "impression":
        return None
    campaign = properties.get("utm_campaign") if isinstance(properties, dict) else None
    if campaign is None and isinstance(context, dict) and isinstance(context.get("campaign"), dict):
        campaign = context["campaign"].get("name")
    if not (isinstance(campaign, str) and campaign.strip()) or len(campaign) > 255:
        return "properties.utm_campaign: is required for impression (the campaign of the ad seen, 1-255 characters)"
    return None


@bp.post("/events")
@authenticated(publishable=True)
def ingest():
    received_at = datetime.now(timezone.utc)
    checker = EventChecker(received_at, g.body)
    batch = landing.Batch(checker.max_bytes)
    items = openapi.parse_json_body()["events"]
    for index, (item, schema_errors) in enumerate(zip(items, checker.schema.errors_each(items))):
        row, errors = checker.row(item, schema_errors)
        if row is None:
            batch.reject(index, errors)
        else:
            batch.add(index, row)
    return landing.land(g.db, g.principal, batch, received_at, source="api"), 202


def init_app(app) -> None:
    app.extensions["mbuzz.event_validator"] = app.extensions["mbuzz.openapi"].item_validator("Event")
    app.register_blueprint(bp)
