{#- The attribution engine's input: ONE ROW PER TOUCH (grain: account_id + journey_id + touch_index).

    Converting journeys (journey_id = conversion_id): the identity's sessions that started in
    [converted_at - mbuzz__lookback_days, converted_at], ordered by start (ties by session_id),
    after the identity's previous conversion of the same type when mbuzz__conversion_cycles,
    keeping the last mbuzz__max_touches when set. A conversion with no touch is ONE row with
    null touch_index / touch_ts / session_id / channel (the engine credits it to `unassigned`).

    Non-converting paths (journey_id = `path_<identity_key>`): identities with sessions and no
    conversion; their sessions within the lookback ending at their last touch.

    milestones: `;`-separated (`mql`, `mql;sql`, '' for none). The touch in which the identity's
    FIRST event of a milestone type happened carries it, if that touch is in the journey and the
    event happened no later than the conversion. Path transforms (exposure, first, …) are applied
    by the engine, not here. utm_source / utm_medium / utm_campaign are the session's classified
    source / medium / campaign (the UTMs when tagged; else derived from click id or referrer).

    max_received_at: the newest received_at among the row's inputs (the touch's session, the
    conversion); the incremental watermark. conversion_received_at: when the raw conversion row
    the journey was built from was received (null on paths); a conversion received within the
    watermark's margin but already shown that way is not rebuilt again.

    Incremental by identity: an identity's journeys depend only on its own sessions, conversions
    and visitors, so a run rebuilds all the journeys (converting and `path_…`) of the identities
    that changed since the table's watermarks and nothing else (macros/journeys.sql says which:
    a visitor's sessions were rebuilt, a conversion was received, a visitor was linked to a user
    or relinked to another). Rebuilt sessions are looked for by received time AND by event time,
    like int_sessions: only sessions ending within mbuzz__late_event_window_days of the table's
    newest touch_ts (before the run) count, so a bulk-loaded history (everything received within
    mbuzz__received_margin_minutes) is not rebuilt every run; that bound is never later than
    int_sessions' own (macros/journeys.sql has the reasoning). The pre-hook finds those
    identities, into a temporary table the model reads, and deletes their rows first, so
    identities that vanish (`visitor:V` once V is identified, a user left without visitors) leave
    no stale rows; delete+insert by identity then adds the rebuilt rows. A full refresh gives the
    same rows. After changing the journey vars, the seeds or the environments: --full-refresh. -#}

{%- set lookback = var('mbuzz__lookback_days') | int %}
{%- set max_touches = var('mbuzz__max_touches') %}
{%- set cycles = var('mbuzz__conversion_cycles') %}

{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['account_id', 'environment', 'identity_key'],
        on_schema_change='fail',
        indexes=[
            {'columns': ['account_id', 'conversion_ts']},
            {'columns': ['account_id', 'journey_id']},
            {'columns': ['account_id', 'environment', 'identity_key']},
            {'columns': ['account_id', 'environment', 'max_received_at']},
            {'columns': ['account_id', 'environment', 'touch_ts']},
        ],
        pre_hook=["{{ journeys_delete_rebuilt() }}"],
    )
}}

-- the incremental branch (macros/journeys.sql) reads int_sessions_classified itself
-- depends_on: {{ ref('int_sessions_classified') }}

with

-- not materialized: an incremental run reads only the conversions it needs (by visitor, by id)
conversions as not materialized (

    select * from {{ ref('stg_raw__conversions') }}

),

identities as (

    select * from {{ ref('int_identities') }}

),

{% if is_incremental() %}

-- the identities this run rebuilds, found by the pre-hook (macros/journeys.sql), and every
-- visitor whose sessions are theirs
rebuilt_identities as (

    {%- if flags.WHICH in ('run', 'build', 'retry') %}
    select account_id, environment, identity_key from {{ journeys_rebuilt_table() }}
    {%- else %}
    -- `dbt show` and `dbt compile` run no pre-hook: the same identities, found inline
    {{ journeys_rebuilt_identities() }}
    {%- endif %}

),

rebuilt_visitors as (

    select identities.account_id, identities.environment, identities.visitor_id
    from identities
    inner join rebuilt_identities
        on identities.account_id = rebuilt_identities.account_id
        and identities.environment = rebuilt_identities.environment
        and rebuilt_identities.identity_key = 'user:' || identities.user_id
    union
    select account_id, environment, substr(identity_key, length('visitor:') + 1) as visitor_id
    from rebuilt_identities
    where identity_key like 'visitor:%'

),

-- their sessions, fetched visitor by visitor through the visitor indexes (`offset 0` keeps the
-- lateral subquery parameterised instead of one big hash join). Materialized: filtered by
-- identity inside the loop, PostgreSQL rebuilt a hash of every rebuilt identity per visitor
-- (quadratic: 11 s for 5,600 visitors after a bulk load)
visitor_sessions as materialized (

    select visitor_sessions.*
    from rebuilt_visitors
    cross join lateral (
        select *
        from {{ ref('int_touches_identified') }} as sessions
        where sessions.account_id = rebuilt_visitors.account_id
          and sessions.environment = rebuilt_visitors.environment
          and sessions.visitor_id = rebuilt_visitors.visitor_id
        offset 0
    ) as visitor_sessions

),

-- with test data included, a visitor's sessions in the other environment may belong to an
-- identity not rebuilt
identified_sessions as (

    select *
    from visitor_sessions
    where (account_id, environment, identity_key) in (
        select account_id, environment, identity_key from rebuilt_identities
    )

),

-- the conversions recorded with their users, by id: raw.conversions has no index on user_id,
-- and the staging view deduplicates a conversion cheaply only when asked for it by id
user_conversion_ids as (

    select distinct raw_conversions.account_id, raw_conversions.conversion_id
    from {{ source('raw', 'conversions') }} as raw_conversions
    where (raw_conversions.account_id, raw_conversions.environment, 'user:' || nullif(btrim(raw_conversions.user_id), '')) in (
        select account_id, environment, identity_key from rebuilt_identities
    )

),

-- the conversions that may be theirs: their visitors' (visitor by visitor) and their users'
candidate_conversions as (

    select visitor_conversions.*
    from rebuilt_visitors
    cross join lateral (
        select *
        from conversions
        where conversions.account_id = rebuilt_visitors.account_id
          and conversions.environment = rebuilt_visitors.environment
          and conversions.visitor_id = rebuilt_visitors.visitor_id
        offset 0
    ) as visitor_conversions
    union
    select user_conversions.*
    from user_conversion_ids
    cross join lateral (
        select *
        from conversions
        where conversions.account_id = user_conversion_ids.account_id
          and conversions.conversion_id = user_conversion_ids.conversion_id
        offset 0
    ) as user_conversions

),

{% else %}

identified_sessions as (

    select * from {{ ref('int_touches_identified') }}

),

candidate_conversions as (

    select * from conversions

),

{% endif %}

touches as (

    -- only what journeys need: these rows are sorted several times
    select
        account_id,
        environment,
        identity_key,
        session_id,
        started_at,
        channel,
        source,
        medium,
        campaign,
        {%- for milestone in milestone_types() %}
        first_{{ milestone }}_at,
        {%- endfor %}
        max_received_at
    from identified_sessions

),

{%- for milestone in milestone_types() %}

first_{{ milestone }} as (

    select distinct on (account_id, environment, identity_key)
        account_id,
        session_id,
        first_{{ milestone }}_at as milestone_at
    from touches
    where first_{{ milestone }}_at is not null
    order by account_id, environment, identity_key, first_{{ milestone }}_at, started_at, session_id

),
{%- endfor %}

-- materialized: filtered by identity below, the identity must be known first (else PostgreSQL
-- may join the rebuilt identities by account and environment alone, a cross product)
identified_conversions as materialized (

    select
        conversions.*,
        case
            when coalesce(conversions.user_id, identities.user_id) is not null
                then 'user:' || coalesce(conversions.user_id, identities.user_id)
            else 'visitor:' || conversions.visitor_id
        end as identity_key
    from candidate_conversions as conversions
    left join identities
        on conversions.account_id = identities.account_id
            and conversions.environment = identities.environment
            and conversions.visitor_id = identities.visitor_id

),

journey_conversions as (

    select *
    from identified_conversions
    {%- if is_incremental() %}
    where (account_id, environment, identity_key) in (select account_id, environment, identity_key from rebuilt_identities)
    {%- endif %}

),

cycled_conversions as (

    select
        *,
        lag(converted_at) over (
            partition by account_id, environment, identity_key, conversion_type
            order by converted_at, conversion_id
        ) as previous_conversion_at
    from journey_conversions

),

converting as (

    select
        cycled_conversions.account_id,
        cycled_conversions.environment,
        cycled_conversions.identity_key,
        cycled_conversions.conversion_id as journey_id,
        cycled_conversions.conversion_id,
        true as converted,
        cycled_conversions.converted_at as conversion_ts,
        cycled_conversions.conversion_type,
        cycled_conversions.revenue,
        touches.started_at as touch_ts,
        touches.session_id,
        touches.channel,
        touches.source as utm_source,
        touches.medium as utm_medium,
        touches.campaign as utm_campaign,
        greatest(cycled_conversions.received_at, touches.max_received_at) as max_received_at,
        cycled_conversions.received_at as conversion_received_at
    from cycled_conversions
    left join touches
        on cycled_conversions.account_id = touches.account_id
            and cycled_conversions.environment = touches.environment
            and cycled_conversions.identity_key = touches.identity_key
            and touches.started_at >= cycled_conversions.converted_at - interval '{{ lookback }} days'
            and cycled_conversions.converted_at >= touches.started_at
    {%- if cycles %}
        and (cycled_conversions.previous_conversion_at is null
             or touches.started_at > cycled_conversions.previous_conversion_at)
        {%- endif %}

),

converted_identities as (

    select distinct
        account_id,
        environment,
        identity_key
    from journey_conversions

),

path_touches as (

    select
        touches.*,
        max(touches.started_at) over (
            partition by touches.account_id, touches.environment, touches.identity_key
        ) as last_touch_at
    from touches
    where not exists (
            select 1
            from converted_identities
            where converted_identities.account_id = touches.account_id
                and converted_identities.environment = touches.environment
                and converted_identities.identity_key = touches.identity_key
        )

),

non_converting as (

    select
        account_id,
        environment,
        identity_key,
        'path_' || identity_key as journey_id,
        null::varchar(40) as conversion_id,
        false as converted,
        null::timestamptz as conversion_ts,
        null::text as conversion_type,
        0::numeric(18, 4) as revenue,
        started_at as touch_ts,
        session_id,
        channel,
        source as utm_source,
        medium as utm_medium,
        campaign as utm_campaign,
        max_received_at,
        null::timestamptz as conversion_received_at
    from path_touches
    where started_at >= last_touch_at - interval '{{ lookback }} days'

),

journeys as (

    select * from converting
    union all
    select * from non_converting

),

ordered as (

    select
        *,
        row_number() over (
            partition by account_id, journey_id
            order by touch_ts desc nulls last, session_id desc
        ) as touches_from_end
    from journeys

),

kept as (

    select *
    from ordered
    {%- if max_touches is not none and max_touches | string | lower not in ('none', 'null', '') %}
    where touches_from_end <= {{ max_touches | int }}
    {%- endif %}

),

final as (

    select
        kept.account_id,
        kept.environment,
        kept.journey_id,
        kept.conversion_id,
        kept.converted,
        kept.conversion_ts,
        kept.conversion_type,
        kept.revenue,
        case
            when kept.session_id is not null then
                (
                    row_number()
                        over (partition by kept.account_id, kept.journey_id order by kept.touch_ts, kept.session_id)
                    - 1
                )::integer
        end as touch_index,
        kept.touch_ts,
        kept.session_id,
        kept.channel,
        kept.utm_source,
        kept.utm_medium,
        kept.utm_campaign,
        concat_ws(
            ';'
            {%- for milestone in milestone_types() %},
            case
                when first_{{ milestone }}.session_id is not null
                    and (not kept.converted or first_{{ milestone }}.milestone_at <= kept.conversion_ts)
                    then '{{ milestone }}'
            end
            {%- endfor %}
        ) as milestones,
        kept.identity_key,
        kept.max_received_at,
        kept.conversion_received_at
    from kept
    {%- for milestone in milestone_types() %}
left join first_{{ milestone }}
    on first_{{ milestone }}.account_id = kept.account_id
        and first_{{ milestone }}.session_id = kept.session_id
    {%- endfor %}

)

select * from final
