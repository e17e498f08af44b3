"""Validated AST → compiled model: a JSON-serialisable dict the engine runs.

The compiled form is plain data (names, numbers, lists), stored beside the
source by the API. attribution.engine reads it; nothing in it is executable.

    {"name": "U-Shaped", "kind": "rules", "format": 1, "lookback_days": null,
     "weights": {"paid_search": 1.5},
     # only when the model names them: "kind_weights": {"impression": 0.5}, "impressions": "include",
     "rules": [{"selector": "first_touch", "milestone": null,
                "channels": null, "exclude": false,
                "share": 0.4, "distribution": "equally", "half_life_days": null}]}

`journey_by account` adds "journey_by": "account": the model runs on account-level
(B2B company) journeys, marts.fct_group_conversion_journeys (docs/b2b.md).
"""

from __future__ import annotations

from dsl import ast

FORMAT = 1


def _rule(selector: ast.Selector, share: float, dist: ast.Distribution | None) -> dict:
    dist = dist or ast.Distribution("equally")
    flt = selector.filter
    return {
        "selector": selector.name,
        "milestone": selector.argument,
        "channels": list(flt.channels) if flt else None,
        "exclude": bool(flt.negated) if flt else False,
        "share": share,
        "distribution": dist.kind,
        "half_life_days": dist.half_life_days,
    }


def compile_model(model: ast.Model) -> dict:
    """One validated model block → its compiled dict."""
    weights: dict[str, float] = {}
    kind_weights: dict[str, float] = {}
    rules: list[dict] = []
    lookback = None
    journey_by = None
    for st in model.statements:
        if isinstance(st, ast.Weight):  # repeated weights multiply
            weights[st.channel] = weights.get(st.channel, 1.0) * st.factor
        elif isinstance(st, ast.KindWeight):
            kind_weights[st.kind] = kind_weights.get(st.kind, 1.0) * st.factor
        elif isinstance(st, ast.Credit):
            rules.append(_rule(st.selector, st.share.value, st.distribution))
        elif isinstance(st, ast.Distribute):
            rules.append(_rule(ast.Selector("all_touches"), 1.0, st.distribution))
        elif isinstance(st, ast.Lookback):
            lookback = int(st.days)
        elif isinstance(st, ast.JourneyBy):
            journey_by = st.unit
    out = {
        "name": model.name,
        "kind": "rules",
        "format": FORMAT,
        "lookback_days": lookback,
        "weights": weights,
        "rules": rules,
    }
    if journey_by == "account":  # only when set: person-level models compile as before
        out["journey_by"] = "account"
    # a model that names impressions sees all of them, not only view-through ones
    # (docs/impressions.md); models that do not keep the compiled form they always had
    if kind_weights:
        out["kind_weights"] = kind_weights
    if kind_weights.get("impression") is not None or any(r["selector"] == "impressions" for r in rules):
        out["impressions"] = "include"
    return out


def compile_program(program: ast.Program) -> list[dict]:
    return [compile_model(m) for m in program.models]
