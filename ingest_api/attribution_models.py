"""/api/v1/attribution_models: presets (read-only) and the account's custom DSL models.

A thin HTTP layer over mbuzz/models_service.py (which the dashboard uses too): invalid DSL →
422 with `details: [{line, column, message}]`; a taken name → 409 `conflict`; PATCH or DELETE
on a preset → 405 with `Allow: GET`; another account's id → 404.
"""
from __future__ import annotations

from flask import Blueprint, g

from ingest_api import openapi
from ingest_api.auth import authenticated
from ingest_api.errors import ApiError
from mbuzz import models_service as service

bp = Blueprint("attribution_models", __name__, url_prefix="/api/v1")


def _call(function, *args, **kwargs):
    try:
        return function(g.db, g.principal.account_id, *args, **kwargs)
    except service.InvalidModel as exc:
        raise ApiError(exc.message, status=422, details=exc.errors) from None
    except service.ModelNameTaken as exc:
        raise ApiError(exc.message, status=409, code="conflict") from None
    except service.PresetReadOnly as exc:
        raise ApiError(exc.message, status=405, headers={"Allow": "GET"}) from None
    except service.ModelNotFound as exc:
        raise ApiError(exc.message, status=404) from None


@bp.get("/attribution_models")
@authenticated()
def index():
    return {"models": [m.as_dict() for m in _call(service.list_models)]}


@bp.post("/attribution_models")
@authenticated()
def create():
    body = openapi.parse_json_body()
    model = _call(service.create_model, body["source"], is_active=body.get("is_active", True))
    return model.as_dict(), 201


@bp.get("/attribution_models/<model_id>")
@authenticated()
def show(model_id: str):
    return _call(service.get_model, model_id).as_dict()


@bp.patch("/attribution_models/<model_id>")
@authenticated()
def update(model_id: str):
    body = openapi.parse_json_body()
    return _call(service.update_model, model_id, source=body.get("source"), is_active=body.get("is_active")).as_dict()


@bp.delete("/attribution_models/<model_id>")
@authenticated()
def delete(model_id: str):
    _call(service.delete_model, model_id)
    return "", 204


def init_app(app) -> None:
    app.register_blueprint(bp)
