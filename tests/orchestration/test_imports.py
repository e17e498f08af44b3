"""Importing the Dagster definitions has no side effects: no database, no dbt parse; and it
imports nothing a step imports when it runs (pandas, scipy, the engine, Great Expectations).

The manifest is written ahead of time (`mbuzz warehouse parse`, `make install`); a process that
loads the definitions (the daemon's run workers, `dagster job execute`, a test) only reads it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

from mbuzz.paths import PROJECT_DIR


class Listener:
    """A TCP port that records every connection made to it (where the database would be)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


def _import_definitions(
    tmp_path: Path, target: Path, port: int, code: str | None = None
) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MBUZZ_", "DAGSTER_", "DBT_"))}
    env.update(
        {
            "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{port}/nowhere",
            "MBUZZ_HOME": str(tmp_path / "home"),  # no embedded server may start here
            "MBUZZ_DBT_TARGET_PATH": str(target),
            "DAGSTER_HOME": str(tmp_path / "dagster"),
        }
    )
    code = code or "import orchestration.definitions as d; print(len(list(d.defs.resolve_all_asset_keys())))"
    return subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=300
    )


def test_importing_the_definitions_touches_no_database_and_parses_nothing(dbt_target, tmp_path):
    target = tmp_path / "target"
    target.mkdir()
    shutil.copy(dbt_target / "manifest.json", target / "manifest.json")
    before = {p.name: p.stat().st_mtime_ns for p in target.iterdir()}
    listener = Listener()
    try:
        proc = _import_definitions(tmp_path, target, listener.port)
    finally:
        listener.close()
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert int(proc.stdout.strip().splitlines()[-1]) > 10  # the whole graph loaded
    assert listener.connections == 0  # no connection attempt to the database
    assert {p.name: p.stat().st_mtime_ns for p in target.iterdir()} == before  # no dbt parse wrote here
    assert not (tmp_path / "home").exists()  # no embedded server started


def test_without_a_manifest_the_error_says_what_to_run(tmp_path):
    listener = Listener()
    try:
        proc = _import_definitions(tmp_path, tmp_path / "empty-target", listener.port)
    finally:
        listener.close()
    assert proc.returncode != 0
    assert "mbuzz warehouse parse" in proc.stderr
    assert listener.connections == 0


def test_loading_the_definitions_imports_no_step_libraries(dbt_target, tmp_path):
    """The daemon's schedule ticks and each launched run load the definitions in a new process:
    the engine, pandas, scipy and Great Expectations are imported by the steps that use them."""
    target = tmp_path / "target"
    target.mkdir()
    shutil.copy(dbt_target / "manifest.json", target / "manifest.json")
    heavy = ("pandas", "scipy", "sklearn", "great_expectations", "attribution", "flask", "sqlalchemy")
    code = (
        "import sys, orchestration.definitions as d; d.defs.resolve_all_asset_keys(); "
        f"print(sorted(m for m in {heavy!r} if m in sys.modules))"
    )
    proc = _import_definitions(tmp_path, target, 9, code)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == "[]"
