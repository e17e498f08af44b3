"""Algorithmic attribution: a logistic model of conversion on the path's channels.

Features per path: presence (default) or touch counts of each channel. The fit
uses every path, converting and not (scikit-learn LogisticRegression, L2). A
converting path's channel c scores p(path) − p(path without c), its marginal
effect on the predicted conversion probability; scores are clipped at 0 and
renormalised over the path's channels, then split over that channel's touches.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression

from attribution.engine import channel_score_credits, credit_columns, credits_frame
from attribution.errors import MIN_PATHS, InsufficientDataError, require_paths
from attribution.journeys import Journeys


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


@dataclass(frozen=True)
class AlgorithmicFit:
    coef: np.ndarray  # (C,) per channel
    intercept: float
    features: str
    channels: np.ndarray  # (C,)


def _design(jr: Journeys, features: str) -> sp.csr_matrix:
    """(J, C) the journeys' features: presence (1) or touch counts of each channel."""
    x = sp.csr_matrix((np.ones(len(jr.jid)), (jr.jid, jr.channel)), shape=(jr.n_journeys, len(jr.channels)))
    x.sum_duplicates()
    if features == "presence":
        x.data[:] = 1.0
    return x


def _distinct_rows(x: sp.csr_matrix, y: np.ndarray, weights: np.ndarray):
    """The distinct (feature row, y) pairs of a design, in sorted order, with their summed
    weights: (x, y, weights). A logistic fit of them is the fit of the rows (a row seen w times
    counts w times in the weighted loss), and the same whatever the order or the grouping of
    the rows: what makes a fit from path counts equal the fit from the journeys."""
    x = x.tocsr()
    x.sum_duplicates()
    n, width = x.shape
    nnz = np.diff(x.indptr)
    slots = int(nnz.max(initial=0))
    keys = np.full((n, 1 + 2 * slots), -1, dtype=np.int64)
    keys[:, 0] = y
    row = np.repeat(np.arange(n), nnz)
    slot = np.arange(len(x.indices)) - x.indptr[row]
    keys[row, 1 + slot] = x.indices
    keys[row, 1 + slots + slot] = x.data.astype(np.int64)  # presence 1 or touch counts
    distinct, inverse = np.unique(keys, axis=0, return_inverse=True)
    filled = distinct[:, 1 : 1 + slots] >= 0
    r, c = np.nonzero(filled)
    design = sp.csr_matrix(
        (distinct[:, 1 + slots :][r, c].astype(float), (r, distinct[:, 1 : 1 + slots][r, c])),
        shape=(len(distinct), width),
    )
    return design, distinct[:, 0].astype(bool), np.bincount(inverse.ravel(), weights=weights)


def fit_algorithmic(
    jr: Journeys,
    features: str = "presence",
    min_paths: int = MIN_PATHS,
    regularisation: float = 1.0,
    journey_weights: np.ndarray | None = None,
) -> AlgorithmicFit:
    """The logistic fit of every path of `jr`, on its distinct (features, converted) rows.
    `journey_weights`: count each journey that many times (a bootstrap resample, or path counts)."""
    if features not in ("presence", "counts"):
        raise ValueError(f"features must be presence or counts, got {features!r}")
    has_touch = jr.lengths > 0
    if journey_weights is not None:
        has_touch = has_touch & (np.asarray(journey_weights) > 0)
    counted = np.ones(jr.n_journeys) if journey_weights is None else np.asarray(journey_weights, dtype=float)
    require_paths("the algorithmic model", int(round(counted[has_touch].sum())), min_paths)
    y = jr.converted[has_touch]
    if y.all() or not y.any():
        raise InsufficientDataError(
            "the algorithmic model needs both converting and non-converting paths to learn what drives conversion"
        )
    x, y, weights = _distinct_rows(_design(jr, features)[has_touch], y, counted[has_touch])
    model = LogisticRegression(C=regularisation, max_iter=1000)
    model.fit(x, y, sample_weight=weights)
    return AlgorithmicFit(model.coef_.ravel(), float(model.intercept_[0]), features, jr.channels)


def algorithmic_apply(jr: Journeys, fit: AlgorithmicFit, carried: bool = True) -> pd.DataFrame:
    """Credits of the converting journeys of `jr` (channel codes as in the fit's): channel c of a
    path scores p(path) − p(path without c)."""
    conv = jr.converting
    coef = (
        fit.coef if len(fit.coef) >= len(jr.channels) else np.r_[fit.coef, np.zeros(len(jr.channels) - len(fit.coef))]
    )
    x = _design(conv, fit.features)
    z = x @ coef[: x.shape[1]] + fit.intercept  # (J,)
    own = np.asarray(x[conv.jid, conv.channel]).ravel()  # the touch's channel feature value
    zj = z[conv.jid]
    score = _sigmoid(zj) - _sigmoid(zj - coef[conv.channel] * own)
    credit = channel_score_credits(conv, score)
    if not carried:
        return credit_columns(conv, credit)
    out = credits_frame(conv, credit)
    out.attrs["channel_summary"] = {"channel": list(fit.channels), "coefficient": fit.coef.tolist()}
    out.attrs["model"] = "algorithmic"
    return out


def algorithmic_credits(
    jr: Journeys,
    features: str = "presence",
    min_paths: int = MIN_PATHS,
    regularisation: float = 1.0,
    journey_weights: np.ndarray | None = None,
) -> pd.DataFrame:
    return algorithmic_apply(jr, fit_algorithmic(jr, features, min_paths, regularisation, journey_weights))
