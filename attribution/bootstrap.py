"""Bootstrap confidence intervals for channel totals: resample journeys with
replacement, rerun the model, take percentiles of each channel's total credit."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd


def _resample(
    touches: pd.DataFrame, rng: np.random.Generator, codes: np.ndarray, rows_by_journey: np.ndarray, starts: np.ndarray
) -> pd.DataFrame:
    n_j = len(starts) - 1
    draw = rng.integers(0, n_j, n_j)
    lengths = starts[draw + 1] - starts[draw]
    # rows of each drawn journey, concatenated without a Python loop
    offsets = np.repeat(starts[draw] - np.r_[0, np.cumsum(lengths)[:-1]], lengths)
    rows = rows_by_journey[np.arange(lengths.sum()) + offsets]
    sample = touches.take(rows).reset_index(drop=True)
    sample["journey_id"] = np.repeat(np.arange(n_j), lengths)  # duplicates stay distinct
    return sample


def bootstrap_weighted_totals(
    fit: Callable[[np.ndarray | None], pd.Series], n_journeys: int, n: int = 200, ci: float = 0.95, seed: int = 0
) -> pd.DataFrame:
    """The same bootstrap for models that accept journey weights (Markov): drawing n journeys
    with replacement is the same as giving each journey the count of times it was drawn, so a
    resample is one weight vector, not a rebuilt table. `fit(weights)` returns total credit per
    channel (weights None: the data as they are). Same output as bootstrap_channel_totals."""
    if not 0 < ci < 1:
        raise ValueError(f"ci must be between 0 and 1, got {ci}")
    point = fit(None)
    rng = np.random.default_rng(seed)
    totals = [fit(np.bincount(rng.integers(0, n_journeys, n_journeys), minlength=n_journeys)) for _ in range(n)]
    return _interval_table(point, totals, ci)


def bootstrap_count_totals(
    fit: Callable[[np.ndarray | None], pd.Series],
    counts: np.ndarray,
    empty: int = 0,
    n: int = 200,
    ci: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """bootstrap_weighted_totals over a table of counts (attribution.paths.PathTable): N = Σ counts
    + `empty` journeys, each resample draws N of them with replacement, which gives the cells a
    multinomial(N, counts / N) number of journeys (the `empty` cell is dropped). `fit(weights)`
    gets one weight per cell (None: the counts as they are). Same output as bootstrap_channel_totals."""
    if not 0 < ci < 1:
        raise ValueError(f"ci must be between 0 and 1, got {ci}")
    point = fit(None)
    counts = np.asarray(counts, dtype=float)
    total = int(round(counts.sum())) + int(empty)
    p = np.r_[counts, float(empty)] / max(total, 1)
    rng = np.random.default_rng(seed)
    totals = [fit(rng.multinomial(total, p)[:-1].astype(float)) for _ in range(n)]
    return _interval_table(point, totals, ci)


def bootstrap_channel_totals(
    model_fn: Callable[[pd.DataFrame], pd.DataFrame],
    touches: pd.DataFrame,
    n: int = 200,
    ci: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """channel, conversions (on all data), lower, upper, std over `n` resamples.

    model_fn maps a touch table to a credits frame, e.g.
    `lambda t: attribute(t, "markov")`."""
    if not 0 < ci < 1:
        raise ValueError(f"ci must be between 0 and 1, got {ci}")
    point = model_fn(touches).groupby("channel")["credit"].sum()
    codes, _ = pd.factorize(touches["journey_id"])
    rows_by_journey = np.argsort(codes, kind="stable")
    starts = np.r_[0, np.cumsum(np.bincount(codes))]
    rng = np.random.default_rng(seed)
    totals = []
    for _ in range(n):
        sample = _resample(touches, rng, codes, rows_by_journey, starts)
        totals.append(model_fn(sample).groupby("channel")["credit"].sum())
    return _interval_table(point, totals, ci)


def _interval_table(point: pd.Series, totals: list[pd.Series], ci: float) -> pd.DataFrame:
    table = pd.concat(totals, axis=1).reindex(point.index).fillna(0.0)
    alpha = (1 - ci) / 2
    return pd.DataFrame(
        {
            "channel": point.index,
            "conversions": point.to_numpy(),
            "lower": table.quantile(alpha, axis=1).to_numpy(),
            "upper": table.quantile(1 - alpha, axis=1).to_numpy(),
            "std": table.std(axis=1, ddof=1).to_numpy(),
        }
    ).sort_values("conversions", ascending=False, ignore_index=True)
