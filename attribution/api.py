"""The one entry point: attribute(touches, model, options) → credits frame.

The Dagster pipeline, the API and `mbuzz attribute` call this. Input and output
are the frames of docs/attribution.md ("Input frame", "Output frame"):

    in   journey_id, touch_ts, channel, converted, conversion_ts, revenue
         [, milestones] [, any other column, carried through]
    out  journey_id, touch_index, channel, credit, revenue_credit
         [, the carried columns of each touch's input row]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from attribution.engine import run_rule_model
from attribution.journeys import JourneyOptions, Journeys, prepare
from attribution.models import load_model

if TYPE_CHECKING:  # pandas is imported where a frame is built: `mbuzz attribute` runs without it
    import pandas as pd


def run_model(jr: Journeys, spec: dict, **kwargs) -> pd.DataFrame:
    """Run a compiled/loaded model on prepared journeys."""
    kind = spec.get("kind", "rules")
    if kind == "rules":
        return run_rule_model(jr, spec)
    if kind == "markov":
        from attribution.markov import markov_credits

        return markov_credits(jr, order=spec.get("order", 1), **kwargs)
    if kind == "shapley":
        from attribution.shapley import shapley_credits

        return shapley_credits(jr, **kwargs)
    if kind == "ordered_shapley":
        from attribution.ordered_shapley import ordered_shapley_credits

        return ordered_shapley_credits(jr, **kwargs)
    if kind == "algorithmic":
        from attribution.algorithmic import algorithmic_credits

        return algorithmic_credits(jr, **kwargs)
    raise ValueError(f"unknown model kind {kind!r}")


def fit_model(jr: Journeys, spec: dict, journey_weights=None, **kwargs):
    """Fit a data-driven model on all the paths of `jr` (each journey counted journey_weights
    times: a resample, or the counts of a path table, attribution.paths): what apply_model
    credits journeys with. run_model(jr, spec) is apply_model(jr, spec, fit_model(jr, spec))."""
    kind = spec.get("kind", "rules")
    if kind == "markov":
        from attribution.markov import fit_markov

        return fit_markov(jr, order=spec.get("order", 1), journey_weights=journey_weights, **kwargs)
    if kind == "shapley":
        from attribution.shapley import shapley_fit

        return shapley_fit(jr, journey_weights=journey_weights, **kwargs)[0]
    if kind == "ordered_shapley":
        from attribution.ordered_shapley import ordered_shapley_fit

        return ordered_shapley_fit(jr, journey_weights=journey_weights, **kwargs)[0]
    if kind == "algorithmic":
        from attribution.algorithmic import fit_algorithmic

        return fit_algorithmic(jr, journey_weights=journey_weights, **kwargs)
    raise ValueError(f"{kind!r} is not a data-driven model kind")


def apply_model(jr: Journeys, spec: dict, fit, carried: bool = True) -> pd.DataFrame:
    """Credits of the converting journeys of `jr` under a fit of fit_model (on these journeys
    or on others with the same channel codes, e.g. a path table's: PathCounter.recode).
    Not `carried`: the same rows with only the credit columns (a resample's refit)."""
    kind = spec.get("kind", "rules")
    if kind == "markov":
        from attribution.markov import markov_apply

        return markov_apply(jr, fit, carried)
    if kind == "shapley":
        from attribution.shapley import shapley_apply

        return shapley_apply(jr, fit, carried)
    if kind == "ordered_shapley":
        from attribution.ordered_shapley import ordered_shapley_apply

        return ordered_shapley_apply(jr, fit, carried)
    if kind == "algorithmic":
        from attribution.algorithmic import algorithmic_apply

        return algorithmic_apply(jr, fit, carried)
    raise ValueError(f"{kind!r} is not a data-driven model kind")


def attribute(
    touches: pd.DataFrame, model: str | dict, options: JourneyOptions | None = None, **kwargs
) -> pd.DataFrame:
    """Credits per touch of every converting journey.

    model: a preset name (`u_shaped`), a .dsl path (`path.dsl#Model name` to pick
    one of several), a compiled model dict, `markov`/`markov:N`, `shapley` or
    `algorithmic`. options: the journey options; a model's own lookback wins.
    Extra keyword arguments go to data-driven models (e.g. min_paths, seed).
    """
    spec = load_model(model)
    jr = prepare(touches, (options or JourneyOptions()).with_model(spec))
    return run_model(jr, spec, **kwargs)


def attribute_many(
    touches: pd.DataFrame,
    models: Mapping[str, str | dict],
    options: JourneyOptions | None = None,
    on_model: Callable[[str], None] | None = None,
    **kwargs,
) -> dict[str, pd.DataFrame]:
    """attribute() for several models on the same touches: {name: credits frame}.

    The touch table is prepared once per distinct effective journey options (a
    model's own lookback makes its own set), and every model on the same set
    shares the journeys and the output columns other than the credits (built
    once, see Journeys.output_base). Each frame equals what
    attribute(touches, model, options) returns. on_model(name) is called before
    each model runs (progress). Errors of a model (e.g. InsufficientDataError)
    propagate; run data-driven models one by one with prepare + run_model to
    skip those.
    """
    base = options or JourneyOptions()
    specs = {name: load_model(model) for name, model in models.items()}
    prepared: dict[JourneyOptions, Journeys] = {}
    out: dict[str, pd.DataFrame] = {}
    for name, spec in specs.items():
        if on_model:
            on_model(name)
        opts = base.with_model(spec)
        if opts not in prepared:
            prepared[opts] = prepare(touches, opts)
        out[name] = run_model(prepared[opts], spec, **kwargs)
    return out


def channel_summary(credits: pd.DataFrame) -> pd.DataFrame:
    """Totals per channel: conversions (sum of credit), revenue, share of conversions;
    for Markov also removal_effect (and the textbook totals), for Shapley the
    Monte-Carlo standard error where sampling was used."""
    import numpy as np
    import pandas as pd

    grouped = credits.groupby("channel", sort=False, observed=True)
    out = pd.DataFrame({"conversions": grouped["credit"].sum(), "revenue": grouped["revenue_credit"].sum()})
    total = out["conversions"].sum()
    out["share"] = out["conversions"] / total if total else np.nan
    extra = credits.attrs.get("channel_summary")  # data-driven models: {column: [values]}
    if extra:
        out = out.join(pd.DataFrame(extra).set_index("channel"), how="outer")
        out[["conversions", "revenue", "share"]] = out[["conversions", "revenue", "share"]].fillna(0.0)
    out = out.sort_values("conversions", ascending=False)
    return out.rename_axis("channel").reset_index()
