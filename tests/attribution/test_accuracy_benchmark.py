"""benchmarks/accuracy.py's simulator knows the truth: in a trivial shape (one channel) every
model recovers it exactly, and the truth accounts for exactly the conversions the channels cause."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "accuracy.py"


@pytest.fixture(scope="module")
def accuracy():
    spec = importlib.util.spec_from_file_location("accuracy_benchmark", PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_one_channel_truth_is_recovered_by_every_model(accuracy):
    out = accuracy.main(["--quick", "--channels", "1"])
    assert len(out) >= 11  # every preset and the three data-driven models
    assert (out.filter(like="MAE") == 0).all().all() and (out.filter(like="top3") == 1).all().all()


@pytest.mark.parametrize("shape", ["additive", "synergy", "order", "long"])
def test_truth_is_the_channels_share_of_expected_conversions(accuracy, shape):
    touches, truth = accuracy.simulate(4000, 5, shape, seed=3)
    assert (truth >= 0).all() and truth.index.tolist() == [f"ch{c:02d}" for c in range(5)]
    conversions = touches.groupby("journey_id")["converted"].first().sum()
    # the channels cause most conversions (base 0.01 per journey is nobody's), within sampling noise
    assert truth.sum() < conversions + 4 * np.sqrt(conversions)
    assert truth.sum() > 0.5 * conversions


def test_order_effects_make_a_before_b_differ_from_b_before_a(accuracy):
    rng = np.random.default_rng(0)
    _, _, _, delta = accuracy.effects("order", 6, rng)
    assert (delta > 0).any() and not np.allclose(delta, delta.T)
    _, _, _, none = accuracy.effects("additive", 6, np.random.default_rng(0))
    assert not none.any()


def test_scores(accuracy):
    import pandas as pd

    truth = pd.Series([3.0, 2.0, 1.0, 0.5], index=list("abcd"))
    assert accuracy.scores(truth * 7, truth) == (pytest.approx(0.0), pytest.approx(1.0), 1.0)
    reversed_ = pd.Series([0.5, 1.0, 2.0, 3.0], index=list("abcd"))
    mae, rho, top = accuracy.scores(reversed_, truth)
    assert mae > 0.1 and rho == pytest.approx(-1.0) and top == pytest.approx(2 / 3)  # top 3 a,b,c against d,c,b


def test_per_journey_truth_and_error(accuracy):
    import pandas as pd

    from attribution import attribute

    touches, _, want = accuracy.simulate(3000, 4, "order", seed=1, per_journey=True)
    converted = touches.groupby("journey_id")["converted"].first()
    assert sorted(want.index) == sorted(converted[converted == 1].index)
    np.testing.assert_allclose(want.sum(axis=1), 1.0)
    truth_credits = want.stack().rename("credit").rename_axis(["journey_id", "channel"]).reset_index()
    assert accuracy.journey_error(truth_credits, want) == pytest.approx(0.0)
    # a journey's credits all on a channel the truth gives nothing: the distance is 1 for that journey
    wrong = pd.DataFrame({"journey_id": want.index, "channel": "nowhere", "credit": 1.0})
    assert accuracy.journey_error(wrong, want) == pytest.approx(1.0)
    out = attribute(touches, "ordered_shapley")
    assert 0 < accuracy.journey_error(out, want) < accuracy.journey_error(attribute(touches, "last_touch"), want)
