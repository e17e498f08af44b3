"""The one entry point: attribute(touches, model, options) → credits frame.

The Dagster pipeline, the API and `mbuzz attribute` call this. Input and output
are the frames of ATTRIBUTION.md "Offline use":

    in   journey_id, touch_ts, channel, converted, conversion_ts, revenue
         [, milestones] [, any other column, carried through]
    out  journey_id, touch_index, channel, credit, revenue_credit
         [, the carried columns of each touch's input row]
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from attribution.engine import run_rule_model
from attribution.journeys import JourneyOptions, Journeys, prepare
from attribution.models import load_model


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
    if kind == "algorithmic":
        from attribution.algorithmic import algorithmic_credits
        return algorithmic_credits(jr, **kwargs)
    raise ValueError(f"unknown model kind {kind!r}")


def attribute(touches: pd.DataFrame, model: str | dict,
              options: JourneyOptions | None = None, **kwargs) -> pd.DataFrame:
    """Credits per touch of every converting journey.

    model: a preset name (`u_shaped`), a .dsl path (`path.dsl#Model name` to pick
    one of several), a compiled model dict, `markov`/`markov:N`, `shapley` or
    `algorithmic`. options: the journey options; a model's own lookback wins.
    Extra keyword arguments go to data-driven models (e.g. min_paths, seed).
    """
    spec = load_model(model)
    jr = prepare(touches, (options or JourneyOptions()).with_model(spec))
    return run_model(jr, spec, **kwargs)


def channel_summary(credits: pd.DataFrame) -> pd.DataFrame:
    """Totals per channel: conversions (sum of credit), revenue, share of conversions;
    for Markov also removal_effect (and the textbook totals), for Shapley the
    Monte-Carlo standard error where sampling was used."""
    grouped = credits.groupby("channel", sort=False, observed=True)
    out = pd.DataFrame({"conversions": grouped["credit"].sum(),
                        "revenue": grouped["revenue_credit"].sum()})
    total = out["conversions"].sum()
    out["share"] = out["conversions"] / total if total else np.nan
    extra = credits.attrs.get("channel_summary")  # data-driven models: {column: [values]}
    if extra:
        out = out.join(pd.DataFrame(extra).set_index("channel"), how="outer")
        out[["conversions", "revenue", "share"]] = out[["conversions", "revenue", "share"]].fillna(0.0)
    out = out.sort_values("conversions", ascending=False)
    return out.rename_axis("channel").reset_index()
