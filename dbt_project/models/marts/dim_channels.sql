{#- One row per channel (grain: channel): the channels the rules can assign, in rule order. -#}

with

channel_rules as (

    select * from {{ ref('channel_rules') }}

),

final as (

    {% call first_per_group(['channel'], ['priority']) %}
        channel,
        priority as rule_priority,
        description as rule_description
    from channel_rules
    {% endcall %}

)

select * from final
