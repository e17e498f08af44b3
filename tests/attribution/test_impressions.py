"""Impressions (touch_kind 'impression', docs/impressions.md): their own lookback, view-through
by default, never a position where the journey has a visit, and opted in by the DSL."""

from __future__ import annotations

import pandas as pd
import pytest

from attribution import JourneyOptions, attribute
from attribution.journeys import DEFAULT_IMPRESSION_LOOKBACK_DAYS, TOUCH_KINDS, InputError, prepare
from attribution.sql import SqlCompileError, compile_sql
from dsl import compile_source
from dsl.errors import DslError
from dsl.validator import KINDS
from tests.attribution.conftest import credits_by_touch, journey


def mixed(channels, kinds, ages, **kw):
    return journey(channels, ages=ages, touch_kind=kinds, **kw)


def test_the_dsl_and_the_engine_agree_on_the_kinds():
    assert KINDS == TOUCH_KINDS
    assert DEFAULT_IMPRESSION_LOOKBACK_DAYS == JourneyOptions().impression_lookback_days == 1


def test_an_impression_never_takes_last_touch_from_a_click():
    # display impression 2 h before the conversion, after a paid-search click the day before
    frame = mixed(["paid_search", "display"], ["visit", "impression"], [1.0, 0.1])
    out = attribute(frame, "last_touch")
    assert credits_by_touch(out) == [1.0]  # the impression is dropped (view-through only)
    assert out["touch_kind"].tolist() == ["visit"]  # credits carry the kind


def test_a_journey_of_impressions_only_is_a_view_through_conversion():
    frame = mixed(["display", "paid_social"], ["impression", "impression"], [0.8, 0.2])
    out = attribute(frame, "last_touch")
    assert credits_by_touch(out) == [0.0, 1.0]
    assert set(out["touch_kind"]) == {"impression"}


def test_impressions_have_their_own_lookback():
    frame = mixed(["display", "display"], ["impression", "impression"], [3.0, 0.5])
    assert credits_by_touch(attribute(frame, "linear")) == [1.0]  # the 3-day-old one is outside 1 day
    wide = attribute(frame, "linear", JourneyOptions(impression_lookback_days=7))
    assert credits_by_touch(wide) == [0.5, 0.5]
    # a click 20 days old is inside its own 30 days
    clicks = mixed(["email", "display"], ["visit", "impression"], [20.0, 3.0])
    assert credits_by_touch(attribute(clicks, "first_touch")) == [1.0]


def test_policies_include_and_exclude():
    frame = mixed(["paid_search", "display"], ["visit", "impression"], [1.0, 0.1])
    included = attribute(frame, "linear", JourneyOptions(impressions="include"))
    assert credits_by_touch(included) == [0.5, 0.5]
    # positional selectors skip impressions where there is a visit, even when included
    assert credits_by_touch(attribute(frame, "last_touch", JourneyOptions(impressions="include"))) == [1.0, 0.0]
    only_views = mixed(["display"], ["impression"], [0.1])
    excluded = attribute(only_views, "last_touch", JourneyOptions(impressions="exclude"))
    assert excluded["channel"].tolist() == ["unassigned"]
    with pytest.raises(ValueError, match="impressions must be one of"):
        JourneyOptions(impressions="sometimes")


def test_credit_impressions_with_a_share():
    program = """model "View-through 10%"
      credit impressions with 0.1
      credit last_touch with 0.9
    end"""
    frame = mixed(["display", "paid_search", "paid_social"], ["impression", "visit", "impression"], [0.9, 0.5, 0.1])
    assert credits_by_touch(attribute(frame, program)) == pytest.approx([0.05, 0.9, 0.05])
    # without impressions the rule drops out: last click takes everything
    clicks = mixed(["email", "paid_search"], ["visit", "visit"], [2.0, 1.0])
    assert credits_by_touch(attribute(clicks, program)) == pytest.approx([0.0, 1.0])


def test_weight_kind_scales_impressions_in_proportional_models():
    program = """model "Half-weight views"
      weight kind("impression") by 0.5
      distribute proportionally
    end"""
    frame = mixed(["display", "paid_search"], ["impression", "visit"], [0.5, 0.2])
    assert credits_by_touch(attribute(frame, program)) == pytest.approx([1 / 3, 2 / 3])
    (model,) = compile_source(program)
    assert model["kind_weights"] == {"impression": 0.5} and model["impressions"] == "include"
    with pytest.raises(SqlCompileError, match="Python engine"):
        compile_sql(model)


def test_models_without_impressions_compile_as_before():
    (model,) = compile_source('model "m" credit last_touch with 1.0 end')
    assert "impressions" not in model and "kind_weights" not in model


def test_bad_kinds_are_clear():
    with pytest.raises(DslError, match='unknown touch kind "click"'):
        compile_source('model "m" weight kind("click") by 2 distribute proportionally end')
    with pytest.raises(InputError, match="touch_kind must be one of"):
        prepare(mixed(["a"], ["banner"], [0.5]))


@pytest.mark.parametrize("model", ["markov", "shapley"])
def test_data_driven_models_run_on_journeys_with_impressions(model):
    frames = []
    for i in range(60):
        kinds = ["impression", "visit"] if i % 3 else ["impression", "impression"]
        channels = ["display", "paid_search"] if i % 3 else ["display", "paid_social"]
        frames.append(mixed(channels, kinds, [0.6, 0.2], journey_id=f"j{i}", converted=int(i % 2 == 0)))
        frames.append(mixed(["email"], ["visit"], [2.0], journey_id=f"e{i}", converted=int(i % 4 == 0)))
    out = attribute(pd.concat(frames, ignore_index=True), model, JourneyOptions(impressions="include"))
    sums = out.groupby("journey_id")["credit"].sum()
    assert sums.to_numpy() == pytest.approx(1.0)
    assert "impression" in set(out["touch_kind"])


def test_the_cli_reads_touch_kind_and_takes_the_impression_options(tmp_path):
    from click.testing import CliRunner

    from mbuzz.cli import cli

    src, out = tmp_path / "tp.csv", tmp_path / "out.csv"
    src.write_text(
        "journey_id,touch_ts,channel,converted,conversion_ts,revenue,touch_kind\n"
        "j1,2024-03-03T10:00:00Z,paid_search,1,2024-03-05T10:00:00Z,100,visit\n"
        "j1,2024-03-05T08:00:00Z,display,1,2024-03-05T10:00:00Z,100,impression\n"
    )

    def credits(*options: str) -> dict:
        args = ["attribute", "--model", "linear", "--touchpoints", str(src), "--out", str(out), *options]
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
        frame = pd.read_csv(out)
        return dict(zip(frame["channel"], frame["credit"]))

    assert credits() == {"paid_search": 1.0}
    assert credits("--impressions", "include") == {"paid_search": 0.5, "display": 0.5}
    assert credits("--impressions", "include", "--impression-lookback", "0.05") == {"paid_search": 1.0}
