"""A compiled rule model → one PostgreSQL query over marts.fct_conversion_journeys.

The scale-out path of docs/attribution.md ("inside the warehouse"): the same model, run there,
with the Python engine's semantics (attribution.engine) and results:

    sql, params = compile_sql(load_model("u_shaped"))
    rows = conn.execute(sql, {**params, "account_id": "acct_…"}).fetchall()
    # (journey_id, touch_index, channel, credit, revenue_credit), one row per kept
    # touch of each converting journey, plus one `unassigned` row (credit 1.0)
    # per converting journey left without touches

What it mirrors (for the account given by %(account_id)s; with window=True
only the conversions with %(start)s <= conversion_ts < %(end)s):
- touches are the rows with a channel (trimmed, not empty) and a touch_ts,
  ordered by touch_ts then session_id; `touch_index` is that 0-based position
  among the journey's touches, before any is dropped;
- journey options as the pipeline runs them (JourneyOptions(conversion_cycles=
  False), transform `unique`, no max_touches; dbt has cut the journeys): a
  touch is kept if 0 <= age_days <= lookback, age_days = (conversion_ts −
  touch_ts) in fractional days; the model's own `lookback N days` wins over
  the default (30, like JourneyOptions);
- the rule semantics: selectors (first/last/middle touches, optionally filtered
  first: `last_touch where channel not in ("direct")` is the last of the
  non-direct touches), milestone_touch (the first touch whose `;`-separated
  milestones contain the name), all_touches / touches where channel …,
  other_touches (what no other rule picked); rules that pick nothing drop out
  and the remaining ones share in proportion to their shares; no rule left →
  linear; equally / proportionally (channel weights) / time decay
  (0.5 ** ((age − youngest age) / half-life), the engine's form) within a rule;
  sums over rules.

Safety: nothing from the DSL is formatted into the SQL text. Channel names,
milestone names, shares, weights, half-lives and the lookback are bound
parameters (`%(name)s`, psycopg's named style; their names are built from the
rule's index only), and every identifier in the text is a constant of this
module. No database driver is imported here: the caller executes the text with
the params (plus account_id, and start/end when window=True).
"""

from __future__ import annotations

from dataclasses import dataclass

from attribution.journeys import DEFAULT_LOOKBACK_DAYS, UNASSIGNED
from dsl.validator import SELECTORS

TABLE = "marts.fct_conversion_journeys"
OUTPUT_COLUMNS = ("journey_id", "touch_index", "channel", "credit", "revenue_credit")
_POINT = ("first_touch", "last_touch", "milestone_touch")  # selectors that pick one touch per journey
_DISTRIBUTIONS = ("equally", "proportionally", "time_decay")


class SqlCompileError(ValueError):
    """The model cannot be compiled to SQL (not a rule model, unknown selector, …)."""


@dataclass(frozen=True)
class CompiledSql:
    """The query text (psycopg `%(name)s` placeholders) and the model's parameters.
    Execute with {**params, "account_id": …} (and "start", "end" if window)."""

    text: str
    params: dict

    def __iter__(self):  # sql, params = compile_sql(...)
        return iter((self.text, self.params))


def compile_sql(model: dict, lookback_days: float | None = DEFAULT_LOOKBACK_DAYS, window: bool = False) -> CompiledSql:
    """One PostgreSQL query computing the per-touch credits of `model` (a compiled
    rule model: the dict of dsl.compile_source / attribution.load_model).

    lookback_days: the default window (None: no lookback); the model's own
    `lookback N days` overrides it. window: also restrict to conversions in
    [%(start)s, %(end)s)."""
    if model.get("kind", "rules") != "rules" or not model.get("rules"):
        raise SqlCompileError(f"only rule-based models compile to SQL, not {model.get('kind')!r}")
    params: dict = {}

    def bind(name: str, value) -> str:
        params[name] = value
        return f"%({name})s"

    if model.get("impressions") is not None or model.get("kind_weights"):
        raise SqlCompileError("models that name impressions run in the Python engine (docs/impressions.md)")
    if model.get("lookback_days") is not None:
        lookback_days = model["lookback_days"]
    rules = model["rules"]
    weights = model.get("weights") or {}

    filters, positions, picks, weights_sql = [], [], [], []
    uses_channel_weights = uses_decay = False
    for i, rule in enumerate(rules):
        selector = rule["selector"]
        if selector not in SELECTORS or selector in ("impressions", "visits"):
            raise SqlCompileError(f"unknown selector {selector!r} in compiled model")
        flt = "true"
        if rule.get("channels") is not None:
            if selector == "other_touches":
                raise SqlCompileError("other_touches cannot be filtered")
            names = bind(f"r{i}_channels", [str(c) for c in rule["channels"]])
            flt = f"(channel = any({names}::text[]))"
            if rule.get("exclude"):
                flt = f"(not {flt})"
        if selector == "milestone_touch":
            mark = bind(f"r{i}_milestone", str(rule["milestone"]))
            flt = f"({mark}::text = any(marks) and {flt})"
        filters.append(f"{flt} as f{i}")
        if selector in ("first_touch", "last_touch", "milestone_touch", "middle_touches"):
            positions.append(f"min(pos) filter (where f{i}) over journey as lo{i}")
            positions.append(f"max(pos) filter (where f{i}) over journey as hi{i}")
        picks.append(
            {
                "first_touch": f"coalesce(pos = lo{i}, false)",
                "milestone_touch": f"coalesce(pos = lo{i}, false)",
                "last_touch": f"coalesce(pos = hi{i}, false)",
                "middle_touches": f"coalesce(f{i} and pos > lo{i} and pos < hi{i}, false)",
                "all_touches": f"f{i}",
                "touches": f"f{i}",
                "other_touches": None,  # resolved below
            }[selector]
        )
        kind = rule.get("distribution") or "equally"
        if kind not in _DISTRIBUTIONS:
            raise SqlCompileError(f"unknown distribution {kind!r} in compiled model")
        if kind == "equally" or selector in _POINT:  # one touch per journey: weight cancels
            weights_sql.append("1.0::float8")
        elif kind == "proportionally":
            uses_channel_weights = True
            weights_sql.append("channel_weight")
        else:
            uses_decay = True
            half_life = bind(f"r{i}_half_life", float(rule["half_life_days"]))
            weights_sql.append(f"power(2.0::float8, -(age_days - youngest) / {half_life}::float8)")
    others = [p for p in picks if p is not None]
    other = f"not ({' or '.join(others)})" if others else "true"
    picks = [other if p is None else p for p in picks]
    shares = [bind(f"r{i}_share", float(rule["share"])) + "::float8" for i, rule in enumerate(rules)]

    lookback = ""
    if lookback_days is not None:
        lookback = f"\n      and age_days <= {bind('lookback_days', float(lookback_days))}::float8"
    window_sql = "\n      and conversion_ts >= %(start)s and conversion_ts < %(end)s" if window else ""
    weight_cte = weight_join = ""
    if uses_channel_weights:
        bind("weight_channels", [str(c) for c in weights])
        bind("weight_factors", [float(f) for f in weights.values()])
        weight_cte = """
channel_weights as (
    select channel, factor
    from unnest(%(weight_channels)s::text[], %(weight_factors)s::float8[]) as w (channel, factor)
),"""
        weight_join = "\n    left join channel_weights using (channel)"
    channel_weight = ", coalesce(channel_weights.factor, 1.0::float8) as channel_weight" if uses_channel_weights else ""
    youngest = ", min(age_days) over journey as youngest" if uses_decay else ""

    n = len(rules)
    sep = ",\n        "
    text = f"""with
source as (
    select journey_id, converted, conversion_ts, revenue, touch_ts, session_id,
           nullif(btrim(channel), '') as channel, milestones
    from {TABLE}
    where account_id = %(account_id)s{window_sql}
),
journeys as (  -- journey-level values from every row of the journey, like the engine
    select journey_id, max(conversion_ts) as conversion_ts,
           coalesce(max(revenue), 0)::float8 as revenue
    from source
    group by journey_id
    having bool_or(coalesce(converted, false)) and max(conversion_ts) is not null
),
touches as (
    select s.journey_id, s.channel,
           row_number() over (partition by s.journey_id order by s.touch_ts, s.session_id collate "C") - 1
               as touch_index,
           extract(epoch from (j.conversion_ts - s.touch_ts))::float8 / 86400.0 as age_days,
           array(select btrim(m) from unnest(string_to_array(coalesce(s.milestones, ''), ';')) as m)
               as marks
    from source as s
    join journeys as j using (journey_id)
    where s.channel is not null and s.touch_ts is not null
),
kept as (
    select *, row_number() over (partition by journey_id order by touch_index) - 1 as pos,
           count(*) over (partition by journey_id) as n_touches
    from touches
    where age_days >= 0{lookback}
),{weight_cte}
filtered as (
    select kept.*{channel_weight}{youngest},
        {sep.join(filters)}
    from kept{weight_join}
    window journey as (partition by journey_id)
),
positioned as (
    select *{"".join(", " + p for p in positions)}
    from filtered
    window journey as (partition by journey_id)
),
picked as (
    select journey_id, touch_index, channel, pos, n_touches,
        {sep.join(f"{picks[i]} as s{i}, {weights_sql[i]} as w{i}" for i in range(n))}
    from positioned
),
spread as (
    select *,
        {sep.join(f"sum(case when s{i} then w{i} else 0.0 end) over journey as d{i}" for i in range(n))}
    from picked
    window journey as (partition by journey_id)
),
credited as (
    select journey_id, touch_index, channel,
        {" + ".join(f"case when d{i} > 0 then {shares[i]} else 0.0 end" for i in range(n))} as active,
        {" + ".join(f"case when s{i} and d{i} > 0 then {shares[i]} * w{i} / d{i} else 0.0 end" for i in range(n))}
            as raw,
        n_touches
    from spread
)
select c.journey_id, c.touch_index::integer as touch_index, c.channel,
       case when c.active > 0 then c.raw / c.active else 1.0 / c.n_touches end as credit,
       (case when c.active > 0 then c.raw / c.active else 1.0 / c.n_touches end) * j.revenue
           as revenue_credit
from credited as c
join journeys as j using (journey_id)
union all
select j.journey_id, 0, %(unassigned)s::text, 1.0::float8, j.revenue
from journeys as j
where not exists (select 1 from kept where kept.journey_id = j.journey_id)
"""
    params["unassigned"] = UNASSIGNED
    return CompiledSql(text, params)
