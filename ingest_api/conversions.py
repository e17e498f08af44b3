"""POST /api/v1/conversions, POST /api/v1/conversions/batch and GET /api/v1/conversions/{id}.

The batch endpoint records offline and CRM conversions (mbuzz/offline_conversions.py): secret
keys only, 200 with a result per row and a match report.

A publishable key (a web page) may POST and is answered with the conversion's id only.
A `sent_at` (when the client sent, by its own clock; mbuzz.js sends it) corrects `timestamp`
for the client clock's skew with the Segment door's rule (`landing.skew_corrected`).

The body is validated against the document's `ConversionRequest` by `@authenticated`; the
rules a schema says poorly (event_id, or visitor_id + timestamp; currency with revenue; the
event must exist in this account and environment) are checked by mbuzz/conversions.py and
answered 422. A new conversion → 201 with provisional credits for every preset; the same
conversion again → 200 with the existing one. GET answers the pipeline's credits once it has
run for the conversion, else provisional ones recomputed from the sessions so far.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from flask import Blueprint, current_app, g

from ingest_api import landing, openapi
from ingest_api.auth import authenticated
from ingest_api.errors import ApiError, NotFoundError
from ingest_api.warehouse_reads import warehouse_reads
from mbuzz import conversions as service
from mbuzz import offline_conversions

bp = Blueprint("conversions", __name__, url_prefix="/api/v1")


def _moment(body: dict, name: str) -> datetime | None:
    try:
        return None if body.get(name) is None else landing.parse_timestamp(body[name])
    except ValueError as exc:
        raise ApiError(f"{name}: {exc}", status=422) from None


def _request(body: dict) -> service.ConversionRequest:
    sent, sent_at = _moment(body, "timestamp"), _moment(body, "sent_at")
    if sent_at is not None and sent is None:
        raise ApiError("sent_at: only with timestamp (it corrects the timestamp for the sender's clock)", status=422)
    timestamp = None
    if sent is not None:
        received_at = datetime.now(timezone.utc)
        tolerance = timedelta(seconds=current_app.config["FUTURE_TOLERANCE_SECONDS"])
        try:
            timestamp = landing.skew_corrected(sent, sent_at, received_at)
        except ValueError as exc:
            raise ApiError(f"sent_at/timestamp: {exc}", status=422) from None
        try:
            timestamp = landing.settle_future(timestamp, received_at, tolerance)
        except ValueError as exc:
            raise ApiError(f"timestamp: {exc}", status=422) from None
    return service.ConversionRequest(
        conversion_type=body["conversion_type"],
        event_id=body.get("event_id"),
        visitor_id=body.get("visitor_id"),
        user_id=body.get("user_id"),
        timestamp=timestamp,
        sent_timestamp=sent if sent_at is not None else None,
        revenue=body.get("revenue"),
        currency=body.get("currency"),
        properties=body.get("properties") or {},
    )


def current_credits(conversion: service.Conversion) -> tuple[str, dict]:
    """('final', the pipeline's credits) once it ran for the conversion, else ('provisional', presets now)."""
    with warehouse_reads(g.db) as conn:
        final = service.pipeline_credits(conn, g.principal.account_id, conversion.conversion_id)
    if final:
        return "final", final
    return "provisional", service.provisional_credits(g.db, g.principal.account_id, conversion)


def _result(conversion: service.Conversion, status: str, credits: dict) -> dict:
    return {
        "conversion_id": conversion.conversion_id,
        "conversion": conversion.as_dict(),
        "credits_status": status,
        "attribution_credits": credits,
    }


def _body() -> dict:
    """The conversion fields: the flat body, or the seed's `{"conversion": {...}}` envelope."""
    body = openapi.parse_json_body()
    return body["conversion"] if "conversion" in body else body


@bp.post("/conversions")
@authenticated(publishable=True)
def create():
    principal = g.principal
    try:
        conversion, created = service.record_conversion(
            g.db, principal.account_id, principal.environment, principal.key_id, _request(_body())
        )
    except service.ConversionInputError as exc:
        raise ApiError(str(exc), status=422) from None
    if principal.publishable:  # a web page may record a conversion, never read credits
        return {"conversion_id": conversion.conversion_id}, 201 if created else 200
    if created:
        credits = service.provisional_credits(g.db, principal.account_id, conversion)
        return _result(conversion, "provisional", credits), 201
    return _result(conversion, *current_credits(conversion)), 200


@bp.post("/conversions/batch")
@authenticated()
def batch():
    """Offline and CRM conversions (secret keys only): per-row results and a match report."""
    principal = g.principal
    try:
        result = offline_conversions.record_batch(
            g.db,
            principal.account_id,
            principal.environment,
            openapi.parse_json_body()["conversions"],
            principal.key_id,
        )
    except offline_conversions.BatchInputError as exc:
        raise ApiError(str(exc), status=422) from None
    return result.as_dict(), 200


@bp.get("/conversions/<conversion_id>")
@authenticated()
def show(conversion_id: str):
    conversion = service.get_conversion(g.db, g.principal.account_id, conversion_id)
    if conversion is None:
        raise NotFoundError("conversion", conversion_id)
    return _result(conversion, *current_credits(conversion))


def init_app(app) -> None:
    app.register_blueprint(bp)
