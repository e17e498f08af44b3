"""POST /api/v1/spend and /api/v1/spend/csv: per-row validation and rejections, upsert, test-key
spend kept apart, the CSV upload, every error status, and tenancy (a key writes only its own
account's spend; another account's rows are neither visible nor replaced). Every response is
checked against docs/api/openapi.yml by the ContractClient."""

from __future__ import annotations

import gzip
from decimal import Decimal

URL = "/api/v1/spend"
ROWS = [
    {
        "date": "2026-11-01",
        "channel": "paid_search",
        "utm_source": "google",
        "utm_medium": "cpc",
        "utm_campaign": "brand",
        "amount": 120.5,
        "currency": "EUR",
    },
    {"date": "2026-11-01", "channel": "paid_social", "amount": "40.00", "currency": "EUR"},
]


def stored(conn, account_id: str) -> list[tuple]:
    return conn.execute(
        "select environment, day::text, channel, utm_campaign, amount, currency from raw.ad_spend "
        "where account_id = %s order by environment, day, channel",
        (account_id,),
    ).fetchall()


def test_rows_are_stored_and_bad_rows_rejected_by_index(client, conn, tenant):
    response = client.post(
        URL, json={"spend": [*ROWS, {"date": "yesterday", "channel": "tv", "amount": -1}]}, headers=tenant.bearer()
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["accepted"] == 2
    assert [r["index"] for r in body["rejected"]] == [2]
    assert body["rejected"][0]["errors"][0] == "date: 'yesterday' is not a date (YYYY-MM-DD)"
    assert any(e.startswith("currency: required") for e in body["rejected"][0]["errors"])
    assert stored(conn, tenant.account_id) == [
        ("live", "2026-11-01", "paid_search", "brand", Decimal("120.5000"), "EUR"),
        ("live", "2026-11-01", "paid_social", "", Decimal("40.0000"), "EUR"),
    ]
    # uploading a day again replaces it; a test key's rows are the test environment's
    assert client.post(URL, json={"spend": [{**ROWS[1], "amount": 45}]}, headers=tenant.bearer()).status_code == 200
    assert client.post(URL, json={"spend": [ROWS[1]]}, headers=tenant.bearer("test")).status_code == 200
    assert stored(conn, tenant.account_id)[1:] == [
        ("live", "2026-11-01", "paid_social", "", Decimal("45.0000"), "EUR"),
        ("test", "2026-11-01", "paid_social", "", Decimal("40.0000"), "EUR"),
    ]


def test_csv_upload(client, conn, tenant):
    csv = (
        "date,channel,utm_source,utm_medium,utm_campaign,amount,currency\n"
        "2026-11-02,display,,,,10,usd\n"
        "2026-11-02,display,,,,ten,USD\n"
    )
    response = client.post(f"{URL}/csv", data=csv.encode(), headers={**tenant.bearer(), "Content-Type": "text/csv"})
    assert response.status_code == 200
    assert response.get_json() == {
        "accepted": 1,
        "rejected": [{"index": 1, "errors": ["amount: 'ten' is not a number"]}],
    }
    assert stored(conn, tenant.account_id) == [("live", "2026-11-02", "display", "", Decimal("10.0000"), "USD")]

    wrong_type = client.post(f"{URL}/csv", data=csv.encode(), headers={**tenant.bearer(), "Content-Type": "text/plain"})
    assert wrong_type.status_code == 415 and wrong_type.get_json()["error"]["code"]
    no_header = client.post(
        f"{URL}/csv", data=b"2026-11-02,display,10\n", headers={**tenant.bearer(), "Content-Type": "text/csv"}
    )
    assert no_header.status_code == 422 and "header lacks" in no_header.get_json()["error"]["message"]
    not_utf8 = client.post(
        f"{URL}/csv", data=gzip.compress(csv.encode()), headers={**tenant.bearer(), "Content-Type": "text/csv"}
    )
    assert not_utf8.status_code == 400
    assert len(stored(conn, tenant.account_id)) == 1  # nothing else landed


def test_bad_requests_store_nothing(client, conn, tenant):
    headers = tenant.bearer()
    assert (
        client.post(URL, data=b"{not json", headers={**headers, "Content-Type": "application/json"}).status_code == 400
    )
    assert client.post(URL, json={"rows": ROWS}, headers=headers).status_code == 422  # no `spend`
    assert client.post(URL, json={"spend": "x"}, headers=headers).status_code == 422
    too_many = client.post(URL, json={"spend": [ROWS[0]] * 5001}, headers=headers)
    assert too_many.status_code == 413
    assert client.post(URL, data=b"a,b", headers={**headers, "Content-Type": "text/csv"}).status_code == 415
    assert client.post(URL, json={"spend": ROWS}).status_code == 401
    assert (
        client.post(URL, json={"spend": ROWS}, headers={"Authorization": "Bearer sk_live_" + "x" * 32}).status_code
        == 401
    )
    assert stored(conn, tenant.account_id) == []


def test_a_key_writes_only_its_own_accounts_spend(client, conn, tenant, other_tenant):
    assert client.post(URL, json={"spend": [ROWS[1]]}, headers=tenant.bearer()).status_code == 200
    # the same day, channel and campaign from another account is that account's row, not a replacement
    assert (
        client.post(URL, json={"spend": [{**ROWS[1], "amount": 999}]}, headers=other_tenant.bearer()).status_code == 200
    )
    assert stored(conn, tenant.account_id) == [("live", "2026-11-01", "paid_social", "", Decimal("40.0000"), "EUR")]
    assert stored(conn, other_tenant.account_id) == [
        ("live", "2026-11-01", "paid_social", "", Decimal("999.0000"), "EUR")
    ]
