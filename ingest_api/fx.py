"""POST /api/v1/fx_rates (JSON rows), POST /api/v1/fx_rates/csv (a CSV file), GET /api/v1/fx_rates.

Secret keys only. The rates are the key's account's own (mbuzz/fx.py): all or nothing, any bad
row → 422 with every bad row's index and errors in `error.details.rejected`, nothing stored.
"""

from __future__ import annotations

from flask import Blueprint, current_app, g, request

from ingest_api import openapi
from ingest_api.auth import authenticated
from ingest_api.errors import ApiError
from mbuzz import fx as service

bp = Blueprint("fx", __name__, url_prefix="/api/v1")


def _store(rows) -> tuple[dict, int]:
    try:
        stored = service.record_rates(g.db, g.principal.account_id, rows)
    except service.FxInputError as exc:
        raise ApiError(str(exc), status=422, details={"rejected": exc.rejected}) from None
    return {"stored": stored}, 200


@bp.post("/fx_rates")
@authenticated()
def upload():
    return _store(openapi.parse_json_body()["rates"])


@bp.post("/fx_rates/csv")
@authenticated()
def upload_csv():
    if request.mimetype != "text/csv":
        raise ApiError("send the file with Content-Type: text/csv (or JSON rows to POST /api/v1/fx_rates)", status=415)
    body = request.get_data(cache=True)
    if len(body) > current_app.config["MAX_BODY_BYTES"]:
        raise ApiError(f"request body is over the {current_app.config['MAX_BODY_BYTES'] // 1024} KB limit", status=413)
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ApiError("the CSV is not UTF-8 text", code="bad_request") from None
    try:
        rows = service.parse_csv(text)
    except service.FxInputError as exc:
        raise ApiError(str(exc), status=422) from None
    return _store(rows)


@bp.get("/fx_rates")
@authenticated()
def list_rates():
    rates = service.list_rates(g.db, g.principal.account_id)
    return {
        "rates": [
            {"date": r.day.isoformat(), "currency": r.currency, "quote_currency": r.quote_currency, "rate": str(r.rate)}
            for r in rates
        ]
    }, 200


def init_app(app) -> None:
    app.register_blueprint(bp)
