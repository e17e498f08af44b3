"""The dbt project as Dagster sees it (dbt_project.yml at the repository root)."""
from __future__ import annotations

import os
from pathlib import Path

from dagster_dbt import DbtProject

REPO = Path(__file__).resolve().parent.parent


def _profile_env() -> None:
    """dbt reads its profile from environment variables derived from mbuzz's settings."""
    from mbuzz.warehouse import dbt_env

    os.environ.update(dbt_env())


_profile_env()
dbt_project = DbtProject(project_dir=REPO, profiles_dir=REPO / "dbt_project", target=os.environ.get("MBUZZ_DBT_TARGET"))
if not dbt_project.manifest_path.exists():
    # first load on a fresh clone (or `dagster dev`): parse the project to get its manifest
    dbt_project.preparer.prepare(dbt_project)
else:
    dbt_project.prepare_if_dev()
