"""Rate limits per account, tiered by `raw.accounts.tier`, on the `limits` library (flask-limiter's engine).

Counters live in Redis when REDIS_URL is set (shared by every worker and
host), in process memory otherwise (one process only: fine for development,
not for production). One fixed-window budget per account is shared by every
authenticated endpoint; its size comes from the RATE_LIMIT_TIERS mapping
(several windows, e.g. "100/second;3000/minute", all count). Every
authenticated response carries X-RateLimit-Limit/Remaining/Reset of the
tightest window (a breached one first); over the limit → 429 with Retry-After.
If Redis is unreachable, requests are let through (and the failure logged)
rather than refused: ingestion availability comes first.

On Redis, all of a request's windows are counted in ONE round trip (a Lua
script: incr, expire on the first hit, remaining time), where flask-limiter
needed three per window (incr, then get + ttl for the headers) plus its own
per-request hooks: at thousands of batches a second that was a fifth of a
worker's CPU. The keys and the fixed-window semantics are the `limits`
library's own (`LIMITS:<prefix>/…`), in memory through its MemoryStorage.

    check_account_limit()            # in @authenticated, after the key is known
    hit(limit, key, scope)           # any other limit (the dashboard's sign-in attempts per address)
    wait(limit, key, scope)          # seconds until `key` may try again (0: now); counts nothing
    hit(…) on failure, forget(…)     # a budget of failures only (the dashboard's sign-ins per e-mail)
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from functools import lru_cache

from flask import Flask, Response, current_app, g
from limits import RateLimitItem, parse_many
from limits.storage import RedisStorage, Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter

from ingest_api.config import DEFAULTS
from ingest_api.errors import ApiError
from mbuzz.settings import get_settings

# KEYS: the windows' counters; ARGV: their lengths in seconds. Returns {count, ms left} per window.
_COUNT_WINDOWS = """
local out = {}
for i, key in ipairs(KEYS) do
    local count = redis.call('incr', key)
    if count == 1 then
        redis.call('expire', key, ARGV[i])
    end
    local left = redis.call('pttl', key)
    if left < 0 then
        redis.call('expire', key, ARGV[i])
        left = tonumber(ARGV[i]) * 1000
    end
    out[i] = {count, left}
end
return out
"""


@dataclass(frozen=True)
class WindowState:
    """One window after this request was counted: its size, what is left, when it resets (Unix s)."""

    limit: RateLimitItem
    count: int
    reset_at: float

    @property
    def remaining(self) -> int:
        return max(0, self.limit.amount - self.count)

    @property
    def breached(self) -> bool:
        return self.count > self.limit.amount


class Limiter:
    """Fixed-window counters in one `limits` storage; `count()` hits every window of a limit at once."""

    def __init__(self, uri: str, key_prefix: str) -> None:
        self.key_prefix = key_prefix
        self.storage: Storage = storage_from_string(uri)
        self._script = None
        if isinstance(self.storage, RedisStorage):
            self._script = self.storage.get_connection().register_script(_COUNT_WINDOWS)

    def count(self, limit: str, key: str, scope: str) -> list[WindowState]:
        """Count one request against every window of `limit` for `key`; the windows' states."""
        items = _parse(limit)
        keys = [item.key_for(self.key_prefix, scope, key) for item in items]
        if self._script is not None:
            now = time.time()
            answers = self._script(
                keys=[self.storage.prefixed_key(k) for k in keys], args=[item.get_expiry() for item in items]
            )
            return [WindowState(item, int(c), now + int(ms) / 1000) for item, (c, ms) in zip(items, answers)]
        return [
            WindowState(item, self.storage.incr(k, item.get_expiry()), self.storage.get_expiry(k))
            for item, k in zip(items, keys)
        ]

    def wait(self, limit: str, key: str, scope: str) -> float:
        """Seconds until every window of `limit` for `key` has room again (0: it has room now); counts nothing."""
        strategy = FixedWindowRateLimiter(self.storage)  # the same keys and windows as count()
        now = time.time()
        waits = [
            stats.reset_time - now
            for stats in (strategy.get_window_stats(item, self.key_prefix, scope, key) for item in _parse(limit))
            if stats.remaining <= 0
        ]
        return max([0.0, *waits])

    def forget(self, limit: str, key: str, scope: str) -> None:
        """Reset `key`'s windows of `limit` (a successful sign-in clears the failures before it)."""
        strategy = FixedWindowRateLimiter(self.storage)
        for item in _parse(limit):
            strategy.clear(item, self.key_prefix, scope, key)


@lru_cache(maxsize=256)
def _parse(limit: str) -> tuple[RateLimitItem, ...]:
    return tuple(parse_many(limit))


def tier_limit() -> str:
    tiers = current_app.config["RATE_LIMIT_TIERS"]
    principal = g.get("principal")
    tier = principal.tier if principal is not None else "default"
    return tiers.get(tier) or tiers.get("default") or DEFAULTS["RATE_LIMIT_TIERS"]["default"]


def storage_uri(app: Flask) -> str:
    return app.config.get("RATELIMIT_STORAGE_URI") or get_settings().redis_url or "memory://"


def limiter() -> Limiter:
    return current_app.extensions["mbuzz.limiter"]


def hit(limit: str, key: str, scope: str) -> list[WindowState] | None:
    """Count a request; the windows' states, or None when the storage failed (logged; let through)."""
    try:
        return limiter().count(limit, key, scope)
    except Exception as exc:  # noqa: BLE001 -- availability first: never refuse because Redis is away
        current_app.logger.warning("rate-limit storage unavailable, request let through: %s", type(exc).__name__)
        return None


def wait(limit: str, key: str, scope: str) -> float:
    """Seconds before `key` may go on under `limit` (0: now, or when the storage failed: logged, let through)."""
    try:
        return limiter().wait(limit, key, scope)
    except Exception as exc:  # noqa: BLE001 -- availability first, as hit()
        current_app.logger.warning("rate-limit storage unavailable, request let through: %s", type(exc).__name__)
        return 0.0


def forget(limit: str, key: str, scope: str) -> None:
    try:
        limiter().forget(limit, key, scope)
    except Exception as exc:  # noqa: BLE001
        current_app.logger.warning("rate-limit storage unavailable, counter not reset: %s", type(exc).__name__)


def _headline(states: list[WindowState]) -> WindowState:
    """The window the headers describe: the breached one that resets last, else the tightest."""
    breached = [s for s in states if s.breached]
    if breached:
        return max(breached, key=lambda s: s.reset_at)
    return min(states, key=lambda s: s.remaining)


def check_account_limit() -> None:
    """Count this request against its account's budget; raises 429 when it is spent."""
    states = hit(tier_limit(), g.principal.account_id, "account")
    if not states:
        return
    head = _headline(states)
    g.rate_limit = head
    if head.breached:
        retry_after = max(0, math.ceil(head.reset_at - time.time()))
        raise ApiError(
            f"rate limit exceeded ({head.limit}); retry after the Retry-After header's seconds",
            status=429,
            headers={"Retry-After": str(retry_after)},
        )


def _add_headers(response: Response) -> Response:
    state: WindowState | None = g.get("rate_limit")
    if state is not None:
        response.headers["X-RateLimit-Limit"] = str(state.limit.amount)
        response.headers["X-RateLimit-Remaining"] = str(state.remaining)
        response.headers["X-RateLimit-Reset"] = str(int(state.reset_at))
    return response


def init_app(app: Flask) -> None:
    app.extensions["mbuzz.limiter"] = Limiter(storage_uri(app), app.config["RATELIMIT_KEY_PREFIX"])
    app.after_request(_add_headers)
