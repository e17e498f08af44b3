"""Segment's HTTP Tracking API: POST /v1/batch, /v1/track, /v1/page, /v1/identify.

Existing Segment and RudderStack SDKs send here unchanged (host = mbuzz, write
key = an mbuzz API key, sent as the Basic-auth user name). Each message is
mapped to an mbuzz event and then held to the same `Event` rules as
POST /api/v1/events, so both doors store the same rows:

- `messageId` → event_id (the permanent idempotency key); `anonymousId` →
  visitor_id (`userId` when there is no anonymousId); `userId` → user_id
- track → slug of `event` (name kept in properties.event_name); page →
  page_view; screen → screen_view; identify → identify (traits in
  properties.traits); group and alias are rejected, never dropped silently
- `context.campaign` {name, source, medium, term, content} → utm_campaign,
  utm_source, utm_medium, utm_term, utm_content; `context.page` {url,
  referrer} → url, referrer (properties sent by the client win)
- originalTimestamp (or timestamp) and sentAt are stored as sent; the event
  time is skew-corrected: occurred_at = receivedAt − (sentAt − originalTimestamp)
"""
from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

from flask import Blueprint, current_app, g

from ingest_api import landing, openapi, storable
from ingest_api.auth import authenticated
from ingest_api.events import EventChecker
from mbuzz.ids import new_id

bp = Blueprint("segment", __name__, url_prefix="/v1")

EVENT_TYPES = {"track": None, "page": "page_view", "screen": "screen_view", "identify": "identify"}
UNSUPPORTED = ("group", "alias")
CAMPAIGN_TO_UTM = {"name": "utm_campaign", "source": "utm_source", "medium": "utm_medium",
                   "term": "utm_term", "content": "utm_content"}


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")[:64].strip("_")


def _timestamp(message: dict, key: str, errors: list[str]) -> datetime | None:
    value = message.get(key)
    if value is None:
        return None
    try:
        return landing.parse_timestamp(value)
    except ValueError as exc:
        errors.append(f"{key}: {exc}")
        return None


class SegmentMapper:
    def __init__(self, checker: EventChecker, batch_sent_at: Any, batch_context: Any) -> None:
        self.checker = checker
        self.schema = current_app.extensions["mbuzz.segment_validator"]
        self.batch_sent_at = batch_sent_at
        self.batch_context = batch_context if isinstance(batch_context, dict) else {}

    def row(self, message: Any, errors: list[str], implied_type: str | None = None) -> tuple[dict | None, list[str]]:
        """The row to land for a message and its schema errors (from `schema.errors_each`), or its errors."""
        if errors:
            return None, errors
        kind = implied_type or message.get("type")
        if kind in UNSUPPORTED:
            return None, [f"type: {kind!r} messages are not stored by mbuzz"]
        if kind not in EVENT_TYPES:
            return None, ["type: is required (track, page, screen or identify)"]
        if self.checker.check_text and (problem := storable.unstorable_text(message)):
            return None, [f"message: {problem}"]

        event_type = EVENT_TYPES[kind]
        if kind == "track":
            event_type = slug(message.get("event") or "")
            if not event_type:
                return None, ["event: is required for track and must contain a letter or digit"]
        visitor_id = message.get("anonymousId") or message.get("userId")
        if not visitor_id:
            return None, ["anonymousId or userId: one of them is required"]

        context = {**self.batch_context, **(message.get("context") or {})}
        properties = dict(message.get("properties") or {})
        if kind == "identify":
            properties = {"traits": message.get("traits") or {}}
        if kind == "track":
            properties.setdefault("event_name", message["event"])
        if kind in ("page", "screen") and message.get("name"):
            properties.setdefault("name", message["name"])
        page = context.get("page") if isinstance(context.get("page"), dict) else {}
        for key in ("url", "referrer"):
            if page.get(key) and key not in properties:
                properties[key] = page[key]
        campaign = context.get("campaign") if isinstance(context.get("campaign"), dict) else {}
        for key, utm in CAMPAIGN_TO_UTM.items():
            if campaign.get(key) is not None and utm not in properties:
                properties[utm] = campaign[key]

        errors = []
        original = _timestamp(message, "originalTimestamp", errors) or _timestamp(message, "timestamp", errors)
        sent_at = _timestamp(message, "sentAt", errors)
        if sent_at is None and "sentAt" not in message and self.batch_sent_at is not None:
            sent_at = _timestamp({"sentAt": self.batch_sent_at}, "sentAt", errors)
        if errors:
            return None, errors
        received_at = self.checker.received_at
        if original is not None and sent_at is not None:
            try:
                occurred_at = received_at - (sent_at - original)  # the client clock's skew removed
            except OverflowError:  # e.g. sentAt in year 1 and originalTimestamp in year 9999
                return None, ["sentAt/originalTimestamp: the clock-skew correction leaves the representable "
                              "range; send timestamps close to the real time"]
        else:
            occurred_at = original or received_at
        try:
            occurred_at = landing.settle_future(occurred_at, received_at, self.checker.tolerance)
        except ValueError as exc:
            return None, [f"timestamp: {exc}"]

        event = {"event_type": event_type, "visitor_id": visitor_id, "properties": properties}
        if message.get("userId"):
            event["user_id"] = message["userId"]
        problems = self.checker.schema.errors(event)  # the same rules as /api/v1/events
        if problems:
            return None, problems
        return {
            "event_id": message.get("messageId") or new_id("evt"),
            "event_type": event_type,
            "visitor_id": visitor_id,
            "user_id": message.get("userId") or None,
            "session_id": None,
            "occurred_at": occurred_at.isoformat(),
            "sent_at": landing.iso(sent_at),
            "original_timestamp": landing.iso(original),
            "properties": properties,
            "context": context,
        }, []


def _ingest(messages: list, body: dict, implied_type: str | None):
    received_at = datetime.now(timezone.utc)
    checker = EventChecker(received_at, g.body)
    mapper = SegmentMapper(checker, body.get("sentAt"), body.get("context"))
    batch = landing.Batch(checker.max_bytes)
    for index, (message, schema_errors) in enumerate(zip(messages, mapper.schema.errors_each(messages))):
        row, errors = mapper.row(message, schema_errors, implied_type)
        if row is None:
            batch.reject(index, errors)
        else:
            batch.add(index, row)
    result = landing.land(g.db, g.principal, batch, received_at, source="segment")
    return {"success": True, **result}, 200


@bp.post("/batch")
@authenticated(scheme="basic")
def batch():
    body = openapi.parse_json_body()
    return _ingest(body["batch"], body, None)


def _single(kind: str):
    body = openapi.parse_json_body()
    return _ingest([body], {}, kind)


@bp.post("/track")
@authenticated(scheme="basic")
def track():
    return _single("track")


@bp.post("/page")
@authenticated(scheme="basic")
def page():
    return _single("page")


@bp.post("/identify")
@authenticated(scheme="basic")
def identify():
    return _single("identify")


def init_app(app) -> None:
    app.extensions["mbuzz.segment_validator"] = app.extensions["mbuzz.openapi"].item_validator("SegmentMessage")
    app.register_blueprint(bp)
