"""Markov-chain attribution, exact: absorbing-chain solve and removal effects.

States are channels (order 1) or the last k channels (order k ≤ 4) plus start,
conversion and null. Transitions are counted from all paths, converting and
not, with consecutive repeats collapsed (exposure: no self-transitions). The
conversion probability from start is one linear solve (I − Q) x = b over the
transient states; removing a channel removes every state containing it (its
inflow goes to null) and is one more solve. Removal effect
RE_c = 1 − P(conversion without c) / P(conversion). Dense solves for small
chains, scipy.sparse + spsolve for large ones.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.linalg import spsolve

from attribution.engine import channel_score_credits, credits_frame
from attribution.errors import MIN_PATHS, InsufficientDataError, require_paths
from attribution.journeys import Journeys

DENSE_LIMIT = 600  # transient states up to which a dense solve is faster


@dataclass(frozen=True)
class MarkovResult:
    channels: np.ndarray  # (C,) names
    removal_effects: np.ndarray  # (C,) RE per channel code (0 for channels on no path)
    conversion_probability: float
    n_states: int
    n_paths: int
    n_conversions: int


def _solve(q: sp.csr_matrix, b: np.ndarray, keep: np.ndarray | None = None) -> float:
    """P(absorbed in conversion | start), start = state 0; states not in `keep` are null."""
    if keep is not None:
        idx = np.flatnonzero(keep)
        q, b = q[idx][:, idx], b[idx]
    n = q.shape[0]
    if n <= DENSE_LIMIT:
        x = np.linalg.solve(np.eye(n) - q.toarray(), b)
    else:
        x = spsolve((sp.identity(n, format="csc") - q).tocsc(), b)
    return float(x[0])


def fit_markov(jr: Journeys, order: int = 1, min_paths: int = MIN_PATHS) -> MarkovResult:
    """Removal effects of every channel from all paths of `jr`."""
    if not 1 <= order <= 4:
        raise ValueError(f"markov order must be 1 to 4, got {order}")
    has_touch = jr.lengths > 0
    n_paths = int(has_touch.sum())
    require_paths("the Markov model", n_paths, min_paths)
    n_conv = int((jr.converted & has_touch).sum())
    if n_conv == n_paths:
        raise InsufficientDataError(
            "every path converts, so the conversion probability is 1 with or without any "
            "channel and the Markov model is meaningless: include the non-converting paths")
    if n_conv == 0:
        raise InsufficientDataError("no path converts: the Markov model has nothing to attribute")

    # exposure: collapse consecutive repeats (no self-transitions)
    jid, ch = jr.jid, jr.channel.astype(np.int64)
    keep = np.ones(len(jid), dtype=bool)
    keep[1:] = (ch[1:] != ch[:-1]) | (jid[1:] != jid[:-1])
    jid, ch = jid[keep], ch[keep]
    first = np.ones(len(jid), dtype=bool)
    first[1:] = jid[1:] != jid[:-1]
    last = np.ones(len(jid), dtype=bool)
    last[:-1] = jid[1:] != jid[:-1]

    # state key: the last `order` channels, base C+1 (C = "before the start")
    n_ch = len(jr.channels)
    base = n_ch + 1
    key = ch.copy()
    depth = np.zeros(len(jid), dtype=np.int64)  # position in the collapsed path
    if order > 1:
        starts = np.flatnonzero(first)
        depth = np.arange(len(jid)) - np.repeat(starts, np.diff(np.r_[starts, len(jid)]))
        for i in range(1, order):
            prev = np.full(len(jid), n_ch, dtype=np.int64)
            prev[i:] = ch[:-i]
            prev[depth < i] = n_ch
            key = key + prev * base**i
    state_keys, state = np.unique(key, return_inverse=True)
    n_s = len(state_keys)
    start, conv, null = 0, n_s + 1, n_s + 2
    state = state + 1  # 0 is start

    src = np.where(first, start, np.r_[start, state[:-1]])
    dst = state
    end_src = state[last]
    end_dst = np.where(jr.converted[jid[last]], conv, null)
    rows = np.r_[src, end_src]
    cols = np.r_[dst, end_dst]
    counts = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n_s + 3, n_s + 3))
    out_deg = np.asarray(counts.sum(axis=1)).ravel()
    inv = np.divide(1.0, out_deg, out=np.zeros_like(out_deg), where=out_deg > 0)
    probs = sp.diags(inv) @ counts
    transient = n_s + 1
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
    return MarkovResult(jr.channels, removal, p_all, n_s, n_paths, n_conv)


def markov_summary(result: MarkovResult, total_revenue: float = 0.0) -> pd.DataFrame:
    """Removal effects and the textbook totals N × RE_c / Σ RE (ChannelAttribution's rule)."""
    total = result.removal_effects.sum()
    share = result.removal_effects / total if total > 0 else np.zeros(len(result.channels))
    return pd.DataFrame({"channel": result.channels, "removal_effect": result.removal_effects,
                         "total_conversions": result.n_conversions * share,
                         "total_revenue": total_revenue * share})


def markov_credits(jr: Journeys, order: int = 1, min_paths: int = MIN_PATHS) -> pd.DataFrame:
    """Per-touch credits: each distinct channel of a converting path gets
    RE_c / Σ RE over the path's channels (equal split if all 0), split equally
    over its touches. The channel summary rides in `.attrs["channel_summary"]`."""
    result = fit_markov(jr, order, min_paths)
    conv = jr.converting
    out = credits_frame(conv, channel_score_credits(conv, result.removal_effects[conv.channel]))
    revenue = float(jr.revenue[jr.converted].sum())
    # attrs hold plain lists (pandas compares attrs when combining frames)
    out.attrs["channel_summary"] = markov_summary(result, revenue)[
        ["channel", "removal_effect", "total_conversions"]].to_dict("list")
    out.attrs["model"] = f"markov:{order}"
    return out
