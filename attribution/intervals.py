"""95% bootstrap intervals on every credited number: each channel's credited conversions and
revenue, per group (e.g. environment × channel × UTC day), for every model.

The resample is a Poisson bootstrap: each journey gets an independent Poisson(1) weight per
resample, a (B, J) weights matrix. Why Poisson and not multinomial (draw J of J):

- the number of journeys in a period is itself random (traffic varies); Poisson weights let it
  vary, multinomial weights would fix it;
- weights of different journeys are independent, so the replicate totals of two disjoint sets
  of journeys (two days, two runs) add up replicate by replicate into a valid replicate of the
  combined total: intervals for any date range come from the stored per-day replicates
  (`combine`), with no new pass over the credits.

Rule-based and DSL models credit each journey on its own, so a resample's channel totals are
the weights times the per-journey credit matrix: all B resamples are ONE sparse matmul
(`replicate_totals`). Data-driven models (Markov, Shapley, algorithmic) are refit on every
resample (each takes `journey_weights`: no rebuilt tables), and the resample's credits are
weighted by the same weights: the interval includes the uncertainty of the fit.

Intervals are percentile intervals. Too few conversions (< MIN_CONVERSIONS) or a resample a
data-driven model cannot fit give no interval and a reason, never a silent zero.
No database or web imports here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from math import exp, factorial

import numpy as np
import pandas as pd
import scipy.sparse as sp

from attribution.errors import InsufficientDataError

SAMPLES = 100  # resamples per run (stored with the run, so every range is answered with them)
LEVEL = 0.95
MIN_CONVERSIONS = 30  # below this many converting journeys the percentiles mean little


@dataclass
class CreditIntervals:
    """Point totals and bootstrap replicates of credited conversions and revenue per group."""

    groups: pd.DataFrame  # (G,) key columns, e.g. environment, channel, day
    conversions: np.ndarray  # (G,) point totals
    revenue: np.ndarray  # (G,)
    conversion_samples: np.ndarray | None  # (B, G) replicate totals; None when there is no interval
    revenue_samples: np.ndarray | None
    reason: str | None = None  # why there is no interval

    def table(self, level: float = LEVEL) -> pd.DataFrame:
        """groups + conversions, revenue and their lower/upper bounds (NaN with `reason` if none)."""
        out = self.groups.reset_index(drop=True).copy()
        out["conversions"], out["revenue"] = self.conversions, self.revenue
        for name, samples in (("conversions", self.conversion_samples), ("revenue", self.revenue_samples)):
            lo, hi = percentile_bounds(samples, level) if samples is not None else (np.nan, np.nan)
            out[f"{name}_lower"], out[f"{name}_upper"] = lo, hi
        out["reason"] = self.reason
        return out


def percentile_bounds(samples: np.ndarray, level: float = LEVEL) -> tuple[np.ndarray, np.ndarray]:
    """(lower, upper) percentile bounds over the resamples (axis 0)."""
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, got {level}")
    alpha = (1 - level) / 2
    lo, hi = np.quantile(np.asarray(samples, dtype=float), [alpha, 1 - alpha], axis=0)
    return lo, hi


def poisson_weights(n_journeys: int, samples: int = SAMPLES, seed: int = 0) -> np.ndarray:
    """(samples, n_journeys) independent Poisson(1) resample weights."""
    if samples < 2:
        raise ValueError(f"samples must be at least 2, got {samples}")
    return np.random.default_rng(seed).poisson(1.0, (samples, n_journeys)).astype(np.float64)


_POISSON1_CDF = np.cumsum([exp(-1.0) / factorial(k) for k in range(24)])
_MASK64 = (1 << 64) - 1
_WEIGHT_BLOCK = 8192  # journeys whose weights journey_weights draws at a time


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser on uint64 (wrapping arithmetic): a counter-based random stream."""
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def journey_weights(journey_ids, samples: int = SAMPLES, seed: int = 0) -> np.ndarray:
    """(samples, n) independent Poisson(1) resample weights, each journey's drawn from its id and
    `seed` alone: a journey gets the same weights whichever journeys are read with it and in
    whatever order, so a run that reads its journeys chunk by chunk resamples exactly as one
    read of all of them would (and every model of the run shares the resamples)."""
    if samples < 2:
        raise ValueError(f"samples must be at least 2, got {samples}")
    ids = pd.Index(journey_ids).astype(str)
    key = _splitmix64(pd.util.hash_array(ids.to_numpy(dtype=object)) ^ _splitmix64(np.uint64(seed & _MASK64)))
    out = np.empty((samples, len(key)))
    step = np.arange(samples, dtype=np.uint64)[:, None] * np.uint64(0xD1B54A32D192ED03)
    for lo in range(0, len(key), _WEIGHT_BLOCK):  # blocks of journeys bound the temporaries
        with np.errstate(over="ignore"):
            counters = key[None, lo : lo + _WEIGHT_BLOCK] + step
        uniform = (_splitmix64(_splitmix64(counters)) >> np.uint64(11)).astype(np.float64) * 2.0**-53
        out[:, lo : lo + _WEIGHT_BLOCK] = np.searchsorted(_POISSON1_CDF, uniform, side="right")
    return out


def replicate_totals(
    journey: np.ndarray, group: np.ndarray, values: np.ndarray, weights: np.ndarray, n_groups: int
) -> np.ndarray:
    """(B, G): Σ over rows of weights[b, journey] × values, per group — one sparse matmul
    (the rows' per-journey credit matrix, J × G, times the weights)."""
    m = sp.csr_matrix((np.asarray(values, dtype=float), (journey, group)), shape=(weights.shape[1], n_groups))
    return np.asarray((m.T @ weights.T).T)


def _group_codes(credits: pd.DataFrame, by: list[str]) -> tuple[np.ndarray, pd.DataFrame]:
    keys = credits[by].reset_index(drop=True)
    codes = keys.groupby(by, sort=True, observed=True, dropna=False).ngroup().to_numpy()
    first = np.full(int(codes.max(initial=-1)) + 1, -1, dtype=np.int64)
    first[codes[::-1]] = np.arange(len(codes))[::-1]
    return codes, keys.take(first).reset_index(drop=True)


def credit_intervals(
    credits: pd.DataFrame,
    journey_index: pd.Index,
    weights: np.ndarray,
    by: list[str],
    refit: Callable[[np.ndarray], pd.DataFrame] | None = None,
    min_conversions: int = MIN_CONVERSIONS,
) -> CreditIntervals:
    """Bootstrap replicates of the credited conversions and revenue of `credits` per `by` group.

    credits: a credits frame (journey_id, credit, revenue_credit and the `by` columns).
    journey_index, weights: weights[:, k] is the resample weight of journey journey_index[k]
    (one weights matrix per run, shared by every model, so models are compared on the same
    resamples). refit(b) (data-driven models): the credits of resample b, the same rows as
    `credits` in the same order; None: the credits do not depend on the resample (rules)."""
    groups_code, groups = _group_codes(credits, by)
    n_groups = len(groups)
    credit = credits["credit"].to_numpy(dtype=float)
    revenue = credits["revenue_credit"].to_numpy(dtype=float)
    point_conv = np.bincount(groups_code, weights=credit, minlength=n_groups)
    point_rev = np.bincount(groups_code, weights=revenue, minlength=n_groups)
    journey = journey_index.get_indexer(credits["journey_id"])
    if (journey < 0).any():
        raise ValueError("credits of journeys without resample weights: pass the index of every journey")
    n_conv = len(pd.unique(credits["journey_id"]))
    if n_conv < min_conversions:
        return CreditIntervals(
            groups,
            point_conv,
            point_rev,
            None,
            None,
            f"too few conversions for an interval: {n_conv}, at least {min_conversions} needed",
        )
    if refit is None:
        conv = replicate_totals(journey, groups_code, credit, weights, n_groups)
        rev = replicate_totals(journey, groups_code, revenue, weights, n_groups)
        return CreditIntervals(groups, point_conv, point_rev, conv, rev)
    conv = np.empty((len(weights), n_groups))
    rev = np.empty_like(conv)
    for b in range(len(weights)):
        try:
            sample = refit(b)
        except InsufficientDataError as exc:
            return CreditIntervals(
                groups, point_conv, point_rev, None, None, f"a resample of the journeys could not be fit: {exc}"
            )
        w = weights[b, journey]
        conv[b] = np.bincount(groups_code, weights=sample["credit"].to_numpy(dtype=float) * w, minlength=n_groups)
        rev[b] = np.bincount(
            groups_code, weights=sample["revenue_credit"].to_numpy(dtype=float) * w, minlength=n_groups
        )
    return CreditIntervals(groups, point_conv, point_rev, conv, rev)


def merge_intervals(
    parts: list[CreditIntervals], conversions: int, min_conversions: int = MIN_CONVERSIONS
) -> CreditIntervals:
    """The intervals of disjoint sets of journeys (the chunks of a run) as one: point totals and
    replicates added up per group. Each part is credit_intervals(..., min_conversions=0) of its
    chunk with the same per-journey weights (`journey_weights`); `conversions` is the number of
    converting journeys of all the parts (the MIN_CONVERSIONS rule applies to the whole)."""
    by = list(parts[0].groups.columns)
    codes, groups = _group_codes(pd.concat([p.groups for p in parts], ignore_index=True), by)
    n_groups = len(groups)
    point_conv = np.bincount(codes, weights=np.concatenate([p.conversions for p in parts]), minlength=n_groups)
    point_rev = np.bincount(codes, weights=np.concatenate([p.revenue for p in parts]), minlength=n_groups)
    if conversions < min_conversions:
        reason = f"too few conversions for an interval: {conversions}, at least {min_conversions} needed"
        return CreditIntervals(groups, point_conv, point_rev, None, None, reason)
    missing = [p for p in parts if p.conversion_samples is None]
    if missing:
        return CreditIntervals(groups, point_conv, point_rev, None, None, missing[0].reason)
    fold = sp.csr_matrix((np.ones(len(codes)), (np.arange(len(codes)), codes)), shape=(len(codes), n_groups))

    def added(samples: list[np.ndarray]) -> np.ndarray:
        return np.asarray((fold.T @ np.hstack(samples).T).T)

    conv = added([p.conversion_samples for p in parts])
    rev = added([p.revenue_samples for p in parts])
    return CreditIntervals(groups, point_conv, point_rev, conv, rev)


def combine(parts: list[tuple[float, np.ndarray | None]]) -> tuple[float, np.ndarray | None]:
    """Totals and replicates of disjoint parts (days, runs) added up: (Σ point, Σ replicates),
    replicates None if any part has none. Parts must have the same number of resamples."""
    point = float(sum(p for p, _ in parts))
    if any(s is None for _, s in parts):
        return point, None
    samples = [np.asarray(s, dtype=float) for _, s in parts]
    if len({len(s) for s in samples}) > 1:
        return point, None
    return point, np.sum(samples, axis=0) if samples else None
