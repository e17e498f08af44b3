"""Prefixed public ids (`acct_…`, `key_…`, `conv_…`): a type prefix and 24 random base62 characters."""

from __future__ import annotations

import secrets
import string

BASE62 = string.digits + string.ascii_letters
PREFIXES = ("acct", "user", "key", "vis", "sess", "evt", "conv", "cred", "amod", "run", "spend")


def random_base62(length: int) -> str:
    return "".join(secrets.choice(BASE62) for _ in range(length))


def new_ids(prefix: str, n: int):
    """n random prefixed ids (`cred_…`) as a numpy array, vectorised: a million in well under a second."""
    import numpy as np  # not on the CLI's start-up path

    rng = np.random.default_rng(secrets.randbits(128))
    alphabet = np.frombuffer(BASE62.encode(), dtype="S1")
    chars = alphabet[rng.integers(0, len(BASE62), size=(n, 24))]
    body = chars.view("S24").ravel().astype(str)
    return np.char.add(f"{prefix}_", body)


def new_id(prefix: str) -> str:
    if prefix not in PREFIXES:
        raise ValueError(f"unknown id prefix {prefix!r}")
    return f"{prefix}_{random_base62(24)}"
