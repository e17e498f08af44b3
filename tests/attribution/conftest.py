"""Helpers that build touch tables in the offline CSV format."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

CONVERSION = pd.Timestamp("2024-03-01T12:00:00Z")


def journey(channels, ages=None, milestones=None, journey_id="j1", converted=1, revenue=100.0, **extra) -> pd.DataFrame:
    """One journey: touches `ages` days before the conversion (default 1 day apart)."""
    n = len(channels)
    ages = list(ages) if ages is not None else list(range(n, 0, -1))
    return pd.DataFrame(
        {
            "journey_id": journey_id,
            "touch_ts": [CONVERSION - pd.Timedelta(days=a) for a in ages],
            "channel": list(channels),
            "converted": converted,
            "conversion_ts": CONVERSION if converted else pd.NaT,
            "revenue": revenue if converted else np.nan,
            "milestones": list(milestones) if milestones is not None else [""] * n,
            **extra,
        }
    )


def credits_by_touch(out: pd.DataFrame, journey_id="j1") -> list[float]:
    rows = out[out["journey_id"] == journey_id].sort_values("touch_index")
    return rows["credit"].tolist()


@pytest.fixture
def make_journey():
    return journey
