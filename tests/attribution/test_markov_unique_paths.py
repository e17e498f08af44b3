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
        chans = [jr.channels[c] for c in jr.channel[jr.starts[j]:jr.starts[j + 1]]]
        if not chans:
            continue
        path = [c for i, c in enumerate(chans) if i == 0 or c != chans[i - 1]]
        states = ["start"] + [tuple(path[max(0, i - order + 1):i + 1]) for i in range(len(path))]
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
    paths = [list("abababab"), list("abababac"), list("abababab"), list("ab"), list("aba"),
             list("ababababab"), list("b"), list("abababab")]
    frame = pd.concat([journey(p, journey_id=f"j{i}", converted=int(i in (0, 3)))
                       for i, p in enumerate(paths)], ignore_index=True)
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
        np.testing.assert_allclose(fit_markov(jr, 2, _chunk=chunk).removal_effects, one.removal_effects,
                                   rtol=0, atol=1e-12)
