"""GET /api/v1/validate: which account and environment does this key belong to?"""

from __future__ import annotations

from flask import Blueprint, g

from ingest_api.auth import authenticated

bp = Blueprint("validate", __name__, url_prefix="/api/v1")


@bp.get("/validate")
@authenticated()
def validate():
    principal = g.principal
    return {
        "valid": True,
        "account": {"id": principal.account_id, "name": principal.account_name},
        "environment": principal.environment,
    }
