"""Algorithmic attribution: a logistic model of conversion on the path's channels.

Features per path: presence (default) or touch counts of each channel. The fit
uses every path, converting and not (scikit-learn LogisticRegression, L2). A
converting path's channel c scores p(path) − p(path without c), its marginal
effect on the predicted conversion probability; scores are clipped at 0 and
renormalised over the path's channels, then split over that channel's touches.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression

from attribution.engine import channel_score_credits, credits_frame
from attribution.errors import MIN_PATHS, InsufficientDataError, require_paths
from attribution.journeys import Journeys


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def fit_algorithmic(
    jr: Journeys,
    features: str = "presence",
    min_paths: int = MIN_PATHS,
    regularisation: float = 1.0,
    journey_weights: np.ndarray | None = None,
):
    """Fitted (coefficients (C,), intercept, design matrix (J, C) csr).
    `journey_weights`: count each journey that many times (a bootstrap resample)."""
    if features not in ("presence", "counts"):
        raise ValueError(f"features must be presence or counts, got {features!r}")
    has_touch = jr.lengths > 0
    if journey_weights is not None:
        has_touch = has_touch & (np.asarray(journey_weights) > 0)
    require_paths(
        "the algorithmic model",
        int(has_touch.sum())
        if journey_weights is None
        else int(round(np.asarray(journey_weights, dtype=float)[has_touch].sum())),
        min_paths,
    )
    y = jr.converted[has_touch]
    if y.all() or not y.any():
        raise InsufficientDataError(
            "the algorithmic model needs both converting and non-converting paths to learn what drives conversion"
        )
    x = sp.csr_matrix((np.ones(len(jr.jid)), (jr.jid, jr.channel)), shape=(jr.n_journeys, len(jr.channels)))
    x.sum_duplicates()
    if features == "presence":
        x.data[:] = 1.0
    model = LogisticRegression(C=regularisation, max_iter=1000)
    model.fit(
        x[has_touch],
        y,
        sample_weight=None if journey_weights is None else np.asarray(journey_weights, dtype=float)[has_touch],
    )
    return model.coef_.ravel(), float(model.intercept_[0]), x


def algorithmic_credits(
    jr: Journeys,
    features: str = "presence",
    min_paths: int = MIN_PATHS,
    regularisation: float = 1.0,
    journey_weights: np.ndarray | None = None,
) -> pd.DataFrame:
    coef, intercept, x = fit_algorithmic(jr, features, min_paths, regularisation, journey_weights)
    z = x @ coef + intercept  # (J,)
    conv = jr.converting
    own = np.asarray(x[conv.root_jid, conv.channel]).ravel()  # the touch's channel feature value
    zj = z[conv.root_jid]
    score = _sigmoid(zj) - _sigmoid(zj - coef[conv.channel] * own)
    out = credits_frame(conv, channel_score_credits(conv, score))
    out.attrs["channel_summary"] = {"channel": list(jr.channels), "coefficient": coef.tolist()}
    out.attrs["model"] = "algorithmic"
    return out
