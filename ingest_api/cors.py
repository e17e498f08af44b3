"""CORS for the ingestion paths, so web pages on other sites can send with a publishable key.

Only the views a publishable key may call (`@authenticated(publishable=True)`: sending events,
the Segment-compatible paths, conversions) take part; every read endpoint has no CORS at all,
so no browser page can read an account's data.

- A preflight (`OPTIONS` with `Origin`) carries no key, so it is answered for any origin: 204
  with the methods and headers the SDKs send and `Access-Control-Max-Age`. The key's allowed
  origins are enforced on the real request (`auth.check_use`: 403 `origin_not_allowed`).
- The real request's answer carries `Access-Control-Allow-Origin: <its origin>` when it was
  made with a publishable key, or failed before any key was known (so a page can read why),
  and never when it was made with a secret key.
"""

from __future__ import annotations

from flask import Flask, Response, current_app, g, request

ALLOW_METHODS = "POST, OPTIONS"
ALLOW_HEADERS = "Authorization, Content-Type, Content-Encoding, X-Retry-Count"
EXPOSE_HEADERS = "Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset"
MAX_AGE_SECONDS = 86400


def takes_part() -> bool:
    """Whether the current request's view may be called by a publishable key (and so from pages)."""
    view = current_app.view_functions.get(request.endpoint or "")
    return bool(getattr(view, "publishable", False))


def _preflight() -> Response | None:
    if request.method != "OPTIONS" or "Origin" not in request.headers or not takes_part():
        return None
    response = current_app.response_class(status=204)
    response.headers["Access-Control-Allow-Origin"] = request.headers["Origin"]
    response.headers["Access-Control-Allow-Methods"] = ALLOW_METHODS
    response.headers["Access-Control-Allow-Headers"] = ALLOW_HEADERS
    response.headers["Access-Control-Max-Age"] = str(MAX_AGE_SECONDS)
    response.headers["Vary"] = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
    return response


def allow_origin(response: Response) -> Response:
    """Let the request's origin read this response (the caller decided it may)."""
    response.headers["Access-Control-Allow-Origin"] = request.headers["Origin"]
    response.headers["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
    response.vary.add("Origin")
    return response


def _answer(response: Response) -> Response:
    if request.method == "OPTIONS" or "Origin" not in request.headers or not takes_part():
        return response
    principal = g.get("principal")
    if principal is None or principal.publishable:
        allow_origin(response)
    return response


def init_app(app: Flask) -> None:
    app.before_request(_preflight)
    app.after_request(_answer)
