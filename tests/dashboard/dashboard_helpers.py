"""Helpers shared by the dashboard tests (fixtures live in conftest.py)."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

PASSWORD = "correct horse battery"
SECRET = "dashboard-tests-" + secrets.token_hex(8)
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def csrf_token(html: str | bytes) -> str:
    text = html.decode() if isinstance(html, bytes) else html
    match = CSRF.search(text)
    assert match, "no CSRF token on the page"
    return match.group(1) or match.group(2)


AGGREGATES = ("marts.channel_attribution_daily", "marts.source_attribution_daily")


@dataclass(frozen=True)
class Admin:
    account_id: str
    account_name: str
    user_id: str
    email: str
    password: str = PASSWORD


def make_admin(conn) -> Admin:
    from mbuzz.accounts import create_account
    from mbuzz.users import create_user

    account = create_account(conn, f"Dash {secrets.token_hex(3)}")
    email = f"admin-{secrets.token_hex(4)}@example.com"
    user = create_user(conn, account.id, email, PASSWORD)
    return Admin(account.id, account.name, user.id, email)


def sign_in(client, admin: Admin):
    page = client.get("/dashboard/login")
    response = client.post(
        "/dashboard/login", data={"csrf_token": csrf_token(page.data), "email": admin.email, "password": admin.password}
    )
    assert response.status_code == 302, response.data[:500]
    return response


def post_form(client, page_url: str, action_url: str, data: dict, **kwargs):
    """POST like a browser: the CSRF token comes from the page the form is on."""
    token = csrf_token(client.get(page_url).data)
    return client.post(action_url, data={"csrf_token": token, **data}, **kwargs)


def refresh_aggregates(conn) -> None:
    """Plain PostgreSQL: materialized views, refreshed; TimescaleDB: real-time continuous aggregates."""
    for relation in AGGREGATES:
        kind = conn.execute("select relkind from pg_class where oid = to_regclass(%s)", (relation,)).fetchone()
        if kind and kind[0] == "m":
            conn.execute(f"refresh materialized view {relation}")  # names are the constants above


# (channel, utm source, medium, campaign) of each touch of the sample conversions
TOUCHES = (
    ("paid_search", "google", "cpc", "brand-search"),
    ("email", "newsletter", "email", "weekly-digest"),
    ("paid_social", "facebook", "paid_social", "retargeting-q4"),
)


def credit_conversions(
    conn,
    account_id: str,
    models=("linear", "last_touch", "markov"),
    conversions: int = 3,
    environment: str = "live",
    day: datetime | None = None,
) -> None:
    """Credits as the attribution assets would write them, then the aggregates refreshed."""
    from mbuzz.ids import new_id

    day = day or datetime.now(timezone.utc) - timedelta(days=2)
    run_id = new_id("run")
    conn.execute(
        "insert into attribution.attribution_runs (run_id, config_hash, config) values (%s, %s, '{}')",
        (run_id, "0" * 64),
    )
    rows = []
    for c in range(conversions):
        conversion_id = new_id("conv")
        for model in models:
            for i, (channel, source, medium, campaign) in enumerate(TOUCHES):
                if model == "last_touch":
                    credit = 1.0 if i == len(TOUCHES) - 1 else 0.0
                elif model == "markov":
                    credit = (0.5, 0.3, 0.2)[i]
                else:
                    credit = 1 / len(TOUCHES)
                rows.append(
                    (
                        account_id,
                        new_id("cred"),
                        run_id,
                        environment,
                        model,
                        conversion_id,
                        "purchase",
                        day,
                        i,
                        None,
                        channel,
                        credit,
                        credit * 100.0,
                        source,
                        medium,
                        campaign,
                    )
                )
    with conn.cursor() as cur:
        cur.executemany(
            "insert into attribution.attribution_credits (account_id, credit_id, run_id, environment, model, "
            "conversion_id, conversion_type, converted_at, touch_index, session_id, channel, credit, revenue_credit, "
            "utm_source, utm_medium, utm_campaign) values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            rows,
        )
    if "markov" in models:
        for channel, effect in (("paid_search", 0.6), ("email", 0.35), ("paid_social", 0.2)):
            conn.execute(
                "insert into attribution.channel_summaries (account_id, run_id, model, channel, removal_effect, "
                "total_conversions) values (%s, %s, 'markov', %s, %s, %s)",
                (account_id, run_id, channel, effect, effect * conversions),
            )
    refresh_aggregates(conn)
