{#- One row per identified visitor (grain: account_id + environment + visitor_id): the user it
    belongs to. A visitor is linked to a user by any event carrying both ids (`identify` events
    above all) or by a conversion recorded with a user_id; when a visitor was linked to several
    users, the latest link wins. Journeys follow the user across all their visitors.

    A hashed e-mail address is a visitor of its own, `email_sha256:<hash>`: an identify carrying
    the hash links it to the identify's user, and an offline conversion that names only the hash
    is recorded on it (mbuzz/offline_conversions.py), so its journey is the user's. -#}

-- the visitor index serves the incremental journeys' lookups, visitor by visitor
{{ config(indexes=[{'columns': ['account_id', 'environment', 'visitor_id']}]) }}

with

sessions as (

    select * from {{ ref('int_sessions') }}

),

conversions as (

    select * from {{ ref('stg_raw__conversions') }}

),

email_hashes as (

    select * from {{ ref('stg_raw__email_hashes') }}

),

links as (

    select
        account_id,
        environment,
        visitor_id,
        user_id,
        ended_at as linked_at
    from sessions
    where user_id is not null
    union all
    select
        account_id,
        environment,
        visitor_id,
        user_id,
        converted_at as linked_at
    from conversions
    where user_id is not null
    union all
    select
        account_id,
        environment,
        'email_sha256:' || email_sha256 as visitor_id,
        user_id,
        occurred_at as linked_at
    from email_hashes

),

newest_links as (

    {% call first_per_group(['account_id', 'environment', 'visitor_id'], ['linked_at desc', 'user_id asc']) %}
        account_id,
        environment,
        visitor_id,
        user_id,
        linked_at as identified_at
    from links
    {% endcall %}

),

final as (

    select
        account_id,
        environment,
        visitor_id,
        user_id,
        identified_at
    from newest_links

)

select * from final
