"""Markov-chain attribution, exact: absorbing-chain solve and removal effects.

States are channels (order 1) or the last k channels (order k ≤ 4) plus start,
conversion and null. Transitions are counted from all paths, converting and
not, with consecutive repeats collapsed (exposure: no self-transitions). The
conversion probability from start is one linear solve (I − Q) x = b over the
transient states; removing a channel removes every state containing it (its
inflow goes to null) and is one more solve. Removal effect
RE_c = 1 − P(conversion without c) / P(conversion). Dense solves for small
chains, scipy.sparse + spsolve for large ones. Transitions are counted from the
unique (path, converted) pairs weighted by how many journeys have them (exact
integer path keys, see _path_groups), not from every touch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.linalg import spsolve

from attribution.engine import channel_score_credits, credit_columns, credits_frame
from attribution.errors import MIN_PATHS, InsufficientDataError, require_paths
from attribution.journeys import Journeys
from attribution.paths import PathTable, _unique_paths

DENSE_LIMIT = 600  # transient states up to which a dense solve is faster


@dataclass(frozen=True)
class MarkovResult:
    channels: np.ndarray  # (C,) names
    removal_effects: np.ndarray  # (C,) RE per channel code (0 for channels on no path)
    conversion_probability: float
    n_states: int
    n_paths: int
    n_conversions: int
    order: int = 1


def _solve(q, b: np.ndarray, keep: np.ndarray | None = None) -> float:
    """P(absorbed in conversion | start), start = state 0; states not in `keep` are null.
    `q` is a dense array (small chains) or a csr matrix."""
    if keep is not None:
        idx = np.flatnonzero(keep)
        q, b = (q[np.ix_(idx, idx)] if isinstance(q, np.ndarray) else q[idx][:, idx]), b[idx]
    n = q.shape[0]
    if isinstance(q, np.ndarray):
        a = -q
        a[np.diag_indices(n)] += 1.0
        x = np.linalg.solve(a, b)
    else:
        x = spsolve((sp.identity(n, format="csc") - q).tocsc(), b)
    return float(x[0])


def fit_markov(
    jr: Journeys,
    order: int = 1,
    min_paths: int = MIN_PATHS,
    _chunk: int | None = None,
    journey_weights: np.ndarray | None = None,
) -> MarkovResult:
    """Removal effects of every channel from all paths of `jr`.

    `journey_weights` (one non-negative count per journey of `jr`) fits as if each journey
    appeared that many times: a bootstrap resample without rebuilding any table.

    Paths are first aggregated exactly into unique (channel sequence, converted)
    pairs with their counts (_unique_paths); the exposure transform and the
    transition counts then run on one representative journey per unique pair,
    weighted by its count, which gives the all-touches counts with far fewer
    rows; dense matrix for small chains, sparse for large ones."""
    if not 1 <= order <= 4:
        raise ValueError(f"markov order must be 1 to 4, got {order}")
    has_touch = jr.lengths > 0
    counted = np.ones(len(jr.lengths)) if journey_weights is None else np.asarray(journey_weights, dtype=float)
    n_paths = int(round(counted[has_touch].sum()))
    require_paths("the Markov model", n_paths, min_paths)
    n_conv = int(round(counted[jr.converted & has_touch].sum()))
    if n_conv == n_paths:
        raise InsufficientDataError(
            "every path converts, so the conversion probability is 1 with or without any "
            "channel and the Markov model is meaningless: include the non-converting paths"
        )
    if n_conv == 0:
        raise InsufficientDataError("no path converts: the Markov model has nothing to attribute")

    # unique (path, converted) with counts, and the first journey of each
    paths = jr.nonempty
    unique_code = _unique_paths(jr, _chunk)
    weight = np.bincount(unique_code, weights=counted[paths]).astype(float)
    rep = np.empty(len(weight), dtype=np.int64)
    rep[unique_code[::-1]] = paths[::-1]
    rep_converted = jr.converted[rep]
    rep_len = jr.lengths[rep]
    rep_start = np.r_[0, np.cumsum(rep_len)[:-1]]
    touch = np.repeat(jr.starts[rep] - rep_start, rep_len) + np.arange(int(rep_len.sum()))
    ch = jr.channel[touch].astype(np.int64)
    path_of = np.repeat(np.arange(len(rep)), rep_len)

    # exposure: collapse consecutive repeats (no self-transitions)
    keep = np.ones(len(ch), dtype=bool)
    keep[1:] = (ch[1:] != ch[:-1]) | (path_of[1:] != path_of[:-1])
    ch, path_of = ch[keep], path_of[keep]
    first = np.ones(len(ch), dtype=bool)
    first[1:] = path_of[1:] != path_of[:-1]
    last = np.ones(len(ch), dtype=bool)
    last[:-1] = first[1:]
    w_touch = weight[path_of]
    n_ch = len(jr.channels)

    # state key: the last `order` channels, base C+1 (C = "before the start")
    base = n_ch + 1
    key = ch.copy()
    if order > 1:
        starts = np.flatnonzero(first)
        depth = np.arange(len(ch)) - np.repeat(starts, np.diff(np.r_[starts, len(ch)]))
        for i in range(1, order):
            prev = np.full(len(ch), n_ch, dtype=np.int64)
            prev[i:] = ch[:-i]
            prev[depth < i] = n_ch
            key = key + prev * base**i
    state_keys, state = np.unique(key, return_inverse=True)
    n_s = len(state_keys)
    start, conv, null = 0, n_s + 1, n_s + 2
    state = state + 1  # 0 is start
    size = n_s + 3

    src = np.where(first, start, np.r_[start, state[:-1]])
    end_dst = np.where(rep_converted, conv, null)
    rows = np.r_[src, state[last]]
    cols = np.r_[state, end_dst]
    w = np.r_[w_touch, weight]
    transient = n_s + 1
    if transient <= DENSE_LIMIT:
        counts = np.bincount(rows * size + cols, weights=w, minlength=size * size).reshape(size, size)
        out_deg = counts.sum(axis=1)
        probs = counts / np.where(out_deg > 0, out_deg, 1.0)[:, None]
        q = probs[:transient, :transient].copy()
        b = probs[:transient, conv].copy()
    else:
        counts = sp.csr_matrix((w, (rows, cols)), shape=(size, size))
        out_deg = np.asarray(counts.sum(axis=1)).ravel()
        inv = np.divide(1.0, out_deg, out=np.zeros_like(out_deg), where=out_deg > 0)
        probs = sp.diags(inv) @ counts
        q = probs[:transient, :transient].tocsr()
        b = probs[:transient, conv].toarray().ravel()

    p_all = _solve(q, b)
    components = (state_keys[:, None] // base ** np.arange(order)[None, :]) % base  # (S, order)
    removal = np.zeros(n_ch)
    on_path = np.zeros(n_ch, dtype=bool)
    on_path[np.unique(ch)] = True
    for c in np.flatnonzero(on_path):  # one solve per channel
        keep_state = np.r_[True, ~(components == c).any(axis=1)]
        removal[c] = 1.0 - _solve(q, b, keep_state) / p_all
    return MarkovResult(jr.channels, removal, p_all, n_s, n_paths, n_conv, order)


def markov_summary(result: MarkovResult, total_revenue: float = 0.0) -> pd.DataFrame:
    """Removal effects and the textbook totals N × RE_c / Σ RE (ChannelAttribution's rule)."""
    total = result.removal_effects.sum()
    share = result.removal_effects / total if total > 0 else np.zeros(len(result.channels))
    return pd.DataFrame(
        {
            "channel": result.channels,
            "removal_effect": result.removal_effects,
            "total_conversions": result.n_conversions * share,
            "total_revenue": total_revenue * share,
        }
    )


def markov_apply(jr: Journeys, result: MarkovResult, carried: bool = True) -> pd.DataFrame:
    """Per-touch credits of the converting journeys of `jr` (channel codes as in the fit's)
    from a fit: each distinct channel of a path gets RE_c / Σ RE over the path's channels
    (equal split if all 0), split equally over its touches. Not `carried`: only the credit
    columns (engine.credit_columns)."""
    conv = jr.converting
    removal = _padded(result.removal_effects, len(jr.channels))
    credit = channel_score_credits(conv, removal[conv.channel])
    return credits_frame(conv, credit) if carried else credit_columns(conv, credit)


def _padded(values: np.ndarray, n: int) -> np.ndarray:
    """Per-channel values for n channels: channels the fit did not see score 0."""
    return values if len(values) >= n else np.r_[values, np.zeros(n - len(values))]


def markov_credits(
    jr: Journeys, order: int = 1, min_paths: int = MIN_PATHS, journey_weights: np.ndarray | None = None
) -> pd.DataFrame:
    """Per-touch credits (markov_apply of fit_markov). The channel summary rides in
    `.attrs["channel_summary"]`. `journey_weights`: fit as if each journey appeared that many
    times (a bootstrap resample, see attribution.intervals); every converting journey still gets credits."""
    result = fit_markov(jr, order, min_paths, journey_weights=journey_weights)
    out = markov_apply(jr, result)
    revenue = float(jr.revenue[jr.converted].sum())
    # attrs hold plain lists (pandas compares attrs when combining frames)
    out.attrs["channel_summary"] = markov_summary(result, revenue)[
        ["channel", "removal_effect", "total_conversions"]
    ].to_dict("list")
    out.attrs["model"] = f"markov:{order}"
    return out


def markov_channel_summary(paths: PathTable, result: MarkovResult, samples: int = 30) -> pd.DataFrame:
    """Removal effects and textbook totals of a Markov fit of these paths, with bootstrap 95%
    intervals on the totals: the rows of attribution.channel_summaries.

    The bootstrap resamples the journeys over the path table: drawing the N journeys with
    replacement gives each path a multinomial(N, count / N) number of journeys (the journeys
    without a touch are one more cell), so a resample is one draw over the P paths and a refit of
    the table, whether the journeys were read at once or in chunks."""
    from attribution.bootstrap import bootstrap_count_totals

    summary = markov_summary(result)[["channel", "removal_effect", "total_conversions"]]

    def textbook_totals(weights: np.ndarray | None) -> pd.Series:
        counted = paths.count if weights is None else weights
        fit = fit_markov(paths.journeys, result.order, journey_weights=counted)
        return markov_summary(fit).set_index("channel")["total_conversions"]

    try:
        ci = bootstrap_count_totals(textbook_totals, paths.count, paths.empty, n=samples, ci=0.95, seed=0)
        summary = summary.merge(
            ci[["channel", "lower", "upper"]].rename(columns={"lower": "ci_low", "upper": "ci_high"}),
            on="channel",
            how="left",
        )
    except InsufficientDataError:
        pass  # a resample too small to fit: keep the point estimates without an interval
    return summary.assign(model="markov")
