{#- One row per session (grain: session_id), sessionised per visitor.

    - Events that carry a client session_id form that session.
    - Other events of a visitor start a new session after a gap of MORE than
      mbuzz__session_timeout_minutes (exactly the timeout stays in the session), or when an event
      carries campaign data (UTM source/medium/campaign or a click id) different from the
      session's current campaign. Events without campaign data never split a session.
    - Events are ordered by occurred_at, then event_id, whatever order they arrived in.
    - `impression` events are no part of sessions (int_impressions, docs/impressions.md).

    Incremental: each run re-sessionises every visitor with an event received since the last
    build of its account (minus mbuzz__received_margin_minutes) and occurring within
    mbuzz__late_event_window_days of the account's newest session, and every visitor of an
    account (and environment) without sessions yet, from all of that visitor's events;
    delete+insert by visitor replaces their sessions, so merges and splits caused by late events
    come out exactly as a full refresh.
    Events arriving later than the window are picked up at the visitor's next activity or on a
    full refresh. Under TimescaleDB the table is a hypertable on started_at, compressed after 30 days. -#}

{{
    config(
        materialized=visitor_incremental(),
        incremental_strategy='delete+insert',
        unique_key=['account_id', 'environment', 'visitor_id'],
        on_schema_change='fail',
        indexes=[
            {'columns': ['account_id', 'environment', 'visitor_id']},
            {'columns': ['session_id']},
            {'columns': ['started_at']},
        ],
        post_hook=["{{ hypertable_post_hook('started_at', compress_after='30 days', segmentby='account_id', orderby='started_at desc, session_id') }}"],
    )
}}

{%- set timeout = var('mbuzz__session_timeout_minutes') | int %}
{%- set marketing = ['utm_source', 'utm_medium', 'utm_campaign'] + click_id_names() %}

with

-- not materialized: each use below filters it (by time, by visitor) down to raw.events' indexes.
-- Impressions (ads seen, not clicked) are not visits: int_impressions makes them touches
events as {{ not_materialized() }} (

    select * from {{ ref('stg_raw__events') }}
    where event_type <> 'impression'

),

{% if is_incremental() %}

-- per account and environment: how far back to look for late events, and which events are new
watermarks as (

    {{ last_run_watermarks(this) }}

),

-- the pairs without sessions yet (an account whose history arrives after others have sessions,
-- or its first test-key events): every event of theirs is new. Every event's account is in
-- raw.accounts (ingestion authenticates by the account's key).
new_pairs as (

    select raw_accounts.id as account_id, environments.environment
    from {{ source('raw', 'accounts') }} as raw_accounts
    cross join (values ('live'), ('test')) as environments (environment)
    where environments.environment in {{ environments_sql() }}
      and not exists (
          select 1
          from watermarks
          where watermarks.account_id = raw_accounts.id
            and watermarks.environment = environments.environment
      )

),

-- detection reads raw.events itself: deduplication does not change which visitors have news
changed_visitors as (

    -- pairs with sessions: events within their late-event window, received since their last build
    select distinct raw_events.account_id, raw_events.environment, raw_events.visitor_id
    from {{ source('raw', 'events') }} as raw_events
    inner join watermarks
        on raw_events.account_id = watermarks.account_id
        and raw_events.environment = watermarks.environment
    -- a constant lower bound lets PostgreSQL / TimescaleDB skip old data (chunks) altogether
    where raw_events.occurred_at >= (select min(scan_from) from watermarks)
      and {{ changed_since_last_run('watermarks', 'raw_events.occurred_at', 'raw_events.received_at') }}

    union all

    -- pairs without: all their visitors, pair by pair through raw.events' account indexes
    -- (`offset 0` keeps the lateral subquery parameterised instead of a scan of every account)
    select new_pairs.account_id, new_pairs.environment, new_visitors.visitor_id
    from new_pairs
    cross join lateral (
        select distinct raw_events.visitor_id
        from {{ source('raw', 'events') }} as raw_events
        where raw_events.account_id = new_pairs.account_id
          and raw_events.environment = new_pairs.environment
        offset 0
    ) as new_visitors

),

-- all events of those visitors, fetched visitor by visitor through raw.events' visitor index
-- (`offset 0` keeps the lateral subquery parameterised instead of one big hash join)
visitor_events as (

    select visitor_events.*
    from changed_visitors
    cross join lateral (
        select *
        from events
        where events.account_id = changed_visitors.account_id
          and events.environment = changed_visitors.environment
          and events.visitor_id = changed_visitors.visitor_id
        offset 0
    ) as visitor_events

),

{% else %}

visitor_events as (

    select * from events

),

{% endif %}

keyed as (

    select
        *,
        case
            when coalesce({{ marketing | join(', ') }}) is not null
                then concat_ws(
                        '|',
                        {% for f in marketing %}coalesce(
                            lower({{ f }}), ''
                        ){{ ", " if not loop.last }}{% endfor %}
                    )
        end as campaign_key
    from visitor_events

),

-- The window passes below carry only narrow columns (sorting wide rows is what costs) and share
-- one ordering, so PostgreSQL sorts once. Landing attributes are joined back at the end.
-- They partition by visitor_id first, in the "C" collation: equality (hence the partitions and
-- every result) is the same in any collation, but a sort whose first key is distinctive and
-- byte-ordered compares abbreviated keys, twice as fast as account_id first in the database's
-- collation (glibc's, even C.UTF-8, gets no abbreviated keys).

-- events carrying the client's session id
client_sessions as (

    select
        account_id,
        environment,
        visitor_id,
        event_id,
        event_type,
        user_id,
        occurred_at,
        received_at,
        client_session_id as session_key,
        row_number() over (
            partition by visitor_id {{ collate_c() }}, account_id, environment, client_session_id
            order by occurred_at, event_id
        ) = 1 as is_session_start
    from keyed
    where client_session_id is not null

),

visits as (

    select
        account_id,
        environment,
        visitor_id,
        event_id,
        event_type,
        user_id,
        occurred_at,
        received_at,
        campaign_key,
        row_number() over visitor_order as ordinal,
        coalesce(occurred_at - lag(occurred_at) over visitor_order > interval '{{ timeout }} minutes', true)
            as is_visit_start
    from keyed
    where client_session_id is null
    window
        visitor_order as (
            partition by visitor_id {{ collate_c() }}, account_id, environment order by occurred_at, event_id
        )

),

-- the session's current campaign before each event: the latest campaign data seen since the
-- visit started, up to the previous event (a running max over "ordinal|key" marks, where a
-- visit start marks an empty key); an event with campaign data other than that starts a session
breaks as (

    select
        *,
        is_visit_start
        or (
            campaign_key is not null
            and campaign_key is distinct from nullif(substr(max(
                case
                    when is_visit_start or campaign_key is not null
                        then lpad(ordinal::{{ text_type() }}, 12, '0') || '|' || coalesce(campaign_key, '')
                end {{ collate_c() }}
            ) over visitor_order, 14), '')
        ) as is_session_start
    from visits
    window visitor_order as (
        partition by visitor_id {{ collate_c() }}, account_id, environment order by occurred_at, event_id
        rows between unbounded preceding and 1 preceding
    )

),

derived_sessions as (

    select
        account_id,
        environment,
        visitor_id,
        event_id,
        event_type,
        user_id,
        occurred_at,
        received_at,
        (sum(case when is_session_start then 1 else 0 end) over (
            partition by visitor_id {{ collate_c() }}, account_id, environment
            order by occurred_at, event_id
            rows between unbounded preceding and current row
        ))::{{ text_type() }} as session_key,
        is_session_start
    from breaks

),

sessionised as (

    select
        *,
        true as is_client_session
    from client_sessions
    union all
    select
        *,
        false as is_client_session
    from derived_sessions

),

-- grouped in the windows' order (visitor_id "C" first): the two sorted streams merge and need
-- no new sort; the column keeps its own collation
session_facts as (

    select
        account_id,
        environment,
        (visitor_id {{ collate_c() }}) {{ collate_default() }} as visitor_id,
        session_key,
        is_client_session,
        min(occurred_at) as started_at,
        max(occurred_at) as ended_at,
        count(*) as event_count,
        max(received_at) as max_received_at,
        {{ newest_value('user_id', ['occurred_at', 'event_id'], 'user_id is not null') }} as user_id,
        {%- for milestone in milestone_types() %}
        min(occurred_at) filter (where event_type = '{{ milestone }}') as first_{{ milestone }}_at,
        {%- endfor %}
        min(event_id) filter (where is_session_start) as landing_event_id
    from sessionised
    group by visitor_id {{ collate_c() }}, account_id, environment, session_key, is_client_session

),

landings as (

    select
        session_facts.*,
        case
            when session_facts.is_client_session then session_facts.session_key
            else 'sess_' || left(md5(
                    session_facts.account_id || '|' || session_facts.environment || '|'
                    || session_facts.visitor_id || '|' || session_facts.landing_event_id
                ), 24)
        end as session_id,
        keyed.page_url as landing_url,
        {{ url_host('keyed.page_url') }} as landing_host,
        keyed.referrer,
        {{ url_host('keyed.referrer') }} as referrer_host,
        keyed.utm_source,
        keyed.utm_medium,
        keyed.utm_campaign,
        keyed.utm_term,
        keyed.utm_content,
        -- sqlfluff mis-reads the indentation of a Jinja loop that ends a select list
        -- noqa: disable=LT02
        {%- for click_id in click_id_names() %}
        keyed.{{ click_id }}{{ "," if not loop.last }}
        {%- endfor %}
    -- noqa: enable=LT02
    from session_facts
    inner join keyed
        on session_facts.account_id = keyed.account_id
            and session_facts.environment = keyed.environment
            and session_facts.visitor_id = keyed.visitor_id
            and session_facts.landing_event_id = keyed.event_id

),

final as (

    select
        account_id,
        environment,
        session_id,
        visitor_id,
        user_id,
        started_at,
        ended_at,
        event_count,
        is_client_session,
        landing_event_id,
        landing_url,
        landing_host,
        referrer,
        referrer_host,
        utm_source,
        utm_medium,
        utm_campaign,
        utm_term,
        utm_content,
        {%- for click_id in click_id_names() %}
        {{ click_id }},
        {%- endfor %}
        {%- for milestone in milestone_types() %}
        first_{{ milestone }}_at,
        {%- endfor %}
        max_received_at
    from landings

)

select * from final
