"""Where the repository's runtime files are: the one place that computes their paths.

The dbt project (dbt_project.yml at the root, its files in dbt_project/), the channel-rule
seeds and the OpenAPI document are read at run time by the API, the CLI, Dagster and the
Python port of the warehouse; each reader takes its path from here.
"""

from __future__ import annotations

from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
DBT_PROJECT_FILE = PROJECT_DIR / "dbt_project.yml"
PROFILES_DIR = PROJECT_DIR / "dbt_project"
MODELS_DIR = PROJECT_DIR / "dbt_project" / "models"
SEEDS_DIR = PROJECT_DIR / "dbt_project" / "seeds"
GUIDES_DIR = PROJECT_DIR / "docs" / "api"  # the API guides the docs site renders
OPENAPI_PATH = GUIDES_DIR / "openapi.yml"
