"""The reference vectors of docs/attribution.md ("Reference vectors"), to 1e-6, for every preset."""

from __future__ import annotations

import pytest

from attribution import attribute, list_presets
from tests.attribution.conftest import credits_by_touch, journey

REFERENCE = journey(
    ["organic_search", "email", "paid_search", "email", "direct"],
    ages=[20, 14, 7, 1, 0],
    milestones=["", "mql", "", "sql", ""],
)

VECTORS = {
    "first_touch": [1, 0, 0, 0, 0],
    "last_touch": [0, 0, 0, 0, 1],
    "linear": [0.2] * 5,
    "time_decay": [0.049400, 0.089486, 0.178972, 0.324198, 0.357944],
    "u_shaped": [0.4, 0.066667, 0.066667, 0.066667, 0.4],
    "w_shaped": [0.3, 0.3, 0.05, 0.05, 0.3],
    "z_shaped": [0.225, 0.225, 0.1, 0.225, 0.225],
    "last_non_direct": [0, 0, 0, 1, 0],
}

CHANNEL_WEIGHTED = """
model "Channel Weighted"
  weight channel("paid_search") by 1.5
  weight channel("email") by 1.2
  distribute proportionally
end
"""


def test_every_preset_has_a_vector():
    assert sorted(VECTORS) == list_presets()


@pytest.mark.parametrize("model", sorted(VECTORS))
def test_reference_journey(model):
    out = attribute(REFERENCE, model)
    assert credits_by_touch(out) == pytest.approx(VECTORS[model], abs=1e-6)
    assert out["revenue_credit"].sum() == pytest.approx(100.0)


@pytest.mark.parametrize(
    "channels,expected",
    [
        (["email"], [1.0]),
        (["email", "social"], [0.5, 0.5]),
        (["email", "social", "direct"], [0.4, 0.2, 0.4]),
    ],
)
def test_u_shaped_short_journeys(channels, expected):
    assert credits_by_touch(attribute(journey(channels), "u_shaped")) == pytest.approx(expected, abs=1e-6)


def test_w_shaped_without_mql():
    out = attribute(journey(["a", "b", "c", "d"]), "w_shaped")
    assert credits_by_touch(out) == pytest.approx([0.428571, 0.071429, 0.071429, 0.428571], abs=1e-6)


def test_w_shaped_mql_on_first_touch():
    out = attribute(journey(["a", "b", "c", "d"], milestones=["mql", "", "", ""]), "w_shaped")
    assert credits_by_touch(out) == pytest.approx([0.6, 0.05, 0.05, 0.3], abs=1e-6)


def test_channel_weighted():
    out = attribute(journey(["paid_search", "email", "social"]), CHANNEL_WEIGHTED)
    assert credits_by_touch(out) == pytest.approx([0.405405, 0.324324, 0.270270], abs=1e-6)


def test_u_shaped_program_of_the_original_design():
    program = """
model "U-Shaped Attribution"
  credit first_touch with 0.4
  credit last_touch with 0.4
  credit middle_touches with 0.2 equally
end
"""
    out = attribute(REFERENCE, program)
    assert credits_by_touch(out) == pytest.approx(VECTORS["u_shaped"], abs=1e-6)


def test_last_non_direct_all_direct_falls_back_to_linear():
    out = attribute(journey(["direct", "direct", "direct", "direct"]), "last_non_direct")
    assert credits_by_touch(out) == pytest.approx([0.25] * 4)


def test_many_journeys_at_once_match_one_by_one():
    import pandas as pd

    parts = [
        journey(["a", "b", "c"][: i % 3 + 1] + ["direct"] * (i % 2), journey_id=f"j{i}", milestones=None)
        for i in range(12)
    ]
    together = attribute(pd.concat(parts, ignore_index=True), "u_shaped")
    for i, part in enumerate(parts):
        alone = attribute(part, "u_shaped")
        assert credits_by_touch(together, f"j{i}") == pytest.approx(credits_by_touch(alone, f"j{i}"))
