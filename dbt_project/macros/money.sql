{#- Conversion into the account's reporting currency (docs/money.md), one copy for revenue and spend.

    An amount needs a rate when it is not 0, has a currency, and the account has a reporting
    currency that differs from it. Without a rate for its (currency, day) the converted amount is
    null and `fx_rate_missing` true: a visible gap (marts.rpt_fx_gaps), never a silent 1.0. -#}

{% macro fx_needed(amount, currency, reporting_currency) -%}
    ({{ amount }} <> 0 and {{ currency }} is not null and {{ reporting_currency }} is not null
        and {{ currency }} <> {{ reporting_currency }})
{%- endmacro %}

{% macro fx_converted(amount, currency, reporting_currency, rate) -%}
    case
        when {{ fx_needed(amount, currency, reporting_currency) }} then {{ amount }} * {{ rate }}
        else {{ amount }}
    end
{%- endmacro %}

{% macro fx_missing(amount, currency, reporting_currency, rate) -%}
    coalesce({{ fx_needed(amount, currency, reporting_currency) }} and {{ rate }} is null, false)
{%- endmacro %}
