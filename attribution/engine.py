"""The rule engine: compiled DSL model + Journeys → per-touch credits.

One engine runs every rule-based model (all presets are DSL files). It is
vectorised over all journeys at once: each rule becomes a boolean mask over
the touch arrays and per-journey sums are bincounts; the only Python loop is
over the model's few rules. Semantics (ATTRIBUTION.md, "One engine"):

1. each rule's selector picks touches; `other_touches` picks what no other rule did;
2. rules that picked nothing drop out and their shares go to the remaining rules
   in proportion to those rules' shares; if every rule dropped out, linear;
3. each rule spreads its share equally / proportionally (channel weights) /
   by time decay (0.5 ** (age_days / half_life));
4. a touch picked by several rules gets the sum.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from attribution.journeys import UNASSIGNED, Journeys

OUTPUT_COLUMNS = ("journey_id", "touch_index", "channel", "credit", "revenue_credit")


def _first_last(jr: Journeys, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Among the touches where `mask`, the first and the last of each journey."""
    f = mask.astype(np.int64)
    seen = np.cumsum(f)
    start = jr.starts[jr.jid]
    rank = seen - (seen[start] - f[start])  # 1-based rank among masked touches
    total = np.bincount(jr.jid, weights=f, minlength=jr.n_journeys)[jr.jid]
    return mask & (rank == 1), mask & (rank == total)


def select(jr: Journeys, rule: dict) -> np.ndarray:
    """The touches a rule's selector picks (other_touches is resolved by the caller)."""
    name = rule["selector"]
    flt = None
    if rule.get("channels") is not None:
        flt = np.isin(jr.channel, jr.channel_codes(rule["channels"]))
        if rule.get("exclude"):
            flt = ~flt
    if name == "milestone_touch":
        marked = jr.milestone_mask(rule["milestone"])
        return _first_last(jr, marked if flt is None else marked & flt)[0]
    if name in ("all_touches", "touches"):
        return np.ones(len(jr.jid), dtype=bool) if flt is None else flt
    if flt is None:  # unfiltered positions come straight from pos/count
        if name == "first_touch":
            return jr.pos == 0
        if name == "last_touch":
            return jr.pos == jr.count - 1
        if name == "middle_touches":
            return (jr.pos > 0) & (jr.pos < jr.count - 1)
    else:
        first, last = _first_last(jr, flt)
        if name == "first_touch":
            return first
        if name == "last_touch":
            return last
        if name == "middle_touches":
            return flt & ~first & ~last
    raise ValueError(f"unknown selector {name!r} in compiled model")


def _touch_weights(jr: Journeys, rule: dict, weights: dict[str, float]) -> np.ndarray | None:
    kind = rule.get("distribution", "equally")
    if kind == "equally":
        return None
    if kind == "proportionally":
        per_channel = np.ones(len(jr.channels))
        for name, factor in weights.items():
            per_channel[jr.channel_codes([name])] *= factor
        return per_channel[jr.channel]
    if kind == "time_decay":
        # relative to the journey's youngest touch so long windows cannot underflow
        youngest = jr.age_days[jr.starts[1:][jr.jid] - 1]
        return np.exp2(-(jr.age_days - youngest) / float(rule["half_life_days"]))
    raise ValueError(f"unknown distribution {kind!r} in compiled model")


def rule_credits(jr: Journeys, model: dict) -> np.ndarray:
    """Credit of each touch of `jr` (every journey's credits sum to 1)."""
    n, n_j, jid = len(jr.jid), jr.n_journeys, jr.jid
    rules = model["rules"]
    masks: list[np.ndarray | None] = [None if r["selector"] == "other_touches" else select(jr, r)
                                      for r in rules]
    if any(m is None for m in masks):
        picked = np.zeros(n, dtype=bool)
        for m in masks:
            if m is not None:
                picked |= m
        masks = [~picked if m is None else m for m in masks]

    spread, active = [], np.zeros(n_j)
    for rule, mask in zip(rules, masks):
        w = _touch_weights(jr, rule, model.get("weights", {}))
        w = mask.astype(float) if w is None else np.where(mask, w, 0.0)
        denom = np.bincount(jid, weights=w, minlength=n_j)
        has = denom > 0
        active += rule["share"] * has
        spread.append((rule["share"], has, w, denom))

    credit = np.zeros(n)
    scale = np.divide(1.0, active, out=np.zeros(n_j), where=active > 0)
    for share, has, w, denom in spread:
        per_journey = np.divide(share * scale, denom, out=np.zeros(n_j), where=has)
        credit += w * per_journey[jid]
    linear = active == 0  # every rule dropped out
    if linear.any():
        lin = linear[jid]
        credit[lin] = 1.0 / jr.count[lin]
    return credit


def credits_frame(jr: Journeys, credit: np.ndarray) -> pd.DataFrame:
    """Output rows for the touches of `jr` plus `unassigned` rows for converting
    journeys without touches, with every carried column of the input."""
    empty = jr.empty_conversions
    jid = np.concatenate([jr.jid, empty])
    channel = np.concatenate([jr.channels[jr.channel], np.full(len(empty), UNASSIGNED, dtype=object)])
    credit = np.concatenate([credit, np.ones(len(empty))])
    out = pd.DataFrame({
        "journey_id": jr.journey_ids[jid],
        "touch_index": np.concatenate([jr.touch_index, np.zeros(len(empty), dtype=np.int64)]),
        "channel": channel,
        "credit": credit,
        "revenue_credit": credit * jr.revenue[jid],
    })
    if jr.extra_columns:
        rows = np.concatenate([jr.row, jr.last_row[empty]])
        carried = jr.source[list(jr.extra_columns)].take(rows).reset_index(drop=True)
        out = pd.concat([out, carried], axis=1)
    return out


def run_rule_model(jr: Journeys, model: dict) -> pd.DataFrame:
    """Credits of every converting journey under a compiled rule model."""
    conv = jr.converting
    return credits_frame(conv, rule_credits(conv, model))


def channel_score_credits(jr: Journeys, score: np.ndarray) -> np.ndarray:
    """Per-touch credit from a per-touch score of the touch's channel in its
    journey (the same value on every touch of that channel): each distinct channel
    gets score / Σ scores of the journey's distinct channels (negatives clipped;
    equal split if all are 0), split equally over that channel's touches.
    Used by the data-driven models (Markov, Shapley, algorithmic)."""
    n_j, jid = jr.n_journeys, jr.jid
    score = np.clip(score, 0.0, None)
    pair, _ = pd.factorize(jid * max(len(jr.channels), 1) + jr.channel)
    per_pair = np.bincount(pair)[pair]  # touches of this channel in this journey
    first = np.ones(len(pair), dtype=bool)  # codes appear in order: a new code is max + 1
    if len(pair) > 1:
        first[1:] = pair[1:] > np.maximum.accumulate(pair[:-1])
    total = np.bincount(jid, weights=np.where(first, score, 0.0), minlength=n_j)
    distinct = np.bincount(jid, weights=first, minlength=n_j)
    share = np.where(total[jid] > 0, score / np.where(total > 0, total, 1.0)[jid],
                     1.0 / np.maximum(distinct, 1)[jid])
    return share / per_pair
