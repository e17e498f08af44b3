"""Ad spend: what each channel, or one campaign of it, cost per day (`raw.ad_spend`).

Rows come as JSON objects (`POST /api/v1/spend`) or CSV lines (`mbuzz spend import`, or the
same endpoint with `Content-Type: text/csv`), with the same fields:

    date,channel,utm_source,utm_medium,utm_campaign,amount,currency,impressions,clicks
    2026-11-01,paid_search,google,cpc,brand,120.50,EUR,48000,1250

`channel` is one of the channels the rules assign (dbt_project/seeds/channel_rules.csv); the
UTM fields are optional ('' or absent: spend for the whole channel). `impressions` and `clicks`
are the ad platform's delivery numbers, optional (whole numbers >= 0; '' or absent: not
reported, stored as null): media-mix models read them (`mbuzz export mmm`). Each row is validated on
its own: valid rows are stored, invalid ones come back with their index and errors, nothing
else is lost. Storing a row whose (day, channel, source, medium, campaign) exists replaces its
amount and currency. The marts join spend with the credited conversions of every model
(`marts.rpt_channel_roas`: ROAS and cost per conversion per day).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from mbuzz.fx import currencies
from mbuzz.uploads import csv_rows, row_day

FIELDS = ("date", "channel", "utm_source", "utm_medium", "utm_campaign", "amount", "currency", "impressions", "clicks")
DELIVERY_FIELDS = ("impressions", "clicks")
MAX_COUNT = 2**63 - 1  # bigint
UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign")
MAX_ROWS = 5000
MAX_TEXT = 255
MAX_AMOUNT = Decimal("1e14")  # numeric(18, 4)


class SpendInputError(ValueError):
    """The upload as a whole cannot be read (not a list, no header, too many rows)."""


@lru_cache(maxsize=1)
def channels() -> frozenset[str]:
    """The channels spend can be recorded for: those the channel rules assign."""
    from mbuzz.channels import load_rules

    return frozenset(rule.channel for rule in load_rules().rules)


@dataclass(frozen=True)
class SpendRow:
    day: date
    channel: str
    utm_source: str
    utm_medium: str
    utm_campaign: str
    amount: Decimal
    currency: str
    impressions: int | None = None
    clicks: int | None = None


@dataclass
class SpendResult:
    accepted: int = 0
    rejected: list[dict] = field(default_factory=list)  # {"index": i, "errors": [...]}

    def as_dict(self) -> dict:
        return {"accepted": self.accepted, "rejected": self.rejected}


def parse_csv(text: str) -> list[dict]:
    """CSV text with a header row → one dict per line (unknown columns are errors later)."""
    return csv_rows(text, FIELDS, ("date", "channel", "amount", "currency"), MAX_ROWS, SpendInputError)


def validate(item: object) -> tuple[SpendRow | None, list[str]]:
    """One row (a JSON object or a CSV line) → the row to store, or the reasons it cannot be."""
    if not isinstance(item, dict):
        return None, ["must be an object with " + ", ".join(FIELDS)]
    errors = [f"{key}: unknown field (expected {', '.join(FIELDS)})" for key in item if key not in FIELDS]

    day = row_day(item, errors)

    channel = item.get("channel")
    if not isinstance(channel, str) or not channel.strip():
        errors.append("channel: required")
    elif channel.strip().lower() not in channels():
        errors.append(f"channel: {channel!r} is not a channel; one of {', '.join(sorted(channels()))}")

    utms = {}
    for name in UTM_FIELDS:
        value = item.get(name)
        if value is None:
            value = ""
        if not isinstance(value, str):
            errors.append(f"{name}: must be text")
        elif len(value) > MAX_TEXT:
            errors.append(f"{name}: longer than {MAX_TEXT} characters")
        utms[name] = value.strip().lower() if isinstance(value, str) else ""

    amount = None
    raw_amount = item.get("amount")
    if isinstance(raw_amount, bool) or raw_amount is None or raw_amount == "":
        errors.append("amount: required, a number >= 0")
    else:
        try:
            amount = Decimal(str(raw_amount).strip())
        except InvalidOperation:
            errors.append(f"amount: {raw_amount!r} is not a number")
        else:
            if not amount.is_finite() or amount < 0 or amount >= MAX_AMOUNT:
                errors.append(f"amount: must be a number >= 0 and < {MAX_AMOUNT:.0e}")
                amount = None

    currency = item.get("currency")
    if not isinstance(currency, str) or not currency.strip():
        errors.append("currency: required, a three-letter ISO 4217 code (EUR, USD)")
    elif currency.strip().upper() not in currencies():
        errors.append(f"currency: {currency!r} is not an ISO 4217 currency code (EUR, USD)")

    delivery = {}
    for name in DELIVERY_FIELDS:
        value = item.get(name)
        if value is None or value == "":
            delivery[name] = None
            continue
        try:
            count = int(value.strip()) if isinstance(value, str) else value
        except ValueError:
            count = None
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_COUNT:
            errors.append(f"{name}: {value!r} is not a whole number >= 0 (leave it empty when not reported)")
        delivery[name] = count

    if errors:
        return None, errors
    return SpendRow(
        day=day, channel=channel.strip().lower(), amount=amount, currency=currency.strip().upper(), **utms, **delivery
    ), []


def record_spend(conn, account_id: str, environment: str, items: list) -> SpendResult:
    """Validate every row, store the valid ones in one statement (upsert), report the others.

    A row repeated within one upload: the last one wins, as if uploaded one after the other."""
    if not isinstance(items, list):
        raise SpendInputError("spend must be a list of rows")
    if len(items) > MAX_ROWS:
        raise SpendInputError(f"more than {MAX_ROWS} rows: split the upload")
    result = SpendResult()
    rows: dict[tuple, SpendRow] = {}
    for index, item in enumerate(items):
        row, errors = validate(item)
        if errors:
            result.rejected.append({"index": index, "errors": errors})
            continue
        rows[(row.day, row.channel, row.utm_source, row.utm_medium, row.utm_campaign)] = row
        result.accepted += 1
    if rows:
        values = list(rows.values())
        conn.execute(
            """
            insert into raw.ad_spend (account_id, environment, day, channel, utm_source, utm_medium, utm_campaign,
                                      amount, currency, impressions, clicks)
            select %(account_id)s, %(environment)s, day, channel, utm_source, utm_medium, utm_campaign, amount, currency,
                   impressions, clicks
            from unnest(%(day)s::date[], %(channel)s::text[], %(utm_source)s::text[], %(utm_medium)s::text[],
                        %(utm_campaign)s::text[], %(amount)s::numeric[], %(currency)s::text[],
                        %(impressions)s::bigint[], %(clicks)s::bigint[])
                as t(day, channel, utm_source, utm_medium, utm_campaign, amount, currency, impressions, clicks)
            on conflict (account_id, environment, day, channel, utm_source, utm_medium, utm_campaign)
            do update set amount = excluded.amount, currency = excluded.currency, impressions = excluded.impressions,
                          clicks = excluded.clicks, received_at = now()
            """,
            {
                "account_id": account_id,
                "environment": environment,
                "day": [r.day for r in values],
                "channel": [r.channel for r in values],
                "utm_source": [r.utm_source for r in values],
                "utm_medium": [r.utm_medium for r in values],
                "utm_campaign": [r.utm_campaign for r in values],
                "amount": [r.amount for r in values],
                "currency": [r.currency for r in values],
                "impressions": [r.impressions for r in values],
                "clicks": [r.clicks for r in values],
            },
        )
    return result
