{#- The `model` entity of the semantic layer: one row per attribution model name that has
    credits in any account (`model__name` in MetricFlow queries). A view over the small daily
    aggregate. -#}

{{ config(tags=['credits'], materialized='view') }}

with

channel_daily as (

    select * from {{ ref('channel_attribution_daily') }}

),

final as (

    select distinct
        model as model_name,
        model in ('markov', 'shapley', 'algorithmic') as is_data_driven
    from channel_daily

)

select * from final
