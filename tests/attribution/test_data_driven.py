"""Markov (exact), Shapley and algorithmic models against hand-computed cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from attribution import InsufficientDataError, UnknownModel, attribute, channel_summary, markov, prepare, shapley
from attribution.algorithmic import algorithmic_credits
from attribution.bootstrap import bootstrap_channel_totals
from attribution.markov import fit_markov, markov_credits
from attribution.shapley import shapley_credits, shapley_values
from attribution.synthetic import synthetic_touches
from tests.attribution.conftest import credits_by_touch, journey


def paths_frame(paths):
    return pd.concat([journey(p, journey_id=f"j{i}", converted=c) for i, (p, c) in enumerate(paths)], ignore_index=True)


# a > b converts, a does not, b converts, a > c does not, c > b converts
CHAIN = paths_frame([(["a", "b"], 1), (["a"], 0), (["b"], 1), (["a", "c"], 0), (["c", "b"], 1)])


def test_markov_removal_effects_by_hand():
    # Transitions: start→a 3/5, start→b 1/5, start→c 1/5; a→b, a→null, a→c 1/3 each;
    # b→conv 1; c→b 1/2, c→null 1/2.
    # P(b)=1, P(c)=1/2, P(a)=1/3 + 1/3·1/2 = 1/2, P(start)=3/5·1/2 + 1/5 + 1/5·1/2 = 0.6.
    # without a: 1/5 + 1/5·1/2 = 0.3 → RE 0.5; without b: 0 → RE 1;
    # without c: P(a)=1/3 → 3/5·1/3 + 1/5 = 0.4 → RE 1/3.
    result = fit_markov(prepare(CHAIN), order=1, min_paths=1)
    assert result.conversion_probability == pytest.approx(0.6, abs=1e-12)
    re = dict(zip(result.channels, result.removal_effects))
    assert re == pytest.approx({"a": 0.5, "b": 1.0, "c": 1 / 3}, abs=1e-9)


def test_markov_order_two_by_hand():
    # states (a) (b) (c) (a,b) (a,c) (c,b): (a)→(a,b)→conv, (a)→(a,c)→null, (a)→null;
    # (c)→(c,b)→conv. P=3/5·1/3 + 1/5 + 1/5 = 0.6; without a: 0.4 → RE 1/3.
    result = fit_markov(prepare(CHAIN), order=2, min_paths=1)
    re = dict(zip(result.channels, result.removal_effects))
    assert re == pytest.approx({"a": 1 / 3, "b": 1.0, "c": 1 / 3}, abs=1e-9)


def test_markov_credits_and_summary():
    out = markov_credits(prepare(CHAIN), min_paths=1)
    # a > b: RE 0.5 and 1 → 1/3, 2/3; c > b: 1/3 and 1 → 1/4, 3/4
    assert credits_by_touch(out, "j0") == pytest.approx([1 / 3, 2 / 3])
    assert credits_by_touch(out, "j4") == pytest.approx([0.25, 0.75])
    summary = channel_summary(out).set_index("channel")
    total = 0.5 + 1 + 1 / 3
    assert summary.loc["a", "total_conversions"] == pytest.approx(3 * 0.5 / total)
    assert summary.loc["b", "removal_effect"] == pytest.approx(1.0)


def test_markov_repeated_channel_touches_share_its_credit():
    frame = paths_frame([(["a", "a", "b"], 1), (["a"], 0), (["b"], 0), (["b"], 1)])
    out = markov_credits(prepare(frame), min_paths=1)
    a, a2, b = credits_by_touch(out, "j0")
    assert a == a2 and a + a2 + b == pytest.approx(1.0)


def test_markov_sparse_solve_matches_dense(monkeypatch):
    frame = synthetic_touches(400, seed=3)
    dense = fit_markov(prepare(frame), order=3)
    monkeypatch.setattr(markov, "DENSE_LIMIT", 0)
    sparse = fit_markov(prepare(frame), order=3)
    np.testing.assert_allclose(sparse.removal_effects, dense.removal_effects, atol=1e-12)


def test_markov_refuses_without_non_converting_paths():
    frame = paths_frame([(["a", "b"], 1), (["b"], 1)])
    with pytest.raises(InsufficientDataError, match="every path converts.*meaningless"):
        fit_markov(prepare(frame), min_paths=1)


@pytest.mark.parametrize("model", ["markov", "markov:3", "shapley", "ordered_shapley", "algorithmic"])
def test_data_driven_models_refuse_small_data(model):
    with pytest.raises(InsufficientDataError, match="needs at least 100 paths"):
        attribute(CHAIN, model)


@pytest.mark.parametrize("model", ["markov", "markov:2", "shapley", "ordered_shapley", "algorithmic"])
def test_data_driven_credits_are_a_distribution(model):
    frame = synthetic_touches(500, seed=5)
    out = attribute(frame, model)
    assert (out["credit"] >= 0).all()
    np.testing.assert_allclose(out.groupby("journey_id")["credit"].sum(), 1.0, atol=1e-9)
    assert set(out["journey_id"]) == set(frame.loc[frame.converted == 1, "journey_id"])
    assert "session_id" in out.columns


def test_unknown_models():
    with pytest.raises(UnknownModel, match="order must be 1 to 4"):
        attribute(CHAIN, "markov:5")
    with pytest.raises(UnknownModel, match="unknown model 'fancy'"):
        attribute(CHAIN, "fancy")


# Shapley: paths a (1 of 2 convert), b (1 of 1), {a,b} (2 of 3): v(a)=1/2, v(b)=1, v(ab)=2/3.
SHAPLEY = paths_frame([(["a", "b"], 1), (["a"], 0), (["b"], 1), (["a", "b"], 0), (["a"], 1), (["b", "a", "b"], 1)])


def test_shapley_by_hand():
    # φa = ½[v(a) − 0] + ½[v(ab) − v(b)] = ½·½ + ½·(−⅓) = 1/12
    # φb = ½[v(b) − 0] + ½[v(ab) − v(a)] = ½ + ½·⅙ = 7/12
    coalition, table, _ = shapley_values(prepare(SHAPLEY), min_paths=1)
    jr = prepare(SHAPLEY)
    codes = {name: i for i, name in enumerate(jr.channels)}
    both = coalition[0]
    assert table[both, codes["a"]] == pytest.approx(1 / 12)
    assert table[both, codes["b"]] == pytest.approx(7 / 12)
    out = shapley_credits(jr, min_paths=1)
    assert credits_by_touch(out, "j0") == pytest.approx([1 / 8, 7 / 8])
    # b > a > b: b's 7/8 split over its two touches
    assert credits_by_touch(out, "j5") == pytest.approx([7 / 16, 1 / 8, 7 / 16])
    assert credits_by_touch(out, "j4") == pytest.approx([1.0])


def test_shapley_negative_values_are_clipped():
    # v(a)=1, v(b)=0, v(ab)=1/2: φa = ½·1 + ½·½ = ¾, φb = ½·0 + ½·(−½) = −¼ → a gets all
    frame = paths_frame([(["a"], 1), (["b"], 0), (["a", "b"], 1), (["a", "b"], 0)])
    out = shapley_credits(prepare(frame), min_paths=1)
    assert credits_by_touch(out, "j2") == pytest.approx([1.0, 0.0])


def test_shapley_sampling_matches_exact_within_its_error(monkeypatch):
    frame = synthetic_touches(3000, seed=7, mean_length=5)
    jr = prepare(frame)
    _, exact, _ = shapley_values(jr)
    monkeypatch.setattr(shapley, "EXACT_LIMIT", 2)
    _, sampled, stderr = shapley_values(jr, seed=1, n_permutations=4000)
    used = stderr > 0
    assert used.any()
    assert (np.abs(sampled - exact)[used] <= 5 * stderr[used] + 1e-12).all()
    out = shapley_credits(jr, seed=1, n_permutations=200)
    assert "max_shapley_stderr" in channel_summary(out).columns


def test_algorithmic_marginal_effects():
    frame = synthetic_touches(3000, seed=11)
    out = algorithmic_credits(prepare(frame))
    coef = pd.DataFrame(out.attrs["channel_summary"]).set_index("channel")["coefficient"]
    positive = out["channel"].map(coef) > 0
    has_positive = positive.groupby(out["journey_id"]).transform("any")
    # a channel that lowers the predicted probability gets nothing, unless no channel helps
    assert out.loc[has_positive & ~positive, "credit"].abs().sum() == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(out.groupby("journey_id")["credit"].sum(), 1.0, atol=1e-9)
    # one-channel paths: all credit to that channel whatever its effect
    single = out.groupby("journey_id")["channel"].transform("nunique") == 1
    assert out.loc[single].groupby("journey_id")["credit"].sum().round(12).eq(1).all()


def test_bootstrap_interval_contains_the_estimate_and_is_seeded():
    frame = synthetic_touches(300, seed=2)
    fn = lambda t: attribute(t, "linear")  # noqa: E731
    ci = bootstrap_channel_totals(fn, frame, n=30, ci=0.9, seed=4)
    assert ((ci["lower"] <= ci["conversions"]) & (ci["conversions"] <= ci["upper"])).all()
    again = bootstrap_channel_totals(fn, frame, n=30, ci=0.9, seed=4)
    pd.testing.assert_frame_equal(ci, again)
    assert ci["conversions"].sum() == pytest.approx(frame.groupby("journey_id").converted.first().sum())
