"""The match-rate rule of the `identity_match_rate` check (mbuzz.identity.match_rate_drop) on
crafted series, and the e-mail hash convention (SHA-256 of the trimmed, lower-cased address)."""

from __future__ import annotations

import hashlib

import pytest

from mbuzz.identity import EmailHashError, hash_email, match_rate_drop, normalise_hash, scrub_traits


def series(rates: list[float], volume: int = 100) -> list[tuple[str, int, int]]:
    return [(f"2026-11-{i + 1:02d}", round(r * volume), volume) for i, r in enumerate(rates)]


def test_a_sharp_drop_below_the_trailing_median_is_flagged():
    drop = match_rate_drop(series([0.8] * 14 + [0.5]))
    assert drop is not None and (drop.day, drop.rate, drop.baseline, drop.volume) == ("2026-11-15", 0.5, 0.8, 100)


def test_noise_a_mild_dip_and_a_rise_are_not():
    assert match_rate_drop(series([0.8, 0.7, 0.9] * 5)) is None  # ends at 0.9
    assert match_rate_drop(series([0.8] * 14 + [0.65])) is None  # 19 % below: within the quarter
    assert match_rate_drop(series([0.5] * 14 + [0.9])) is None


def test_the_median_not_the_mean_sets_the_level():
    # one broken day in the window does not drag the level down (a mean would be 0.75 → no warning)
    rates = [0.8] * 13 + [0.1] + [0.55]
    assert match_rate_drop(series(rates)).baseline == 0.8


def test_tiny_volume_and_short_history_never_warn():
    assert match_rate_drop(series([0.8] * 14 + [0.0], volume=19)) is None  # the day itself is too small
    small_past = series([0.8] * 14, volume=5) + [("2026-11-15", 0, 100)]
    assert match_rate_drop(small_past) is None  # no earlier day big enough
    assert match_rate_drop(series([0.8, 0.8, 0.1])) is None  # two earlier days: too few
    assert match_rate_drop(series([0.8, 0.8, 0.8, 0.1])) is not None
    assert match_rate_drop([]) is None


def test_only_the_window_counts():
    # a high level more than 14 days ago is forgotten: most of the last 14 days are at 0.4
    rates = [0.9] * 16 + [0.4] * 8 + [0.4]
    assert match_rate_drop(series(rates)) is None
    assert match_rate_drop(series(rates), window=30).baseline == 0.9


def test_the_hash_convention():
    assert hash_email("  Ada@Example.COM\n") == hashlib.sha256(b"ada@example.com").hexdigest()
    assert normalise_hash(" " + "AB" * 32 + " ") == "ab" * 32
    for bad in ("ab" * 31, "zz" * 32, 42, None, "ab" * 33):
        with pytest.raises(EmailHashError):
            normalise_hash(bad)
    with pytest.raises(EmailHashError):
        hash_email("no at sign")


def test_scrub_replaces_plain_addresses_in_place():
    properties, context = {"traits": {"email": "A@b.example", "plan": "pro"}}, {"traits": {"email": "a@b.example"}}
    assert scrub_traits(properties, context) is None
    expected = hashlib.sha256(b"a@b.example").hexdigest()
    assert properties == {"traits": {"email_sha256": expected, "plan": "pro"}}
    assert context == {"traits": {"email_sha256": expected}}
    assert scrub_traits({"url": "x"}, None) is None
    assert scrub_traits({"traits": {"email_sha256": "x"}}, {}).startswith("properties.traits.email_sha256:")
