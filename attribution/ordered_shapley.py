"""Ordered Shapley attribution: Shapley values over the *ordered* sequence of a path's channels.

The set Shapley model (attribution/shapley.py) scores a coalition by the conversion rate of the
paths with that *set* of channels, so `search > email` and `email > search` are one coalition and
an order effect is averaged away. Here a path's coalition is its sequence of distinct channels in
order of first exposure (repeats after the first touch of a channel add no new member), and

    v(s) = conversion rate of the paths whose first-exposure sequence is exactly s  (0 if none).

A converting path with sequence s* = (c1, …, ck) plays the sub-game of s*: a subset S of its
channels is the subsequence of s* restricted to S, in s*'s order (the path "as if only S had
reached the user"), and each channel gets its Shapley value in that game (the path Shapley of
Zhao et al. 2018, "Shapley value methods for attribution modeling in online advertising", with
the ordered coalition value). Negatives are clipped, the values renormalised over the path's
channels and split equally over that channel's touches (attribution.engine.channel_score_credits):
the same output, invariants and conventions as every data-driven model.

An ordered sequence is keyed exactly, no hashing: (bitmask of its channels, Lehmer rank of its
order). Values are computed once per distinct sequence, all sequences of the same length at once:
exact up to EXACT_LIMIT distinct channels in a path (2^k subsequences), seeded Monte-Carlo
permutations with a standard error (in the channel summary) from EXACT_LIMIT + 1 to
MAX_PATH_CHANNELS; a path with more distinct channels than that cannot be ranked in int64 and the
model refuses with the reason (group rare channels, or use `shapley`).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import factorial

import numpy as np
import pandas as pd
import scipy.sparse as sp

from attribution.engine import channel_score_credits, credit_columns, credits_frame
from attribution.errors import MIN_PATHS, InsufficientDataError, require_paths
from attribution.journeys import Journeys

EXACT_LIMIT = 10  # distinct channels in a path up to which every subsequence is evaluated
MAX_PATH_CHANNELS = 20  # 20! < 2^63: the Lehmer rank of a longer order does not fit in int64
MAX_CHANNELS = 62  # bitmasks are int64
DEFAULT_PERMUTATIONS = 2000
PRIOR_PATHS = 100.0  # an order's rate is shrunk towards its set's rate as if seen on this many more paths
_CHUNK_CELLS = 2_000_000  # sequences × subsequences × channels evaluated per block
_FACT = np.array([factorial(i) for i in range(MAX_PATH_CHANNELS + 1)], dtype=np.int64)


def _keys(parent: np.ndarray, bits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact keys of subsequences. parent (b, k) channel codes in order; bits (s, k) 0/1 members
    (shared by every parent) or (b, s, k): ((b, s) bitmask, (b, s) Lehmer rank of the order)."""
    b, k = parent.shape
    bits3 = bits[None] if bits.ndim == 2 else bits  # (1|b, s, k)
    pw = np.left_shift(np.int64(1), parent.astype(np.int64))  # (b, k)
    mask = np.einsum("xsk,bk->bs", bits3, pw) if bits.ndim == 2 else np.einsum("bsk,bk->bs", bits3, pw)
    later = np.triu(np.ones((k, k), dtype=bool), 1)  # j after i
    smaller = (parent[:, None, :] < parent[:, :, None]) & later  # (b, i, j): j later and smaller than i
    inversions = (
        np.einsum("xsj,bij->bsi", bits3, smaller.astype(np.int64))
        if bits.ndim == 2
        else np.einsum("bsj,bij->bsi", bits3, smaller.astype(np.int64))
    )  # (b, s, k)
    size = bits3.sum(axis=2)  # (1|b, s)
    position = np.cumsum(bits3, axis=2) - 1  # index within the subsequence
    weight = _FACT[np.clip(size[..., None] - 1 - position, 0, None)] * bits3  # (1|b, s, k)
    rank = (inversions * weight).sum(axis=2)
    return mask, rank


class _Game:
    """v(s): the shrunk rate of an observed ordered sequence (exact (mask, rank) keys), the set rate
    of its channel set where that order was never observed, 0 where the set was not either."""

    def __init__(
        self, masks: np.ndarray, ranks: np.ndarray, rates: np.ndarray, set_masks: np.ndarray, set_rates: np.ndarray
    ):
        self.index = pd.MultiIndex.from_arrays([masks, ranks])
        self.rates = rates
        self.set_masks, self.set_rates = set_masks, set_rates

    def __call__(self, mask: np.ndarray, rank: np.ndarray) -> np.ndarray:
        flat = mask.ravel()
        where = self.index.get_indexer(pd.MultiIndex.from_arrays([flat, rank.ravel()]))
        idx = np.minimum(np.searchsorted(self.set_masks, flat), len(self.set_masks) - 1)
        out = np.where(self.set_masks[idx] == flat, self.set_rates[idx], 0.0)
        seen = where >= 0
        out[seen] = self.rates[where[seen]]
        return out.reshape(mask.shape)


def _exact(game: _Game, parents: np.ndarray) -> np.ndarray:
    """(m, k) ordered Shapley values of sequences with k channels each."""
    m, k = parents.shape
    local = np.arange(2**k, dtype=np.int64)
    bits = ((local[:, None] >> np.arange(k)[None, :]) & 1).astype(np.int64)  # (2^k, k)
    size = bits.sum(axis=1)
    weight = np.array([factorial(s) * factorial(k - s - 1) / factorial(k) for s in range(k)])
    out = np.empty((m, k))
    step = max(1, _CHUNK_CELLS // (2**k * k))
    for lo in range(0, m, step):
        v = game(*_keys(parents[lo : lo + step], bits))  # (b, 2^k)
        for i in range(k):
            without = local[bits[:, i] == 0]
            out[lo : lo + step, i] = (v[:, without | (1 << i)] - v[:, without]) @ weight[size[without]]
    return out


def _sampled(game: _Game, parents: np.ndarray, n_perm: int, rng: np.random.Generator):
    """Monte-Carlo ordered Shapley values and their standard errors, one sequence at a time."""
    m, k = parents.shape
    values, errors = np.empty((m, k)), np.empty((m, k))
    steps = np.tril(np.ones((k, k), dtype=np.int64))  # prefix t holds the first t+1 of the permutation
    for row in range(m):
        perms = np.argsort(rng.random((n_perm, k)), axis=1)  # (P, k) local indices
        bits = np.zeros((n_perm, k, k), dtype=np.int64)  # (P, prefix, local channel)
        np.put_along_axis(bits, np.broadcast_to(perms[:, None, :], bits.shape), steps[None], axis=2)
        v = game(*_keys(parents[row : row + 1], bits.reshape(n_perm * k, k))).reshape(n_perm, k)
        gain = v - np.c_[np.zeros(n_perm), v[:, :-1]]
        contrib = np.empty_like(gain)
        np.put_along_axis(contrib, perms, gain, axis=1)
        values[row] = contrib.mean(axis=0)
        errors[row] = contrib.std(axis=0, ddof=1) / np.sqrt(n_perm)
    return values, errors


def _first_exposures(jr: Journeys) -> np.ndarray:
    """Mask over the touches: the first touch of its channel in its journey."""
    pair = jr.jid.astype(np.int64) * max(len(jr.channels), 1) + jr.channel
    first = np.zeros(len(pair), dtype=bool)
    first[np.unique(pair, return_index=True)[1]] = True
    return first


@dataclass(frozen=True)
class OrderedShapleyFit:
    """The ordered Shapley values of every first-exposure sequence of a converting path."""

    index: pd.MultiIndex  # (D,) the fit's sequences as exact (bitmask, Lehmer rank) keys, sorted
    table: sp.csr_matrix  # (D, C) value of each channel in each sequence (0 off the sequence)
    stderr: sp.csr_matrix  # (D, C) Monte-Carlo standard errors (0 where exact); sparse: a run holds a fit per resample
    channels: np.ndarray  # (C,)


def _sequence_keys(jr: Journeys):
    """Each journey's first-exposure sequence: (bitmask (J,), Lehmer rank (J,), distinct channels
    (J,), the sequences' channels in order and each journey's offset into them)."""
    first = _first_exposures(jr)
    seq_jid, seq_ch = jr.jid[first], jr.channel[first].astype(np.int64)
    k_of = np.bincount(seq_jid, minlength=jr.n_journeys)  # distinct channels per journey
    if k_of.max(initial=0) > MAX_PATH_CHANNELS:
        raise InsufficientDataError(
            f"a path touches {int(k_of.max())} distinct channels; the ordered Shapley model ranks orders of at "
            f"most {MAX_PATH_CHANNELS} (exact up to {EXACT_LIMIT}, sampled beyond): group rare channels into "
            "`other`, cap the touches per journey, or use `shapley`"
        )
    seq_start = np.r_[0, np.cumsum(k_of)[:-1]]
    mask = np.zeros(jr.n_journeys, dtype=np.int64)
    rank = np.zeros(jr.n_journeys, dtype=np.int64)
    for k in np.unique(k_of[jr.lengths > 0]):
        js = np.flatnonzero(k_of == k)
        parents = seq_ch[seq_start[js][:, None] + np.arange(k)[None, :]]
        full = np.ones((1, k), dtype=np.int64)
        for lo in range(0, len(js), 100_000):
            m, r = _keys(parents[lo : lo + 100_000], full)
            mask[js[lo : lo + 100_000]], rank[js[lo : lo + 100_000]] = m[:, 0], r[:, 0]
    return mask, rank, k_of, seq_ch, seq_start


def ordered_shapley_fit(
    jr: Journeys,
    min_paths: int = MIN_PATHS,
    seed: int = 0,
    n_permutations: int = DEFAULT_PERMUTATIONS,
    journey_weights: np.ndarray | None = None,
    prior_paths: float | None = None,
) -> tuple[OrderedShapleyFit, np.ndarray]:
    """The fit of all paths of `jr`, and each journey's sequence index into it (−1 without touches).
    The sequences are in key order, so the fit does not depend on the order of the journeys.
    `journey_weights`: count each journey that many times (a bootstrap resample, or path counts)."""
    prior_paths = PRIOR_PATHS if prior_paths is None else prior_paths
    has_touch = jr.lengths > 0
    counted = np.ones(jr.n_journeys) if journey_weights is None else np.asarray(journey_weights, dtype=float)
    require_paths("the ordered Shapley model", int(round(counted[has_touch].sum())), min_paths)
    if len(jr.channels) > MAX_CHANNELS:
        raise InsufficientDataError(
            f"the ordered Shapley model handles at most {MAX_CHANNELS} channels, got "
            f"{len(jr.channels)}: group rare channels into `other`"
        )
    mask, rank, k_of, seq_ch, seq_start = _sequence_keys(jr)
    nonempty = np.flatnonzero(has_touch)
    keys = pd.MultiIndex.from_arrays([mask[nonempty], rank[nonempty]])
    inverse, unique = keys.factorize(sort=True)
    paths = np.bincount(inverse, weights=counted[nonempty])
    convs = np.bincount(inverse, weights=jr.converted[nonempty] * counted[nonempty])
    u_mask, u_rank = unique.get_level_values(0).to_numpy(), unique.get_level_values(1).to_numpy()
    set_masks, set_of = np.unique(u_mask, return_inverse=True)
    set_paths, set_convs = np.bincount(set_of, weights=paths), np.bincount(set_of, weights=convs)
    set_rates = np.divide(set_convs, set_paths, out=np.zeros_like(set_convs), where=set_paths > 0)
    # empirical-Bayes shrinkage of each order's rate towards its set's rate (prior of `prior_paths` paths)
    rates = np.divide(
        convs + prior_paths * set_rates[set_of],
        paths + prior_paths,
        out=np.zeros_like(convs),
        where=paths + prior_paths > 0,
    )
    game = _Game(u_mask, u_rank, rates, set_masks, set_rates)

    sequence = np.full(jr.n_journeys, -1, dtype=np.int64)
    sequence[nonempty] = inverse
    rep = np.empty(len(unique), dtype=np.int64)  # one journey of each sequence: its channel order
    rep[inverse[::-1]] = nonempty[::-1]
    wanted = np.flatnonzero(convs > 0)  # only the sequences of converting paths need values
    sizes = k_of[rep[wanted]]
    table = np.zeros((len(unique), len(jr.channels)))
    stderr = np.zeros_like(table)
    rng = np.random.default_rng(seed)
    for k in np.unique(sizes):
        group = wanted[sizes == k]
        parents = seq_ch[seq_start[rep[group]][:, None] + np.arange(k)[None, :]]
        if k <= EXACT_LIMIT:
            values = _exact(game, parents)
        else:
            values, errors = _sampled(game, parents, n_permutations, rng)
            stderr[group[:, None], parents] = errors
        table[group[:, None], parents] = values
    index = pd.MultiIndex.from_arrays([u_mask, u_rank])
    return OrderedShapleyFit(index, sp.csr_matrix(table), sp.csr_matrix(stderr), jr.channels), sequence


def ordered_shapley_values(
    jr: Journeys,
    min_paths: int = MIN_PATHS,
    seed: int = 0,
    n_permutations: int = DEFAULT_PERMUTATIONS,
    journey_weights: np.ndarray | None = None,
    prior_paths: float | None = None,
):
    """Per journey its sequence index (−1 without touches), and per distinct sequence the ordered
    Shapley value of each channel: (sequence_of_journey, table (D, C), stderr (D, C)).
    `journey_weights`: count each journey that many times (a bootstrap resample)."""
    fit, sequence = ordered_shapley_fit(jr, min_paths, seed, n_permutations, journey_weights, prior_paths)
    return sequence, fit.table.toarray(), fit.stderr.toarray()


def ordered_shapley_apply(jr: Journeys, fit: OrderedShapleyFit, carried: bool = True) -> pd.DataFrame:
    """Credits of the converting journeys of `jr` (channel codes as in the fit's): each touch
    scores its channel's value in the journey's sequence (0 for a sequence the fit has not seen)."""
    conv = jr.converting
    mask, rank, _, _, _ = _sequence_keys(conv)
    row = fit.index.get_indexer(pd.MultiIndex.from_arrays([mask, rank]))[conv.jid]
    seen = (row >= 0) & (conv.channel < fit.table.shape[1])
    score = np.zeros(len(row))
    score[seen] = np.asarray(fit.table[row[seen], conv.channel[seen]]).ravel()
    credit = channel_score_credits(conv, score)
    if not carried:
        return credit_columns(conv, credit)
    out = credits_frame(conv, credit)
    if fit.stderr.nnz:  # Monte-Carlo was used for some sequences
        out.attrs["channel_summary"] = {
            "channel": list(fit.channels),
            "max_shapley_stderr": fit.stderr.max(axis=0).toarray().ravel().tolist(),
        }
    out.attrs["model"] = "ordered_shapley"
    return out


def ordered_shapley_credits(
    jr: Journeys,
    min_paths: int = MIN_PATHS,
    seed: int = 0,
    n_permutations: int = DEFAULT_PERMUTATIONS,
    journey_weights: np.ndarray | None = None,
    prior_paths: float | None = None,
) -> pd.DataFrame:
    fit, _ = ordered_shapley_fit(jr, min_paths, seed, n_permutations, journey_weights, prior_paths)
    return ordered_shapley_apply(jr, fit)
