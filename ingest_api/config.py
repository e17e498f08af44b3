"""Defaults of the ingestion API; `create_app` overlays MBUZZ_* environment variables and test config.

Every value can be set from the environment with Flask's prefixed-env loader,
e.g. `MBUZZ_RATE_LIMIT_TIERS='{"standard": "100/second"}'` (values are JSON).
"""

from __future__ import annotations

DEFAULTS: dict = {
    # Request limits (docs/api/events.md, "Limits"). The body limit is also Flask's MAX_CONTENT_LENGTH.
    "MAX_BODY_BYTES": 512 * 1024,
    "MAX_EVENTS_PER_BATCH": 500,
    "MAX_EVENT_BYTES": 32 * 1024,
    # Timestamps up to this far ahead of the server clock are clamped to the
    # receive time (client clock skew); later ones are rejected.
    "FUTURE_TOLERANCE_SECONDS": 300,
    # Rate limits per account tier (`raw.accounts.tier`), in flask-limiter's
    # notation; several limits are separated by ';'. Unknown tiers get "default".
    "RATE_LIMIT_TIERS": {
        "free": "20/second;600/minute",
        "standard": "100/second;3000/minute",
        "pro": "500/second;15000/minute",
        "enterprise": "2000/second;60000/minute",
        "default": "100/second;3000/minute",
    },
    # Storage for the counters: REDIS_URL's Redis when set, else process memory.
    "RATELIMIT_STORAGE_URI": None,
    "RATELIMIT_KEY_PREFIX": "mbuzz",
    # The non-superuser role requests switch to, so row-level security applies.
    "DB_TENANT_ROLE": "mbuzz_api",
    # Per-process connection pool.
    "DB_POOL_SIZE": 4,
    # Longest a request's statement may run, and wait for a lock, before the request answers
    # 503 (the transaction rolled back, nothing stored): a hung or locked database then costs
    # each request at most this long instead of holding every worker (docs/operations.md).
    "DB_STATEMENT_TIMEOUT_MS": 10_000,
    "DB_LOCK_TIMEOUT_MS": 5_000,
    # Seconds clients are told to wait when the database is unreachable or too slow.
    "RETRY_AFTER_UNAVAILABLE": 5,
    # Where the OpenAPI document lives (the single source of truth).
    "OPENAPI_PATH": None,
    # How long browsers and CDNs may cache GET /mbuzz.js before revalidating (seconds).
    "TRACKER_MAX_AGE": 300,
    # The database host put in the dashboard's BI connection URLs (Database access), when BI tools
    # reach the database under another name than the app does; None: the app's own host.
    "BI_HOST": None,
}
