"""The dbt project as Dagster sees it (dbt_project.yml at the repository root)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

from dagster_dbt import DbtProject

from mbuzz.warehouse import PROFILES_DIR, PROJECT_DIR


def _profile_env() -> None:
    """dbt reads its profile from environment variables derived from mbuzz's settings; the dbt
    executable is this virtual environment's, whether or not .venv/bin is on PATH."""
    from mbuzz.warehouse import dbt_env

    os.environ.update(dbt_env())
    bin_dir = str(Path(sys.executable).parent)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")


_profile_env()
dbt_project = DbtProject(
    project_dir=PROJECT_DIR,
    profiles_dir=PROFILES_DIR,
    target=os.environ.get("MBUZZ_DBT_TARGET"),
    # a separate target folder lets tests and parallel runs keep their manifests apart
    target_path=os.environ.get("MBUZZ_DBT_TARGET_PATH", "target"),
)
if not dbt_project.manifest_path.exists() or not os.environ.get("MBUZZ_DBT_MANIFEST_FROZEN"):
    # parse the project on load so the manifest always matches the models on disk; in this
    # process (dbt's partial parsing: well under a second when nothing changed) rather than
    # dagster-dbt's preparer, which starts `dbt --version` and `dbt parse` processes (~15 s).
    # A deployment that builds its manifest ahead of time sets MBUZZ_DBT_MANIFEST_FROZEN=1.
    from mbuzz.warehouse import run_dbt

    run_dbt(["parse", "--quiet"], target_path=str(dbt_project.target_path))
