{#- One row per channel (grain: channel): the channels the rules can assign, in rule order. -#}

with

channel_rules as (

    select * from {{ ref('channel_rules') }}

),

final as (

    select distinct on (channel)
        channel,
        priority as rule_priority,
        description as rule_description
    from channel_rules
    order by channel, priority

)

select * from final
