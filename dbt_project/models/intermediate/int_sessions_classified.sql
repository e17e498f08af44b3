{#- One row per session with its marketing source, medium, campaign and channel
    (docs/channels.md). Nothing about channels is written here: the rules are the seeds
    channel_rules (ordered, first match wins, case-insensitive regular expressions),
    source_categories and click_ids. mbuzz/channels.py applies the same seeds in Python
    (`mbuzz channels explain`); a test proves both agree.

    source   utm_source, else the source of the landing's click id (click_ids seed), else the
             external referrer's host (lower-case, no `www.`), else `(direct)`
    medium   utm_medium, else the click id's medium, else `organic` for a search-engine
             referrer / `referral` for another external referrer, else `(none)`
    A session with no UTM and no click id whose referrer is one of the account's own domains
    (or the landing page's own host) is a self-referral: it keeps the source, medium and
    campaign of the visitor's previous non-self-referral session (`(direct)` if none).

    Incremental like int_sessions: the visitors whose sessions int_sessions rebuilt are
    classified again, all their sessions, delete+insert by visitor. They are found per account
    and environment, from this table before the run, as the visitors with a session that
    received an event since its newest max_received_at minus mbuzz__received_margin_minutes AND
    ends within mbuzz__late_event_window_days of its newest ended_at. The second bound is
    int_sessions' own event-time bound, so a bulk-loaded history (everything received within the
    margin) is not classified again every run: a visitor int_sessions rebuilt has an event
    occurring at or after int_sessions' scan_from, so one of its sessions ends at or after it,
    and this table's max(ended_at) before the run is at most int_sessions' (it copies
    int_sessions as of an earlier run), so this scan_from is the same or earlier (a superset).
    After editing the seeds or the own domains, run with --full-refresh. The index on
    max_received_at serves the incremental journeys (the sessions rebuilt since their
    watermark). -#}

{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['account_id', 'environment', 'visitor_id'],
        on_schema_change='fail',
        indexes=[
            {'columns': ['account_id', 'environment', 'visitor_id']},
            {'columns': ['account_id', 'session_id']},
            {'columns': ['account_id', 'environment', 'max_received_at']},
        ],
    )
}}

with

all_sessions as (

    select * from {{ ref('int_sessions') }}

),

{% if is_incremental() %}

watermarks as (

    {{ last_run_watermarks(this) }}

),

-- the visitors int_sessions may have rebuilt: a session with an event received since the
-- watermark, ending within the late-event window (int_sessions' scan_from, or earlier)
changed_visitors as (

    select distinct all_sessions.account_id, all_sessions.environment, all_sessions.visitor_id
    from all_sessions
    left join watermarks
        on all_sessions.account_id = watermarks.account_id
        and all_sessions.environment = watermarks.environment
    where {{ changed_since_last_run('watermarks', 'all_sessions.ended_at', 'all_sessions.max_received_at') }}

),

sessions as (

    select all_sessions.*
    from all_sessions
    inner join changed_visitors
        on all_sessions.account_id = changed_visitors.account_id
        and all_sessions.environment = changed_visitors.environment
        and all_sessions.visitor_id = changed_visitors.visitor_id

),

{% else %}

sessions as (

    select * from all_sessions

),

{% endif %}

accounts as (

    select * from {{ ref('stg_raw__accounts') }}

),

channel_rules as (

    {{ channel_rules_select() }}

),

click_ids as (

    select * from {{ ref('click_ids') }}

),

landing_clicks as (

    select distinct on (sessions.account_id, sessions.session_id)
        sessions.account_id,
        sessions.session_id,
        click_ids.source as click_source,
        click_ids.medium as click_medium
    from sessions
    cross join
        lateral (
            values
            {%- for click_id in click_id_names() %}
            ('{{ click_id }}', sessions.{{ click_id }}){{ "," if not loop.last }}
            {%- endfor %}
        ) as present (click_id, click_value)
    inner join click_ids
        on lower(click_ids.click_id) = present.click_id
    where coalesce({{ click_id_names() | join(', ') }}) is not null
        and present.click_value is not null
    order by sessions.account_id, sessions.session_id, click_ids.priority

),

-- narrow rows from here on (they are sorted by the window passes); the rest is joined back at the end
inputs as (

    select
        sessions.account_id,
        sessions.environment,
        sessions.visitor_id,
        sessions.session_id,
        sessions.started_at,
        sessions.referrer_host,
        sessions.utm_source,
        sessions.utm_medium,
        sessions.utm_campaign,
        landing_clicks.click_source,
        landing_clicks.click_medium,
        sessions.referrer_host is not null
        and (
            sessions.referrer_host = sessions.landing_host
            or exists (
                select 1
                from unnest(coalesce(accounts.own_domains, {{ text_array(var('mbuzz__own_domains')) }})) as own (domain)
                where sessions.referrer_host = own.domain
                    or sessions.referrer_host like '%.' || own.domain
            )
        ) as is_own_referrer
    from sessions
    left join landing_clicks
        on sessions.account_id = landing_clicks.account_id
            and sessions.session_id = landing_clicks.session_id
    left join accounts
        on sessions.account_id = accounts.account_id

),

-- the category of a name: exact match, else its registered domain, else its brand label
names as (

    select distinct lower(referrer_host) as name from inputs
    where referrer_host is not null
    union
    select distinct lower(utm_source) from inputs
    where utm_source is not null
    union
    select distinct lower(click_source) from inputs
    where click_source is not null

),

name_categories as (

    {{ source_name_categories('names') }}

),

raw_sources as (

    select
        inputs.*,
        inputs.utm_source is null and inputs.utm_medium is null and inputs.utm_campaign is null
        and inputs.click_source is null and inputs.is_own_referrer as is_self_referral,
        inputs.referrer_host is not null and not inputs.is_own_referrer as has_external_referrer,
        referrer_categories.category as referrer_category
    from inputs
    left join name_categories as referrer_categories
        on referrer_categories.name = lower(inputs.referrer_host)

),

own_sources as (

    select
        *,
        case when not is_self_referral then
                coalesce(
                    utm_source,
                    click_source,
                    case when has_external_referrer then referrer_host end,
                    '(direct)'
                )
        end as own_source,
        case when not is_self_referral then
                coalesce(
                    utm_medium,
                    click_medium,
                    case
                        when has_external_referrer and referrer_category = 'search' then 'organic'
                        when has_external_referrer then 'referral'
                    end,
                    '(none)'
                )
        end as own_medium,
        case when not is_self_referral then utm_campaign end as own_campaign,
        -- visitor_id first, in "C": byte-ordered sorts (see int_sessions), same partitions
        count(*) filter (where not is_self_referral) over (
            partition by visitor_id collate "C", account_id, environment
            order by started_at, session_id
            rows between unbounded preceding and current row
        ) as source_group
    from raw_sources

),

carried as (

    -- a self-referral takes the values of the group's first (non-self-referral) session
    select
        *,
        coalesce(first_value(own_source) over source_window, '(direct)') as source,
        coalesce(first_value(own_medium) over source_window, '(none)') as medium,
        first_value(own_campaign) over source_window as campaign
    from own_sources
    window source_window as (
        partition by visitor_id collate "C", account_id, environment, source_group
        order by started_at, session_id
    )

),

tuples as (

    select distinct
        lower(carried.source) as source_key,
        lower(carried.medium) as medium_key,
        lower(carried.campaign) as campaign_key
    from carried

),

classified as (

    {{ classify_channel_tuples('tuples', 'name_categories', 'channel_rules') }}

),

final as (

    select
        sessions.account_id,
        sessions.environment,
        sessions.session_id,
        sessions.visitor_id,
        sessions.user_id,
        sessions.started_at,
        sessions.ended_at,
        sessions.event_count,
        sessions.is_client_session,
        sessions.landing_event_id,
        sessions.landing_url,
        sessions.landing_host,
        sessions.referrer,
        sessions.referrer_host,
        sessions.utm_source,
        sessions.utm_medium,
        sessions.utm_campaign,
        sessions.utm_term,
        sessions.utm_content,
        {%- for click_id in click_id_names() %}
        sessions.{{ click_id }},
        {%- endfor %}
        carried.source,
        carried.medium,
        carried.campaign,
        classified.source_category,
        carried.is_self_referral,
        coalesce(classified.channel, 'unassigned') as channel,
        classified.channel_rule,
        {%- for milestone in milestone_types() %}
        sessions.first_{{ milestone }}_at,
        {%- endfor %}
        sessions.max_received_at
    from carried
    inner join sessions
        on carried.account_id = sessions.account_id
            and carried.session_id = sessions.session_id
    left join classified
        on classified.source_key = lower(carried.source)
            and classified.medium_key = lower(carried.medium)
            and coalesce(classified.campaign_key, '') = coalesce(lower(carried.campaign), '')

)

select * from final
