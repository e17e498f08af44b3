"""Property tests over random journeys (hypothesis): credits are a distribution."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from attribution import attribute, list_presets
from tests.attribution.conftest import CONVERSION

CHANNELS = ["direct", "email", "paid_search", "social", "organic_search"]
MILESTONES = ["", "", "mql", "sql", "mql;sql"]

touch = st.tuples(st.sampled_from(CHANNELS), st.floats(0, 29.9), st.sampled_from(MILESTONES))
journey_strategy = st.tuples(st.lists(touch, max_size=6), st.booleans(), st.floats(0, 1000))


def table(journeys) -> pd.DataFrame:
    rows = []
    for j, (touches, converted, revenue) in enumerate(journeys):
        base = {
            "journey_id": f"j{j}",
            "converted": int(converted or not touches),
            "conversion_ts": CONVERSION if (converted or not touches) else pd.NaT,
            "revenue": revenue,
        }
        if not touches:  # a conversion without touches
            rows.append({**base, "touch_ts": pd.NaT, "channel": "", "milestones": "", "session_id": f"j{j}-none"})
        for t, (channel, age, milestone) in enumerate(touches):
            rows.append(
                {
                    **base,
                    "touch_ts": CONVERSION - pd.Timedelta(days=age),
                    "channel": channel,
                    "milestones": milestone,
                    "session_id": f"j{j}-s{t}",
                }
            )
    return pd.DataFrame(rows)


MODELS = list_presets() + [
    'model "w" weight channel("email") by 3 distribute proportionally end',
    'model "f" credit last_touch where channel not in ("direct", "email") with 0.6 credit other_touches with 0.4 end',
]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    journeys=st.lists(journey_strategy, min_size=1, max_size=8),
    model=st.sampled_from(MODELS),
    seed=st.integers(0, 2**16),
)
def test_credits_are_a_distribution_and_order_free(journeys, model, seed):
    frame = table(journeys)
    out = attribute(frame, model)
    assert (out["credit"] >= -1e-12).all()
    per_journey = out.groupby("journey_id")["credit"].sum()
    converting = frame.loc[frame["converted"] == 1, "journey_id"].unique()
    assert sorted(per_journey.index) == sorted(converting)
    np.testing.assert_allclose(per_journey.to_numpy(), 1.0, atol=1e-9)
    revenue = frame.groupby("journey_id")["revenue"].first()
    got = out.groupby("journey_id")["revenue_credit"].sum()
    np.testing.assert_allclose(got.to_numpy(), revenue[got.index].to_numpy(), rtol=1e-9, atol=1e-9)

    # carried columns stay with their touch
    by_session = frame.set_index("session_id")
    touched = out[out["channel"] != "unassigned"]
    assert (by_session.loc[touched["session_id"], "channel"].to_numpy() == touched["channel"]).all()

    shuffled = attribute(frame.sample(frac=1, random_state=seed), model)
    key = ["journey_id", "touch_index"]
    a, b = out.sort_values(key).reset_index(drop=True), shuffled.sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-12)


@pytest.mark.parametrize("model", list_presets())
def test_empty_input(model):
    frame = pd.DataFrame(columns=["journey_id", "touch_ts", "channel", "converted", "conversion_ts", "revenue"])
    assert attribute(frame, model).empty


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    journeys=st.lists(journey_strategy, min_size=1, max_size=10),
    model=st.sampled_from(["shapley", "ordered_shapley"]),
    seed=st.integers(0, 2**16),
)
def test_shapley_credits_are_a_distribution_and_order_free(journeys, model, seed):
    """The coalition models on any journeys (min_paths=1): every conversion attributed, credits per
    conversion sum to 1, none negative, the input row order irrelevant."""
    assume(any(touches for touches, _, _ in journeys))  # no path at all: the model refuses (tested elsewhere)
    frame = table(journeys)
    out = attribute(frame, model, min_paths=1)
    assert (out["credit"] >= 0).all()
    per_journey = out.groupby("journey_id")["credit"].sum()
    assert sorted(per_journey.index) == sorted(frame.loc[frame["converted"] == 1, "journey_id"].unique())
    np.testing.assert_allclose(per_journey.to_numpy(), 1.0, atol=1e-9)
    shuffled = attribute(frame.sample(frac=1, random_state=seed), model, min_paths=1)
    key = ["journey_id", "touch_index"]
    a, b = out.sort_values(key).reset_index(drop=True), shuffled.sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-12)
