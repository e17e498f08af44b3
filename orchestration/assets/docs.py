"""dbt's docs site as an asset: the nightly run refreshes catalog.json after the marts are built.

The catalog holds the column types and row counts that `mbuzz warehouse docs --no-generate`
serves; a catalog older than the marts shows yesterday's columns. Not in the hourly job (the
columns change with the models, not with the data).
"""

import dagster as dg

from orchestration.assets.dbt import attribution_marts, warehouse_models


@dg.asset(
    key="dbt_docs",
    group_name="docs",
    kinds={"dbt"},
    deps=[warehouse_models, attribution_marts],
    description="dbt's docs site (manifest.json, catalog.json) in the dbt target folder, with the column types "
    "of the marts as built; served by `mbuzz warehouse docs --no-generate` (docs/analysts.md).",
)
def dbt_docs(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    import json

    from mbuzz.warehouse import generate_docs

    folder = generate_docs(compile=False)
    catalog = json.loads((folder / "catalog.json").read_text())
    context.log.info(f"catalog.json refreshed in {folder}")
    return dg.MaterializeResult(
        metadata={
            "folder": str(folder),
            "relations": len(catalog.get("nodes", {})),
            "generated_at": catalog.get("metadata", {}).get("generated_at", ""),
        }
    )
