{#- One row per account, run, model and channel (grain of the source): the channel-level
    outputs of the data-driven models (removal effects, textbook totals, confidence intervals)
    with the run they came from. -#}

{{ config(tags=['credits']) }}

with

summaries as (

    select * from {{ source('attribution', 'channel_summaries') }}

),

final as (

    select
        account_id,
        run_id,
        model,
        channel,
        removal_effect,
        total_conversions,
        ci_low,
        ci_high
    from summaries

)

select * from final
