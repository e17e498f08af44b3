"""The `mbuzz` commands' human-readable output and their refusals, run as a user runs them.

test_db_accounts_keys_cli.py covers the --json round trips; these are the lines a person reads
at a terminal: what was made, what to do next, and a clear refusal (never a traceback) for bad input.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
import subprocess
import sys
from pathlib import Path

MBUZZ = str(Path(sys.executable).parent / "mbuzz")


def run(*args: str, stdin: str = "", env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [MBUZZ, *args], input=stdin, capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=120
    )


def ok(*args: str) -> str:
    result = run(*args)
    assert result.returncode == 0, f"mbuzz {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def refused(result: subprocess.CompletedProcess, code: int, message: str) -> None:
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert message in result.stderr and "Traceback" not in result.stderr, result.stderr


def test_unknown_command_is_a_usage_error():
    refused(run("nosuch"), 2, "No such command 'nosuch'")


def test_account_keys_and_users_as_a_person_reads_them(database_url, conn):
    out = ok("accounts", "create", "Terminal Shop")
    account_id = re.search(r"created account (acct_\w+) \(Terminal Shop\)", out).group(1)
    assert f"next: mbuzz keys create --account {account_id} --env test" in out
    assert f"{account_id}  Terminal Shop" in ok("accounts", "list")

    refused(run("accounts", "update", account_id), 2, "give --currency CODE and/or --timezone ZONE")
    refused(
        run("keys", "create", "--account", account_id, "--env", "test", "--origin", "https://shop.example"),
        2,
        "--origin is for publishable keys: add --publishable",
    )

    out = ok("keys", "create", "--account", account_id, "--env", "test")
    plaintext = re.search(r"^key: (sk_test_\w+)$", out, re.M).group(1)
    assert "it is shown only once" in out
    (digest,) = conn.execute("select key_digest from raw.api_keys where account_id = %s", (account_id,)).fetchone()
    assert digest != plaintext
    out = ok(
        "keys", "create", "--account", account_id, "--env", "live", "--publishable", "--origin", "https://shop.example"
    )
    assert re.search(r"^key: pk_live_\w+$", out, re.M) and "allowed origins: https://shop.example" in out
    assert "it can only send" in out

    assert f"no users: mbuzz users create --account {account_id}" in ok("users", "list", "--account", account_id)
    # the password prompt: a weak password is refused before anything is stored; end of input aborts
    refused(
        run("users", "create", "--account", account_id, "--email", "weak@example.com", stdin="abc\nabc\n"),
        1,
        "Error: the password must have at least",
    )
    refused(run("users", "create", "--account", account_id, "--email", "eof@example.com"), 1, "Aborted.")
    out = ok("users", "create", "--account", account_id, "--email", "admin@example.com", "--setup-link")
    assert "setup link (works once, for" in out and "/dashboard/setup" in out
    listing = ok("users", "list", "--account", account_id)
    assert "admin@example.com  waiting for setup" in listing
    assert "weak@example.com" not in listing and "eof@example.com" not in listing


def test_bi_login_grant_list_revoke_as_text(database_url, account):
    assert "no BI roles" in ok("bi", "list", "--account", account.id)
    role = f"mbuzz_bi_t{secrets.token_hex(4)}"
    out = ok("bi", "grant", "--account", account.id, "--role", role)
    try:
        assert f"created role {role} for account {account.id}" in out
        url = re.search(r"^  (postgres\S+)$", out, re.M).group(1)
        assert f"{role}:" in url and "SQLAlchemy (Superset): postgresql+psycopg" in out
        assert f"{role}  {account.id}" in ok("bi", "list", "--account", account.id)
        # the password is printed once: the listing never shows it
        password = url.split(f"{role}:", 1)[1].split("@", 1)[0]
        assert password not in ok("bi", "list")
    finally:
        out = ok("bi", "revoke", role)
    assert f"dropped role {role} (0 open sessions ended)" in out
    assert "no BI roles" in ok("bi", "list", "--account", account.id)


def test_pipeline_refuses_a_partition_and_all_days():
    refused(run("pipeline", "run", "--partition", "2026-01-01", "--all"), 2, "use --partition DATE or --all, not both")


def test_warehouse_env_can_be_evaluated_by_a_shell(database_url):
    out = ok("warehouse", "env")
    assert all(line.startswith("export ") for line in out.splitlines())
    shell = subprocess.run(
        ["bash", "-c", 'eval "$("$0" warehouse env)" && echo "$DBT_PROJECT_DIR|$MBUZZ_DBT_TARGET"', MBUZZ],
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith(("DBT_", "MBUZZ_DBT_"))},
        timeout=120,
    )
    assert shell.returncode == 0, shell.stderr
    project, target = shell.stdout.strip().split("|")
    assert Path(project, "dbt_project.yml").exists() and target in ("postgres", "timescaledb")


def test_warehouse_docs_without_a_site_or_a_free_port_says_what_to_do(tmp_path):
    env = {"MBUZZ_DBT_TARGET_PATH": str(tmp_path)}
    refused(
        run("warehouse", "docs", "--no-generate", "--no-serve", env=env),
        1,
        f"no index.html, manifest.json, catalog.json in {tmp_path}: run `mbuzz warehouse docs` without --no-generate",
    )
    for name in ("index.html", "manifest.json", "catalog.json"):
        (tmp_path / name).write_text("{}")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        refused(
            run("warehouse", "docs", "--no-generate", "--port", str(port), env=env),
            1,
            f"cannot listen on 127.0.0.1:{port}",
        )


def test_db_commands_leave_a_database_url_server_alone(database_url, conn):
    assert "DATABASE_URL is set: mbuzz does not manage that server; nothing to stop." in ok("db", "down")
    assert conn.execute("select 1").fetchone() == (1,)  # still answering
    assert re.search(r"^schema at \w+ \(already up to date\)$", ok("db", "migrate"), re.M)


def test_db_status_and_down_of_an_embedded_server_never_started(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"} | {"MBUZZ_HOME": str(tmp_path)}
    status = subprocess.run([MBUZZ, "db", "status"], capture_output=True, text=True, env=env, timeout=120)
    assert status.returncode == 1 and "Traceback" not in status.stderr
    assert (
        f"mode:      embedded ({tmp_path})" in status.stdout
        and "stopped (start it with `mbuzz db up`)" in status.stdout
    )
    down = subprocess.run([MBUZZ, "db", "down"], capture_output=True, text=True, env=env, timeout=120)
    assert down.returncode == 0 and "embedded database was not running" in down.stdout


def test_conversions_import_needs_an_account_among_several_and_a_text_file(database_url, conn, tmp_path):
    from mbuzz.accounts import create_account

    create_account(conn, "One of several")
    create_account(conn, "Another")
    good = tmp_path / "crm.csv"
    external_id = f"crm-{secrets.token_hex(4)}"  # the session's database holds other tests' conversions
    good.write_text(f"external_id,conversion_type,timestamp,user_id\n{external_id},purchase,2026-01-02T10:00:00Z,u1\n")
    refused(run("conversions", "import", str(good)), 2, "accounts here: name one with --account acct_")
    binary = tmp_path / "crm.xlsx"
    binary.write_bytes(b"PK\x03\x04\xff\xfe\x00binary")
    refused(run("conversions", "import", str(binary), "--account", "acct_x"), 1, f"{binary}:")
    before = conn.execute("select count(*) from raw.conversions where external_id = %s", (external_id,)).fetchone()
    assert before == (0,)  # nothing of either refused import was stored


def test_conversions_import_of_a_bad_file_says_why_line_by_line(database_url, conn, account, tmp_path):
    csv_file = tmp_path / "crm.csv"
    csv_file.write_text("")
    refused(run("conversions", "import", str(csv_file), "--account", account.id), 1, "the CSV has no header row")
    csv_file.write_text("external_id,timestamp,user_id\nx,2026-01-02T10:00:00Z,u1\n")
    refused(
        run("conversions", "import", str(csv_file), "--account", account.id),
        1,
        "the CSV header lacks conversion_type: expected external_id,conversion_type,timestamp",
    )
    csv_file.write_text(
        "external_id,conversion_type,timestamp,user_id,revenue,currency,deal\n"
        "ok-1,closed_won,2026-01-02T10:00:00,u1,100,EUR,Big deal\n"  # no offset: UTC
        "no-time,closed_won,,u2,,,\n"
        f"long-user,closed_won,2026-01-02T10:00:00Z,{'u' * 300},,,\n"
        "bad-currency,closed_won,2026-01-02T10:00:00Z,u3,5,EURO,\n"
    )
    result = run("conversions", "import", str(csv_file), "--account", account.id)
    refused(result, 1, "line 3: timestamp: required, ISO 8601")
    assert "line 4: user_id: longer than 255 characters" in result.stderr
    assert "line 5: currency: 'EURO' is not an ISO 4217 currency code" in result.stderr
    assert "line 2" not in result.stderr
    assert f"1 conversions stored for {account.id} (live), 0 duplicates, 3 rejected" in result.stdout
    stored = conn.execute(
        "select external_id, converted_at at time zone 'UTC', properties->>'deal' from raw.conversions"
        " where account_id = %s",
        (account.id,),
    ).fetchall()
    assert [(e, t.isoformat(), deal) for e, t, deal in stored] == [("ok-1", "2026-01-02T10:00:00", "Big deal")]


def test_accounts_and_keys_refusals_name_the_problem(database_url, account):
    refused(run("accounts", "create", "   "), 1, "Error: an account needs a name")
    refused(
        run("keys", "create", "--account", account.id, "--env", "live", "--publishable"),
        1,
        "a publishable key needs at least one allowed origin",
    )
    refused(run("keys", "revoke", "key_nope"), 1, "no API key 'key_nope'")
