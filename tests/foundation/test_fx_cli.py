"""`mbuzz fx import` and `mbuzz accounts create/update --timezone/--currency`, run as a user runs
them (a real process, a real database): rates stored all or nothing, bad lines reported by line
number, unknown currencies and time zones refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

MBUZZ = str(Path(sys.executable).parent / "mbuzz")


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([MBUZZ, *args], capture_output=True, text=True, env=dict(os.environ), timeout=120)
    if check and result.returncode != 0:
        raise AssertionError(f"mbuzz {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def rates(conn, account_id: str) -> list[tuple]:
    return conn.execute(
        "select day::text, currency, quote_currency, rate from raw.fx_rates where account_id = %s order by day",
        (account_id,),
    ).fetchall()


def test_fx_import_and_the_accounts_time_zone(database_url, conn, tmp_path):
    account = json.loads(
        run("accounts", "create", "Shop", "--currency", "usd", "--timezone", "America/Los_Angeles", "--json").stdout
    )
    settings = conn.execute("select settings from raw.accounts where id = %s", (account["id"],)).fetchone()[0]
    assert settings == {"currency": "USD", "timezone": "America/Los_Angeles"}
    assert "Europe/Paris days" in run("accounts", "update", account["id"], "--timezone", "Europe/Paris").stdout
    bad_zone = run("accounts", "update", account["id"], "--timezone", "Mars/Olympus", check=False)
    assert bad_zone.returncode != 0 and "not an IANA time zone" in bad_zone.stderr
    bad_create = run("accounts", "create", "X", "--timezone", "PST8PDT-ish", check=False)
    assert bad_create.returncode != 0 and "not an IANA time zone" in bad_create.stderr
    assert run("accounts", "update", account["id"], check=False).returncode == 2  # nothing to change

    good = tmp_path / "rates.csv"
    good.write_text("date,currency,quote_currency,rate\n2026-11-01,EUR,USD,1.10\n2026-11-02,eur,usd,1.5\n")
    assert "2 rates stored" in run("fx", "import", str(good), "--account", account["id"]).stdout
    assert rates(conn, account["id"]) == [
        ("2026-11-01", "EUR", "USD", Decimal("1.1000000000")),
        ("2026-11-02", "EUR", "USD", Decimal("1.5000000000")),
    ]

    bad = tmp_path / "bad.csv"
    bad.write_text(
        "date,currency,quote_currency,rate\n2026-11-03,EUR,USD,1.2\n2026-11-04,XYZ,USD,1\n2026-11-05,EUR,USD,-1\n"
    )
    result = run("fx", "import", str(bad), "--account", account["id"], check=False)
    assert result.returncode == 1
    assert "line 3: currency: 'XYZ' is not an ISO 4217 currency code" in result.stderr
    assert "line 4: rate: '-1' must be a number > 0" in result.stderr
    assert "nothing was stored" in result.stderr
    assert len(rates(conn, account["id"])) == 2  # not even the good line 2

    no_header = tmp_path / "no_header.csv"
    no_header.write_text("2026-11-03,EUR,USD,1.2\n")
    result = run("fx", "import", str(no_header), "--account", account["id"], check=False)
    assert result.returncode == 1 and "header lacks" in result.stderr
    unknown = run("fx", "import", str(good), "--account", "acct_nope", check=False)
    assert unknown.returncode != 0 and "no account 'acct_nope'" in unknown.stderr
