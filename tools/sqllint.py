"""`make lint`'s SQL half: sqlfluff with the dbt templater over dbt_project/models (.sqlfluff).

The dbt templater compiles every model, and compiling needs a connection, so this points dbt's
profile (dbt_project/profiles.yml) at the server mbuzz uses — DATABASE_URL, or the embedded
server, started on demand — but at its `postgres` maintenance database, so that the result does
not depend on what a database happens to hold: `is_incremental()` is false there, and the lint
sees each model's full-refresh SQL. dbt's artefacts go to target/sqlfluff, never over the
manifest Dagster loads (target/manifest.json).

Usage: python tools/sqllint.py lint|fix [sqlfluff options] [paths]   (default path: the models)
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main(argv: list[str]) -> None:
    from mbuzz.db import database_url
    from mbuzz.settings import with_database
    from mbuzz.warehouse import dbt_env

    os.environ.update(dbt_env(with_database(database_url(), "postgres"), target="postgres", threads=1))
    os.environ["DBT_TARGET_PATH"] = str(REPO / "target" / "sqlfluff")
    os.chdir(REPO)
    command, *rest = argv or ["lint"]
    if not any(not arg.startswith("-") for arg in rest):
        rest.append("dbt_project/models")
    from sqlfluff.cli.commands import cli

    cli([command, *rest])


if __name__ == "__main__":
    main(sys.argv[1:])
