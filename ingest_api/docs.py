"""The contract served: GET /api/v1/openapi.yml (the document itself) and /api/v1/docs (rendered)."""

from __future__ import annotations

from flask import Blueprint, Response, render_template

from ingest_api import openapi

bp = Blueprint("docs", __name__, url_prefix="/api/v1")
METHODS = ("get", "post", "put", "patch", "delete")  # path items also hold parameters, servers…


@bp.get("/openapi.yml")
def document():
    return Response(openapi.spec().text, mimetype="application/yaml")


@bp.get("/docs")
def page():
    doc = openapi.spec().document
    operations = [
        {"method": method.upper(), "path": path, **operation}
        for path, item in doc["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]
    return render_template("docs.html", doc=doc, operations=operations)
