"""In the Dagster UI the dbt assets are grouped by the warehouse's layers, as the folders are."""

from __future__ import annotations

from pathlib import Path


def test_dbt_assets_are_grouped_by_layer(pipeline_env):
    from orchestration.assets.dbt import attribution_marts, warehouse_models
    from orchestration.definitions import defs

    expected = {}  # asset key → the folder of its file under dbt_project/models/ (or "seeds")
    for spec in [*warehouse_models.specs, *attribution_marts.specs]:
        manifest = spec.metadata["dagster_dbt/manifest"].manifest  # the manifest the assets were built from
        node = manifest["nodes"][spec.metadata["dagster_dbt/unique_id"]]
        path = Path(node["original_file_path"]).parts
        expected[spec.key] = "seeds" if node["resource_type"] == "seed" else path[path.index("models") + 1]

    graph = defs.resolve_asset_graph()
    groups = {key: graph.get(key).group_name for key in expected}
    assert groups == expected
    assert set(groups.values()) == {"staging", "intermediate", "marts", "aggregates", "semantic", "seeds"}
    by_name = {key.path[-1]: group for key, group in groups.items()}
    assert (
        by_name["stg_raw__events"],
        by_name["int_sessions"],
        by_name["fct_conversion_journeys"],
        by_name["channel_attribution_daily"],
        by_name["channel_rules"],
    ) == ("staging", "intermediate", "marts", "aggregates", "seeds")
    # the assets outside dbt keep their own groups
    assert graph.get(defs.resolve_assets_def("raw_events").key).group_name == "raw"
    assert {graph.get(k).group_name for k in graph.get_all_asset_keys() if k.path[-1] == "attribution_credits"} == {
        "attribution"
    }
