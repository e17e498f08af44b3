"""Segment's HTTP Tracking API, as analytics.js 2.0 and the server SDKs speak it.

Paths: /v1/batch, /v1/track, /v1/page, /v1/identify, /v1/screen, /v1/alias,
/v1/group, and analytics.js's short forms /v1/b, /v1/t, /v1/p, /v1/i, /v1/s,
/v1/a, /v1/g. Existing Segment and RudderStack SDKs send here unchanged (host =
mbuzz, write key = an mbuzz API key: the Basic-auth user name, or `writeKey` in
the body as analytics.js sends it, JSON or text/plain). Web pages use a
publishable key (pk_…); CORS is in cors.py. Each message is mapped to an mbuzz
event and then held to the same `Event` rules as POST /api/v1/events, so both
doors store the same rows:

- `messageId` → event_id (the permanent idempotency key); `anonymousId` →
  visitor_id (`userId` when there is no anonymousId); `userId` → user_id
- track → slug of `event` (name kept in properties.event_name); page →
  page_view; screen → screen_view; identify → identify (traits in
  properties.traits); alias → alias with visitor_id = `previousId` and user_id
  = `userId` (identity stitching joins that visitor's journeys to the user's);
  group → group with properties {group_id, traits} (the user's company)
- `context.campaign` {name, source, medium, term, content} → utm_campaign,
  utm_source, utm_medium, utm_term, utm_content; `context.page` {url,
  referrer} → url, referrer (properties sent by the client win); the whole
  context (userAgent, locale, page, campaign, library…) is stored as sent
- originalTimestamp (or timestamp) and sentAt are stored as sent; the event
  time is skew-corrected: occurred_at = receivedAt − (sentAt − originalTimestamp)
- every processed call answers 200 (analytics.js retries any status ≥ 400):
  invalid messages are listed in `rejected`, never dropped silently

`GET /v1/projects/<writeKey>/settings` answers the settings document
analytics.js loads from its CDN, pointing it back at this host, so
`AnalyticsBrowser.load({writeKey, cdnURL: "<mbuzz>"})` needs nothing of Segment's.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

from flask import Blueprint, current_app, g, jsonify, request

from ingest_api import cors, db, landing, openapi, storable
from ingest_api.auth import authenticate, authenticated, check_origin
from ingest_api.errors import ApiError
from ingest_api.events import EventChecker, identity_event_problem, impression_problem
from mbuzz.accounts import KEY_PATTERN
from mbuzz.identity import scrub_traits
from mbuzz.ids import new_id

bp = Blueprint("segment", __name__, url_prefix="/v1")

EVENT_TYPES = {
    "track": None,
    "page": "page_view",
    "screen": "screen_view",
    "identify": "identify",
    "alias": "alias",
    "group": "group",
}
# the single-message calls, by their long and short paths
CALLS = {"track": "t", "page": "p", "identify": "i", "screen": "s", "alias": "a", "group": "g"}
CAMPAIGN_TO_UTM = {
    "name": "utm_campaign",
    "source": "utm_source",
    "medium": "utm_medium",
    "term": "utm_term",
    "content": "utm_content",
}


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
        if kind not in EVENT_TYPES:
            return None, [f"type: is required ({', '.join(EVENT_TYPES)})"]
        if self.checker.check_text and (problem := storable.unstorable_text(message)):
            return None, [f"message: {problem}"]

        event_type = EVENT_TYPES[kind]
        if kind == "track":
            event_type = slug(message.get("event") or "")
            if not event_type:
                return None, ["event: is required for track and must contain a letter or digit"]
        visitor_id = message.get("anonymousId") or message.get("userId")
        if kind == "alias":
            visitor_id = message.get("previousId")
            if not (isinstance(visitor_id, str) and visitor_id.strip()):
                return None, ["previousId: is required for alias (the anonymous or earlier id being linked)"]
        if not visitor_id:
            return None, ["anonymousId or userId: one of them is required"]

        context = {**self.batch_context, **(message.get("context") or {})}
        properties = dict(message.get("properties") or {})
        if kind == "identify":
            properties = {"traits": message.get("traits") or {}}
        if kind == "alias":
            properties = {"previous_id": visitor_id}
        if kind == "group":
            properties = {"group_id": message.get("groupId"), "traits": message.get("traits") or {}}
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
        occurred_at = received_at
        if original is not None:
            try:
                occurred_at = landing.skew_corrected(original, sent_at, received_at)
            except ValueError as exc:
                return None, [f"sentAt/originalTimestamp: {exc}"]
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
        if problem := identity_event_problem(event_type, message.get("userId"), properties, ("userId", "groupId")):
            return None, [problem]
        if problem := impression_problem(event_type, properties, context):
            return None, [problem]
        if isinstance(properties.get("traits"), dict):
            properties["traits"] = dict(properties["traits"])
        if isinstance(context.get("traits"), dict):
            context["traits"] = dict(context["traits"])  # the batch's context is shared by its messages
        if problem := scrub_traits(properties, context):  # a plain e-mail address is hashed, never stored
            return None, [problem]
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
@bp.post("/b", endpoint="b")
@authenticated(scheme="basic", publishable=True)
def batch():
    body = openapi.parse_json_body()
    return _ingest(body["batch"], body, None)


def _single_view(kind: str):
    @authenticated(scheme="basic", publishable=True)
    def view():
        body = openapi.parse_json_body()
        return _ingest([body], {}, kind)

    view.__name__ = kind
    return view


for _kind, _short in CALLS.items():
    _view = _single_view(_kind)
    bp.add_url_rule(f"/{_kind}", endpoint=_kind, view_func=_view, methods=["POST"])
    bp.add_url_rule(f"/{_short}", endpoint=_short, view_func=_view, methods=["POST"])


@bp.get("/projects/<write_key>/settings")
def settings(write_key: str):
    """analytics.js's settings document for a publishable key, pointing it back at this host."""
    if not KEY_PATTERN.match(write_key):
        raise ApiError("no such write key: expected a publishable key (pk_…)", status=404)
    with db.transaction() as conn:
        principal = authenticate(conn, write_key)
    if not principal.publishable:
        raise ApiError(
            "a secret key (sk_…) was put in a web page: revoke it, and load analytics.js with a publishable key (pk_…)",
            status=403,
            code="secret_key_in_browser",
        )
    origin = request.headers.get("Origin")
    check_origin(principal, origin)
    response = jsonify(
        {
            "integrations": {
                "Segment.io": {
                    "apiKey": write_key,
                    "apiHost": f"{request.host}/v1",
                    "protocol": request.scheme,
                    "unbundledIntegrations": [],
                    "addBundledMetadata": False,
                }
            },
            "plan": {
                "track": {"__default": {"enabled": True}},
                "identify": {"__default": {"enabled": True}},
                "group": {"__default": {"enabled": True}},
            },
            "edgeFunction": {},
            "analyticsNextEnabled": True,
            "middlewareSettings": {},
            "enabledMiddleware": {},
            "metrics": {"sampleRate": 0},
            "legacyVideoPluginsEnabled": False,
            "remotePlugins": [],
        }
    )
    response.headers["Cache-Control"] = "public, max-age=300"
    if origin is not None:
        cors.allow_origin(response)
    return response


def init_app(app) -> None:
    app.extensions["mbuzz.segment_validator"] = app.extensions["mbuzz.openapi"].item_validator("SegmentMessage")
    app.register_blueprint(bp)
