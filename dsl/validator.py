"""Semantic checks over the AST (dsl.ast): a pass separate from parsing.

Errors make a program unrunnable; warnings (unknown channel names, weights
nothing uses) are reported but do not stop compilation.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from dsl import ast
from dsl.errors import Diagnostic

SHARE_TOLERANCE = 1e-9
JOURNEY_UNITS = ("person", "account")  # `journey_by`: whose touches a journey holds

POSITIONAL = ("first_touch", "last_touch", "middle_touches", "all_touches")
SELECTORS = POSITIONAL + ("other_touches", "milestone_touch", "touches", "impressions", "visits")
# touch kinds (attribution.journeys.TOUCH_KINDS; dsl sits below attribution, so it is repeated here
# and tests/dsl keeps the two equal)
KINDS = ("visit", "impression")


def _number(value: float) -> str:
    return f"{round(value, 9):.10g}"


def _error(node: ast.Node, message: str) -> Diagnostic:
    return Diagnostic(node.line, node.column, message, "error")


def _warning(node: ast.Node, message: str) -> Diagnostic:
    return Diagnostic(node.line, node.column, message, "warning")


def _check_selector(sel: ast.Selector) -> list[Diagnostic]:
    if sel.name not in SELECTORS:
        close = difflib.get_close_matches(sel.name, SELECTORS, n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        return [_error(sel, f"unknown selector `{sel.name}`: {hint}selectors are {', '.join(SELECTORS)}")]
    if sel.name == "milestone_touch" and sel.argument is None:
        return [_error(sel, 'milestone_touch needs the milestone in quotes: milestone_touch("mql")')]
    if sel.name != "milestone_touch" and sel.argument is not None:
        return [_error(sel, f"`{sel.name}` takes no argument in parentheses")]
    if sel.name == "touches" and sel.filter is None:
        return [_error(sel, '`touches` needs a channel filter: touches where channel in ("email")')]
    if sel.name == "other_touches" and sel.filter is not None:
        return [_error(sel, "`other_touches` cannot be filtered: it is whatever the other rules left")]
    return []


def _check_distribution(dist: ast.Distribution | None, at: ast.Node) -> list[Diagnostic]:
    if dist is not None and dist.kind == "time_decay" and not dist.half_life_days > 0:
        node = dist if dist.line else at
        return [_error(node, f"the half-life must be a positive number of days, got {_number(dist.half_life_days)}")]
    return []


def _channels(model: ast.Model) -> Iterable[tuple[ast.Node, str]]:
    for st in model.statements:
        if isinstance(st, ast.Weight):
            yield st, st.channel
        elif isinstance(st, ast.Credit) and st.selector.filter is not None:
            for name in st.selector.filter.channels:
                yield st.selector.filter, name


def _check_model(model: ast.Model, known_channels: set[str] | None) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    credits = [s for s in model.statements if isinstance(s, ast.Credit)]
    distributes = [s for s in model.statements if isinstance(s, ast.Distribute)]
    lookbacks = [s for s in model.statements if isinstance(s, ast.Lookback)]
    weights = [s for s in model.statements if isinstance(s, ast.Weight | ast.KindWeight)]

    for rule in credits:
        out += _check_selector(rule.selector)
        if not 0 < rule.share.value <= 1:
            out.append(
                _error(
                    rule.share,
                    f"share {rule.share.text} is outside (0, 1]: "
                    "a rule takes a fraction of the credit, e.g. 0.4 or 40%",
                )
            )
        out += _check_distribution(rule.distribution, rule)
    others = [r for r in credits if r.selector.name == "other_touches"]
    for extra in others[1:]:
        out.append(_error(extra, "only one `other_touches` rule per model: merge their shares"))

    for st in distributes:
        out += _check_distribution(st.distribution, st)
    if distributes and credits:
        out.append(
            _error(
                distributes[0],
                "`distribute` cannot be mixed with `credit` rules: use either one `distribute` or credit rules",
            )
        )
    for extra in distributes[1:]:
        out.append(_error(extra, "only one `distribute` statement per model"))
    if not distributes and not credits:
        out.append(_error(model, f'model "{model.name}" gives no credit: add credit rules or a `distribute` statement'))

    if credits and not distributes:
        total = sum(r.share.value for r in credits)
        if abs(total - 1.0) > SHARE_TOLERANCE:
            out.append(_error(model, f"credits sum to {_number(total)}; they must sum to 1.0"))

    for st in weights:
        what = f'channel "{st.channel}"' if isinstance(st, ast.Weight) else f'kind "{st.kind}"'
        if isinstance(st, ast.KindWeight) and st.kind not in KINDS:
            out.append(_error(st, f'unknown touch kind "{st.kind}": kinds are {", ".join(KINDS)}'))
        if not st.factor > 0:
            out.append(_error(st, f"the weight of {what} must be positive, got {_number(st.factor)}"))
    dists = [r.distribution for r in credits] + [d.distribution for d in distributes]
    if weights and not any(d is not None and d.kind == "proportionally" for d in dists):
        out.append(_warning(weights[0], "weights have no effect: no rule distributes `proportionally`"))

    for st in lookbacks:
        if not (st.days >= 1 and st.days == int(st.days)):
            out.append(_error(st, f"the lookback must be a whole number of days, at least 1, got {_number(st.days)}"))
    for extra in lookbacks[1:]:
        out.append(_error(extra, "only one `lookback` statement per model"))

    journey_bys = [s for s in model.statements if isinstance(s, ast.JourneyBy)]
    for st in journey_bys:
        if st.unit not in JOURNEY_UNITS:
            out.append(_error(st, f"journey_by takes {' or '.join(JOURNEY_UNITS)}, got {st.unit}: journey_by account"))
    for extra in journey_bys[1:]:
        out.append(_error(extra, "only one `journey_by` statement per model"))

    if known_channels is not None:
        for node, name in _channels(model):
            if name not in known_channels:
                close = difflib.get_close_matches(name, sorted(known_channels), n=1)
                hint = f"; did you mean {close[0]}?" if close else ""
                out.append(_warning(node, f'unknown channel "{name}"{hint} (no credit will match it)'))
    return out


def validate(program: ast.Program, known_channels: Iterable[str] | None = None) -> list[Diagnostic]:
    """Every error and warning of `program`, in source order."""
    known = set(known_channels) if known_channels is not None else None
    out: list[Diagnostic] = []
    seen: dict[str, ast.Model] = {}
    for model in program.models:
        if model.name in seen:
            out.append(
                _error(model, f'duplicate model name "{model.name}" (first defined on line {seen[model.name].line})')
            )
        else:
            seen[model.name] = model
        out += _check_model(model, known)
    return sorted(out, key=lambda d: (d.line, d.column))
