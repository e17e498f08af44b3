"""Prepare once, run many: attribute_many and the shared output columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from attribution import JourneyOptions, attribute, attribute_many, list_presets, load_model, prepare, run_model
from attribution.synthetic import synthetic_touches
from tests.attribution.conftest import CONVERSION

OWN_LOOKBACK = """
model "Short window"
  lookback 7 days
  credit first_touch where channel not in ("direct") with 0.5
  credit other_touches with 0.5 by time_decay(half_life 2 days)
end
"""


@pytest.fixture(scope="module")
def touches() -> pd.DataFrame:
    frame = synthetic_touches(400, seed=11)
    frame["journey_id"] = "j" + frame["journey_id"].astype(str)  # text ids keep their dtype
    frame["utm_campaign"] = np.where(frame.index % 3 == 0, None, "spring")
    empty = pd.DataFrame(
        {
            "journey_id": ["z1"],
            "touch_ts": [pd.NaT],
            "channel": [""],
            "converted": [1],
            "conversion_ts": [CONVERSION],
            "revenue": [7.0],
            "milestones": [""],
            "session_id": [-1],
            "utm_campaign": ["none"],
        }
    )
    return pd.concat([frame, empty], ignore_index=True)


def test_attribute_many_equals_attribute_per_model(touches):
    models = {**{name: name for name in list_presets()}, "short": OWN_LOOKBACK, "markov": "markov"}
    options = JourneyOptions(lookback_days=20)
    many = attribute_many(touches, models, options, min_paths=10)
    assert list(many) == list(models)
    for name, model in models.items():
        one = attribute(touches, model, options, min_paths=10)
        pd.testing.assert_frame_equal(many[name], one)
        assert list(one.columns[:5]) == ["journey_id", "touch_index", "channel", "credit", "revenue_credit"]
        assert one["journey_id"].dtype == touches["journey_id"].dtype
    unassigned = many["linear"][many["linear"]["journey_id"] == "z1"]
    assert unassigned[["channel", "credit", "utm_campaign"]].values.tolist() == [["unassigned", 1.0, "none"]]


def test_frames_of_one_journeys_are_independent(touches):
    jr = prepare(touches)
    a = run_model(jr, load_model("first_touch"))
    b = run_model(jr, load_model("last_touch"))
    before = b.copy()
    a.loc[:, "channel"] = "changed"
    a.loc[:, "session_id"] = -99
    a["extra"] = 1
    pd.testing.assert_frame_equal(b, before)
    c = run_model(jr, load_model("first_touch"))
    assert (c["channel"] != "changed").all() and "extra" not in c.columns


def test_on_model_reports_progress(touches):
    seen = []
    attribute_many(touches, {"a": "linear", "b": "u_shaped"}, on_model=seen.append)
    assert seen == ["a", "b"]
