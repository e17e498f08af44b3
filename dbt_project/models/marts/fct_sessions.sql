{#- One row per session (grain: session_id; unique per account): landing page, referrer, UTMs,
    click ids, started/ended, event count, classified source / medium / campaign / channel, and
    the identity (user, when the visitor was identified) whose journeys include it. -#}

{{ config(materialized='view') }}

with

touches as (

    select * from {{ ref('int_touches_identified') }}

),

final as (

    select
        account_id,
        environment,
        session_id,
        visitor_id,
        coalesce(identified_user_id, user_id) as user_id,
        identity_key,
        started_at,
        ended_at,
        {{ utc_date('started_at') }} as started_date,
        event_count,
        is_client_session,
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
        source,
        medium,
        campaign,
        source_category,
        is_self_referral,
        channel,
        channel_rule,
        {%- for milestone in milestone_types() %}
        first_{{ milestone }}_at,
        {%- endfor %}
        landing_event_id
    from touches

)

select * from final
