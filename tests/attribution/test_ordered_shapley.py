"""The ordered Shapley model: reference vectors computed on paper, sampling vs exact, its refusals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from attribution import InsufficientDataError, UnknownModel, attribute, channel_summary, prepare
from attribution import ordered_shapley as osh
from attribution.ordered_shapley import ordered_shapley_credits, ordered_shapley_values
from attribution.shapley import shapley_credits
from attribution.synthetic import synthetic_touches
from tests.attribution.conftest import credits_by_touch, journey


def paths_frame(paths):
    return pd.concat([journey(p, journey_id=f"j{i}", converted=c) for i, (p, c) in enumerate(paths)], ignore_index=True)


# first-exposure sequences: (a,b) 3 of 3 convert (j2 is a > b > a), (b,a) 1 of 3, (a) 1 of 3, (b) 1 of 2
ORDER = paths_frame(
    [
        (["a", "b"], 1),
        (["a", "b"], 1),
        (["a", "b", "a"], 1),
        (["b", "a"], 1),
        (["b", "a"], 0),
        (["b", "a"], 0),
        (["a"], 1),
        (["a"], 0),
        (["a"], 0),
        (["b"], 1),
        (["b"], 0),
    ]
)


def test_order_matters_by_hand():
    # no shrinkage: v(a)=1/3, v(b)=1/2, v(a,b)=1, v(b,a)=1/3
    # (a,b): φa = ½·⅓ + ½(1 − ½) = 5/12, φb = ½·½ + ½(1 − ⅓) = 7/12
    # (b,a): φb = ½·½ + ½(⅓ − ⅓) = 1/4, φa = ½·⅓ + ½(⅓ − ½) = 1/12 → b 3/4, a 1/4
    out = ordered_shapley_credits(prepare(ORDER), min_paths=1, prior_paths=0)
    assert credits_by_touch(out, "j0") == pytest.approx([5 / 12, 7 / 12])
    assert credits_by_touch(out, "j3") == pytest.approx([3 / 4, 1 / 4])  # touches b, a
    # a > b > a is the sequence (a,b): a's 5/12 split over its two touches
    assert credits_by_touch(out, "j2") == pytest.approx([5 / 24, 7 / 12, 5 / 24])
    assert credits_by_touch(out, "j6") == pytest.approx([1.0])
    # the set Shapley model sees one coalition {a,b} (4 of 6): the same split whatever the order
    sets = shapley_credits(prepare(ORDER), min_paths=1)
    assert credits_by_touch(sets, "j0") == pytest.approx(credits_by_touch(sets, "j3")[::-1])


def test_shrinkage_towards_the_set_rate_by_hand():
    # prior of 3 paths at the set rate 4/6: v(a,b) = (3 + 3·⅔)/6 = 5/6, v(b,a) = (1 + 2)/6 = ½;
    # one-channel sets have one order: v(a)=⅓, v(b)=½ unchanged
    # (a,b): φa = ½·⅓ + ½(5/6 − ½) = ⅓, φb = ½·½ + ½(5/6 − ⅓) = ½ → 2/5, 3/5
    # (b,a): φb = ½·½ + ½(½ − ⅓) = ⅓, φa = ½·⅓ + ½(½ − ½) = 1/6 → b 2/3, a 1/3
    out = ordered_shapley_credits(prepare(ORDER), min_paths=1, prior_paths=3)
    assert credits_by_touch(out, "j0") == pytest.approx([2 / 5, 3 / 5])
    assert credits_by_touch(out, "j3") == pytest.approx([2 / 3, 1 / 3])
    # an infinite prior is the set Shapley model
    limit = ordered_shapley_credits(prepare(ORDER), min_paths=1, prior_paths=1e12)
    sets = shapley_credits(prepare(ORDER), min_paths=1)
    np.testing.assert_allclose(limit["credit"], sets["credit"], atol=1e-9)


def test_unseen_order_reads_its_set_rate_by_hand():
    # (a,b,c) 1 of 1, (c,a) 1 of 2; nothing else observed. In the game of (a,b,c) the subsequence
    # (a,c) was never seen: it reads the rate of the set {a,c} (½); all other proper subsets 0.
    # φa = (1/6)(v(ac) − v(c)) + (1/3)(v(abc) − v(bc)) = 1/12 + 1/3 = 5/12 = φc, φb = (1/3)(1 − ½) = 1/6
    frame = paths_frame([(["a", "b", "c"], 1), (["c", "a"], 1), (["c", "a"], 0)])
    jr = prepare(frame)
    sequence, table, stderr = ordered_shapley_values(jr, min_paths=1, prior_paths=0)
    codes = {name: i for i, name in enumerate(jr.channels)}
    row = table[sequence[0]]
    assert [row[codes[c]] for c in "abc"] == pytest.approx([5 / 12, 1 / 6, 5 / 12])
    assert not stderr.any()
    out = ordered_shapley_credits(jr, min_paths=1, prior_paths=0)
    assert credits_by_touch(out, "j0") == pytest.approx([5 / 12, 1 / 6, 5 / 12])
    assert credits_by_touch(out, "j1") == pytest.approx([0.5, 0.5])  # v(c)=v(a)=0, v(c,a)=½


def test_negative_values_are_clipped():
    # v(a)=1, v(b)=0, v(a,b)=½: φa = ½ + ½·½ = ¾, φb = ½·0 + ½(½ − 1) = −¼ → a gets everything
    frame = paths_frame([(["a"], 1), (["b"], 0), (["a", "b"], 1), (["a", "b"], 0)])
    out = ordered_shapley_credits(prepare(frame), min_paths=1, prior_paths=0)
    assert credits_by_touch(out, "j2") == pytest.approx([1.0, 0.0])


def test_sampling_matches_exact_within_its_error(monkeypatch):
    jr = prepare(synthetic_touches(3000, seed=7, mean_length=5))
    _, exact, none = ordered_shapley_values(jr)
    assert not none.any()
    monkeypatch.setattr(osh, "EXACT_LIMIT", 2)
    _, sampled, stderr = ordered_shapley_values(jr, seed=1, n_permutations=4000)
    used = stderr > 0
    assert used.any()
    assert (np.abs(sampled - exact)[used] <= 5 * stderr[used] + 1e-12).all()
    out = ordered_shapley_credits(jr, seed=1, n_permutations=200)
    assert "max_shapley_stderr" in channel_summary(out).columns
    np.testing.assert_allclose(out.groupby("journey_id")["credit"].sum(), 1.0, atol=1e-9)


def test_weights_count_journeys_that_many_times():
    jr = prepare(ORDER)
    doubled = pd.concat([ORDER, ORDER.assign(journey_id=ORDER["journey_id"] + "x")], ignore_index=True)
    weighted = ordered_shapley_credits(jr, min_paths=1, journey_weights=np.full(jr.n_journeys, 2.0))
    copied = ordered_shapley_credits(prepare(doubled), min_paths=1)
    a = weighted.set_index(["journey_id", "touch_index"])["credit"]
    b = copied.set_index(["journey_id", "touch_index"])["credit"].loc[a.index]
    np.testing.assert_allclose(a, b, atol=1e-12)


def test_too_many_distinct_channels_in_a_path_is_refused_with_the_reason():
    wide = journey([f"c{i:02d}" for i in range(osh.MAX_PATH_CHANNELS + 1)], journey_id="wide")
    frame = pd.concat([wide, ORDER], ignore_index=True)
    with pytest.raises(InsufficientDataError, match="21 distinct channels.*at most 20.*group rare channels"):
        attribute(frame, "ordered_shapley", min_paths=1)


def test_too_few_paths_and_options_are_refused():
    with pytest.raises(InsufficientDataError, match="ordered Shapley model needs at least 100 paths"):
        attribute(ORDER, "ordered_shapley")
    with pytest.raises(UnknownModel, match="takes no option"):
        attribute(ORDER, "ordered_shapley:2")
