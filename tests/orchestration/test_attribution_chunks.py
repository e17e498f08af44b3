"""The attribution run reads its journeys in bounded chunks (MBUZZ_JOURNEY_CHUNK touch rows, cut on
journey boundaries) and its credits do not depend on the chunk size: a run with 7-row chunks and a
run with the default chunk write the same credits (to 1e-12) under every model kind — presets,
a custom DSL model and the four data-driven models (fit from the chunks' path counts) — the same
intervals and the same Markov channel summary; and the data-driven credits, intervals and summary
are those of the whole-window computation (every journey of the fit window in memory, fit on the
journeys themselves: run_models)."""

from __future__ import annotations

import psycopg

from attribution.journeys import WAREHOUSE_JOURNEYS
from attribution.models import DATA_DRIVEN
from mbuzz import models_service
from mbuzz.attribution_runs import interval_seed, load_journeys, run_attribution, run_models
from tests.journeys_seed import END, START, seed_journeys

DSL = """model "Chunked U"
  credit first_touch with 0.4
  credit last_touch with 0.4
  credit middle_touches with 0.2 equally
end
"""

# paths that never converted (the data-driven models need them), touched the days before START
PATHS = """
insert into marts.fct_conversion_journeys
select %(account)s, 'live', 'path_' || c, null, false, null, null, null, t,
       %(start)s - make_interval(hours => c) + make_interval(mins => t),
       'psess_' || c || '_' || t, (array['paid_search', 'email', 'direct', 'organic_search'])[1 + (c * t) %% 4],
       'google', 'cpc', 'spring', ''
from generate_series(1, %(paths)s) c, generate_series(0, 1 + c %% 3) t
"""

CREDITS = """select model, conversion_id, touch_index, channel, credit, revenue_credit
             from attribution.attribution_credits where run_id = %s order by 1, 2, 3"""
INTERVALS = """select model, environment, channel, day, conversions, revenue, conversions_lower, conversions_upper,
                      revenue_lower, revenue_upper, reason
               from attribution.credit_intervals where run_id = %s order by 1, 2, 3, 4"""
INTERVAL_VALUES = [
    "conversions",
    "revenue",
    "conversions_lower",
    "conversions_upper",
    "revenue_lower",
    "revenue_upper",
    "reason",
]
SUMMARY = """select channel, removal_effect, total_conversions, ci_low, ci_high
             from attribution.channel_summaries where run_id = %s and model = 'markov' order by 1"""


def _close(a: list[tuple], b: list[tuple], tolerance: float) -> bool:
    def same(x, y) -> bool:
        if isinstance(x, float) or isinstance(y, float):
            return (x is None and y is None) or (x is not None and y is not None and abs(x - y) <= tolerance)
        return x == y

    return len(a) == len(b) and all(len(r) == len(s) and all(map(same, r, s)) for r, s in zip(a, b))


def test_credits_are_the_same_whatever_the_chunk_size(new_database, monkeypatch):
    with new_database() as url, psycopg.connect(url, autocommit=True) as conn:
        (account,) = seed_journeys(conn, conversions=160, touches=4)
        conn.execute(PATHS, {"account": account, "start": START, "paths": 200})
        models_service.create_model(conn, account, DSL)

        runs = {}
        for chunk in ("7", None):  # tiny chunks (many per account) and the default (one chunk)
            if chunk is None:
                monkeypatch.delenv("MBUZZ_JOURNEY_CHUNK", raising=False)
            else:
                monkeypatch.setenv("MBUZZ_JOURNEY_CHUNK", chunk)
            result = run_attribution(lambda: psycopg.connect(url), START, END, data_driven=True)
            assert result.conversions == 160 and not result.skipped, result.skipped
            runs[chunk] = (
                result,
                conn.execute(CREDITS, (result.run_id,)).fetchall(),
                conn.execute(INTERVALS, (result.run_id,)).fetchall(),
                conn.execute(SUMMARY, (result.run_id,)).fetchall(),
            )

        (small, small_credits, small_bounds, small_summary) = runs["7"]
        (full, full_credits, full_bounds, full_summary) = runs[None]
        models = {row[0] for row in full_credits}
        assert {"linear", "u_shaped", "markov", "shapley", "ordered_shapley", "algorithmic"} <= models
        assert any(m.startswith("amod") for m in models)  # the custom DSL model
        assert small.credits_written == full.credits_written == len(full_credits)
        assert _close(small_credits, full_credits, 1e-12)
        assert _close(small_bounds, full_bounds, 1e-9)
        assert {row[0] for row in full_bounds} == models
        assert len(full_summary) == 4 and all(row[3] is not None for row in full_summary)
        assert _close(small_summary, full_summary, 1e-12)

        # the whole-window computation: the fit window's journeys read at once, fit on the journeys
        touches = load_journeys(conn, account, START, END, with_paths=True)
        credits, summary, skipped, bounds = run_models(
            touches, {}, WAREHOUSE_JOURNEYS, START, END, True, seed=interval_seed(account, START, END)
        )
        assert not skipped
        whole = sorted(
            (r.model, str(r.journey_id), int(r.touch_index), r.channel, float(r.credit), float(r.revenue_credit))
            for r in credits.itertuples()
        )
        assert _close(sorted(row for row in small_credits if row[0] in DATA_DRIVEN), whole, 1e-12)
        whole_bounds = sorted(
            tuple(None if isinstance(v, float) and v != v else v for v in row)
            for row in bounds[[c for c in bounds.columns if not c.endswith("_samples")]]
            .reindex(columns=["model", "environment", "channel", "day", *INTERVAL_VALUES])
            .itertuples(index=False)
        )
        assert _close(sorted(row for row in small_bounds if row[0] in DATA_DRIVEN), whole_bounds, 1e-9)
        whole_summary = sorted(
            summary[["channel", "removal_effect", "total_conversions", "ci_low", "ci_high"]].itertuples(index=False)
        )
        assert _close(sorted(small_summary), [tuple(r) for r in whole_summary], 1e-12)


def test_a_bad_chunk_size_is_a_clear_error(monkeypatch):
    import pytest

    from mbuzz.settings import get_settings

    monkeypatch.setenv("MBUZZ_JOURNEY_CHUNK", "0")
    with pytest.raises(ValueError, match="MBUZZ_JOURNEY_CHUNK must be a positive whole number"):
        get_settings()
