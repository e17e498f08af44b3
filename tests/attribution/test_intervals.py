"""Bootstrap intervals on every credited number (attribution/intervals.py): they contain the point
estimate, narrow with more data, cover a known truth at about the nominal 95% on simulated data
(a rule-based model and a data-driven one), add up over disjoint days, and are missing with a
reason when they cannot be computed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from attribution import load_model, prepare, run_model
from attribution.intervals import combine, credit_intervals, percentile_bounds, poisson_weights, replicate_totals
from attribution.synthetic import synthetic_touches

CHANNELS = np.array(["search", "email", "social"], dtype=object)
POPULARITY = np.array([0.5, 0.3, 0.2])


def simulated(rate: float, p_convert: float, rng: np.random.Generator) -> pd.DataFrame:
    """A Poisson(rate) number of journeys of 1..3 touches of iid channels, converting with
    probability p_convert independently of their channels: under linear, the expected credited
    conversions of channel c are rate × p_convert × POPULARITY[c]."""
    n = rng.poisson(rate)
    lengths = rng.integers(1, 4, n)
    jid = np.repeat(np.arange(n), lengths)
    ch = rng.choice(3, len(jid), p=POPULARITY)
    converted = (rng.random(n) < p_convert)[jid]
    ts = pd.Timestamp("2026-03-01", tz="UTC") + pd.to_timedelta(np.arange(len(jid)) % 5, unit="h")
    end = pd.Timestamp("2026-03-02", tz="UTC")
    return pd.DataFrame(
        {
            "journey_id": jid,
            "touch_ts": ts,
            "channel": CHANNELS[ch],
            "converted": converted.astype(int),
            "conversion_ts": pd.Series(end, index=range(len(jid))).where(converted),
            "revenue": np.where(converted, 10.0, np.nan),
        }
    )


def intervals_of(touches: pd.DataFrame, model: str, samples: int = 200, seed: int = 0, refit: bool = False):
    spec = load_model(model)
    jr = prepare(touches)
    credits = run_model(jr, spec)
    index = pd.Index(pd.unique(touches["journey_id"]))
    weights = poisson_weights(len(index), samples, seed)
    fit = None
    if refit:
        codes = index.get_indexer(jr.id_index)

        def fit(b):
            return run_model(jr, spec, journey_weights=weights[b, codes])

    return credit_intervals(credits, index, weights, ["channel"], refit=fit).table().set_index("channel")


def test_replicate_totals_is_the_weighted_sum_of_each_resample():
    journey = np.array([0, 0, 1, 2])
    group = np.array([0, 1, 1, 0])
    values = np.array([0.5, 0.5, 1.0, 2.0])
    weights = np.array([[1, 0, 2], [0, 3, 1]], dtype=float)
    # resample 0: group 0 = 0.5·1 + 2·2, group 1 = 0.5·1 + 1·0; resample 1: 2·1, 0 + 1·3
    assert replicate_totals(journey, group, values, weights, 2).tolist() == [[4.5, 0.5], [2.0, 3.0]]


@pytest.mark.parametrize(
    "model,refit", [("linear", False), ("u_shaped", False), ("markov", True), ("shapley", True), ("algorithmic", True)]
)
def test_every_model_interval_contains_its_point_estimate(model, refit):
    samples = 20 if model == "algorithmic" else 60  # a logistic fit per resample
    table = intervals_of(synthetic_touches(3000, seed=4), model, samples=samples, refit=refit)
    assert table["reason"].isna().all()
    for name in ("conversions", "revenue"):
        assert (table[f"{name}_lower"] <= table[name] + 1e-9).all(), table
        assert (table[name] <= table[f"{name}_upper"] + 1e-9).all(), table
        assert (table[f"{name}_upper"] > table[f"{name}_lower"]).all()


@pytest.mark.parametrize("model,refit", [("linear", False), ("markov", True)])
def test_intervals_narrow_with_more_data(model, refit):
    def relative_width(n):
        t = intervals_of(synthetic_touches(n, seed=9), model, samples=80, refit=refit)
        return ((t["conversions_upper"] - t["conversions_lower"]) / t["conversions"]).median()

    small, large = relative_width(1500), relative_width(12000)
    assert large < 0.6 * small  # ≈ 1/√8 ≈ 0.35 in theory


def test_linear_intervals_cover_the_truth_at_about_95_percent():
    rng = np.random.default_rng(2026)
    rate, p = 400, 0.3
    truth = rate * p * POPULARITY
    hits = total = 0
    for i in range(150):
        table = intervals_of(simulated(rate, p, rng), "linear", samples=200, seed=i).reindex(CHANNELS)
        inside = (table["conversions_lower"].to_numpy() <= truth) & (truth <= table["conversions_upper"].to_numpy())
        hits, total = hits + int(inside.sum()), total + len(CHANNELS)
    assert 0.90 <= hits / total <= 0.99, hits / total


def test_markov_intervals_cover_the_models_population_value():
    """The truth of a data-driven model is its value on the population: taken from one very
    large sample of the same process, then small samples' refit intervals are checked against it."""
    big = synthetic_touches(400_000, seed=1)
    spec = load_model("markov")
    jr = prepare(big)
    big_credits = run_model(jr, spec).groupby("channel")["credit"].sum()
    n_big = jr.n_journeys
    hits = total = 0
    for i in range(25):
        n = 4000
        sample = synthetic_touches(n, seed=1000 + i)
        table = intervals_of(sample, "markov", samples=60, seed=i, refit=True)
        truth = big_credits.reindex(table.index) * n / n_big
        inside = (table["conversions_lower"] <= truth) & (truth <= table["conversions_upper"])
        hits, total = hits + int(inside.sum()), total + len(table)
    assert 0.85 <= hits / total <= 1.0, hits / total


def test_too_few_conversions_give_no_interval_and_a_reason():
    table = intervals_of(synthetic_touches(40, seed=3), "linear")
    assert table["conversions_lower"].isna().all() and table["revenue_upper"].isna().all()
    assert table["reason"].str.contains("too few conversions").all()
    assert (table["conversions"] > 0).all()  # the point estimates are still there


def test_a_resample_a_data_driven_model_cannot_fit_gives_no_interval_and_a_reason():
    touches = synthetic_touches(110, seed=3)  # ~110 paths: some resamples fall below Markov's 100
    spec = load_model("markov")
    jr = prepare(touches)
    credits = run_model(jr, spec)  # the data as they are fit
    index = pd.Index(pd.unique(touches["journey_id"]))
    weights = poisson_weights(len(index), 60, seed=0)
    codes = index.get_indexer(jr.id_index)
    result = credit_intervals(
        credits,
        index,
        weights,
        ["channel"],
        min_conversions=5,
        refit=lambda b: run_model(jr, spec, journey_weights=weights[b, codes]),
    )
    table = result.table()
    assert table["conversions_lower"].isna().all() and result.conversion_samples is None
    assert "could not be fit" in result.reason and "100 paths" in result.reason
    assert (table["conversions"] > 0).any()


def test_replicates_of_disjoint_days_add_up_to_the_range():
    touches = synthetic_touches(4000, seed=5)
    jr = prepare(touches)
    credits = run_model(jr, load_model("linear"))
    credits["day"] = np.where(credits["journey_id"] % 2 == 0, "even", "odd")
    index = pd.Index(pd.unique(touches["journey_id"]))
    weights = poisson_weights(len(index), 50, seed=1)
    by_day = credit_intervals(credits, index, weights, ["channel", "day"])
    whole = credit_intervals(credits, index, weights, ["channel"])
    groups = by_day.groups
    for g, channel in enumerate(whole.groups["channel"]):
        parts = [
            (by_day.conversions[k], by_day.conversion_samples[:, k])
            for k in np.flatnonzero(groups["channel"].to_numpy() == channel)
        ]
        point, samples = combine(parts)
        assert point == pytest.approx(whole.conversions[g])
        np.testing.assert_allclose(samples, whole.conversion_samples[:, g])
    assert combine([(1.0, None), (2.0, np.ones(3))]) == (3.0, None)


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError, match="samples"):
        poisson_weights(10, samples=1)
    with pytest.raises(ValueError, match="level"):
        percentile_bounds(np.ones((5, 2)), level=1.5)
    touches = synthetic_touches(100, seed=1)
    credits = run_model(prepare(touches), load_model("linear"))
    with pytest.raises(ValueError, match="without resample weights"):
        credit_intervals(credits, pd.Index([0, 1]), poisson_weights(2, 5), ["channel"])
