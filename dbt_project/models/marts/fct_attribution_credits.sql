{#- One row per credit (grain: account_id + credit_id): a touch's share of a conversion under
    one attribution model, as written by the Python attribution assets.

    A view: the credits table is already indexed by (account_id, model, converted_at), and
    copying a million credits every hour bought nothing but minutes. -#}

{{ config(tags=['credits'], materialized='view') }}

with

credits as (

    select * from {{ source('attribution', 'attribution_credits') }}

),

final as (

    select
        account_id,
        environment,
        credit_id,
        run_id,
        model,
        conversion_id,
        conversion_type,
        converted_at,
        {{ utc_date('converted_at') }} as converted_date,
        touch_index,
        session_id,
        channel,
        credit,
        revenue_credit,
        utm_source,
        utm_medium,
        utm_campaign,
        touch_kind
    from credits

)

select * from final
