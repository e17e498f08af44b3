"""Rate limits per account, tiered by `raw.accounts.tier`, with flask-limiter.

Counters live in Redis when REDIS_URL is set (shared by every worker and
host), in process memory otherwise (one process only: fine for development,
not for production). One fixed-window budget per account is shared by every
authenticated endpoint; its size comes from the RATE_LIMIT_TIERS mapping.
Every authenticated response carries X-RateLimit-Limit/Remaining/Reset; over
the limit → 429 with Retry-After. If Redis is unreachable, requests are let
through (and the failure logged) rather than refused: ingestion availability
comes first.
"""
from __future__ import annotations

from flask import Flask, current_app, g
from flask_limiter import Limiter

from ingest_api.config import DEFAULTS
from mbuzz.settings import get_settings


def _account_key() -> str:
    principal = g.get("principal")
    return principal.account_id if principal is not None else ""


def tier_limit() -> str:
    tiers = current_app.config["RATE_LIMIT_TIERS"]
    principal = g.get("principal")
    tier = principal.tier if principal is not None else "default"
    return tiers.get(tier) or tiers.get("default") or DEFAULTS["RATE_LIMIT_TIERS"]["default"]


def storage_uri(app: Flask) -> str:
    return app.config.get("RATELIMIT_STORAGE_URI") or get_settings().redis_url or "memory://"


def init_app(app: Flask) -> None:
    limiter = Limiter(
        key_func=_account_key,
        storage_uri=storage_uri(app),
        key_prefix=app.config["RATELIMIT_KEY_PREFIX"],
        strategy="fixed-window",
        headers_enabled=True,
        swallow_errors=True,
    )
    limiter.init_app(app)
    app.extensions["mbuzz.limiter"] = limiter
    app.extensions["mbuzz.account_limit"] = limiter.shared_limit(tier_limit, scope="account", key_func=_account_key)


def check_account_limit() -> None:
    """Count this request against its account's budget; raises 429 when it is spent."""
    with current_app.extensions["mbuzz.account_limit"]:
        pass
