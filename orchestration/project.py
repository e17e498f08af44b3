"""The dbt project as Dagster sees it (dbt_project.yml at the repository root).

Importing this module touches no database and builds no manifest: the manifest the dbt assets
are defined from is written ahead of time, as the dagster-dbt docs recommend — by `make install`,
`mbuzz warehouse parse` (or `dagster-dbt project prepare-and-package --file
orchestration/project.py`), and by `mbuzz pipeline run` / `mbuzz ui` before they load the
definitions. Under `dagster dev` (`DAGSTER_IS_DEV_CLI`), `prepare_if_dev()` parses again on every
load so the graph follows the models on disk, as `DbtProject.prepare_if_dev()` does, but in this
process, through dbt's partial parsing (well under a second when nothing changed), rather than
dagster-dbt's preparer, which starts `dbt --version` and `dbt parse` processes (~15 s).
"""

from __future__ import annotations

from dagster_dbt import DbtProject
from dagster_dbt.dbt_project import using_dagster_dev

from mbuzz.errors import MbuzzError
from mbuzz.paths import PROFILES_DIR, PROJECT_DIR
from mbuzz.settings import get_settings

dbt_project = DbtProject(
    project_dir=PROJECT_DIR,
    profiles_dir=PROFILES_DIR,
    # a separate target folder lets tests and parallel runs keep their manifests apart
    target_path=get_settings().dbt_target_path or "target",
)
if using_dagster_dev():  # what dbt_project.prepare_if_dev() does, with the in-process parse
    from mbuzz.warehouse import parse_project

    parse_project(dbt_project.manifest_path.parent)
if not dbt_project.manifest_path.exists():
    raise MbuzzError(
        f"no dbt manifest at {dbt_project.manifest_path}: run `mbuzz warehouse parse` "
        "(or `make install`) to write it, then load the Dagster definitions again"
    )
