"""How dbt resources appear in Dagster: each dbt model in the group of its layer.

dagster-dbt puts every dbt asset in the "default" group. Grouped by the folder a model lives in
under dbt_project/models/ — `staging`, `intermediate`, `marts`, `aggregates` — the Dagster UI
shows the warehouse's layers as they are on disk (and as docs/data_model.md describes them);
seeds (the channel rules) get a `seeds` group. The raw tables and the attribution assets set
their own groups (`raw`, `attribution`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dagster_dbt import DagsterDbtTranslator


class LayerTranslator(DagsterDbtTranslator):
    """dagster-dbt's translator with one change: the group name is the dbt model's layer."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        resource_type = dbt_resource_props.get("resource_type")
        if resource_type == "seed":
            return "seeds"
        fqn = dbt_resource_props.get("fqn") or []  # [project, folder, ..., name]
        if resource_type in ("model", "snapshot") and len(fqn) > 2:
            return fqn[1]
        return super().get_group_name(dbt_resource_props)
