"""The data-driven models fit from path counts gathered chunk by chunk (attribution/paths.py):
the same fits, credits and resample refits as on all the journeys read at once, to 1e-12."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from attribution import Journeys, load_model, prepare, run_model
from attribution import ordered_shapley as osh
from attribution import shapley as sh
from attribution.api import apply_model, fit_model
from attribution.intervals import journey_weights
from attribution.journeys import WAREHOUSE_JOURNEYS
from attribution.markov import fit_markov, markov_channel_summary
from attribution.paths import PathCounter, PathTable
from attribution.synthetic import synthetic_touches
from tests.attribution.conftest import journey

MODELS = ["markov", "markov:2", "shapley", "ordered_shapley", "algorithmic"]


def touches() -> pd.DataFrame:
    """Synthetic journeys, converting and not, plus two conversions without a touch (credited
    to `unassigned`) and a channel that first appears late (its code is given in the last chunks)."""
    frame = synthetic_touches(600, seed=3).assign(journey_id=lambda f: "j" + f["journey_id"].astype(str))
    empty = pd.DataFrame(
        {
            "journey_id": ["e1", "e2"],
            "touch_ts": [pd.NaT, pd.NaT],
            "channel": ["", ""],
            "converted": [1, 1],
            "conversion_ts": [pd.Timestamp("2024-03-01", tz="UTC")] * 2,
            "revenue": [10.0, 20.0],
        }
    )
    late = journey(["referral", "email"], journey_id="zz_late", converted=1)
    return pd.concat([frame, empty, late.drop(columns="milestones")], ignore_index=True)


def chunked(frame: pd.DataFrame, journeys_per_chunk: int) -> list[Journeys]:
    """The journeys prepared in chunks of whole journeys, in order (as journey_chunks reads them)."""
    ids = pd.unique(frame["journey_id"])
    return [
        prepare(frame[frame["journey_id"].isin(ids[i : i + journeys_per_chunk])], WAREHOUSE_JOURNEYS)
        for i in range(0, len(ids), journeys_per_chunk)
    ]


def counted(chunks: list[Journeys], samples: int = 0, seed: int = 0) -> tuple[PathCounter, PathTable]:
    counter = PathCounter(samples, seed)
    for chunk in chunks:
        counter.add(chunk)
    return counter, counter.table()


def applied(counter: PathCounter, chunks: list[Journeys], spec: dict, fit) -> pd.DataFrame:
    """Each chunk credited with the fit; the resamples' light frames (carried=False) hold the same credits."""
    frames = []
    for chunk in chunks:
        journeys = counter.recode(chunk)
        frames.append(apply_model(journeys, spec, fit))
        light = apply_model(journeys, spec, fit, carried=False)
        assert list(light.columns) == ["credit", "revenue_credit"]
        np.testing.assert_array_equal(light.to_numpy(), frames[-1][["credit", "revenue_credit"]].to_numpy())
    return pd.concat(frames, ignore_index=True)


def by_touch(credits: pd.DataFrame) -> pd.Series:
    return credits.set_index(["journey_id", "touch_index"])["credit"].sort_index()


def test_the_table_holds_each_distinct_path_once_with_its_count():
    frame = touches()
    jr = prepare(frame, WAREHOUSE_JOURNEYS)
    _, table = counted(chunked(frame, 7))
    paths = table.journeys
    sequences = {
        (tuple(paths.channels[paths.channel[paths.starts[p] : paths.starts[p + 1]]]), bool(paths.converted[p])): n
        for p, n in enumerate(table.count)
    }
    assert len(sequences) == len(table.count)  # distinct
    want: dict = {}
    for j in jr.nonempty:
        key = (tuple(jr.channels[jr.channel[jr.starts[j] : jr.starts[j + 1]]]), bool(jr.converted[j]))
        want[key] = want.get(key, 0) + 1
    assert sequences == want
    assert table.empty == 2 and table.count.sum() == len(jr.nonempty)
    assert list(table.channels) == list(jr.channels)  # codes in order of first appearance, as prepare's


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("size", [7, 10_000])
def test_credits_from_chunked_counts_equal_the_whole_window_fit(model, size):
    frame, spec = touches(), load_model(model)
    whole = by_touch(run_model(prepare(frame, WAREHOUSE_JOURNEYS), spec))
    chunks = chunked(frame, size)
    counter, table = counted(chunks)
    fit = fit_model(table.journeys, spec, journey_weights=table.count)
    parts = applied(counter, chunks, spec, fit)
    got = by_touch(parts)
    assert got.index.equals(whole.index)
    np.testing.assert_allclose(got.to_numpy(), whole.to_numpy(), rtol=0, atol=1e-12)
    assert (parts.loc[parts["journey_id"].isin(["e1", "e2"]), "channel"] == "unassigned").all()


@pytest.mark.parametrize("model", ["markov", "shapley", "ordered_shapley", "algorithmic"])
def test_each_resample_refit_from_path_weights_equals_the_refit_on_the_journeys(model):
    """The intervals' refits: each resample's journey weights summed per path, chunk by chunk."""
    frame, spec = touches(), load_model(model)
    jr = prepare(frame, WAREHOUSE_JOURNEYS)
    weights = journey_weights(jr.id_index, 3, seed=11)
    chunks = chunked(frame, 13)
    counter, table = counted(chunks, samples=3, seed=11)
    np.testing.assert_array_equal(table.resampled.sum(axis=1), weights[:, jr.nonempty].sum(axis=1))
    for b in range(3):
        want = by_touch(run_model(jr, spec, journey_weights=weights[b]))
        fit = fit_model(table.journeys, spec, journey_weights=table.resampled[b])
        got = by_touch(applied(counter, chunks, spec, fit))
        np.testing.assert_allclose(got.loc[want.index].to_numpy(), want.to_numpy(), rtol=0, atol=1e-12)


@pytest.mark.parametrize("module,model", [(osh, "ordered_shapley"), (sh, "shapley")])
def test_sampled_shapley_values_from_chunked_counts_equal_the_whole_window(monkeypatch, module, model):
    """Monte-Carlo Shapley values (paths with more channels than EXACT_LIMIT) are drawn coalition
    by coalition in key order: a fit from chunked counts draws the same as the whole window."""
    monkeypatch.setattr(module, "EXACT_LIMIT", 2)
    frame, spec = touches(), load_model(model)
    whole = by_touch(run_model(prepare(frame, WAREHOUSE_JOURNEYS), spec, n_permutations=50))
    chunks = chunked(frame, 50)
    counter, table = counted(chunks)
    fit = fit_model(table.journeys, spec, journey_weights=table.count, n_permutations=50)
    got = by_touch(applied(counter, chunks, spec, fit))
    assert fit.stderr.nnz  # sampled
    np.testing.assert_allclose(got.to_numpy(), whole.to_numpy(), rtol=0, atol=1e-12)


def test_the_markov_summary_bootstrap_draws_over_the_path_table():
    frame = touches()
    jr = prepare(frame, WAREHOUSE_JOURNEYS)
    whole = markov_channel_summary(PathTable.of(jr), fit_markov(jr), samples=20)
    _, table = counted(chunked(frame, 9))
    fit = fit_model(table.journeys, load_model("markov"), journey_weights=table.count)
    parts = markov_channel_summary(table, fit, samples=20)
    pd.testing.assert_frame_equal(parts, whole, rtol=0, atol=1e-12)
    assert whole["ci_low"].notna().all()
    assert (whole["ci_low"] <= whole["total_conversions"] + 1e-9).all()
    assert (whole["total_conversions"] <= whole["ci_high"] + 1e-9).all()
    assert whole["total_conversions"].sum() == pytest.approx(jr.converted[jr.nonempty].sum())
