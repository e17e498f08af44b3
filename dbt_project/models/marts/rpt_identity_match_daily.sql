{#- Identity you can measure (grain: account_id + environment + day, UTC days): how many of the
    day's conversions matched at least one session (their journey has a touch), and how many of
    the day's sessions are stitched to a known user (identity `user:<id>`: an identify, an alias or
    a conversion named the user). The Dagster check `identity_match_rate` warns when the
    conversion match rate drops sharply from its recent level; the dashboard's Identity page
    charts both rates. -#}

with

conversions as (

    select * from {{ ref('fct_conversions') }}

),

sessions as (

    select * from {{ ref('fct_sessions') }}

),

conversion_days as (

    select
        account_id,
        environment,
        converted_date as day,
        count(*) as conversions,
        count(*) filter (where touch_count > 0) as matched_conversions
    from conversions
    group by account_id, environment, converted_date

),

session_days as (

    select
        account_id,
        environment,
        started_date as day,
        count(*) as sessions,
        count(*) filter (where identity_key like 'user:%') as stitched_sessions
    from sessions
    group by account_id, environment, started_date

),

final as (

    select
        coalesce(conversion_days.account_id, session_days.account_id) as account_id,
        coalesce(conversion_days.environment, session_days.environment) as environment,
        coalesce(conversion_days.day, session_days.day) as day,
        coalesce(conversion_days.conversions, 0) as conversions,
        coalesce(conversion_days.matched_conversions, 0) as matched_conversions,
        case
            when conversion_days.conversions > 0
                then round(conversion_days.matched_conversions::numeric / conversion_days.conversions, 4)
        end as conversion_match_rate,
        coalesce(session_days.sessions, 0) as sessions,
        coalesce(session_days.stitched_sessions, 0) as stitched_sessions,
        case
            when session_days.sessions > 0
                then round(session_days.stitched_sessions::numeric / session_days.sessions, 4)
        end as session_stitch_rate
    from conversion_days
    full outer join session_days
        on conversion_days.account_id = session_days.account_id
            and conversion_days.environment = session_days.environment
            and conversion_days.day = session_days.day

)

select * from final
