{#- One row per session (grain: session_id), sessionised per visitor.

    - Events that carry a client session_id form that session.
    - Other events of a visitor start a new session after a gap of MORE than
      mbuzz__session_timeout_minutes (exactly the timeout stays in the session), or when an event
      carries campaign data (UTM source/medium/campaign or a click id) different from the
      session's current campaign. Events without campaign data never split a session.
    - Events are ordered by occurred_at, then event_id, whatever order they arrived in.

    Incremental: each run re-sessionises every visitor with an event received since the last
    build of its account (minus mbuzz__received_margin_minutes) and occurring within
    mbuzz__late_event_window_days of the account's newest session, from all of that visitor's events; delete+insert by visitor replaces
    their sessions, so merges and splits caused by late events come out exactly as a full refresh.
    Events arriving later than the window are picked up at the visitor's next activity or on a
    full refresh. Under TimescaleDB the table is a hypertable on started_at, compressed after 30 days. -#}

{{
    config(
        materialized='incremental',
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

events as (

    select * from {{ ref('stg_raw__events') }}

),

{% if is_incremental() %}

-- per account and environment: how far back to look for late events, and which events are new
watermarks as (

    select
        account_id,
        environment,
        max(ended_at) - interval '{{ var("mbuzz__late_event_window_days") | int }} days' as scan_from,
        max(max_received_at) - interval '{{ var("mbuzz__received_margin_minutes") | int }} minutes' as received_after
    from {{ this }}
    group by account_id, environment

),

changed_visitors as (

    select distinct events.account_id, events.environment, events.visitor_id
    from events
    left join watermarks
        on events.account_id = watermarks.account_id
        and events.environment = watermarks.environment
    -- a constant lower bound lets PostgreSQL / TimescaleDB skip old data (chunks) altogether
    where events.occurred_at >= (select coalesce(min(scan_from), '-infinity'::timestamptz) from watermarks)
      and events.occurred_at >= coalesce(watermarks.scan_from, '-infinity'::timestamptz)
      and events.received_at > coalesce(watermarks.received_after, '-infinity'::timestamptz)

),

visitor_events as (

    select events.*
    from events
    inner join changed_visitors
        on events.account_id = changed_visitors.account_id
        and events.environment = changed_visitors.environment
        and events.visitor_id = changed_visitors.visitor_id

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
                then concat_ws('|', {% for f in marketing %}coalesce(lower({{ f }}), ''){{ ", " if not loop.last }}{% endfor %})
        end as campaign_key
    from visitor_events

),

-- events carrying the client's session id
client_sessions as (

    select
        *,
        client_session_id as session_id,
        row_number() over (
            partition by account_id, environment, visitor_id, client_session_id
            order by occurred_at, event_id
        ) = 1 as is_session_start
    from keyed
    where client_session_id is not null

),

anonymous as (

    select
        *,
        lag(occurred_at) over visitor_order as previous_at
    from keyed
    where client_session_id is null
    window visitor_order as (partition by account_id, environment, visitor_id order by occurred_at, event_id)

),

visits as (

    select
        *,
        previous_at is null or occurred_at - previous_at > interval '{{ timeout }} minutes' as is_visit_start
    from anonymous

),

-- a campaign group starts at every visit start and at every event carrying campaign data
campaign_groups as (

    select
        *,
        count(*) filter (where is_visit_start or campaign_key is not null) over (
            partition by account_id, environment, visitor_id
            order by occurred_at, event_id
            rows between unbounded preceding and current row
        ) as campaign_group
    from visits

),

current_campaign as (

    select
        *,
        first_value(campaign_key) over (
            partition by account_id, environment, visitor_id, campaign_group
            order by occurred_at, event_id
        ) as current_campaign_key
    from campaign_groups

),

breaks as (

    select
        *,
        is_visit_start
            or (
                campaign_key is not null
                and campaign_key is distinct from lag(current_campaign_key) over (
                    partition by account_id, environment, visitor_id
                    order by occurred_at, event_id
                )
            ) as is_session_start
    from current_campaign

),

numbered as (

    select
        *,
        sum(case when is_session_start then 1 else 0 end) over (
            partition by account_id, environment, visitor_id
            order by occurred_at, event_id
            rows between unbounded preceding and current row
        ) as session_number
    from breaks

),

derived_sessions as (

    select
        numbered.*,
        'sess_' || left(md5(
            account_id || '|' || environment || '|' || visitor_id || '|'
            || first_value(event_id) over (
                partition by account_id, environment, visitor_id, session_number
                order by occurred_at, event_id
            )
        ), 24) as session_id
    from numbered

),

sessionised as (

    {%- set columns = ['account_id', 'environment', 'visitor_id', 'session_id', 'event_id', 'event_type', 'user_id',
                       'client_session_id', 'occurred_at', 'received_at', 'page_url', 'page_host', 'referrer',
                       'referrer_host', 'utm_source', 'utm_medium', 'utm_campaign', 'utm_term', 'utm_content']
                       + click_id_names() + ['is_session_start'] %}
    select {{ columns | join(', ') }} from client_sessions
    union all
    select {{ columns | join(', ') }} from derived_sessions

),

session_facts as (

    select
        account_id,
        environment,
        visitor_id,
        session_id,
        min(occurred_at) as started_at,
        max(occurred_at) as ended_at,
        count(*) as event_count,
        max(received_at) as max_received_at,
        (array_agg(user_id order by occurred_at desc, event_id desc) filter (where user_id is not null))[1] as user_id,
        {%- for milestone in milestone_types() %}
        min(occurred_at) filter (where event_type = '{{ milestone }}') as first_{{ milestone }}_at,
        {%- endfor %}
        bool_or(client_session_id is not null) as is_client_session
    from sessionised
    group by account_id, environment, visitor_id, session_id

),

landings as (

    select
        session_id,
        account_id,
        event_id as landing_event_id,
        page_url as landing_url,
        page_host as landing_host,
        referrer,
        referrer_host,
        utm_source,
        utm_medium,
        utm_campaign,
        utm_term,
        utm_content,
        {{ click_id_names() | join(',\n        ') }}
    from sessionised
    where is_session_start

),

final as (

    select
        session_facts.account_id,
        session_facts.environment,
        session_facts.session_id,
        session_facts.visitor_id,
        session_facts.user_id,
        session_facts.started_at,
        session_facts.ended_at,
        session_facts.event_count,
        session_facts.is_client_session,
        landings.landing_event_id,
        landings.landing_url,
        landings.landing_host,
        landings.referrer,
        landings.referrer_host,
        landings.utm_source,
        landings.utm_medium,
        landings.utm_campaign,
        landings.utm_term,
        landings.utm_content,
        {%- for click_id in click_id_names() %}
        landings.{{ click_id }},
        {%- endfor %}
        {%- for milestone in milestone_types() %}
        session_facts.first_{{ milestone }}_at,
        {%- endfor %}
        session_facts.max_received_at
    from session_facts
    inner join landings
        on session_facts.account_id = landings.account_id
        and session_facts.session_id = landings.session_id

)

select * from final
