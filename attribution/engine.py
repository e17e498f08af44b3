"""The rule engine: compiled DSL model + Journeys → per-touch credits.

One engine runs every rule-based model (all presets are DSL files). It is
vectorised over all journeys at once: a positional selector (first, last,
milestone touch) becomes one touch index per journey, any other selector a
boolean mask over the touch arrays, and per-journey sums are bincounts; the
only Python loop is over the model's few rules. The output frame's columns
other than the credits are built once per Journeys (`Journeys.output_base`)
and shared by every model run on them. Semantics (docs/attribution.md, "One engine"):

1. each rule's selector picks touches; `other_touches` picks what no other rule did;
2. rules that picked nothing drop out and their shares go to the remaining rules
   in proportion to those rules' shares; if every rule dropped out, linear;
3. each rule spreads its share equally / proportionally (channel weights) /
   by time decay (0.5 ** (age_days / half_life));
4. a touch picked by several rules gets the sum.

Impressions (docs/impressions.md): the positional selectors (first, last, middle,
milestone touch) never pick an impression in a journey that has a visit;
`impressions` / `visits` pick touches by kind, and `weight kind("impression") by F`
scales impressions in proportional distributions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from attribution.journeys import Journeys

if TYPE_CHECKING:  # pandas only where a frame is built (run_rule_table needs numpy and Arrow)
    import pandas as pd
    import pyarrow as pa

OUTPUT_COLUMNS = ("journey_id", "touch_index", "channel", "credit", "revenue_credit")


class _Pick:
    """The touches a selector picked: either one touch per journey (`idx`, sorted,
    with its `journeys`) or a boolean `mask` over the touches (`everything`: all)."""

    __slots__ = ("idx", "journeys", "mask", "everything")

    def __init__(self, idx=None, journeys=None, mask=None, everything=False):
        self.idx, self.journeys, self.mask, self.everything = idx, journeys, mask, everything

    def as_mask(self, n: int) -> np.ndarray:
        if self.everything:
            return np.ones(n, dtype=bool)
        if self.idx is None:
            return self.mask
        out = np.zeros(n, dtype=bool)
        out[self.idx] = True
        return out


def _first_last(jr: Journeys, mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Among the touches where `mask` (None: all), each journey's first and last:
    (journeys, first touch index, last touch index), journeys ascending."""
    if mask is None:
        js = jr.nonempty
        return js, jr.starts[js], jr.starts[js + 1] - 1
    idx = np.flatnonzero(mask)
    j = jr.jid[idx]
    new = np.ones(len(idx), dtype=bool)
    new[1:] = j[1:] != j[:-1]
    end = np.ones(len(idx), dtype=bool)
    end[:-1] = new[1:]
    return j[new], idx[new], idx[end]


def _filter(jr: Journeys, rule: dict) -> np.ndarray | None:
    if rule.get("channels") is None:
        return None
    flt = jr.channel_mask(rule["channels"])
    return ~flt if rule.get("exclude") else flt


def _and(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
    return b if a is None else a if b is None else a & b


def uses_milestones(model: dict) -> bool:
    """Whether a compiled rule model reads the touches' milestones (a milestone_touch rule)."""
    return any(rule.get("selector") == "milestone_touch" for rule in model.get("rules", ()))


def _select(jr: Journeys, rule: dict) -> _Pick:
    """The touches a rule's selector picks (other_touches is resolved by the caller)."""
    name = rule["selector"]
    flt = _filter(jr, rule)
    if name in ("impressions", "visits"):
        kind = jr.impression_mask if name == "impressions" else ~jr.impression_mask
        return _Pick(mask=_and(kind, flt))
    if name in ("all_touches", "touches"):
        return _Pick(mask=flt, everything=True) if flt is None else _Pick(mask=flt)
    flt = _and(flt, jr.positional)  # impressions hold no position where there is a visit
    if name == "milestone_touch":
        marked = jr.milestone_mask(rule["milestone"])
        js, first, _ = _first_last(jr, marked if flt is None else marked & flt)
        return _Pick(idx=first, journeys=js)
    if name in ("first_touch", "last_touch", "middle_touches"):
        js, first, last = _first_last(jr, flt)
        if name == "first_touch":
            return _Pick(idx=first, journeys=js)
        if name == "last_touch":
            return _Pick(idx=last, journeys=js)
        if flt is None:
            return _Pick(mask=(jr.pos > 0) & (jr.pos < jr.count - 1))
        middle = flt.copy()
        middle[first] = False
        middle[last] = False
        return _Pick(mask=middle)
    raise ValueError(f"unknown selector {name!r} in compiled model")


def select(jr: Journeys, rule: dict) -> np.ndarray:
    """The touches a rule's selector picks, as a mask (other_touches is resolved by the caller)."""
    return _select(jr, rule).as_mask(len(jr.jid))


def _touch_weights(jr: Journeys, rule: dict, weights: dict[str, float], kinds: dict | None = None) -> np.ndarray | None:
    kind = rule.get("distribution", "equally")
    if kind == "equally":
        return None
    if kind == "proportionally":
        per_channel = np.ones(len(jr.channels))
        for name, factor in weights.items():
            per_channel[jr.channel_codes([name])] *= factor
        out = per_channel[jr.channel]
        if kinds:
            imp = jr.impression_mask
            out = out * np.where(imp, kinds.get("impression", 1.0), kinds.get("visit", 1.0))
        return out
    if kind == "time_decay":
        # relative to the journey's youngest touch so long windows cannot underflow
        youngest = np.zeros(jr.n_journeys)
        js = jr.nonempty
        youngest[js] = jr.age_days[jr.starts[js + 1] - 1]
        return np.exp2(-(jr.age_days - youngest[jr.jid]) / float(rule["half_life_days"]))
    raise ValueError(f"unknown distribution {kind!r} in compiled model")


def rule_credits(jr: Journeys, model: dict) -> np.ndarray:
    """Credit of each touch of `jr` (every journey's credits sum to 1)."""
    n, n_j, jid = len(jr.jid), jr.n_journeys, jr.jid
    rules = model["rules"]
    picks: list[_Pick | None] = [None if r["selector"] == "other_touches" else _select(jr, r) for r in rules]
    if any(p is None for p in picks):
        picked = np.zeros(n, dtype=bool)
        for p in picks:
            if p is None:
                continue
            if p.idx is not None:
                picked[p.idx] = True
            elif p.everything:
                picked[:] = True
            else:
                picked |= p.mask
        other = _Pick(mask=~picked)
        picks = [other if p is None else p for p in picks]

    # rules that picked nothing in a journey drop out there (share 0 in `active`)
    active = np.zeros(n_j)
    terms = []
    weights = model.get("weights", {})
    kinds = model.get("kind_weights") or None
    for rule, pick in zip(rules, picks):
        share = float(rule["share"])
        if pick.idx is not None:  # one touch per journey: its distribution cannot matter
            active[pick.journeys] += share
            terms.append((share, pick, None, None))
            continue
        w = _touch_weights(jr, rule, weights, kinds)
        if w is None:
            denom = jr.lengths if pick.everything else np.bincount(jid[pick.mask], minlength=n_j)
        else:
            if not pick.everything:
                w = np.where(pick.mask, w, 0.0)
            denom = np.bincount(jid, weights=w, minlength=n_j)
        active += share * (denom > 0)
        terms.append((share, pick, w, denom))

    scale = np.divide(1.0, active, out=np.zeros(n_j), where=active > 0)
    credit = np.zeros(n)
    for share, pick, w, denom in terms:
        if pick.idx is not None:
            credit[pick.idx] += share * scale[pick.journeys]
            continue
        per_journey = np.divide(share * scale, denom, out=np.zeros(n_j), where=denom > 0)
        spread = per_journey[jid]
        if w is not None:
            spread *= w
        elif not pick.everything:
            spread *= pick.mask
        credit += spread
    linear = active == 0  # every rule dropped out (or the journey has no touch)
    if linear.any():
        lin = linear[jid]
        if lin.any():
            credit[lin] = 1.0 / jr.count[lin]
    return credit


def credits_frame(jr: Journeys, credit: np.ndarray) -> pd.DataFrame:
    """Output rows for the touches of `jr` plus `unassigned` rows (credit 1.0) for
    converting journeys without touches, with every carried column of the input.
    Everything but the two credit columns comes from `jr.output_base`, built
    once per Journeys; this adds only the credit and revenue_credit columns."""
    n_empty = len(jr.empty_conversions)
    full = np.concatenate([credit, np.ones(n_empty)]) if n_empty else np.asarray(credit, dtype=float)
    out = jr.output_base.copy(deep=False)
    out.insert(3, "credit", full)
    out.insert(4, "revenue_credit", full * jr.output_revenue)
    return out


def credit_columns(jr: Journeys, credit: np.ndarray) -> pd.DataFrame:
    """credits_frame's rows with only their credit and revenue_credit columns (what a resample's
    refit needs: attribution.intervals.credit_intervals), without the carried columns."""
    import pandas as pd

    n_empty = len(jr.empty_conversions)
    full = np.concatenate([credit, np.ones(n_empty)]) if n_empty else np.asarray(credit, dtype=float)
    return pd.DataFrame({"credit": full, "revenue_credit": full * jr.output_revenue})


def run_rule_model(jr: Journeys, model: dict) -> pd.DataFrame:
    """Credits of every converting journey under a compiled rule model."""
    conv = jr.converting
    return credits_frame(conv, rule_credits(conv, model))


def run_rule_table(jr: Journeys, model: dict) -> pa.Table:
    """run_rule_model for Journeys from prepare_table: the same rows and values as an
    Arrow table (Journeys.output_table), without pandas."""
    conv = jr.converting
    credit = rule_credits(conv, model)
    n_empty = len(conv.empty_conversions)
    full = np.concatenate([credit, np.ones(n_empty)]) if n_empty else np.asarray(credit, dtype=float)
    return conv.output_table({"credit": full, "revenue_credit": full * conv.output_revenue})


def channel_score_credits(jr: Journeys, score: np.ndarray) -> np.ndarray:
    """Per-touch credit from a per-touch score of the touch's channel in its
    journey (the same value on every touch of that channel): each distinct channel
    gets score / Σ scores of the journey's distinct channels (negatives clipped;
    equal split if all are 0), split equally over that channel's touches.
    Used by the data-driven models (Markov, Shapley, algorithmic)."""
    import pandas as pd

    n_j, jid = jr.n_journeys, jr.jid
    score = np.clip(score, 0.0, None)
    pair, _ = pd.factorize(jid * max(len(jr.channels), 1) + jr.channel)
    per_pair = np.bincount(pair)[pair]  # touches of this channel in this journey
    first = np.ones(len(pair), dtype=bool)  # codes appear in order: a new code is max + 1
    if len(pair) > 1:
        first[1:] = pair[1:] > np.maximum.accumulate(pair[:-1])
    total = np.bincount(jid, weights=np.where(first, score, 0.0), minlength=n_j)
    distinct = np.bincount(jid, weights=first, minlength=n_j)
    share = np.where(total[jid] > 0, score / np.where(total > 0, total, 1.0)[jid], 1.0 / np.maximum(distinct, 1)[jid])
    return share / per_pair
