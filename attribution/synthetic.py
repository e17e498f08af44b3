"""Deterministic synthetic journeys (seeded) for tests, the benchmark and demos.

Each journey has 1..max_length touches over the 30 days before its end; each
channel raises the conversion probability by its own lift, so data-driven
models have something to find. Output is the offline CSV format plus a
`session_id` column (carried through by the engine).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

CHANNELS = ("direct", "organic_search", "paid_search", "email", "social", "referral", "display", "affiliate")
POPULARITY = (0.25, 0.2, 0.15, 0.12, 0.12, 0.06, 0.06, 0.04)
LIFT = (0.02, 0.05, 0.09, 0.12, 0.03, 0.06, 0.01, 0.08)
START = np.datetime64("2024-01-01T00:00:00", "ns")


def synthetic_touches(n_journeys: int, seed: int = 0, mean_length: float = 3.0, max_length: int = 12) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    lengths = np.minimum(1 + rng.poisson(mean_length - 1, n_journeys), max_length)
    n = int(lengths.sum())
    jid = np.repeat(np.arange(n_journeys), lengths)
    channel = rng.choice(len(CHANNELS), n, p=POPULARITY)
    stay = np.bincount(jid, weights=np.log1p(-np.asarray(LIFT)[channel]), minlength=n_journeys)
    converted = rng.random(n_journeys) < 1.0 - np.exp(stay)

    end = START + (rng.random(n_journeys) * 180 * 86_400e9).astype("timedelta64[ns]")
    age_ns = (rng.random(n) * 29.5 * 86_400e9).astype(np.int64)
    order = np.lexsort((-age_ns, jid))  # oldest touch first within each journey
    age_ns = age_ns[order]
    touch_ts = end[jid] - age_ns.astype("timedelta64[ns]")

    pos = np.arange(n) - np.repeat(np.r_[0, np.cumsum(lengths)[:-1]], lengths)
    mql_at = (rng.random(n_journeys) * lengths).astype(np.int64)
    sql_at = np.minimum(mql_at + 1, lengths - 1)
    has_mql = rng.random(n_journeys) < 0.5
    is_mql = has_mql[jid] & (pos == mql_at[jid])
    is_sql = has_mql[jid] & (pos == sql_at[jid]) & (lengths[jid] > 1)
    milestones = np.where(is_mql & is_sql, "mql;sql", np.where(is_mql, "mql", np.where(is_sql, "sql", "")))

    revenue = np.where(converted, np.round(rng.lognormal(4, 0.6, n_journeys), 2), np.nan)
    conv_ts = np.where(converted, end, np.datetime64("NaT", "ns"))
    return pd.DataFrame(
        {
            "journey_id": jid,
            "touch_ts": pd.to_datetime(touch_ts).tz_localize("UTC"),
            "channel": np.asarray(CHANNELS, dtype=object)[channel],
            "converted": converted[jid].astype(np.int8),
            "conversion_ts": pd.to_datetime(conv_ts[jid]).tz_localize("UTC"),
            "revenue": revenue[jid],
            "milestones": milestones,
            "session_id": np.arange(n),
        }
    )
