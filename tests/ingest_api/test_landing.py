"""landing.land inside a caller's transaction: a retried batch undoes only its own first try."""

from __future__ import annotations

import secrets
from datetime import datetime, timezone

from ingest_helpers import stored


def _row(event_id: str | None = None) -> dict:
    return {
        "event_id": event_id or f"e-{secrets.token_hex(8)}",
        "event_type": "page_view",
        "visitor_id": f"vis_{secrets.token_hex(4)}",
        "occurred_at": "2026-11-20T10:00:00+00:00",
        "properties": {},
    }


def _land(app, tenant, rows, before=None) -> tuple[dict, str]:
    """In one request-like transaction (scoped to the tenant): `before(conn)`, then land the rows."""
    from ingest_api import db, landing
    from ingest_api.auth import Principal

    principal = Principal(tenant.live_key_id, tenant.account_id, tenant.name, "standard", "live")
    batch = landing.Batch(max_event_bytes=32 * 1024)
    for index, row in enumerate(rows):
        batch.add(index, row)
    with app.app_context(), db.transaction() as conn:
        db.scope_to_account(conn, tenant.account_id)
        if before is not None:
            before(conn)
        result = landing.land(conn, principal, batch, datetime.now(timezone.utc), "api")
        scope = conn.execute("select current_setting('mbuzz.account_id')").fetchone()[0]
    return result, scope


def test_a_write_before_landing_survives_a_batch_the_unique_index_refuses(app, conn, tenant):
    """Plain PostgreSQL: the batch holds an event stored before, so the first insert fails and the
    batch lands again. What the view wrote before calling land stays, and so does its tenant scope."""
    old = _row()
    assert _land(app, tenant, [old])[0]["accepted"] == 1
    earlier = f"written-before-{secrets.token_hex(4)}"

    def write_first(c):
        c.execute(
            "insert into raw.events (account_id, event_id, environment, event_type, visitor_id, occurred_at) "
            "values (%s, %s, 'live', 'identify', 'vis_x', now())",
            (tenant.account_id, earlier),
        )

    new = [_row(), _row()]
    result, scope = _land(app, tenant, [new[0], old, new[1]], before=write_first)
    assert result == {"accepted": 2, "duplicates": 1, "rejected": []}
    assert scope == tenant.account_id  # still scoped: row-level security applied to the retry
    ids = {r["event_id"] for r in stored(conn, tenant.account_id)}
    assert ids == {old["event_id"], earlier, *(r["event_id"] for r in new)}


def test_the_bulk_loader_lands_through_the_same_statements(conn, account):
    """mbuzz.demo.traffic.load_direct uses mbuzz.db.landing: a replay is all duplicates."""
    from mbuzz.demo.traffic import generate, load_direct

    traffic = generate(visitors=20, days=3, seed=5)
    first, _ = load_direct(conn, account.id, traffic, streamed=True)
    assert first == len({e["event_id"] for e in traffic.events}) > 0
    assert load_direct(conn, account.id, traffic)[0] == 0
    row = conn.execute(
        "select count(*) filter (where received_at = occurred_at), count(*) from raw.events where account_id = %s",
        (account.id,),
    ).fetchone()
    assert row[0] == row[1] == first  # streamed: received when they occurred
