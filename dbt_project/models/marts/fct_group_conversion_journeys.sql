{#- Account-level (B2B) journeys, the input of `journey_by account` models: ONE ROW PER TOUCH
    (grain: account_id + journey_id + touch_index), the same columns as fct_conversion_journeys
    plus group_id (the company; mbuzz's own tenant is account_id).

    Members (int_group_members): every identity of a visitor who sent a `group` call for the
    company (int_group_memberships): the visitor's identity as in int_touches_identified, and the
    user the group call named; their sessions are the company's touches (int_group_touches).

    Group conversions (int_group_conversions; journey_id = conversion_id): a conversion carrying
    properties.group_id (a closed deal), else a conversion by a member (the company of the
    member's latest group call). The journey holds every session of every member that started in
    [converted_at - mbuzz__lookback_days, converted_at], in time order (ties by session_id),
    after the company's previous conversion of the same type when mbuzz__conversion_cycles,
    keeping the last mbuzz__max_touches when set. A group conversion with no touch is ONE row
    with null touch columns (credited to `unassigned`).

    Non-converting paths (journey_id = `path_group:<group_id>`): companies with member sessions
    and no conversion; their sessions within the lookback ending at their last touch.

    milestones: the company's FIRST event of a milestone type (by any member) marks the touch it
    happened in, if that touch is in the journey and no later than the conversion: the account's
    MQL / SQL, as w_shaped and z_shaped mean them for B2B teams.

    The journeys are cut by macros/journeys.sql (journey_rows, unit `account`), the same SQL as
    the person journeys. A table rebuilt in full each run (companies are few; a member joining
    changes the company's whole history), leaving fct_conversion_journeys and its incremental
    contract untouched. -#}

{{
    config(
        materialized='table',
        indexes=[
            {'columns': ['account_id', 'conversion_ts']},
            {'columns': ['account_id', 'journey_id']},
        ],
    )
}}

with

touches as (

    select * from {{ ref('int_group_touches') }}

),

conversions as (

    select * from {{ ref('int_group_conversions') }}

),

journeys as (

    {{ journey_rows('account', 'touches', 'conversions') }}

)

select * from journeys
