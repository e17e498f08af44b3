"""POST /api/v1/spend (JSON rows) and POST /api/v1/spend/csv (a CSV file): ad spend per day.

Both take the same rows (mbuzz/spend.py validates each on its own): 200 with
`{accepted, rejected: [{index, errors}]}`; valid rows are stored in the request's transaction
(a day, channel and campaign already uploaded is replaced), under the key's account and
environment. marts.rpt_channel_roas joins them with every model's credits.
"""

from __future__ import annotations

from flask import Blueprint, current_app, g, request

from ingest_api import openapi
from ingest_api.auth import authenticated
from ingest_api.errors import ApiError
from mbuzz import spend as service

bp = Blueprint("spend", __name__, url_prefix="/api/v1")


def _store(rows) -> tuple[dict, int]:
    principal = g.principal
    try:
        result = service.record_spend(g.db, principal.account_id, principal.environment, rows)
    except service.SpendInputError as exc:
        raise ApiError(str(exc), status=422) from None
    return result.as_dict(), 200


@bp.post("/spend")
@authenticated()
def upload():
    return _store(openapi.parse_json_body()["spend"])


@bp.post("/spend/csv")
@authenticated()
def upload_csv():
    if request.mimetype != "text/csv":
        raise ApiError("send the file with Content-Type: text/csv (or JSON rows to POST /api/v1/spend)", status=415)
    body = request.get_data(cache=True)  # Werkzeug enforces MAX_CONTENT_LENGTH (413)
    if len(body) > current_app.config["MAX_BODY_BYTES"]:
        raise ApiError(f"request body is over the {current_app.config['MAX_BODY_BYTES'] // 1024} KB limit", status=413)
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ApiError("the CSV is not UTF-8 text", code="bad_request") from None
    try:
        rows = service.parse_csv(text)
    except service.SpendInputError as exc:
        raise ApiError(str(exc), status=422) from None
    return _store(rows)


def init_app(app) -> None:
    app.register_blueprint(bp)
