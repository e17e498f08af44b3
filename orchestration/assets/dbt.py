"""dbt models as Dagster assets, in two pieces around the Python attribution asset.

`warehouse_models`: staging → sessions → channels → journeys (everything that does
not read the credits). `attribution_marts`: the marts and daily aggregates over
`attribution.attribution_credits`, a dbt source whose asset key is the Python
asset's, so the graph is one piece: raw → warehouse → attribution → marts.
"""

import dagster as dg
from dagster_dbt import dbt_assets

from orchestration.dbt_in_process import InProcessDbt
from orchestration.dbt_translator import LayerTranslator
from orchestration.project import dbt_project

# The models that read the credits the Python attribution assets write (tag `credits`): they run
# after attribution, the rest before. A test proves the tag selects exactly the models downstream
# of the `attribution` source.
CREDIT_MODELS = "tag:credits"


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    exclude=CREDIT_MODELS,
    name="warehouse_models",
    dagster_dbt_translator=LayerTranslator(),
)
def warehouse_models(context: dg.AssetExecutionContext, dbt: InProcessDbt):
    yield from dbt.stream(["build"], context)


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    select=CREDIT_MODELS,
    name="attribution_marts",
    dagster_dbt_translator=LayerTranslator(),
)
def attribution_marts(context: dg.AssetExecutionContext, dbt: InProcessDbt):
    yield from dbt.stream(["build"], context)
