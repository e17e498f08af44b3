"""What the benchmarks hand the peer libraries, written once for accuracy.py and attribution.py.

ChannelAttribution takes journeys as path strings ("a > b > c") with their conversion and
null counts; `path_table` builds that table from engine-format touches, and `ca_markov` calls
its first-order Markov model with the options both benchmarks compare against.
"""

from __future__ import annotations

import pandas as pd


def path_table(touches: pd.DataFrame) -> pd.DataFrame:
    """One row per distinct path: path, conversions, count, nulls (journeys that did not convert)."""
    path = touches.groupby("journey_id", sort=False)["channel"].agg(" > ".join)
    converted = touches.groupby("journey_id", sort=False)["converted"].first()
    agg = pd.DataFrame({"path": path, "conv": converted}).groupby("path")["conv"].agg(["sum", "count"])
    agg = agg.reset_index().rename(columns={"sum": "conversions"})
    agg["nulls"] = agg["count"] - agg["conversions"]
    return agg


def ca_markov(ca, agg: pd.DataFrame, **options) -> dict:
    """ChannelAttribution's order-1 Markov model of a path table (`options`: e.g. `seed`)."""
    return ca.markov_model(
        agg,
        "path",
        "conversions",
        var_null="nulls",
        order=1,
        sep=">",
        out_more=True,
        verbose=False,
        flg_pro=False,
        **options,
    )


def ca_heuristics(ca, agg: pd.DataFrame) -> pd.DataFrame:
    """ChannelAttribution's first-, last- and linear-touch models of the converting paths."""
    return ca.heuristic_models(agg[agg["conversions"] > 0], "path", "conversions", sep=">", flg_pro=False)
