"""Validated AST → compiled model: a JSON-serialisable dict the engine runs.

The compiled form is plain data (names, numbers, lists), stored beside the
source by the API. attribution.engine reads it; nothing in it is executable.

    {"name": "U-Shaped", "kind": "rules", "format": 1, "lookback_days": null,
     "weights": {"paid_search": 1.5},
     "rules": [{"selector": "first_touch", "milestone": null,
                "channels": null, "exclude": false,
                "share": 0.4, "distribution": "equally", "half_life_days": null}]}
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
    rules: list[dict] = []
    lookback = None
    for st in model.statements:
        if isinstance(st, ast.Weight):  # repeated weights multiply
            weights[st.channel] = weights.get(st.channel, 1.0) * st.factor
        elif isinstance(st, ast.Credit):
            rules.append(_rule(st.selector, st.share.value, st.distribution))
        elif isinstance(st, ast.Distribute):
            rules.append(_rule(ast.Selector("all_touches"), 1.0, st.distribution))
        elif isinstance(st, ast.Lookback):
            lookback = int(st.days)
    return {"name": model.name, "kind": "rules", "format": FORMAT, "lookback_days": lookback,
            "weights": weights, "rules": rules}


def compile_program(program: ast.Program) -> list[dict]:
    return [compile_model(m) for m in program.models]
