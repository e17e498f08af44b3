"""JSON errors everywhere: `{"error": {"code", "message", "details"}}`, never HTML.

Views raise `ApiError` (or a subclass); Werkzeug's HTTP exceptions (404, 405,
413, 429 from the rate limiter…), an unreachable database (503 + Retry-After,
nothing half-written: the request's transaction is rolled back) and unexpected
exceptions (500, logged with the key material redacted) all answer the same
shape. The codes are the enum of `Error.code` in docs/api/openapi.yml.
"""

from __future__ import annotations

from typing import Any

import psycopg
from flask import Flask, Response, current_app, jsonify
from werkzeug.exceptions import HTTPException

from mbuzz.errors import DatabaseUnavailable

CODES = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    503: "service_unavailable",
}


class ApiError(Exception):
    """An error answered as JSON with `status`, a stable `code` and a human `message`."""

    status = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        self.code = code or CODES.get(self.status, self.code)
        self.details = details
        self.headers = headers or {}


class NotFoundError(ApiError):
    """Another account's resource answers exactly like a missing one (existence is not revealed)."""

    status = 404
    code = "not_found"

    def __init__(self, resource: str, resource_id: str) -> None:
        super().__init__(f"no {resource} {resource_id!r} in this account")


def error_response(
    status: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None
) -> Response:
    response = jsonify({"error": {"code": code, "message": message, "details": details}})
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _api_error(exc: ApiError) -> Response:
    return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)


def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    code = CODES.get(status) or ("internal_error" if status >= 500 else "bad_request")
    message = {
        404: "no such endpoint; see /api/v1/docs",
        413: f"request body is over the {current_app.config['MAX_BODY_BYTES'] // 1024} KB limit",
        429: f"rate limit exceeded ({exc.description}); retry after the Retry-After header's seconds",
    }.get(status, exc.description or exc.name)
    headers = {}
    if getattr(exc, "valid_methods", None):  # 405: say what is allowed
        headers["Allow"] = ", ".join(exc.valid_methods)
    return error_response(status, code, message, None, headers)


def unavailable_response() -> Response:
    retry_after = str(current_app.config["RETRY_AFTER_UNAVAILABLE"])
    return error_response(
        503,
        "service_unavailable",
        "the database is unreachable or too slow; nothing was stored, retry later",
        None,
        {"Retry-After": retry_after},
    )


def _database_error(exc: Exception) -> Response:
    current_app.logger.warning("database unavailable: %s", type(exc).__name__)
    return unavailable_response()


def _unexpected(exc: Exception) -> Response:
    current_app.logger.exception("unhandled error")
    return error_response(500, "internal_error", "internal error; it has been logged")


def init_app(app: Flask) -> None:
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(DatabaseUnavailable, _database_error)
    app.register_error_handler(psycopg.OperationalError, _database_error)
    app.register_error_handler(psycopg.InterfaceError, _database_error)
    app.register_error_handler(Exception, _unexpected)
