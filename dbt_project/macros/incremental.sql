{#- "What changed since the last run": the one definition the incremental models share
    (int_sessions, int_sessions_classified, fct_conversion_journeys via macros/journeys.sql).

    Per account and environment, a model's own table before the run gives two watermarks:
    received_after, its newest received time minus mbuzz__received_margin_minutes; scan_from,
    its newest event time minus mbuzz__late_event_window_days. A row is news when it was
    received after received_after AND happened at or after scan_from: the event-time bound keeps
    a bulk-loaded history (everything received within the margin) from being rebuilt every run.
    A pair without watermarks (no rows yet) has everything new. -#}


{#- The two watermark columns, from expressions for the newest event and received times. -#}
{% macro last_run_bounds(newest_event_time, newest_received_time) -%}
    {{ newest_event_time }} - interval '{{ var("mbuzz__late_event_window_days") | int }} days' as scan_from,
        {{ newest_received_time }} - interval '{{ var("mbuzz__received_margin_minutes") | int }} minutes' as received_after
{%- endmacro %}


{#- The watermarks of a relation, one row per (account_id, environment) it has rows for. -#}
{% macro last_run_watermarks(relation, event_time='ended_at', received_time='max_received_at') %}
    select
        account_id,
        environment,
        {{ last_run_bounds('max(' ~ event_time ~ ')', 'max(' ~ received_time ~ ')') }}
    from {{ relation }}
    group by account_id, environment
{% endmacro %}


{#- True for a row that changed since the last run: received after the watermark and happening
    within the late-event window (a missing watermark, from an outer join, lets everything in). -#}
{% macro changed_since_last_run(watermarks, event_time, received_time) -%}
    {{ received_since_last_run(watermarks, received_time) }}
    and {{ event_time }} >= coalesce({{ watermarks }}.scan_from, {{ timestamp_min() }})
{%- endmacro %}


{#- The received half alone, for inputs not bounded by event time (raw.conversions is small). -#}
{% macro received_since_last_run(watermarks, received_time) -%}
    {{ received_time }} > coalesce({{ watermarks }}.received_after, {{ timestamp_min() }})
{%- endmacro %}
