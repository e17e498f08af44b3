"""Markov transitions counted from unique (path, converted) aggregates: exact."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from attribution import JourneyOptions, prepare
from attribution.markov import _unique_paths, fit_markov
from attribution.synthetic import synthetic_touches
from tests.attribution.conftest import journey


def reference_removal_effects(jr, order):
    """The absorbing chain built from every touch, one path at a time (slow, obvious)."""
    from collections import Counter

    counts = Counter()
    for j in range(jr.n_journeys):
        chans = [jr.channels[c] for c in jr.channel[jr.starts[j] : jr.starts[j + 1]]]
        if not chans:
            continue
        path = [c for i, c in enumerate(chans) if i == 0 or c != chans[i - 1]]
        states = ["start"] + [tuple(path[max(0, i - order + 1) : i + 1]) for i in range(len(path))]
        states.append("conv" if jr.converted[j] else "null")
        counts.update(zip(states[:-1], states[1:]))
    transient = sorted({s for s, _ in counts}, key=str)
    index = {s: i for i, s in enumerate(transient)}

    def p_conv(removed):
        keep = [s for s in transient if s == "start" or removed not in s]
        idx = {s: i for i, s in enumerate(keep)}
        q, b = np.zeros((len(keep), len(keep))), np.zeros(len(keep))
        for s in keep:
            out = sum(n for (a, _), n in counts.items() if a == s)
            for (a, d), n in counts.items():
                if a != s:
                    continue
                if d == "conv":
                    b[idx[s]] += n / out
                elif d in idx:
                    q[idx[s], idx[d]] += n / out
        return np.linalg.solve(np.eye(len(keep)) - q, b)[idx["start"]]

    assert index  # at least start
    p_all = p_conv(None)
    return {c: 1 - p_conv(c) / p_all for c in sorted({c for s in transient if s != "start" for c in s})}


@pytest.mark.parametrize("order", [1, 2, 3])
def test_removal_effects_equal_the_per_path_chain(order):
    jr = prepare(synthetic_touches(300, seed=5, mean_length=4), JourneyOptions(lookback_days=None))
    got = fit_markov(jr, order, min_paths=1)
    want = reference_removal_effects(jr, order)
    for c, re in want.items():
        assert got.removal_effects[list(jr.channels).index(c)] == pytest.approx(re, abs=1e-9)


@pytest.mark.parametrize("chunk", [1, 2, 3, 5])
def test_unique_paths_is_exact_in_chunks(chunk):
    # long paths that share long prefixes, so several chunks are needed
    paths = [
        list("abababab"),
        list("abababac"),
        list("abababab"),
        list("ab"),
        list("aba"),
        list("ababababab"),
        list("b"),
        list("abababab"),
    ]
    frame = pd.concat(
        [journey(p, journey_id=f"j{i}", converted=int(i in (0, 3))) for i, p in enumerate(paths)], ignore_index=True
    )
    jr = prepare(frame, JourneyOptions(lookback_days=None))
    codes = _unique_paths(jr, chunk)
    default = _unique_paths(jr)
    ids = list(jr.journey_ids[jr.nonempty])
    key = {j: ("".join(p), int(int(j[1:]) in (0, 3))) for j, p in zip(ids, [paths[int(j[1:])] for j in ids])}
    for a in range(len(ids)):
        for b in range(len(ids)):
            same = key[ids[a]] == key[ids[b]]
            assert (codes[a] == codes[b]) == same
            assert (default[a] == default[b]) == same


def test_chunked_fit_equals_single_pass():
    jr = prepare(synthetic_touches(2000, seed=9, mean_length=6, max_length=30), JourneyOptions(lookback_days=None))
    one = fit_markov(jr, 2)
    for chunk in (1, 4, 7):
        np.testing.assert_allclose(
            fit_markov(jr, 2, _chunk=chunk).removal_effects, one.removal_effects, rtol=0, atol=1e-12
        )


@pytest.mark.parametrize("order", [1, 2])
def test_journey_weights_fit_as_if_journeys_were_repeated(order):
    """Weight w on a journey = the journey appearing w times (0 = absent): what the bootstrap relies on."""
    touches = synthetic_touches(400, seed=11, mean_length=4)
    jr = prepare(touches, JourneyOptions(lookback_days=None))
    weights = np.random.default_rng(3).integers(0, 4, len(jr.lengths))
    copies = []
    for journey_id, w in zip(jr.journey_ids, weights):
        rows = touches[touches["journey_id"] == journey_id]
        copies += [rows.assign(journey_id=f"{journey_id}#{k}") for k in range(w)]
    repeated = prepare(pd.concat(copies, ignore_index=True), JourneyOptions(lookback_days=None))
    got = fit_markov(jr, order, min_paths=1, journey_weights=weights)
    want = fit_markov(repeated, order, min_paths=1)
    assert (got.n_paths, got.n_conversions) == (want.n_paths, want.n_conversions)
    by_channel = dict(zip(want.channels, want.removal_effects))
    for channel, effect in zip(got.channels, got.removal_effects):
        assert effect == pytest.approx(by_channel.get(channel, 0.0), abs=1e-9)
    np.testing.assert_allclose(
        fit_markov(jr, order, journey_weights=np.ones(len(jr.lengths))).removal_effects,
        fit_markov(jr, order).removal_effects,
        rtol=0,
        atol=1e-12,
    )


def test_weighted_bootstrap_matches_the_resampling_bootstrap():
    from attribution import attribute
    from attribution.bootstrap import bootstrap_channel_totals, bootstrap_weighted_totals
    from attribution.markov import markov_summary

    touches = synthetic_touches(3000, seed=2, mean_length=4)
    options = JourneyOptions(lookback_days=None)
    jr = prepare(touches, options)

    def refit(sample):
        summary = pd.DataFrame(attribute(sample, "markov", options).attrs["channel_summary"])
        return summary.rename(columns={"total_conversions": "credit"})

    slow = bootstrap_channel_totals(refit, touches, n=40, ci=0.9, seed=1).set_index("channel")
    fast = bootstrap_weighted_totals(
        lambda w: markov_summary(fit_markov(jr, journey_weights=w)).set_index("channel")["total_conversions"],
        len(jr.lengths),
        n=40,
        ci=0.9,
        seed=1,
    ).set_index("channel")
    np.testing.assert_allclose(fast.loc[slow.index, "conversions"], slow["conversions"], rtol=1e-9)
    # same distribution, different draws: the intervals agree to within sampling noise
    width = (slow["upper"] - slow["lower"]).clip(lower=1.0)
    assert ((fast.loc[slow.index, "lower"] - slow["lower"]).abs() < width).all()
    assert ((fast.loc[slow.index, "upper"] - slow["upper"]).abs() < width).all()
    assert (fast["lower"] <= fast["conversions"] + 1e-9).all() and (fast["conversions"] <= fast["upper"] + 1e-9).all()
