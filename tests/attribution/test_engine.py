"""Rule semantics, journey options, carried columns and edge cases of the engine."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from attribution import JourneyOptions, attribute, load_model
from attribution.journeys import InputError, parse_transform
from tests.attribution.conftest import CONVERSION, credits_by_touch, journey


def run(frame, program, **opts):
    return attribute(frame, program, JourneyOptions(**opts) if opts else None)


def test_redistribution_is_proportional_to_remaining_shares():
    program = """model "m"
      credit first_touch with 0.5
      credit milestone_touch("mql") with 0.3
      credit last_touch with 0.2
    end"""
    # no mql: 0.3 goes to first/last in proportion 0.5:0.2
    assert credits_by_touch(run(journey(["a", "b", "c"]), program)) == pytest.approx([0.5 / 0.7, 0, 0.2 / 0.7])


def test_other_touches_are_what_other_rules_left():
    program = """model "m"
      credit touches where channel in ("email") with 0.5
      credit other_touches with 50%
    end"""
    out = run(journey(["email", "social", "email", "direct"]), program)
    assert credits_by_touch(out) == pytest.approx([0.25, 0.25, 0.25, 0.25])


def test_filtered_positional_selectors():
    program = """model "m"
      credit first_touch where channel not in ("direct", "email") with 0.5
      credit last_touch where channel in ("email") with 0.5
    end"""
    out = run(journey(["direct", "email", "social", "email", "direct"]), program)
    assert credits_by_touch(out) == pytest.approx([0, 0, 0.5, 0.5, 0])


def test_middle_touches_where_filtered():
    program = 'model "m" credit middle_touches where channel in ("a") with 1.0 end'
    out = run(journey(["a", "a", "b", "a", "a"]), program)
    assert credits_by_touch(out) == pytest.approx([0, 0.5, 0, 0.5, 0])


def test_milestone_touch_is_the_first_marked_touch():
    program = 'model "m" credit milestone_touch("sql") with 1.0 end'
    out = run(journey(["a", "b", "c"], milestones=["", "mql;sql", "sql"]), program)
    assert credits_by_touch(out) == pytest.approx([0, 1, 0])


def test_all_rules_dropped_is_linear():
    program = 'model "m" credit touches where channel in ("tv") with 1.0 end'
    assert credits_by_touch(run(journey(["a", "b", "c"]), program)) == pytest.approx([1 / 3] * 3)


def test_time_decay_by_fractional_age():
    program = 'model "m" distribute by time_decay(half_life 1 days) end'
    out = run(journey(["a", "b"], ages=[1.5, 0.5]), program)
    assert credits_by_touch(out) == pytest.approx([1 / 3, 2 / 3])


def test_zero_touch_conversion_goes_to_unassigned():
    frame = pd.DataFrame(
        {
            "journey_id": ["j9"],
            "touch_ts": [pd.NaT],
            "channel": [""],
            "converted": [1],
            "conversion_ts": [CONVERSION],
            "revenue": [50.0],
            "conversion_id": ["c9"],
        }
    )
    out = attribute(frame, "u_shaped")
    assert out[["channel", "credit", "revenue_credit", "conversion_id"]].values.tolist() == [
        ["unassigned", 1.0, 50.0, "c9"]
    ]


def test_non_converting_journeys_get_no_rows():
    frame = pd.concat([journey(["a"]), journey(["b"], journey_id="j2", converted=0)])
    assert attribute(frame, "linear")["journey_id"].tolist() == ["j1"]


def test_extra_columns_are_carried_to_their_touch():
    frame = journey(["a", "b", "c"], session_id=["s1", "s2", "s3"], utm_source=["x", "y", "z"])
    out = run(frame.iloc[::-1], "first_touch").sort_values("touch_index")
    assert out["session_id"].tolist() == ["s1", "s2", "s3"]
    assert out["utm_source"].tolist() == ["x", "y", "z"]
    assert out.loc[out["credit"] == 1, "session_id"].item() == "s1"


def test_ties_are_broken_by_session_id():
    frame = journey(["a", "b"], ages=[1, 1], session_id=["s2", "s1"])
    out = run(frame, "first_touch")
    assert out.loc[out["credit"] == 1, "channel"].item() == "b"


def test_lookback_option_and_model_override():
    frame = journey(["a", "b", "c"], ages=[40, 10, 1])
    assert credits_by_touch(run(frame, "first_touch")) == [1.0, 0.0]  # touch 0 out of 30 days
    assert credits_by_touch(run(frame, "first_touch", lookback_days=60)) == [1.0, 0.0, 0.0]
    program = 'model "m" lookback 5 days credit first_touch with 1.0 end'
    assert run(frame, program)["touch_index"].tolist() == [2]


def test_touches_after_the_conversion_are_dropped():
    frame = journey(["a", "b"], ages=[2, -1])
    assert run(frame, "linear")["channel"].tolist() == ["a"]


def test_lookback_leaving_no_touch_is_unassigned():
    out = run(journey(["a"], ages=[45]), "linear")
    assert out["channel"].tolist() == ["unassigned"]


def test_max_touches_keeps_the_last():
    out = run(journey(["a", "b", "c", "d"]), "first_touch", max_touches=2)
    assert out.set_index("touch_index")["credit"].to_dict() == {2: 1.0, 3: 0.0}


@pytest.mark.parametrize(
    "transform,kept",
    [
        ("unique", ["direct", "a", "a", "b", "direct", "direct"]),
        ("exposure", ["direct", "a", "b", "direct"]),
        ("first", ["direct", "a", "b"]),
        ("remove_if_not_all(direct)", ["a", "a", "b"]),
        ('remove_if_last_and_not_all("direct")', ["direct", "a", "a", "b"]),
    ],
)
def test_path_transforms(transform, kept):
    frame = journey(["direct", "a", "a", "b", "direct", "direct"])
    out = run(frame, "linear", transform=transform).sort_values("touch_index")
    assert out["channel"].tolist() == kept
    assert out["credit"].sum() == pytest.approx(1.0)


def test_remove_transforms_keep_all_direct_paths():
    out = run(journey(["direct", "direct"]), "linear", transform="remove_if_not_all(direct)")
    assert out["channel"].tolist() == ["direct", "direct"]


def test_unknown_transform():
    with pytest.raises(ValueError, match="unknown path transform"):
        parse_transform("shuffle")


def test_conversion_cycles_start_after_previous_conversion():
    first = journey(["a", "b"], ages=[10, 8], journey_id="c1", visitor_id="v")
    first["conversion_ts"] = CONVERSION - pd.Timedelta(days=7)
    second = journey(["a", "b", "c", "d"], ages=[10, 8, 5, 1], journey_id="c2", visitor_id="v")
    frame = pd.concat([first, second], ignore_index=True)
    on = run(frame, "linear")
    assert on[on.journey_id == "c2"]["channel"].tolist() == ["c", "d"]
    off = run(frame, "linear", conversion_cycles=False)
    assert off[off.journey_id == "c2"]["channel"].tolist() == ["a", "b", "c", "d"]


def test_converted_as_text_and_bool():
    for value in ("true", True, "1"):
        assert len(attribute(journey(["a"], converted=1).assign(converted=value), "linear")) == 1


def test_missing_columns_are_reported():
    with pytest.raises(InputError, match="lacks column"):
        attribute(pd.DataFrame({"journey_id": [1]}), "linear")


def test_compiled_dict_is_json_and_runs():
    import json

    compiled = json.loads(json.dumps(load_model("w_shaped")))
    assert credits_by_touch(attribute(journey(["a", "b"]), compiled)) == pytest.approx([0.5, 0.5])


def test_timestamps_as_strings():
    frame = journey(["a", "b"])
    frame["touch_ts"] = frame["touch_ts"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    frame["conversion_ts"] = frame["conversion_ts"].astype(str)
    assert credits_by_touch(attribute(frame, "time_decay")) == pytest.approx(
        list(np.array([0.5 ** (2 / 7), 0.5 ** (1 / 7)]) / (0.5 ** (2 / 7) + 0.5 ** (1 / 7)))
    )
