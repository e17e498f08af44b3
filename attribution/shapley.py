"""Shapley-value attribution over path coalitions.

v(S) = conversion rate of the paths whose *set* of channels is exactly S (0 if
no path has that set). A converting path with coalition S* gets, for each of its
channels, the Shapley value in the sub-game of S* (v restricted to subsets of
S*); negatives are clipped and the values renormalised, then split equally over
that channel's touches. Values are computed once per distinct coalition, all
coalitions of the same size at once (bitmask arithmetic, numpy): exact up to
EXACT_LIMIT channels in a path; beyond, seeded Monte-Carlo permutations with a
standard error reported in the channel summary.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import factorial

import numpy as np
import pandas as pd
import scipy.sparse as sp

from attribution.engine import channel_score_credits, credit_columns, credits_frame
from attribution.errors import MIN_PATHS, require_paths
from attribution.journeys import Journeys

EXACT_LIMIT = 12
MAX_CHANNELS = 62  # coalitions are int64 bitmasks
DEFAULT_PERMUTATIONS = 2000
_CHUNK_CELLS = 4_000_000  # coalitions × subsets evaluated per block


class _Game:
    """v(S) for observed coalitions (sorted bitmasks), 0 elsewhere."""

    def __init__(self, masks: np.ndarray, rates: np.ndarray):
        self.masks, self.rates = masks, rates

    def __call__(self, query: np.ndarray) -> np.ndarray:
        idx = np.searchsorted(self.masks, query)
        idx = np.minimum(idx, len(self.masks) - 1)
        return np.where(self.masks[idx] == query, self.rates[idx], 0.0)


def _members(masks: np.ndarray, k: int) -> np.ndarray:
    """(m, k) channel indices of each k-channel bitmask, ascending."""
    bits = (masks[:, None] >> np.arange(MAX_CHANNELS, dtype=np.int64)[None, :]) & 1
    return np.nonzero(bits)[1].reshape(len(masks), k)


def _exact(game: _Game, members: np.ndarray) -> np.ndarray:
    """(m, k) Shapley values of coalitions with k members each."""
    m, k = members.shape
    local = np.arange(2**k, dtype=np.int64)
    bits = (local[:, None] >> np.arange(k)[None, :]) & 1  # (2^k, k)
    size = bits.sum(axis=1)
    weight = np.array([factorial(s) * factorial(k - s - 1) / factorial(k) for s in range(k)])
    out = np.empty((m, k))
    step = max(1, _CHUNK_CELLS // 2**k)
    for lo in range(0, m, step):  # blocks bound the memory of the subset table
        pw = np.left_shift(np.int64(1), members[lo : lo + step])  # (b, k)
        v = game(pw @ bits.T)  # (b, 2^k): v of every subset of every coalition
        for i in range(k):
            without = local[bits[:, i] == 0]
            out[lo : lo + step, i] = (v[:, without | (1 << i)] - v[:, without]) @ weight[size[without]]
    return out


def _sampled(game: _Game, members: np.ndarray, n_perm: int, rng: np.random.Generator):
    """Monte-Carlo Shapley values and standard errors, one coalition at a time."""
    m, k = members.shape
    values, errors = np.empty((m, k)), np.empty((m, k))
    for row in range(m):
        perms = np.argsort(rng.random((n_perm, k)), axis=1)  # (P, k) local indices
        pw = np.left_shift(np.int64(1), members[row])[perms]
        cum = np.cumsum(pw, axis=1)  # distinct bits: sum == or
        gain = game(cum) - np.c_[np.zeros(n_perm), game(cum[:, :-1])]
        contrib = np.empty_like(gain)
        np.put_along_axis(contrib, perms, gain, axis=1)
        values[row] = contrib.mean(axis=0)
        errors[row] = contrib.std(axis=0, ddof=1) / np.sqrt(n_perm)
    return values, errors


@dataclass(frozen=True)
class ShapleyFit:
    """The Shapley values of every coalition of a converting path."""

    masks: np.ndarray  # (D,) sorted coalition bitmasks of the fit's paths
    table: sp.csr_matrix  # (D, C) value of each channel in each coalition (0 off the coalition)
    stderr: sp.csr_matrix  # (D, C) Monte-Carlo standard errors (0 where exact); sparse: a run holds a fit per resample
    channels: np.ndarray  # (C,)


def _journey_masks(jr: Journeys) -> np.ndarray:
    """(J,) each journey's set of channels as a bitmask (0 without touches)."""
    bit = np.left_shift(np.int64(1), jr.channel.astype(np.int64))
    nonempty = jr.nonempty
    journey_mask = np.zeros(jr.n_journeys, dtype=np.int64)
    journey_mask[nonempty] = np.bitwise_or.reduceat(bit, jr.starts[nonempty])
    return journey_mask


def shapley_fit(
    jr: Journeys,
    min_paths: int = MIN_PATHS,
    seed: int = 0,
    n_permutations: int = DEFAULT_PERMUTATIONS,
    journey_weights: np.ndarray | None = None,
) -> tuple[ShapleyFit, np.ndarray]:
    """The fit of all paths of `jr`, and each journey's coalition index into it (−1 without touches).
    `journey_weights`: count each journey that many times (a bootstrap resample, or path counts)."""
    has_touch = jr.lengths > 0
    counted = np.ones(jr.n_journeys) if journey_weights is None else np.asarray(journey_weights, dtype=float)
    require_paths("the Shapley model", int(round(counted[has_touch].sum())), min_paths)
    if len(jr.channels) > MAX_CHANNELS:
        raise ValueError(
            f"the Shapley model handles at most {MAX_CHANNELS} channels, got "
            f"{len(jr.channels)}: group rare channels into `other`"
        )
    nonempty = np.flatnonzero(has_touch)
    masks, inverse = np.unique(_journey_masks(jr)[nonempty], return_inverse=True)
    paths = np.bincount(inverse, weights=counted[nonempty])
    convs = np.bincount(inverse, weights=jr.converted[nonempty] * counted[nonempty])
    game = _Game(masks, np.divide(convs, paths, out=np.zeros_like(convs), where=paths > 0))

    coalition = np.full(jr.n_journeys, -1, dtype=np.int64)
    coalition[nonempty] = inverse
    wanted = np.flatnonzero(convs > 0)  # only coalitions of converting paths need values
    sizes = (
        np.bitwise_count(masks[wanted]).astype(int)
        if hasattr(np, "bitwise_count")
        else np.array([bin(int(x)).count("1") for x in masks[wanted]])
    )
    table = np.zeros((len(masks), len(jr.channels)))
    stderr = np.zeros_like(table)
    rng = np.random.default_rng(seed)
    for k in np.unique(sizes):
        group = wanted[sizes == k]
        members = _members(masks[group], k)
        if k <= EXACT_LIMIT:
            values = _exact(game, members)
        else:
            values, errors = _sampled(game, members, n_permutations, rng)
            stderr[group[:, None], members] = errors
        table[group[:, None], members] = values
    return ShapleyFit(masks, sp.csr_matrix(table), sp.csr_matrix(stderr), jr.channels), coalition


def shapley_values(
    jr: Journeys,
    min_paths: int = MIN_PATHS,
    seed: int = 0,
    n_permutations: int = DEFAULT_PERMUTATIONS,
    journey_weights: np.ndarray | None = None,
):
    """Per journey coalition index, and per distinct coalition the Shapley value of
    each channel: returns (coalition_of_journey, table (D, C), stderr (D, C)).
    `journey_weights`: count each journey that many times (a bootstrap resample)."""
    fit, coalition = shapley_fit(jr, min_paths, seed, n_permutations, journey_weights)
    return coalition, fit.table.toarray(), fit.stderr.toarray()


def shapley_apply(jr: Journeys, fit: ShapleyFit, carried: bool = True) -> pd.DataFrame:
    """Credits of the converting journeys of `jr` (channel codes as in the fit's): each touch
    scores its channel's value in the journey's coalition (0 for a coalition the fit has not seen)."""
    conv = jr.converting
    masks = _journey_masks(conv)[conv.jid]
    row = np.minimum(np.searchsorted(fit.masks, masks), max(len(fit.masks) - 1, 0))
    seen = (fit.masks[row] == masks) & (conv.channel < fit.table.shape[1]) if len(fit.masks) else masks < 0
    score = np.zeros(len(masks))
    score[seen] = np.asarray(fit.table[row[seen], conv.channel[seen]]).ravel()
    credit = channel_score_credits(conv, score)
    if not carried:
        return credit_columns(conv, credit)
    out = credits_frame(conv, credit)
    if fit.stderr.nnz:  # Monte-Carlo was used for some coalitions
        worst = fit.stderr.max(axis=0).toarray().ravel()
        out.attrs["channel_summary"] = {"channel": list(fit.channels), "max_shapley_stderr": worst.tolist()}
    out.attrs["model"] = "shapley"
    return out


def shapley_credits(
    jr: Journeys,
    min_paths: int = MIN_PATHS,
    seed: int = 0,
    n_permutations: int = DEFAULT_PERMUTATIONS,
    journey_weights: np.ndarray | None = None,
) -> pd.DataFrame:
    fit, _ = shapley_fit(jr, min_paths, seed, n_permutations, journey_weights)
    return shapley_apply(jr, fit)
