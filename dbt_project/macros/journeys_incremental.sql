{#- The incremental person journeys (marts/fct_conversion_journeys.sql): which identities a run
    rebuilds, and the pre-hook that finds them and deletes their rows first. (How a journey is
    cut from its touches and conversions is macros/journeys.sql, shared with the account journeys.)

    An identity's journeys (`user:<id>` or `visitor:<id>`) depend only on its sessions, its
    conversions and which visitors belong to it. All three change only through a visitor:

    - its sessions were rebuilt by int_sessions (int_sessions_classified shows a session with a
      max_received_at past the journeys' watermark that ends at or after their scan_from);
    - a conversion of it was received and the journeys do not show it yet (a replayed conversion
      id counts for every visitor that ever had it: the one it left may lose the conversion's
      user link);
    - its link to a user changed, which happens only through one of the two above (links are
      events carrying a user_id and conversions recorded with one);
    - for a hashed e-mail address (the visitor `email_sha256:<hash>` of offline conversions), a
      visitor whose identify calls carry the hash changed (its user is int_identities'; a hash
      that moves from one user to another leaves the first user's journeys to a full refresh).

    A changed visitor affects `visitor:<it>` and every user it was ever linked to by a raw event
    or conversion: the user it belongs to now and the one its journeys were built under are both
    among them (a superset only rebuilds more).

    The watermarks are per account and environment, as in int_sessions, from the journeys table
    before the run: received_after, its newest max_received_at minus
    mbuzz__received_margin_minutes; scan_from, its newest touch_ts minus
    mbuzz__late_event_window_days (none for a pair without journeys, or without touches). The
    event-time bound keeps a bulk-loaded history (everything received within the margin) from
    being rebuilt every run, and loses nothing: a visitor int_sessions rebuilt has an event
    occurring at or after int_sessions' scan_from, so one of its sessions ends at or after it;
    and the journeys' newest touch_ts <= the newest started_at <= the newest ended_at of the
    sessions as of the journeys' last run <= int_sessions' newest ended_at before its run, so this
    scan_from is the same or earlier (a superset). Received conversions are not bounded by event
    time (raw.conversions is small). -#}


{#- The (account_id, environment) pairs of a relation with an index starting with them: a loose
    index scan, one probe per pair instead of reading every row. -#}
{% macro account_environments(relation) %}
    with recursive found as (

        (
            select account_id, environment
            from {{ relation }}
            order by account_id, environment
            limit 1
        )
        union all
        select next_pair.account_id, next_pair.environment
        from found
        cross join lateral (
            select candidates.account_id, candidates.environment
            from {{ relation }} as candidates
            where (candidates.account_id, candidates.environment) > (found.account_id, found.environment)
            order by candidates.account_id, candidates.environment
            limit 1
        ) as next_pair

    )

    select * from found
{% endmacro %}


{#- received_after and scan_from per account and environment with sessions or journeys (null
    when the pair has no journeys yet: everything of it is new; scan_from is also null when the
    pair's journeys have no touch). Read once, by the pre-hook, before its delete moves them. -#}
{% macro journeys_watermarks() %}
    with

    pairs as (

        select * from ({{ account_environments(ref('int_sessions_classified')) }}) as session_pairs
        union
        select * from ({{ account_environments(this) }}) as journey_pairs

    )

    select
        pairs.account_id,
        pairs.environment,
        -- each through the journeys' (account_id, environment, touch_ts / max_received_at) index
        {%- set newest -%}
            (
                select max(journeys.{column})
                from {{ this }} as journeys
                where journeys.account_id = pairs.account_id
                  and journeys.environment = pairs.environment
            )
        {%- endset %}
        {{ last_run_bounds(newest | replace('{column}', 'touch_ts'), newest | replace('{column}', 'max_received_at')) }}
    from pairs
{% endmacro %}


{#- The identities to rebuild: (account_id, environment, identity_key). -#}
{% macro journeys_rebuilt_identities() %}
    with

    watermarks as (

        {{ journeys_watermarks() }}

    ),

    -- the visitors int_sessions may have rebuilt: a session received since the watermark and
    -- ending within the late-event window; pair by pair through int_sessions_classified's
    -- (account_id, environment, max_received_at) index (`offset 0` keeps the lateral subquery
    -- parameterised instead of one big hash join)
    resessionised_visitors as (

        select distinct watermarks.account_id, watermarks.environment, new_sessions.visitor_id
        from watermarks
        cross join lateral (
            select sessions.visitor_id
            from {{ ref('int_sessions_classified') }} as sessions
            where sessions.account_id = watermarks.account_id
              and sessions.environment = watermarks.environment
              and {{ changed_since_last_run('watermarks', 'sessions.ended_at', 'sessions.max_received_at') }}
            offset 0
        ) as new_sessions

    ),

    -- raw rows, not staging: a replayed conversion hides its earlier rows there. A row the
    -- journeys already reflect is no news: the journey of its conversion was built from it or
    -- from a newer row (staging keeps the newest by received_at, then converted_at), which the
    -- (account_id, journey_id) index tells row by row; without this, everything received within
    -- the margin (all of a bulk load) would be rebuilt by the runs that follow it
    received_conversions as (

        select distinct raw_conversions.account_id, raw_conversions.conversion_id
        from {{ source('raw', 'conversions') }} as raw_conversions
        left join watermarks
            on raw_conversions.account_id = watermarks.account_id
            and raw_conversions.environment = watermarks.environment
        where {{ received_since_last_run('watermarks', 'raw_conversions.received_at') }}
          and raw_conversions.environment in {{ environments_sql() }}
          and not exists (
              select 1
              from {{ this }} as journeys
              where journeys.account_id = raw_conversions.account_id
                and journeys.journey_id = raw_conversions.conversion_id
                and (journeys.conversion_received_at, journeys.conversion_ts)
                    >= (raw_conversions.received_at, raw_conversions.converted_at)
          )

    ),

    converted_visitors as (

        select distinct raw_conversions.account_id, raw_conversions.environment, raw_conversions.visitor_id
        from received_conversions
        inner join {{ source('raw', 'conversions') }} as raw_conversions
            on raw_conversions.account_id = received_conversions.account_id
            and raw_conversions.conversion_id = received_conversions.conversion_id
        where raw_conversions.environment in {{ environments_sql() }}

    ),

    changed_real_visitors as (

        select * from resessionised_visitors
        union
        select * from converted_visitors

    ),

    -- a hashed e-mail address is a visitor of its own (`email_sha256:<hash>`, int_identities):
    -- it changed with every changed visitor whose identify calls carry it
    changed_visitors as (

        select * from changed_real_visitors
        union
        select distinct changed_real_visitors.account_id, changed_real_visitors.environment,
            'email_sha256:' || hashes.email_sha256 as visitor_id
        from changed_real_visitors
        cross join lateral (
            select lower(btrim({{ json_text('raw_events.properties', ['traits', 'email_sha256']) }})) as email_sha256
            from {{ source('raw', 'events') }} as raw_events
            where raw_events.account_id = changed_real_visitors.account_id
              and raw_events.visitor_id = changed_real_visitors.visitor_id
              and raw_events.environment = changed_real_visitors.environment
              and raw_events.event_type = 'identify'
              and {{ json_text('raw_events.properties', ['traits', 'email_sha256']) }} is not null
            offset 0
        ) as hashes

    ),

    -- every user each changed visitor was ever linked to, fetched visitor by visitor through the
    -- raw tables' visitor indexes
    linked_users as (

        select distinct changed_visitors.account_id, links.user_id
        from changed_visitors
        cross join lateral (
            select nullif(btrim(raw_events.user_id), '') as user_id
            from {{ source('raw', 'events') }} as raw_events
            where raw_events.account_id = changed_visitors.account_id
              and raw_events.visitor_id = changed_visitors.visitor_id
              and raw_events.environment = changed_visitors.environment
              and nullif(btrim(raw_events.user_id), '') is not null
            union
            select nullif(btrim(raw_conversions.user_id), '')
            from {{ source('raw', 'conversions') }} as raw_conversions
            where raw_conversions.account_id = changed_visitors.account_id
              and raw_conversions.visitor_id = changed_visitors.visitor_id
              and raw_conversions.environment = changed_visitors.environment
              and nullif(btrim(raw_conversions.user_id), '') is not null
            union
            -- a hashed address's user: no raw row carries its visitor id, the identity graph has it
            select identities.user_id
            from {{ ref('int_identities') }} as identities
            where identities.account_id = changed_visitors.account_id
              and identities.environment = changed_visitors.environment
              and identities.visitor_id = changed_visitors.visitor_id
              and changed_visitors.visitor_id like 'email\_sha256:%'
        ) as links

    ),

    changed_identities as (

        select account_id, 'visitor:' || visitor_id as identity_key
        from changed_visitors
        union
        select account_id, 'user:' || user_id as identity_key
        from linked_users

    )

    -- in every environment: a path's journey_id (`path_<identity_key>`) is one journey across
    -- environments when test data is included
    select changed_identities.account_id, environments.environment, changed_identities.identity_key
    from changed_identities
    cross join (values ('live'), ('test')) as environments (environment)
    where environments.environment in {{ environments_sql() }}
{% endmacro %}


{#- The temporary table (this transaction only) of the identities an incremental run rebuilds. -#}
{% macro journeys_rebuilt_table() -%}
    mbuzz_journeys_rebuilt
{%- endmacro %}


{#- Pre-hook of fct_conversion_journeys. An incremental run first finds the identities it
    rebuilds, once, into a temporary table the model reads (analysed: a plan sized for a handful
    of identities, as the estimates of a CTE would have it, turns quadratic for tens of thousands,
    e.g. right after a bulk load), then deletes every row of theirs: delete+insert alone would
    keep the rows of identities that have none any more (`visitor:V` once V is linked to a user, a
    user whose only visitor moved to another user). The model then inserts their rows. Identities
    that change between this hook and the model are rebuilt by the next run (their rows were
    received within the received margin of its watermark).

    For this transaction only: the table (`on commit drop`) and work_mem (`local`), since an
    incremental run handles a few thousand rows but the row estimates of the watermark lookups
    are in the millions (parameterised ranges) and PostgreSQL sizes its hash tables by estimate
    up to work_mem (at the warehouse's 256 MB, clearing them costs more than the whole query). -#}
{% macro journeys_delete_rebuilt() -%}
    {%- if is_incremental() -%}
    {%- if 'conversion_received_at' not in (adapter.get_columns_in_relation(this) | map(attribute='name') | list) -%}
        {{ exceptions.raise_compiler_error(this ~ " was built by an earlier mbuzz (no conversion_received_at column): run `mbuzz warehouse build --full-refresh` once") }}
    {%- endif %}
    set local work_mem = '32MB';

    create temporary table {{ journeys_rebuilt_table() }} on commit drop as
    {{ journeys_rebuilt_identities() }};

    analyze {{ journeys_rebuilt_table() }};

    -- rows by ctid, found identity by identity through the (account_id, environment,
    -- identity_key) index: a join would read the whole table
    delete from {{ this }}
    where ctid = any(array(
        select journeys.ctid
        from {{ journeys_rebuilt_table() }} as rebuilt
        cross join lateral (
            select ctid
            from {{ this }} as journeys
            where journeys.account_id = rebuilt.account_id
              and journeys.environment = rebuilt.environment
              and journeys.identity_key = rebuilt.identity_key
            offset 0
        ) as journeys
    ))
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}
