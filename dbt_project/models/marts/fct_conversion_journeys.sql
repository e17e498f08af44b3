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
    The journeys are cut by macros/journeys.sql (journey_rows, unit `person`), the same SQL as
    the account journeys (fct_group_conversion_journeys); this model gathers the identities'
    touches (int_touches_identified) and conversions (stg_raw__conversions with their identity).

    max_received_at: the newest received_at among the row's inputs (the touch's session, the
    conversion); the incremental watermark. conversion_received_at: when the raw conversion row
    the journey was built from was received (null on paths); a conversion received within the
    watermark's margin but already shown that way is not rebuilt again.

    Incremental by identity: an identity's journeys depend only on its own sessions, conversions
    and visitors, so a run rebuilds all the journeys (converting and `path_…`) of the identities
    that changed since the table's watermarks and nothing else (macros/journeys_incremental.sql says which:
    a visitor's sessions were rebuilt, a conversion was received, a visitor was linked to a user
    or relinked to another). Rebuilt sessions are looked for by received time AND by event time,
    like int_sessions: only sessions ending within mbuzz__late_event_window_days of the table's
    newest touch_ts (before the run) count, so a bulk-loaded history (everything received within
    mbuzz__received_margin_minutes) is not rebuilt every run; that bound is never later than
    int_sessions' own (macros/journeys_incremental.sql has the reasoning). The pre-hook finds those
    identities, into a temporary table the model reads, and deletes their rows first, so
    identities that vanish (`visitor:V` once V is identified, a user left without visitors) leave
    no stale rows; delete+insert by identity then adds the rebuilt rows. A full refresh gives the
    same rows. After changing the journey vars, the seeds or the environments: --full-refresh. -#}

{{
    config(
        materialized=visitor_incremental(),
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
        location_root=lake_location('marts'),
    )
}}

-- the incremental branch (macros/journeys_incremental.sql) reads int_sessions_classified itself
-- depends_on: {{ ref('int_sessions_classified') }}

with

-- not materialized: an incremental run reads only the conversions it needs (by visitor, by id)
conversions as {{ not_materialized() }} (

    select * from {{ ref('stg_raw__conversions') }}

),

identities as (

    select * from {{ ref('int_identities') }}

),

{% if is_incremental() %}

-- the identities this run rebuilds, found by the pre-hook (macros/journeys_incremental.sql), and every
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

-- materialized: filtered by identity below, the identity must be known first (else PostgreSQL
-- may join the rebuilt identities by account and environment alone, a cross product)
identified_conversions as {{ materialized_cte() }} (

    select
        conversions.*,
        {{ identity_key_sql(
            'coalesce(conversions.user_id, identities.user_id)', 'conversions.visitor_id'
        ) }} as identity_key
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

-- the journeys cut from them, as for every journey unit (macros/journeys.sql)
journeys as (

    {{ journey_rows('person', 'touches', 'journey_conversions') }}

)

select * from journeys
