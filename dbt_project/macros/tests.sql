{#- A unique-combination generic test (so the project needs no package download). -#}
{% test unique_combination(model, columns) %}
    select {{ columns | join(', ') }}, count(*) as n
    from {{ model }}
    group by {{ columns | join(', ') }}
    having count(*) > 1
{% endtest %}


{#- Warns (severity warn in the YAML) with each (account, currency, reporting currency, day) that
    has amounts but no exchange rate (marts.rpt_fx_gaps): dbt prints the count, the rows are the
    missing pairs (`dbt test --select rpt_fx_gaps --store-failures` keeps them), and the Dagster
    asset check fx_rates_cover_every_amount lists them. -#}
{% test no_fx_gaps(model) %}
    select account_id, environment, currency, reporting_currency, day, conversions, spend_rows
    from {{ model }}
{% endtest %}
