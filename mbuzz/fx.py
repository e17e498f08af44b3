"""Exchange rates (`raw.fx_rates`) and the account's money settings: reporting currency, time zone.

A rate says how many units of `quote_currency` one unit of `currency` was worth on `day`:

    date,currency,quote_currency,rate
    2026-11-01,EUR,USD,1.0842

Rates are per account (scoped like every raw table): rates are market data, but each account may
bring its own source (its bank's, its finance team's) and no account can see or change another's.
dbt converts conversion revenue and ad spend into the account's reporting currency
(`settings.currency`, `mbuzz accounts update --currency`) with the rate of the amount's local day
(`settings.timezone`); an amount without a rate is a flagged gap, never a silent 1.0
(marts.rpt_fx_gaps, docs/money.md).

An upload is all or nothing: any bad row (unknown currency, rate not > 0, bad date, unknown field)
rejects the whole upload with every row's errors, and nothing is stored. A (day, currency,
quote_currency) already stored is replaced.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from zoneinfo import available_timezones

from mbuzz.errors import MbuzzError
from mbuzz.uploads import csv_rows, row_day

FIELDS = ("date", "currency", "quote_currency", "rate")
MAX_ROWS = 5000
MAX_RATE = Decimal("1e14")  # numeric(24, 10)


class FxInputError(MbuzzError):
    """The upload cannot be stored; `rejected` lists each bad row's index and errors."""

    def __init__(self, message: str, rejected: list[dict] | None = None):
        super().__init__(message)
        self.rejected = rejected or []


@lru_cache(maxsize=1)
def currencies() -> frozenset[str]:
    """ISO 4217 codes, from CLDR (babel)."""
    from babel.numbers import list_currencies

    return frozenset(list_currencies())


def currency_code(value: object) -> str:
    """'eur ' → 'EUR'; raises MbuzzError for anything that is not an ISO 4217 code."""
    code = value.strip().upper() if isinstance(value, str) else ""
    if code not in currencies():
        raise MbuzzError(f"{value!r} is not an ISO 4217 currency code (e.g. EUR, USD, JPY)")
    return code


@lru_cache(maxsize=1)
def _timezones() -> frozenset[str]:
    return frozenset(available_timezones())


def timezone_name(value: object) -> str:
    """An IANA time zone name ('America/Los_Angeles'), checked against zoneinfo's database."""
    name = value.strip() if isinstance(value, str) else ""
    if name not in _timezones():
        raise MbuzzError(f"{value!r} is not an IANA time zone name (e.g. Europe/Paris, America/Los_Angeles, UTC)")
    return name


@dataclass(frozen=True)
class Rate:
    day: date
    currency: str
    quote_currency: str
    rate: Decimal


def parse_csv(text: str) -> list[dict]:
    """CSV text with a header row → one dict per line (unknown columns are errors later)."""
    return csv_rows(text, FIELDS, FIELDS, MAX_ROWS, FxInputError)


def validate(item: object) -> tuple[Rate | None, list[str]]:
    """One row (a JSON object or a CSV line) → the rate to store, or the reasons it cannot be."""
    if not isinstance(item, dict):
        return None, ["must be an object with " + ", ".join(FIELDS)]
    errors = [f"{key}: unknown field (expected {', '.join(FIELDS)})" for key in item if key not in FIELDS]
    day = row_day(item, errors)
    codes = {}
    for name in ("currency", "quote_currency"):
        try:
            codes[name] = currency_code(item.get(name))
        except MbuzzError as exc:
            errors.append(f"{name}: {exc}")
    if len(codes) == 2 and codes["currency"] == codes["quote_currency"]:
        errors.append("quote_currency: must differ from currency (a currency's rate to itself is always 1)")
    rate = None
    raw_rate = item.get("rate")
    if isinstance(raw_rate, bool) or raw_rate is None or raw_rate == "":
        errors.append("rate: required, a number > 0")
    else:
        try:
            rate = Decimal(str(raw_rate).strip())
        except InvalidOperation:
            errors.append(f"rate: {raw_rate!r} is not a number")
        else:
            if not rate.is_finite() or rate <= 0 or rate >= MAX_RATE:
                errors.append(f"rate: {raw_rate!r} must be a number > 0 (units of quote_currency per 1 currency)")
    if errors:
        return None, errors
    return Rate(day, codes["currency"], codes["quote_currency"], rate), []


def record_rates(conn, account_id: str, items: list) -> int:
    """Validate every row; store them all (upsert, one statement) or none. Returns the count stored."""
    if not isinstance(items, list):
        raise FxInputError("rates must be a list of rows")
    if not items:
        raise FxInputError("no rates: send at least one row")
    if len(items) > MAX_ROWS:
        raise FxInputError(f"more than {MAX_ROWS} rows: split the upload")
    rows: dict[tuple, Rate] = {}
    rejected = []
    for index, item in enumerate(items):
        rate, errors = validate(item)
        if errors:
            rejected.append({"index": index, "errors": errors})
        else:
            rows[(rate.day, rate.currency, rate.quote_currency)] = rate  # the last of a repeated row wins
    if rejected:
        raise FxInputError(f"{len(rejected)} of {len(items)} rows are invalid: nothing was stored", rejected)
    values = list(rows.values())
    conn.execute(
        """
        insert into raw.fx_rates (account_id, day, currency, quote_currency, rate)
        select %(account_id)s, day, currency, quote_currency, rate
        from unnest(%(day)s::date[], %(currency)s::text[], %(quote)s::text[], %(rate)s::numeric[])
            as t(day, currency, quote_currency, rate)
        on conflict (account_id, day, currency, quote_currency)
        do update set rate = excluded.rate, received_at = now()
        """,
        {
            "account_id": account_id,
            "day": [r.day for r in values],
            "currency": [r.currency for r in values],
            "quote": [r.quote_currency for r in values],
            "rate": [r.rate for r in values],
        },
    )
    return len(values)


def list_rates(conn, account_id: str, limit: int = 1000) -> list[Rate]:
    rows = conn.execute(
        "select day, currency, quote_currency, rate from raw.fx_rates where account_id = %s "
        "order by day desc, currency, quote_currency limit %s",
        (account_id, limit),
    ).fetchall()
    return [Rate(*r) for r in rows]
