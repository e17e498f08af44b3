"""The warehouse tests' fixture dataset and helpers to run dbt against a test database.

One account of hand-written journeys (every case the journeys contract names) plus one visitor
per row of the channel parity table (dbt_project/tests/fixtures/channel_parity_sessions.csv),
loaded with multi-row INSERTs (the TimescaleDB tier refuses COPY). Times are fixed, so the
PostgreSQL and TimescaleDB builds can be compared row by row.
"""

from __future__ import annotations

import csv
import json
import os
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg

from mbuzz.db.landing import BULK_CONVERSION_COLUMNS, BULK_EVENT_COLUMNS
from mbuzz.paths import PROJECT_DIR
from mbuzz.warehouse import run_dbt

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
PARITY = PROJECT_DIR / "dbt_project" / "tests" / "fixtures"
OWN_DOMAIN = "mysite.com"

EVENT_COLUMNS = BULK_EVENT_COLUMNS
CONVERSION_COLUMNS = BULK_CONVERSION_COLUMNS


def day(n: float, hh: int = 0, mm: int = 0, ss: int = 0) -> datetime:
    return T0 + timedelta(days=n, hours=hh, minutes=mm, seconds=ss)


@dataclass
class Dataset:
    account_id: str
    events: list[dict] = field(default_factory=list)
    conversions: list[dict] = field(default_factory=list)
    _n: int = 0

    def event(
        self,
        visitor: str,
        at: datetime,
        url: str | None = None,
        referrer: str | None = None,
        event_type: str = "page_view",
        user_id: str | None = None,
        session_id: str | None = None,
        environment: str = "live",
        received_at: datetime | None = None,
        **props,
    ) -> None:
        self._n += 1
        properties = {k: v for k, v in {"url": url, "referrer": referrer, **props}.items() if v is not None}
        self.events.append(
            {
                "account_id": self.account_id,
                "event_id": f"evt_{self.account_id[-6:]}_{self._n:04d}",
                "environment": environment,
                "event_type": event_type,
                "visitor_id": visitor,
                "user_id": user_id,
                "session_id": session_id,
                "occurred_at": at,
                "received_at": received_at or at + timedelta(seconds=1),
                "properties": json.dumps(properties),
            }
        )

    def conversion(
        self,
        conversion_id: str,
        visitor: str,
        at: datetime,
        conversion_type: str = "purchase",
        revenue: float | None = None,
        user_id: str | None = None,
        environment: str = "live",
        received_at: datetime | None = None,
    ) -> None:
        self.conversions.append(
            {
                "account_id": self.account_id,
                "conversion_id": conversion_id,
                "environment": environment,
                "conversion_type": conversion_type,
                "visitor_id": visitor,
                "user_id": user_id,
                "revenue": revenue,
                "currency": "EUR" if revenue is not None else None,
                "converted_at": at,
                "received_at": received_at or at + timedelta(seconds=1),
            }
        )


def parity_cases() -> list[dict]:
    """The channel parity table: given sessions joined with the expected channel and rule."""
    with open(PARITY / "channel_parity_sessions.csv", newline="") as f:
        sessions = list(csv.DictReader(f))
    with open(PARITY / "channel_parity_expected.csv", newline="") as f:
        expected = {row["session_id"]: row for row in csv.DictReader(f)}
    return [
        {
            **row,
            "channel": expected[row["session_id"]]["channel"],
            "channel_rule": int(expected[row["session_id"]]["channel_rule"]),
        }
        for row in sessions
    ]


def build_dataset(account_id: str) -> Dataset:
    """Every journey case of the contract, with conversion ids unique to the account."""
    d = Dataset(account_id)
    c = account_id[-6:]
    # paid search (with the first mql) → email → direct → conversion; an sql after the conversion
    d.event("vis_paid", day(-10, 10), "https://mysite.com/?gclid=g1")
    d.event("vis_paid", day(-10, 10, 5), "https://mysite.com/pricing")
    d.event("vis_paid", day(-10, 10, 6), "https://mysite.com/pricing", event_type="mql")
    d.event("vis_paid", day(-5, 9), "https://mysite.com/?utm_source=newsletter&utm_medium=email&utm_campaign=march")
    d.event("vis_paid", day(-1, 8), "https://mysite.com/")
    d.conversion(f"conv_{c}_paid", "vis_paid", day(-1, 8, 10), revenue=120.0)
    d.event("vis_paid", day(-1, 9), "https://mysite.com/thanks", event_type="sql")
    # identity: a laptop visitor and a phone visitor of the same user
    d.event("vis_laptop", day(-40, 9), "https://mysite.com/", "https://news.example.org/")  # outside the lookback
    d.event("vis_laptop", day(-20, 9), "https://mysite.com/", "https://www.google.com/")
    d.event("vis_laptop", day(-20, 9, 2), "https://mysite.com/", event_type="identify", user_id="user_42")
    d.event(
        "vis_phone", day(-2, 20), "https://mysite.com/?utm_source=facebook&utm_medium=paid_social&utm_campaign=spring"
    )
    d.event("vis_phone", day(-2, 20, 1), "https://mysite.com/signup", event_type="identify", user_id="user_42")
    d.conversion(f"conv_{c}_user", "vis_phone", day(-2, 21), conversion_type="signup")
    # non-converting: referral, then a self-referral from an own domain (keeps the referral)
    d.event("vis_browse", day(-8, 14), "https://mysite.com/a", "https://news.example.org/story")
    d.event("vis_browse", day(-7, 14), "https://mysite.com/b", "https://blog.mysite.com/post")
    # a conversion without any touch
    d.conversion(f"conv_{c}_ghost", "vis_ghost", day(-3, 12), revenue=10.0)
    # user_7 converted on one device after an organic visit on another (vis_swap: relinked later)
    d.event("vis_swap", day(-9, 15), "https://mysite.com/", "https://www.google.com/")
    d.event("vis_swap", day(-9, 15, 1), "https://mysite.com/login", event_type="identify", user_id="user_7")
    d.event("vis_seven", day(-6, 11), "https://mysite.com/?utm_source=bing&utm_medium=cpc")
    d.event("vis_seven", day(-6, 11, 1), "https://mysite.com/login", event_type="identify", user_id="user_7")
    d.conversion(f"conv_{c}_seven", "vis_seven", day(-6, 12), revenue=30.0)
    # test-key data never reaches live marts
    d.event("vis_test", day(-3, 12), "https://mysite.com/?utm_source=google&utm_medium=cpc", environment="test")
    d.conversion(f"conv_{c}_test", "vis_test", day(-3, 13), environment="test")
    # a client session id wins over the 30-minute rule
    d.event("vis_client", day(-3, 10), "https://mysite.com/?utm_source=bing&utm_medium=cpc", session_id="cs_abc")
    d.event("vis_client", day(-3, 13), "https://mysite.com/later", session_id="cs_abc")
    # exactly 30 minutes stays in the session, 30:01 starts a new one
    d.event("vis_gap", day(-4, 10), "https://mysite.com/")
    d.event("vis_gap", day(-4, 10, 30), "https://mysite.com/x")
    d.event("vis_gap", day(-4, 11, 0, 1), "https://mysite.com/y")
    # one visitor per parity row (the self-referral pair shares a visitor)
    for case in parity_cases():
        at = datetime.fromisoformat(case["started_at"].replace("+00", "+00:00")) - timedelta(days=30)
        d.event(f"par_{case['visitor_id']}", at, case["landing_url"], case["referrer"] or None)
    return d


def late_events(d: Dataset, received_at: datetime) -> None:
    """Events arriving after the first build: a gap filler, a late email-session event, a new visitor."""
    d.event("vis_gap", day(-4, 10, 45), "https://mysite.com/late", received_at=received_at)
    d.event("vis_paid", day(-5, 9, 20), "https://mysite.com/late-email", received_at=received_at)
    d.event("vis_new", day(0, 1), "https://mysite.com/?utm_source=tiktok&utm_medium=paid", received_at=received_at)


def identity_changes(d: Dataset, received_at: datetime) -> None:
    """Identity changes after the first build: an anonymous visitor with a conversion logs in as an
    existing user, a visitor is relinked from one user to another, new conversions (the new
    visitor's; one recorded with a user_id, linking an anonymous visitor to a new user)."""
    c = d.account_id[-6:]
    # vis_paid (converted as visitor:vis_paid) logs in as user_42 (laptop and phone)
    d.event(
        "vis_paid",
        day(0, 2),
        "https://mysite.com/login",
        event_type="identify",
        user_id="user_42",
        received_at=received_at,
    )
    # vis_swap leaves user_7 for user_8
    d.event(
        "vis_swap", day(0, 3), "https://mysite.com/?utm_source=newsletter&utm_medium=email", received_at=received_at
    )
    d.event(
        "vis_swap",
        day(0, 3, 1),
        "https://mysite.com/login",
        event_type="identify",
        user_id="user_8",
        received_at=received_at,
    )
    d.conversion(f"conv_{c}_new", "vis_new", day(0, 1, 30), revenue=55.0, received_at=received_at)
    # vis_client (a non-converting path) converts as user_55
    d.conversion(f"conv_{c}_client", "vis_client", day(-3, 14), user_id="user_55", received_at=received_at)


def _insert(conn, table: str, columns: tuple[str, ...], rows: list[dict], batch: int = 200) -> None:
    for start in range(0, len(rows), batch):
        chunk = rows[start : start + batch]
        placeholders = ", ".join("(" + ", ".join(["%s"] * len(columns)) + ")" for _ in chunk)
        values = [row[col] for row in chunk for col in columns]
        conn.execute(f"insert into {table} ({', '.join(columns)}) values {placeholders}", values)


def load(
    url: str,
    d: Dataset,
    events: list[dict] | None = None,
    with_account: bool = True,
    conversions: list[dict] | None = None,
) -> None:
    """The dataset's account, conversions and events; or, with_account=False, the given events
    (and conversions) only: rows added after a build."""
    with psycopg.connect(url, autocommit=True) as conn:
        if with_account:
            conn.execute(
                "insert into raw.accounts (id, name, settings) values (%s, %s, %s) on conflict do nothing",
                (d.account_id, "dbt fixture", json.dumps({"own_domains": [OWN_DOMAIN]})),
            )
            conversions = d.conversions if conversions is None else conversions
        if conversions:
            _insert(conn, "raw.conversions", CONVERSION_COLUMNS, conversions)
        _insert(conn, "raw.events", EVENT_COLUMNS, d.events if events is None else events)


def insert_credits(url: str, account_id: str) -> None:
    """A few credits rows (two models, two days), as the attribution assets would write them."""
    rows = []
    n = 0
    for model, shares in (("linear", (0.5, 0.5)), ("last_touch", (0.0, 1.0))):
        for conv, at, revenue in (
            (f"conv_{account_id[-6:]}_a", day(-1, 8), 100.0),
            (f"conv_{account_id[-6:]}_b", day(-3, 9), 40.0),
        ):
            for index, (channel, share, utm) in enumerate(
                zip(("paid_search", "email"), shares, (("google", "cpc", None), ("newsletter", "email", "march")))
            ):
                n += 1
                rows.append(
                    {
                        "account_id": account_id,
                        "credit_id": f"cred_{account_id[-6:]}_{n:03d}",
                        "run_id": "run_fixture",
                        "environment": "live",
                        "model": model,
                        "conversion_id": conv,
                        "conversion_type": "purchase",
                        "converted_at": at,
                        "touch_index": index,
                        "session_id": f"sess_{index}",
                        "channel": channel,
                        "credit": share,
                        "revenue_credit": share * revenue,
                        "utm_source": utm[0],
                        "utm_medium": utm[1],
                        "utm_campaign": utm[2],
                    }
                )
    columns = tuple(rows[0])
    with psycopg.connect(url, autocommit=True) as conn:
        _insert(conn, "attribution.attribution_credits", columns, rows)


def fetch(url: str, query: str, params=()) -> list[tuple]:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(query, params).fetchall()


def dbt(url: str, *args: str, target: str = "postgres", threads: int | None = None) -> None:
    """dbt in a subprocess (dbt keeps global state; a clean process per run is safest), with a
    target folder per dbt target so partial parsing survives switching between the two (under
    MBUZZ_TEST_DBT_TARGETS, default target/: two test sessions at once need a folder each)."""
    run_dbt(
        list(args),
        url=url,
        target=target,
        threads=threads,
        subprocess_mode=True,
        target_path=str(Path(os.environ.get("MBUZZ_TEST_DBT_TARGETS", PROJECT_DIR / "target")) / f"pytest-{target}"),
    )


def physical_rows(url: str, account_id: str) -> dict[str, set[tuple]]:
    """Each identity's journey rows as (journey_id, touch_index, ctid): a rewritten row has a new ctid."""
    out: dict[str, set[tuple]] = {}
    for identity, journey, index, ctid in fetch(
        url,
        "select identity_key, journey_id, touch_index, ctid::text from marts.fct_conversion_journeys "
        "where account_id = %s",
        (account_id,),
    ):
        out.setdefault(identity, set()).add((journey, index, ctid))
    return out


def spend_accounts(conn, name: str) -> tuple[str, str, str, str]:
    """An account with four spend rows (paid_search by campaign and for the whole channel on one
    day, display the day before, email by campaign) and a neighbour account with 1000 of
    paid_search spend on that day, which no report of the first may show.
    Returns (account, neighbour, the day, the display day)."""
    from mbuzz.accounts import create_account
    from mbuzz.spend import record_spend

    account = create_account(conn, f"{name} {secrets.token_hex(3)}").id
    other = create_account(conn, f"{name} neighbour").id
    a_day, display_day = day(-1, 8).date().isoformat(), day(-2).date().isoformat()
    result = record_spend(
        conn,
        account,
        "live",
        [
            {
                "date": a_day,
                "channel": "paid_search",
                "utm_source": "google",
                "utm_medium": "cpc",
                "utm_campaign": "brand",
                "amount": "30",
                "currency": "EUR",
            },
            {"date": a_day, "channel": "paid_search", "amount": "20", "currency": "EUR"},
            {"date": display_day, "channel": "display", "amount": "10", "currency": "EUR"},
            {
                "date": a_day,
                "channel": "email",
                "utm_source": "Newsletter",
                "utm_medium": "email",
                "utm_campaign": "March",
                "amount": "10",
                "currency": "EUR",
            },
        ],
    )
    assert result.accepted == 4
    record_spend(conn, other, "live", [{"date": a_day, "channel": "paid_search", "amount": 1000, "currency": "EUR"}])
    return account, other, a_day, display_day
