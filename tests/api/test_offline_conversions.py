"""POST /api/v1/conversions/batch and `mbuzz conversions import`: offline and CRM conversions.

Per-row results (accepted / duplicate / rejected with reasons), the match report (user_id,
visitor_id, email hash, unmatched), re-imports as duplicates by external_id, bad input storing
nothing, secret keys only, tenancy; and identify calls whose plain e-mail is hashed and never
stored (both doors). Every response is checked against docs/api/openapi.yml by the `client`."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

from click.testing import CliRunner

URL = "/api/v1/conversions/batch"
NOW = datetime.now(timezone.utc).replace(microsecond=0)
ADA = "  Ada.Lovelace@Example.com "
ADA_HASH = hashlib.sha256(b"ada.lovelace@example.com").hexdigest()


def iso(moment: datetime) -> str:
    return moment.isoformat()


def send_events(client, tenant, events, environment="live"):
    response = client.post("/api/v1/events", json={"events": events}, headers=tenant.bearer(environment))
    assert response.status_code == 202, response.json
    return response.json


def conversions(conn, account_id: str) -> list[tuple]:
    return conn.execute(
        "select external_id, conversion_type, visitor_id, user_id, email_sha256, revenue::text, currency, environment "
        "from raw.conversions where account_id = %s order by external_id",
        (account_id,),
    ).fetchall()


def known_people(client, tenant, tag: str) -> None:
    """A user who browsed (u-<tag>), a visitor who browsed (v-<tag>), and an identify with Ada's address."""
    send_events(
        client,
        tenant,
        [
            {
                "event_type": "page_view",
                "visitor_id": f"v-{tag}",
                "timestamp": iso(NOW - timedelta(days=2)),
                "properties": {"url": "https://shop.example/?utm_source=google&utm_medium=cpc"},
            },
            {
                "event_type": "identify",
                "visitor_id": f"w-{tag}",
                "user_id": f"u-{tag}",
                "timestamp": iso(NOW - timedelta(days=2)),
                "properties": {"traits": {"email": ADA, "plan": "pro"}},
            },
        ],
    )


def row(external_id: str, **fields) -> dict:
    return {
        "external_id": external_id,
        "conversion_type": "closed_won",
        "timestamp": iso(NOW - timedelta(days=1)),
        **fields,
    }


def test_rows_are_matched_reported_and_stored(client, conn, tenant):
    known_people(client, tenant, "a")
    body = {
        "conversions": [
            row("deal-1", user_id="u-a", revenue=1200, currency="eur"),
            row("deal-2", visitor_id="v-a"),
            row("deal-3", email_sha256=ADA_HASH.upper()),
            row("deal-4", email="ada.lovelace@example.com "),
            row("deal-5", email_sha256=hashlib.sha256(b"nobody@example.com").hexdigest()),
            row("deal-6", email_sha256="not-a-hash"),
            row("deal-1", user_id="u-a"),
        ]
    }
    response = client.post(URL, json=body, headers=tenant.bearer())
    assert response.status_code == 200
    answer = response.json
    assert (answer["accepted"], answer["duplicates"], answer["rejected"]) == (5, 1, 1)
    assert answer["match_report"] == {"user_id": 2, "visitor_id": 1, "email_sha256": 2, "unmatched": 1}
    by_index = {r["index"]: r for r in answer["results"]}
    assert [by_index[i]["matched_by"] for i in range(6) if i != 5] == [
        "user_id",
        "visitor_id",
        "email_sha256",
        "email_sha256",
        "unmatched",
    ]
    assert by_index[5]["status"] == "rejected" and by_index[5]["errors"][0].startswith(
        "email_sha256: must be 64 hex characters"
    )
    assert by_index[6]["status"] == "duplicate" and by_index[6]["conversion_id"] == by_index[0]["conversion_id"]
    assert conversions(conn, tenant.account_id) == [
        ("deal-1", "closed_won", "user:u-a", "u-a", None, "1200.0000", "EUR", "live"),
        ("deal-2", "closed_won", "v-a", None, None, None, None, "live"),
        ("deal-3", "closed_won", f"email_sha256:{ADA_HASH}", None, ADA_HASH, None, None, "live"),
        ("deal-4", "closed_won", f"email_sha256:{ADA_HASH}", None, ADA_HASH, None, None, "live"),
        (
            "deal-5",
            "closed_won",
            f"email_sha256:{hashlib.sha256(b'nobody@example.com').hexdigest()}",
            None,
            hashlib.sha256(b"nobody@example.com").hexdigest(),
            None,
            None,
            "live",
        ),
    ]

    # the same rows again: duplicates naming the same conversions, nothing new, the same report
    again = client.post(URL, json=body, headers=tenant.bearer()).json
    assert (again["accepted"], again["duplicates"], again["rejected"]) == (0, 6, 1)
    assert again["match_report"] == answer["match_report"]
    assert [r.get("conversion_id") for r in again["results"][:5]] == [r["conversion_id"] for r in answer["results"][:5]]
    assert len(conversions(conn, tenant.account_id)) == 5


def test_bad_rows_say_why_and_store_nothing(client, conn, tenant):
    bad = [
        {"conversion_type": "closed_won", "timestamp": iso(NOW), "user_id": "u"},
        row("x-2"),
        row("x-3", user_id="u", timestamp="yesterday"),
        row("x-4", user_id="u", conversion_type="Closed Won!"),
        row("x-5", user_id="u", revenue=10),
        row("x-6", user_id="u", email_sha256="ab" * 31),
        row("x-7", user_id="u", revenue="lots", currency="EUR"),
        row("x-8", user_id="u", timestamp=iso(NOW + timedelta(days=2))),
        row("x-9", user_id="u", channel="crm"),
        row("x-10", email="not an address"),
        "not an object",
    ]
    answer = client.post(URL, json={"conversions": bad}, headers=tenant.bearer()).json
    assert answer["accepted"] == 0 and answer["rejected"] == len(bad)
    errors = [r["errors"] for r in answer["results"]]
    assert errors[0] == ["external_id: required"]
    assert errors[1] == ["user_id, visitor_id or email_sha256: at least one is required (who converted)"]
    assert errors[2] == ["timestamp: 'yesterday' is not an ISO 8601 date-time"]
    assert errors[3][0].startswith("conversion_type: 'Closed Won!' is not a slug")
    assert errors[4][0].startswith("currency: required with revenue")
    assert errors[5][0].startswith("email_sha256: must be 64 hex characters")
    assert errors[6] == ["revenue: 'lots' is not a number >= 0 and < 1e+14"]
    assert errors[7][0].endswith("is in the future")
    assert errors[8][0].startswith("channel: unknown field")
    assert errors[9] == ["email: must be an e-mail address (text with an @)"]
    assert errors[10][0].startswith("must be an object")
    assert answer["match_report"] == {"user_id": 0, "visitor_id": 0, "email_sha256": 0, "unmatched": 0}
    assert conversions(conn, tenant.account_id) == []
    assert (
        conn.execute("select count(*) from raw.conversion_keys where account_id = %s", (tenant.account_id,)).fetchone()[
            0
        ]
        == 0
    )


def test_oversized_missing_and_wrong_keys_are_refused_whole(client, conn, tenant):
    too_many = client.post(
        URL, json={"conversions": [row(f"d-{i}", user_id="u") for i in range(1001)]}, headers=tenant.bearer()
    )
    assert too_many.status_code == 413 and too_many.json["error"]["code"] == "payload_too_large"
    no_rows = client.post(URL, json={"rows": []}, headers=tenant.bearer())
    assert no_rows.status_code == 422 and no_rows.json["error"]["code"] == "validation_error"
    unknown_key = client.post(
        URL, json={"conversions": [row("d", user_id="u")]}, headers={"Authorization": "Bearer sk_live_" + "x" * 32}
    )
    assert unknown_key.status_code == 401

    from mbuzz.accounts import create_key

    pk = create_key(conn, tenant.account_id, "live", "site", publishable=True, origins=["https://shop.example"])
    publishable = client.post(
        URL, json={"conversions": [row("d", user_id="u")]}, headers={"Authorization": f"Bearer {pk.plaintext}"}
    )
    assert publishable.status_code == 403 and publishable.json["error"]["code"] == "key_not_allowed"
    assert conversions(conn, tenant.account_id) == []


def test_a_key_matches_and_dedupes_only_in_its_own_account(client, conn, tenant, other_tenant):
    known_people(client, other_tenant, "b")
    mine = client.post(
        URL, json={"conversions": [row("deal-9", user_id="u-b"), row("deal-10", email=ADA)]}, headers=tenant.bearer()
    ).json
    # the other account knows u-b and Ada's hash; this one does not
    assert mine["match_report"] == {"user_id": 0, "visitor_id": 0, "email_sha256": 0, "unmatched": 2}
    theirs = client.post(URL, json={"conversions": [row("deal-9", user_id="u-b")]}, headers=other_tenant.bearer()).json
    assert theirs["accepted"] == 1 and theirs["match_report"]["user_id"] == 1
    assert (
        client.get(f"/api/v1/conversions/{theirs['results'][0]['conversion_id']}", headers=tenant.bearer()).status_code
        == 404
    )
    # a test key's rows are the test environment's; the live user is not known there
    test = client.post(
        URL, json={"conversions": [row("deal-11", user_id="u-b")]}, headers=other_tenant.bearer("test")
    ).json
    assert test["match_report"]["unmatched"] == 1
    assert {(r[0], r[-1]) for r in conversions(conn, other_tenant.account_id)} == {
        ("deal-9", "live"),
        ("deal-11", "test"),
    }


def test_identify_hashes_a_plain_email_and_never_stores_it(client, conn, tenant):
    address = f"grace.{secrets.token_hex(3)}@Example.com"
    expected = hashlib.sha256(address.lower().encode()).hexdigest()
    send_events(
        client,
        tenant,
        [
            {
                "event_type": "identify",
                "visitor_id": "v-api",
                "user_id": "u-api",
                "properties": {"traits": {"email": f" {address} ", "plan": "pro"}},
                "context": {"traits": {"email": address}},
            }
        ],
    )
    basic = base64.b64encode(f"{tenant.live_key}:".encode()).decode()
    segment = client.post(
        "/v1/identify",
        json={
            "userId": "u-seg",
            "anonymousId": "v-seg",
            "traits": {"email": address.upper()},
            "context": {"traits": {"email": address}},
        },
        headers={"Authorization": f"Basic {basic}"},
    )
    assert segment.status_code == 200, segment.json
    rows = conn.execute(
        "select visitor_id, properties, context from raw.events where account_id = %s order by visitor_id",
        (tenant.account_id,),
    ).fetchall()
    assert [(v, p["traits"]) for v, p, _ in rows] == [
        ("v-api", {"email_sha256": expected, "plan": "pro"}),
        ("v-seg", {"email_sha256": expected}),
    ]
    assert all(c["traits"] == {"email_sha256": expected} for _, _, c in rows)
    # the plain address is nowhere in the database: no row of any table in any schema holds it
    tables = conn.execute(
        "select table_schema, table_name from information_schema.tables "
        "where table_schema in ('raw', 'attribution') and table_type = 'BASE TABLE'"
    ).fetchall()
    for schema, table in tables:
        hits = conn.execute(
            f'select count(*) from "{schema}"."{table}" as t where lower(t::text) like %s', (f"%{address.lower()}%",)
        ).fetchone()[0]
        assert hits == 0, f"{schema}.{table} holds the plain address"


def test_identify_with_a_malformed_hash_is_rejected(client, conn, tenant):
    answer = send_events(
        client,
        tenant,
        [
            {
                "event_type": "identify",
                "visitor_id": "v",
                "user_id": "u",
                "properties": {"traits": {"email_sha256": "abc"}},
            },
            {
                "event_type": "identify",
                "visitor_id": "v",
                "user_id": "u",
                "properties": {"traits": {"email": "a@example.com", "email_sha256": "0" * 64}},
            },
            {"event_type": "identify", "visitor_id": "v", "user_id": "u", "properties": {"traits": {"email": 42}}},
        ],
    )
    assert answer["accepted"] == 0
    assert [r["errors"] for r in answer["rejected"]] == [
        [
            "properties.traits.email_sha256: must be 64 hex characters: the SHA-256 of the trimmed, lower-cased address "
            "(e.g. printf '%s' 'ada@example.com' | sha256sum)"
        ],
        ["properties.traits.email_sha256: differs from the hash of properties.traits.email; send one of them"],
        ["properties.traits.email: must be an e-mail address (text with an @)"],
    ]
    assert (
        conn.execute("select count(*) from raw.events where account_id = %s", (tenant.account_id,)).fetchone()[0] == 0
    )


def test_cli_import_prints_progress_and_the_match_report(client, conn, tenant, tmp_path, database_url, monkeypatch):
    from mbuzz.cli import cli

    known_people(client, tenant, "c")
    csv = tmp_path / "deals.csv"
    csv.write_text(
        "external_id,conversion_type,timestamp,user_id,email,revenue,currency,stage\n"
        f"crm-1,closed_won,{iso(NOW - timedelta(days=1))},u-c,,500,EUR,won\n"
        f"crm-2,closed_won,{iso(NOW - timedelta(days=1))},,{ADA},,,won\n"
        f"crm-3,closed_won,{iso(NOW - timedelta(days=1))},,x@nowhere.example,,,lost\n"
        f"crm-4,closed_won,later,u-c,,,,\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("DATABASE_URL", database_url)
    runner = CliRunner()
    result = runner.invoke(cli, ["conversions", "import", str(csv), "--account", tenant.account_id])
    assert result.exit_code == 1, result.output
    assert "3 conversions stored" in result.output and "1 rejected" in result.output
    assert "match report: user_id 1, visitor_id 0, email_sha256 1, unmatched 1 (67% matched)" in result.output
    assert "line 5: timestamp: 'later' is not an ISO 8601 date-time" in result.output
    assert "importing 4 rows" in result.output  # the progress bar (on stderr)
    stored = conversions(conn, tenant.account_id)
    assert [r[0] for r in stored] == ["crm-1", "crm-2", "crm-3"]
    assert conn.execute(
        "select properties from raw.conversions where account_id = %s and external_id = 'crm-1'", (tenant.account_id,)
    ).fetchone()[0] == {"stage": "won"}

    again = runner.invoke(cli, ["conversions", "import", str(csv), "--account", tenant.account_id, "--json"])
    answer = json.loads(again.stdout.strip().splitlines()[-1])
    assert (answer["accepted"], answer["duplicates"]) == (0, 3)
    assert len(conversions(conn, tenant.account_id)) == 3

    # the real command: an unknown account is one line naming what to do, and nothing is stored
    unknown = subprocess.run(
        [str(Path(sys.executable).parent / "mbuzz"), "conversions", "import", str(csv), "--account", "acct_nope"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "DATABASE_URL": database_url},
    )
    assert unknown.returncode == 1
    assert "Error: no account 'acct_nope': list accounts with `mbuzz accounts list`" in unknown.stderr
