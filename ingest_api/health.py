"""GET /api/v1/health: is the API up, can it reach PostgreSQL? No auth."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from flask import Blueprint, current_app

from ingest_api import db
from mbuzz.errors import DatabaseUnavailable

bp = Blueprint("health", __name__, url_prefix="/api/v1")


def mbuzz_version() -> str:
    try:
        return version("mbuzz")
    except PackageNotFoundError:
        return "0+unknown"


@bp.get("/health")
def health():
    try:
        with db.transaction() as conn:
            conn.execute("select 1").fetchone()
    except DatabaseUnavailable:
        retry_after = str(current_app.config["RETRY_AFTER_UNAVAILABLE"])
        return (
            {"status": "unavailable", "database": "unreachable", "version": mbuzz_version()},
            503,
            {"Retry-After": retry_after},
        )
    return {"status": "ok", "database": "ok", "version": mbuzz_version()}
