"""Helpers shared by the ingestion API tests (fixtures live in conftest.py)."""
from __future__ import annotations

import secrets
import socket
from dataclasses import dataclass


@dataclass(frozen=True)
class Tenant:
    account_id: str
    name: str
    live_key: str
    test_key: str
    live_key_id: str

    def bearer(self, environment: str = "live") -> dict:
        key = self.live_key if environment == "live" else self.test_key
        return {"Authorization": f"Bearer {key}"}


def make_tenant(conn, tier: str = "standard") -> Tenant:
    from mbuzz.accounts import create_account, create_key

    account = create_account(conn, f"Tenant {secrets.token_hex(3)}", tier=tier)
    live = create_key(conn, account.id, "live")
    test = create_key(conn, account.id, "test")
    return Tenant(account.id, account.name, live.plaintext, test.plaintext, live.key.id)


def event(**overrides) -> dict:
    base = {"event_type": "page_view", "visitor_id": f"vis_{secrets.token_hex(4)}",
            "event_id": f"e-{secrets.token_hex(8)}",
            "properties": {"url": "https://shop.example.com/?utm_source=google", "utm_source": "google"}}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not ...}


def stored(conn, account_id: str, *, environment: str | None = None) -> list[dict]:
    query = "select * from raw.events where account_id = %s" + (" and environment = %s" if environment else "")
    params = (account_id, environment) if environment else (account_id,)
    cursor = conn.execute(query + " order by occurred_at, event_id", params)
    names = [c.name for c in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
