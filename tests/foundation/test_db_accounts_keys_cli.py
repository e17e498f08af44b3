"""The `mbuzz` command line, run as a user runs it (a real process, a real database)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

MBUZZ = str(Path(sys.executable).parent / "mbuzz")


def run(*args: str, env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [MBUZZ, *args], capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=120
    )
    if check and result.returncode != 0:
        raise AssertionError(f"mbuzz {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def test_accounts_and_keys_round_trip(database_url, conn):
    account = json.loads(run("accounts", "create", "Acme", "--json").stdout)
    assert account["id"].startswith("acct_")
    created = json.loads(run("keys", "create", "--account", account["id"], "--env", "live", "--json").stdout)
    assert created["id"].startswith("key_") and created["key"].startswith("sk_live_") and len(created["key"]) == 8 + 32

    # only the digest is stored; the plaintext appears nowhere in the database
    stored = conn.execute("select key_digest, key_prefix from raw.api_keys where id = %s", (created["id"],)).fetchone()
    assert stored[0] != created["key"] and len(stored[0]) == 64
    assert created["key"] not in json.dumps(conn.execute("select row_to_json(k) from raw.api_keys k").fetchall())

    listing = run("keys", "list", "--account", account["id"]).stdout
    assert created["id"] in listing and stored[1] + "****" in listing and created["key"] not in listing
    assert "active" in listing

    run("keys", "revoke", created["id"])
    listing = json.loads(run("keys", "list", "--account", account["id"], "--json").stdout)
    assert listing[0]["active"] is False


def test_keys_for_unknown_account_fail_cleanly(database_url):
    result = run("keys", "create", "--account", "acct_nope", "--env", "test", check=False)
    assert result.returncode == 1
    assert "no account 'acct_nope'" in result.stderr and "Traceback" not in result.stderr


def test_bad_environment_is_refused(database_url):
    result = run("keys", "create", "--account", "acct_x", "--env", "prod", check=False)
    assert result.returncode == 2 and "prod" in result.stderr


def test_unreachable_database_url_is_one_line_with_masked_password():
    result = run("db", "migrate", env={"DATABASE_URL": "postgresql://app:s3cret@127.0.0.1:1/nowhere"}, check=False)
    assert result.returncode == 1
    assert "s3cret" not in result.stderr and "app:***@127.0.0.1:1/nowhere" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_db_url_prints_the_url_in_use(database_url):
    assert run("db", "url").stdout.strip() == database_url


def test_embedded_server_from_scratch(tmp_path):
    """No DATABASE_URL: `db up` initialises, starts and migrates; a killed server is recovered."""
    env = {"MBUZZ_HOME": str(tmp_path / "home"), "DATABASE_URL": ""}
    try:
        up = run("db", "up", env=env)
        assert "embedded server" in up.stdout and "migrated" in up.stdout
        url = run("db", "url", env=env).stdout.strip()
        assert url.startswith("postgresql://postgres@127.0.0.1:")
        status = run("db", "status", env=env).stdout
        assert "running" in status and "up to date" in status
        assert run("db", "up", env=env).stdout.splitlines()[0] == up.stdout.splitlines()[0]  # reused, same port

        account = json.loads(run("accounts", "create", "Embedded", "--json", env=env).stdout)
        # kill the server hard: the stale postmaster.pid must not block the next start
        pid = int((tmp_path / "home" / "pgdata" / "postmaster.pid").read_text().splitlines()[0])
        os.kill(pid, 9)
        subprocess.run(["sleep", "1"])
        run("db", "up", env=env)
        listing = json.loads(run("accounts", "list", "--json", env=env).stdout)
        assert [a["id"] for a in listing] == [account["id"]]  # data survived
        assert "stopped" in run("db", "down", env=env).stdout
        assert "not running" in run("db", "down", env=env).stdout
    finally:
        run("db", "down", env=env, check=False)


def test_publishable_keys_and_the_default_currency_from_the_command_line(database_url, conn):
    shop = "https://shop.example"
    account = json.loads(run("accounts", "create", "Shop", "--currency", "eur", "--json").stdout)
    settings = conn.execute("select settings from raw.accounts where id = %s", (account["id"],)).fetchone()[0]
    assert settings == {"currency": "EUR"}
    assert "in USD" in run("accounts", "update", account["id"], "--currency", "USD").stdout
    assert "ISO 4217" in run("accounts", "update", account["id"], "--currency", "dollars", check=False).stderr

    created = json.loads(
        run(
            "keys",
            "create",
            "--account",
            account["id"],
            "--env",
            "live",
            "--publishable",
            "--origin",
            shop,
            "--origin",
            "https://*.brand.example",
            "--json",
        ).stdout
    )
    assert created["key"].startswith("pk_live_") and created["kind"] == "publishable"
    assert created["allowed_origins"] == [shop, "https://*.brand.example"]
    (row,) = [
        k
        for k in json.loads(run("keys", "list", "--account", account["id"], "--json").stdout)
        if k["id"] == created["id"]
    ]
    assert row["key"] == created["key"]  # public by design: shown again
    assert created["key"] in run("keys", "list", "--account", account["id"]).stdout
    edited = run("keys", "origins", created["id"], "--add", "https://new.example", "--remove", shop).stdout
    assert "https://*.brand.example, https://new.example" in edited

    for args, message in (
        (["--publishable"], "at least one allowed origin"),
        (["--origin", shop], "--publishable"),
        (["--publishable", "--origin", "shop.example"], "is not an origin"),
    ):
        refused = run("keys", "create", "--account", account["id"], "--env", "live", *args, check=False)
        assert refused.returncode != 0 and message in refused.stdout + refused.stderr
