"""POST /api/v1/fx_rates, /api/v1/fx_rates/csv and GET /api/v1/fx_rates: all-or-nothing uploads
with per-row errors (unknown ISO 4217 code, rate not > 0, bad date, unknown field), upsert,
secret keys only, and tenancy (an account's rates are invisible to, and never replaced by,
another's). Every response is checked against docs/api/openapi.yml by the ContractClient."""

from __future__ import annotations

from decimal import Decimal

URL = "/api/v1/fx_rates"
ROWS = [
    {"date": "2026-11-01", "currency": "EUR", "quote_currency": "USD", "rate": "1.0842"},
    {"date": "2026-11-01", "currency": "gbp", "quote_currency": "usd", "rate": 1.2711},
]


def stored(conn, account_id: str) -> list[tuple]:
    return conn.execute(
        "select day::text, currency, quote_currency, rate from raw.fx_rates where account_id = %s "
        "order by day, currency",
        (account_id,),
    ).fetchall()


def test_rates_are_stored_listed_and_replaced(client, conn, tenant):
    response = client.post(URL, json={"rates": ROWS}, headers=tenant.bearer())
    assert response.status_code == 200 and response.get_json() == {"stored": 2}
    assert stored(conn, tenant.account_id) == [
        ("2026-11-01", "EUR", "USD", Decimal("1.0842000000")),
        ("2026-11-01", "GBP", "USD", Decimal("1.2711000000")),
    ]
    again = client.post(URL, json={"rates": [{**ROWS[0], "rate": "1.09"}]}, headers=tenant.bearer())
    assert again.status_code == 200
    listed = client.get(URL, headers=tenant.bearer()).get_json()["rates"]
    assert {"date": "2026-11-01", "currency": "EUR", "quote_currency": "USD", "rate": "1.0900000000"} in listed


def test_a_bad_row_rejects_the_upload_with_every_rows_errors(client, conn, tenant):
    bad = [
        ROWS[0],
        {"date": "2026-13-01", "currency": "EUR", "quote_currency": "USD", "rate": "1"},
        {"date": "2026-11-02", "currency": "ABC", "quote_currency": "USD", "rate": "0"},
        {"date": "2026-11-02", "currency": "USD", "quote_currency": "USD", "rate": "-2", "source": "ecb"},
        "not an object",
    ]
    response = client.post(URL, json={"rates": bad}, headers=tenant.bearer())
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "validation_error" and "nothing was stored" in error["message"]
    rejected = {r["index"]: r["errors"] for r in error["details"]["rejected"]}
    assert sorted(rejected) == [1, 2, 3, 4]
    assert rejected[1] == ["date: '2026-13-01' is not a date (YYYY-MM-DD)"]
    assert rejected[2][0].startswith("currency: 'ABC' is not an ISO 4217 currency code")
    assert rejected[2][1].startswith("rate: '0' must be a number > 0")
    assert rejected[3][0].startswith("source: unknown field")
    assert any(e.startswith("quote_currency: must differ") for e in rejected[3])
    assert stored(conn, tenant.account_id) == []  # not even the good first row


def test_csv_upload_and_bad_requests(client, conn, tenant):
    headers = {**tenant.bearer(), "Content-Type": "text/csv"}
    ok = client.post(
        f"{URL}/csv", data=b"date,currency,quote_currency,rate\n2026-11-03,JPY,USD,0.0066\n", headers=headers
    )
    assert ok.status_code == 200 and ok.get_json() == {"stored": 1}
    bad = client.post(
        f"{URL}/csv", data=b"date,currency,quote_currency,rate\n2026-11-04,EUR,USD,abc\n", headers=headers
    )
    assert bad.status_code == 422
    assert bad.get_json()["error"]["details"]["rejected"] == [{"index": 0, "errors": ["rate: 'abc' is not a number"]}]
    no_header = client.post(f"{URL}/csv", data=b"2026-11-04,EUR,USD,1\n", headers=headers)
    assert no_header.status_code == 422 and "header lacks" in no_header.get_json()["error"]["message"]
    assert (
        client.post(f"{URL}/csv", data=b"x", headers={**tenant.bearer(), "Content-Type": "text/plain"}).status_code
        == 415
    )
    assert client.post(URL, json={"rates": []}, headers=tenant.bearer()).status_code == 422
    assert client.post(URL, json={"rows": ROWS}, headers=tenant.bearer()).status_code == 422
    assert client.post(URL, json={"rates": ROWS}).status_code == 401
    assert stored(conn, tenant.account_id) == [("2026-11-03", "JPY", "USD", Decimal("0.0066000000"))]


def test_publishable_keys_may_not_load_rates(client, conn, tenant):
    from mbuzz.accounts import create_key

    pk = create_key(conn, tenant.account_id, "live", "site", publishable=True, origins=["https://shop.example"])
    response = client.post(URL, json={"rates": ROWS}, headers={"Authorization": f"Bearer {pk.plaintext}"})
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "key_not_allowed"
    assert stored(conn, tenant.account_id) == []


def test_rates_are_the_keys_own_accounts(client, conn, tenant, other_tenant):
    assert client.post(URL, json={"rates": [ROWS[0]]}, headers=tenant.bearer()).status_code == 200
    # the same day and pair from another account is that account's row, not a replacement
    assert client.post(URL, json={"rates": [{**ROWS[0], "rate": 9}]}, headers=other_tenant.bearer()).status_code == 200
    assert stored(conn, tenant.account_id) == [("2026-11-01", "EUR", "USD", Decimal("1.0842000000"))]
    theirs = client.get(URL, headers=other_tenant.bearer()).get_json()["rates"]
    assert [r["rate"] for r in theirs] == ["9.0000000000"]
