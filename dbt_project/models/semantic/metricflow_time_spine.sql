{#- MetricFlow's time spine: one row per UTC day from 2015 to 2040 (about 9,500 rows, built in
    milliseconds). MetricFlow reads it for metric_time's week and month, and to fill periods
    without data when a query asks for it. -#}

{{ config(materialized='table') }}

with

days as (

    select generate_series(
        date '2015-01-01', date '2040-12-31', interval '1 day'
    )::date as date_day

),

final as (

    select date_day
    from days

)

select * from final
