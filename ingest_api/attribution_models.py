"""/api/v1/attribution_models: presets (read-only) and the account's custom DSL models.

A thin HTTP layer over mbuzz/models_service.py (which the dashboard uses too): invalid DSL →
422 with `details: [{line, column, message}]`; a taken name → 409 `conflict`; PATCH or DELETE
on a preset → 405 with `Allow: GET`; another account's id → 404. Bodies come flat
(`{source, is_active}`) or in the seed's envelope (`{"attribution_model": {name, dsl_code}}`).
"""

from __future__ import annotations

import re

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


_HEADER = re.compile(r'\A(\s*(?:#[^\n]*\n\s*)*)model\s+"[^"\n]*"')


def _seed_source(name: str | None, dsl_code: str) -> str:
    """The seed's `{name, dsl_code}` as one program: `name` names the model (it replaces the name of
    the program's own `model "…"` line, or wraps a bare body in one)."""
    if name is None:
        return dsl_code
    if '"' in name or "\n" in name or not name.strip():
        raise ApiError("attribution_model.name: 1-255 characters without double quotes or line breaks", status=422)
    if _HEADER.match(dsl_code):
        return _HEADER.sub(lambda m: f'{m.group(1)}model "{name}"', dsl_code, count=1)
    return f'model "{name}"\n{dsl_code.rstrip()}\nend\n'


def _body() -> dict:
    """`{source, is_active}`, from the flat body or the seed's `{"attribution_model": {name, dsl_code}}`."""
    body = openapi.parse_json_body()
    if "attribution_model" not in body:
        return body
    seed = body["attribution_model"]
    fields = {k: v for k, v in seed.items() if k == "is_active"}
    if "dsl_code" in seed:
        if seed.get("name") is None and not _HEADER.match(seed["dsl_code"]):
            raise ApiError('attribution_model.name: is required when dsl_code has no `model "Name"` line', status=422)
        fields["source"] = _seed_source(seed.get("name"), seed["dsl_code"])
    elif "name" in seed:
        raise ApiError(
            "attribution_model.dsl_code: is required with name (a model's name is part of its program)", status=422
        )
    return fields


@bp.get("/attribution_models")
@authenticated()
def index():
    return {"models": [m.as_dict() for m in _call(service.list_models)]}


@bp.post("/attribution_models")
@authenticated()
def create():
    body = _body()
    model = _call(service.create_model, body["source"], is_active=body.get("is_active", True))
    return model.as_dict(), 201


@bp.get("/attribution_models/<model_id>")
@authenticated()
def show(model_id: str):
    return _call(service.get_model, model_id).as_dict()


@bp.patch("/attribution_models/<model_id>")
@authenticated()
def update(model_id: str):
    body = _body()
    return _call(service.update_model, model_id, source=body.get("source"), is_active=body.get("is_active")).as_dict()


@bp.delete("/attribution_models/<model_id>")
@authenticated()
def delete(model_id: str):
    _call(service.delete_model, model_id)
    return "", 204


def init_app(app) -> None:
    app.register_blueprint(bp)
