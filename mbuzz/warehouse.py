"""Running the dbt warehouse (dbt_project.yml at the repository root) against mbuzz's database.

The dbt profile (`dbt_project/profiles.yml`) reads only environment variables; `dbt_env()`
derives them from `mbuzz.db.database_url()` (DATABASE_URL, or the embedded server), so dbt
talks to the same PostgreSQL as the CLI, the API and Dagster. The target is detected, not
configured: `timescaledb` when the extension is installed in the database, else `postgres`.

    from mbuzz.warehouse import run_dbt, dbt_env
    run_dbt(["build"])                       # in-process (dbtRunner), raises on failure
    run_dbt(["build", "--full-refresh"], target="postgres", vars={"mbuzz__lookback_days": 14})

Dagster: `DbtProject(project_dir=PROJECT_DIR, profiles_dir=PROFILES_DIR)`, with
`os.environ.update(dbt_env())` (or `DbtCliResource(..., env=...)`) before dbt runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from mbuzz.errors import MbuzzError
from mbuzz.paths import PROFILES_DIR, PROJECT_DIR
from mbuzz.settings import get_settings

TARGETS = ("postgres", "timescaledb", "spark")


class DbtError(MbuzzError):
    """dbt finished with errors (a failed model, test or compilation)."""


@dataclass(frozen=True)
class DbtResult:
    success: bool
    target: str
    results: list  # dbt's node results (in-process runs only)


def connection_env(url: str) -> dict[str, str]:
    """The profile's MBUZZ_DB_* variables for a libpq URL."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    host = parts.hostname or (query.get("host") or ["127.0.0.1"])[0]
    return {
        "MBUZZ_DB_HOST": host,
        "MBUZZ_DB_PORT": str(parts.port or (query.get("port") or ["5432"])[0]),
        "MBUZZ_DB_USER": unquote(parts.username or "") or get_settings().db_user,
        "MBUZZ_DB_PASSWORD": unquote(parts.password or ""),
        "MBUZZ_DB_NAME": unquote(parts.path.lstrip("/")) or "postgres",
        "MBUZZ_DB_SSLMODE": (query.get("sslmode") or ["prefer"])[0],
    }


def configured_target() -> str | None:
    """The dbt target the settings name, None when it is to be detected (postgres or timescaledb).

    MBUZZ_WAREHOUSE=spark means the `spark` target (a MBUZZ_DBT_TARGET naming another is an
    error: the two would disagree); MBUZZ_WAREHOUSE=postgres means MBUZZ_DBT_TARGET if set."""
    settings = get_settings()
    if settings.warehouse == "spark":
        if settings.dbt_target not in (None, "spark"):
            raise MbuzzError(
                f"MBUZZ_WAREHOUSE=spark runs dbt on the `spark` target, but MBUZZ_DBT_TARGET is "
                f"{settings.dbt_target!r}: unset MBUZZ_DBT_TARGET (or set it to spark)"
            )
        return "spark"
    return settings.dbt_target


def detect_target(url: str) -> str:
    """`timescaledb` when the extension is installed in the database, else `postgres`."""
    from mbuzz.db import connect, timescale_enabled

    with connect(url) as conn:
        return "timescaledb" if timescale_enabled(conn) else "postgres"


def dbt_env(url: str | None = None, target: str | None = None, threads: int | None = None) -> dict[str, str]:
    """Environment variables for dbt_project/profiles.yml (merge them into os.environ or a subprocess env).

    `target` defaults to MBUZZ_DBT_TARGET when set, else detection. `threads` defaults to
    MBUZZ_DBT_THREADS when set, else 4 (1 is needed for single-connection servers such as PGlite).
    """
    from mbuzz.db import database_url

    url = url or database_url()
    settings = get_settings()
    target = target or configured_target() or detect_target(url)
    if target not in TARGETS:
        raise MbuzzError(f"unknown dbt target {target!r}: use one of {', '.join(TARGETS)}")
    env = connection_env(url)
    env["MBUZZ_DBT_TARGET"] = target
    env["MBUZZ_DBT_THREADS"] = str(threads or settings.dbt_threads or 4)
    env["DBT_PROFILES_DIR"] = str(PROFILES_DIR)
    env["DBT_PROJECT_DIR"] = str(PROJECT_DIR)
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    return env


def _args(args: Sequence[str], target: str, vars: Mapping | None, target_path: str | None = None) -> list[str]:
    full = list(args)
    target_path = target_path or get_settings().dbt_target_path
    if target_path and "--target-path" not in full:
        full += ["--target-path", str(target_path)]
    if "--project-dir" not in full:
        full += ["--project-dir", str(PROJECT_DIR)]
    if "--profiles-dir" not in full:
        full += ["--profiles-dir", str(PROFILES_DIR)]
    if "--target" not in full and "-t" not in full:
        full += ["--target", target]
    if vars:
        full += ["--vars", json.dumps(dict(vars))]
    return full


def run_dbt(
    args: Sequence[str],
    target: str | None = None,
    url: str | None = None,
    vars: Mapping | None = None,
    threads: int | None = None,
    subprocess_mode: bool = False,
    check: bool = True,
    target_path: str | None = None,
    callbacks: Sequence = (),
    timeout: float | None = None,
) -> DbtResult:
    """Run one dbt command (`["build"]`, `["run", "-s", "marts"]`, …) against mbuzz's database.

    In-process through dbtRunner by default; `subprocess_mode=True` runs the `dbt` executable
    next to this Python instead (a clean process: what the benchmark and some tests use).
    `target_path` (default: MBUZZ_DBT_TARGET_PATH, else dbt's `target/`) keeps the manifests and
    partial-parse state of separate runs (tests, another target) apart. `callbacks` receive
    every dbt event (in-process only; orchestration turns them into Dagster events).
    `timeout` (seconds, subprocess only) stops a dbt that runs longer: DbtError.
    Raises DbtError when dbt reports a failure and `check` is true.
    """
    env = dbt_env(url, target, threads)
    full = _args(args, env["MBUZZ_DBT_TARGET"], vars, target_path)
    if subprocess_mode:
        dbt = Path(sys.executable).parent / "dbt"
        try:
            proc = subprocess.run(
                [str(dbt), *full],
                env={**os.environ, **env},
                cwd=PROJECT_DIR,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired as exc:  # its output comes as bytes, even with text=True
            out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else exc.stdout or ""
            raise DbtError(f"dbt {' '.join(args)} took more than {timeout:g} s:\n{_tail(out)}") from exc
        if check and proc.returncode != 0:
            raise DbtError(f"dbt {' '.join(args)} failed:\n{_tail(proc.stdout)}\n{_tail(proc.stderr)}")
        return DbtResult(proc.returncode == 0, env["MBUZZ_DBT_TARGET"], [])

    from dbt.cli.main import dbtRunner

    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    cwd = os.getcwd()
    try:
        os.chdir(PROJECT_DIR)
        result = dbtRunner(callbacks=list(callbacks)).invoke(full)
    finally:
        os.chdir(cwd)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    results = list(result.result) if result.result is not None and hasattr(result.result, "__iter__") else []
    if check and not result.success:
        failed = [
            f"{r.node.unique_id}: {r.status} {r.message or ''}".strip()
            for r in results
            if str(getattr(r, "status", "")) in ("error", "fail", "runtime error")
        ]
        detail = "\n".join(failed) or str(result.exception or "see logs/dbt.log")
        command = " ".join(args)  # a long selection (Dagster's) is not what the reader needs
        raise DbtError(f"dbt {command if len(command) <= 120 else command[:119] + '…'} failed:\n{detail}")
    return DbtResult(bool(result.success), env["MBUZZ_DBT_TARGET"], results)


# where the manifest Dagster loads its dbt assets from (MBUZZ_DBT_TARGET_PATH, else target/)
def target_dir() -> Path:
    return Path(PROJECT_DIR, get_settings().dbt_target_path or "target")


def parse_project(target_path: str | Path | None = None) -> Path:
    """Write the dbt manifest (`dbt parse`, in-process, partial parsing) and return its path.

    What Dagster's dbt assets are defined from. Parsing needs no database: the profile gets
    DATABASE_URL's (or the embedded server's remembered) address without connecting, and the
    target is `spark` under MBUZZ_WAREHOUSE=spark, else MBUZZ_DBT_TARGET or `postgres` (the asset
    graph is the same on every target; each run parses again against the real one). Run by `make install` and `mbuzz warehouse parse`,
    and before `mbuzz pipeline run` / `mbuzz ui` load the Dagster definitions."""
    from mbuzz.db import database_url

    try:
        url = database_url(start=False)
    except MbuzzError:  # an embedded server never started: any address will do for parsing
        url = "postgresql://postgres@127.0.0.1:5432/postgres"
    target_path = Path(target_path) if target_path is not None else target_dir()
    target = configured_target() or "postgres"
    run_dbt(["parse", "--quiet"], target=target, url=url, target_path=str(target_path))
    return target_path / "manifest.json"


@contextmanager
def dbt_environment(env: Mapping[str, str]):
    """`with dbt_environment(dbt_env(...)):` the profile's variables set and the project folder
    the working directory, both restored after (for dbt-based tools run in-process: MetricFlow)."""
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    cwd = os.getcwd()
    try:
        os.chdir(PROJECT_DIR)
        yield
    finally:
        os.chdir(cwd)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


# the files of dbt's docs site: dbt copies its single-page app to index.html, and the page reads
# the project's manifest (models, columns, lineage) and catalog (column types, row counts)
DOCS_FILES = ("index.html", "manifest.json", "catalog.json")


def generate_docs(target_path: str | Path | None = None, url: str | None = None, compile: bool = True) -> Path:
    """`dbt docs generate` (in-process) into the target folder; returns the folder.

    The catalog reads the database's information schema: column types as built. Run by
    `mbuzz warehouse docs` and by the nightly job's `dbt_docs` asset (`compile=False`: the
    catalog and manifest only, no compiled SQL, a second or two)."""
    folder = Path(target_path) if target_path is not None else target_dir()
    run_dbt(["docs", "generate", "--quiet", *([] if compile else ["--no-compile"])], url=url, target_path=str(folder))
    missing = [name for name in DOCS_FILES if not (folder / name).exists()]
    if missing:
        raise DbtError(f"dbt docs generate wrote no {', '.join(missing)} in {folder}")
    return folder


def docs_server(folder: str | Path, port: int = 8580, host: str = "127.0.0.1"):
    """A standard-library HTTP server for dbt's docs site in `folder`, bound to 127.0.0.1.

    Only the site's three files are served (not the rest of target/: compiled SQL, run results).
    `port=0` takes a free port (`server.server_address[1]`). Call `serve_forever()`; stop with
    `shutdown()` and `server_close()`."""
    from functools import partial
    from http import HTTPStatus
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    class DocsHandler(SimpleHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            name = self.path.split("?", 1)[0].lstrip("/") or "index.html"
            if name not in DOCS_FILES:
                self.send_error(HTTPStatus.NOT_FOUND, "the docs site has index.html, manifest.json, catalog.json")
                return
            self.path = "/" + name
            super().do_GET()

        def do_HEAD(self) -> None:  # noqa: N802
            self.do_GET()

        def log_message(self, format: str, *args) -> None:  # quiet: the CLI prints its own progress
            pass

    return ThreadingHTTPServer((host, port), partial(DocsHandler, directory=str(folder)))


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join((text or "").splitlines()[-lines:])
