{#- Typed access to the project's vars (defaults documented in dbt_project.yml). -#}

{% macro environments_sql() -%}
    {%- if var('mbuzz__include_test') -%} ('live', 'test') {%- else -%} ('live') {%- endif -%}
{%- endmacro %}


{#- The click-id properties read from events (their source/medium mapping is the click_ids seed). -#}
{% macro click_id_names() -%}
    {{ return(['gclid', 'gbraid', 'wbraid', 'dclid', 'msclkid', 'fbclid', 'ttclid', 'li_fat_id']) }}
{%- endmacro %}


{% macro milestone_types() -%}
    {{ return(var('mbuzz__milestone_event_types')) }}
{%- endmacro %}


{% macro text_array(values) -%}
    {%- if values | length == 0 -%}
        array[]::text[]
    {%- else -%}
        array[{%- for v in values -%}'{{ v | lower | replace("'", "''") }}'{{ ", " if not loop.last }}{%- endfor -%}]::text[]
    {%- endif -%}
{%- endmacro %}


{#- Pre-hook of every model: session settings for warehouse-sized queries. JIT off: the
    estimates over seeds and CTEs are large enough to trigger JIT compilation that costs far
    more than it saves (seconds per model); no merge joins (the row estimates over CTEs are poor
    and hash joins are what these joins want); work_mem big enough for the sessionisation sorts. -#}
{% macro session_settings() -%}
    set jit = off;
    set enable_mergejoin = off;
    set work_mem = '{{ var("mbuzz__work_mem") }}'
{%- endmacro %}
