"""Identity: hashed e-mail addresses, plain addresses kept out of storage, and the match-rate rule.

    hash_email(address) -> str                  SHA-256 of the trimmed, lower-cased address (64 hex)
    normalise_hash(value) -> str                a sent hash, checked (64 hex) and lower-cased
    scrub_traits(properties, context) -> error  identify traits: `email` hashed into `email_sha256`, removed
    match_rate_drop(series, ...) -> MatchRateDrop | None   the Dagster check's rule

The hash is the convention of ad platforms' offline uploads (Google's Enhanced Conversions,
Meta's Conversions API): SHA-256 of the address with surrounding white space removed and
lower-cased, as 64 lowercase hex digits. An identify call carrying `traits.email_sha256` (or a
plain `traits.email`, hashed here and never stored) links its user to the hash; an offline
conversion that names only the hash resolves through that link (int_identities).
"""

from __future__ import annotations

import hashlib
import re
import statistics
from dataclasses import dataclass
from typing import Any

HASH_FIELD = "email_sha256"
_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")


class EmailHashError(ValueError):
    """A hash that is not 64 hex digits, or an address that is not text."""


def hash_email(address: str) -> str:
    if not isinstance(address, str) or "@" not in address.strip():
        raise EmailHashError("must be an e-mail address (text with an @)")
    return hashlib.sha256(address.strip().lower().encode("utf-8")).hexdigest()


def normalise_hash(value: Any) -> str:
    if not isinstance(value, str) or not _HEX64.match(value.strip()):
        raise EmailHashError(
            "must be 64 hex characters: the SHA-256 of the trimmed, lower-cased address "
            "(e.g. printf '%s' 'ada@example.com' | sha256sum)"
        )
    return value.strip().lower()


def _scrub(traits: dict, where: str) -> str | None:
    """Hash and remove a plain `email` of one traits object (in place); the problem, or None."""
    if "email" in traits:
        try:
            hashed = hash_email(traits.pop("email"))
        except EmailHashError as exc:
            return f"{where}.email: {exc}"
        if HASH_FIELD in traits:
            try:
                if normalise_hash(traits[HASH_FIELD]) != hashed:
                    return f"{where}.{HASH_FIELD}: differs from the hash of {where}.email; send one of them"
            except EmailHashError as exc:
                return f"{where}.{HASH_FIELD}: {exc}"
        traits[HASH_FIELD] = hashed
    elif HASH_FIELD in traits:
        try:
            traits[HASH_FIELD] = normalise_hash(traits[HASH_FIELD])
        except EmailHashError as exc:
            return f"{where}.{HASH_FIELD}: {exc}"
    return None


def scrub_traits(properties: Any, context: Any) -> str | None:
    """Replace every plain `traits.email` of an event by its hash, in place (`properties.traits`,
    where identify calls keep them, and `context.traits`, where analytics.js repeats them);
    check a sent `traits.email_sha256`. The problem (for a per-event rejection), or None."""
    for where, holder in (("properties.traits", properties), ("context.traits", context)):
        traits = holder.get("traits") if isinstance(holder, dict) else None
        if isinstance(traits, dict) and (problem := _scrub(traits, where)):
            return problem
    return None


# -- the match-rate rule ------------------------------------------------------------------------


@dataclass(frozen=True)
class MatchRateDrop:
    day: str
    rate: float
    baseline: float
    volume: int


def match_rate_drop(
    series: list[tuple[str, int, int]], *, window: int = 14, min_volume: int = 20, max_drop: float = 0.25
) -> MatchRateDrop | None:
    """The last complete day's match rate, if it fell sharply below its recent level.

    `series`: (day, matched, total) per day, oldest first, complete days only. The day is
    flagged when it has at least `min_volume` conversions (tiny accounts would flap), at least
    three earlier days with volume exist within `window` days, and its rate is below
    (1 - max_drop) times the median of those days' rates (the default: a quarter below)."""
    if not series:
        return None
    day, matched, total = series[-1]
    if total < min_volume:
        return None
    earlier = [m / t for _, m, t in series[-1 - window : -1] if t >= min_volume]
    if len(earlier) < 3:
        return None
    baseline = statistics.median(earlier)
    rate = matched / total
    if rate < baseline * (1 - max_drop):
        return MatchRateDrop(day=day, rate=rate, baseline=baseline, volume=total)
    return None
