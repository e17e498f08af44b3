"""Offline and CRM conversions: many rows at once, matched to people, idempotent by external id.

    record_batch(conn, account_id, environment, items, api_key_id=None) -> BatchResult
    parse_csv(text) -> list[dict]

Used by `POST /api/v1/conversions/batch` and `mbuzz conversions import FILE.csv`. A row:

    external_id,conversion_type,timestamp,user_id,visitor_id,email_sha256,email,revenue,currency

`external_id` (the CRM's deal or order id), `conversion_type` and `timestamp` are required, and
at least one of `user_id`, `visitor_id`, `email_sha256` (or `email`, hashed here and never
stored). The row's person is the first of them it carries: its user, else its visitor, else
its hashed address. The match report says which of them mbuzz already knows: `user_id` (an
event carried the user id), `visitor_id` (the visitor sent events), `email_sha256` (an identify
carried the hash), else `unmatched`. Unmatched rows are stored all the same: an identify
carrying the hash later links them, and the next pipeline run gives them their journeys.

Each row is checked on its own; the valid ones are stored in one statement through
`raw.conversion_keys` (key `external:<external_id>`): a row imported again, or repeated in
the batch, is a `duplicate` naming the conversion it already is, never a second conversion.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from psycopg.types.json import Jsonb

from mbuzz.contract import conversion_type_rule
from mbuzz.fx import currencies
from mbuzz.identity import HASH_FIELD, EmailHashError, hash_email, normalise_hash
from mbuzz.ids import new_id

FIELDS = (
    "external_id",
    "conversion_type",
    "timestamp",
    "user_id",
    "visitor_id",
    "email_sha256",
    "email",
    "revenue",
    "currency",
    "properties",
)
PEOPLE = ("user_id", "visitor_id", "email_sha256")
MATCHES = ("user_id", "visitor_id", "email_sha256", "unmatched")
MAX_ROWS = 1000
MAX_TEXT = 255
MAX_REVENUE = Decimal("1e14")  # numeric(18, 4)
MAX_PROPERTIES_BYTES = 32 * 1024
FUTURE_TOLERANCE = timedelta(minutes=5)


@lru_cache(maxsize=1)
def _conversion_type_rule() -> tuple[re.Pattern, int]:
    """The API's rule for conversion_type (docs/api/openapi.yml, read on first use)."""
    pattern, max_length = conversion_type_rule()
    return re.compile(pattern), max_length


class BatchInputError(ValueError):
    """The upload as a whole cannot be read (not a list, no header, too many rows)."""


@dataclass(frozen=True)
class OfflineRow:
    external_id: str
    conversion_type: str
    converted_at: datetime
    user_id: str | None
    visitor_id: str | None
    email_sha256: str | None
    revenue: Decimal | None
    currency: str | None
    properties: dict

    @property
    def person(self) -> str:
        """Which of the row's fields names its person (the first it carries)."""
        return next(name for name in PEOPLE if getattr(self, name) is not None)

    @property
    def stored_visitor(self) -> str:
        """raw.conversions.visitor_id: the visitor, else a stand-in for the person that
        int_identities links (`user:<id>` through the row's user_id, `email_sha256:<hash>`
        through identify calls carrying the hash)."""
        if self.visitor_id is not None:
            return self.visitor_id
        if self.user_id is not None:
            return f"user:{self.user_id}"
        return f"{HASH_FIELD}:{self.email_sha256}"


@dataclass
class BatchResult:
    results: list[dict] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r["status"] == status)

    @property
    def match_report(self) -> dict[str, int]:
        report = dict.fromkeys(MATCHES, 0)
        for r in self.results:
            if r["status"] != "rejected":
                report[r["matched_by"]] += 1
        return report

    def as_dict(self) -> dict:
        return {
            "accepted": self.count("accepted"),
            "duplicates": self.count("duplicate"),
            "rejected": self.count("rejected"),
            "match_report": self.match_report,
            "results": self.results,
        }


def parse_csv(text: str) -> list[dict]:
    """CSV text with a header row → one dict per line; empty cells are absent, columns that are
    not fields go into the row's properties (a CRM export's deal name, stage…)."""
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames:
        raise BatchInputError("the CSV has no header row: expected " + ",".join(FIELDS[:-1]))
    missing = [name for name in ("external_id", "conversion_type", "timestamp") if name not in reader.fieldnames]
    if missing:
        raise BatchInputError(f"the CSV header lacks {', '.join(missing)}: expected " + ",".join(FIELDS[:-1]))
    rows = []
    for line in reader:
        row: dict = {}
        extra: dict = {}
        for key, value in line.items():
            if key is None or value is None or value == "":
                continue
            if key in FIELDS and key != "properties":
                row[key] = value
            else:
                extra[key] = value
        if extra:
            row["properties"] = extra
        rows.append(row)
    return rows


def _text(item: dict, name: str, errors: list[str], required: bool = False) -> str | None:
    value = item.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            errors.append(f"{name}: required")
        return None
    if not isinstance(value, str):
        errors.append(f"{name}: must be text")
        return None
    if len(value) > MAX_TEXT:
        errors.append(f"{name}: longer than {MAX_TEXT} characters")
        return None
    return value.strip()


def _timestamp(item: dict, errors: list[str], now: datetime) -> datetime | None:
    value = item.get("timestamp")
    if not isinstance(value, str) or not value.strip():
        errors.append("timestamp: required, ISO 8601 (2026-11-20T14:03:00Z; no offset = UTC)")
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        errors.append(f"timestamp: {value!r} is not an ISO 8601 date-time")
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    moment = moment.astimezone(timezone.utc)
    if moment > now + FUTURE_TOLERANCE:
        errors.append(f"timestamp: {value!r} is in the future")
        return None
    return min(moment, now)


def validate(item: object, now: datetime) -> tuple[OfflineRow | None, list[str]]:
    """One row (a JSON object or a CSV line) → the row to store, or every reason it cannot be."""
    if not isinstance(item, dict):
        return None, ["must be an object with " + ", ".join(FIELDS)]
    errors = [f"{key}: unknown field (expected {', '.join(FIELDS)})" for key in item if key not in FIELDS]
    external_id = _text(item, "external_id", errors, required=True)
    conversion_type = _text(item, "conversion_type", errors, required=True)
    if conversion_type is not None:
        conversion_type = conversion_type.lower()
        slug, max_length = _conversion_type_rule()
        if len(conversion_type) > max_length or not slug.match(conversion_type):
            errors.append(
                f"conversion_type: {item['conversion_type']!r} is not a slug (e.g. closed_won, "
                "store_purchase: lower-case letters and digits joined by _ . or -)"
            )
    converted_at = _timestamp(item, errors, now)
    user_id = _text(item, "user_id", errors)
    visitor_id = _text(item, "visitor_id", errors)
    email_sha256 = None
    if item.get(HASH_FIELD) not in (None, ""):
        try:
            email_sha256 = normalise_hash(item[HASH_FIELD])
        except EmailHashError as exc:
            errors.append(f"{HASH_FIELD}: {exc}")
    if item.get("email") not in (None, ""):
        try:
            hashed = hash_email(item["email"])
        except EmailHashError as exc:
            errors.append(f"email: {exc}")
        else:
            if email_sha256 is not None and email_sha256 != hashed:
                errors.append(f"{HASH_FIELD}: differs from the hash of email; send one of them")
            email_sha256 = hashed
    if (
        user_id is None
        and visitor_id is None
        and email_sha256 is None
        and not any(e.split(":")[0] in (*PEOPLE, "email") for e in errors)
    ):
        errors.append("user_id, visitor_id or email_sha256: at least one is required (who converted)")
    revenue = None
    raw_revenue = item.get("revenue")
    if raw_revenue not in (None, ""):
        try:
            revenue = Decimal(str(raw_revenue).strip()) if not isinstance(raw_revenue, bool) else None
        except InvalidOperation:
            revenue = None
        if revenue is None or not revenue.is_finite() or revenue < 0 or revenue >= MAX_REVENUE:
            errors.append(f"revenue: {raw_revenue!r} is not a number >= 0 and < {MAX_REVENUE:.0e}")
            revenue = None
    currency = item.get("currency")
    if currency in (None, ""):
        currency = None
    elif not isinstance(currency, str) or currency.strip().upper() not in currencies():
        errors.append(f"currency: {currency!r} is not an ISO 4217 currency code (EUR, USD)")
        currency = None
    properties = item.get("properties") or {}
    if not isinstance(properties, dict):
        errors.append("properties: must be an object")
    elif len(json.dumps(properties, ensure_ascii=False).encode("utf-8", "replace")) > MAX_PROPERTIES_BYTES:
        errors.append(f"properties: larger than {MAX_PROPERTIES_BYTES // 1024} KB")
    if errors:
        return None, errors
    return OfflineRow(
        external_id=external_id,
        conversion_type=conversion_type,
        converted_at=converted_at,
        user_id=user_id,
        visitor_id=visitor_id,
        email_sha256=email_sha256,
        revenue=revenue,
        currency=currency.strip().upper() if currency else None,
        properties=properties,
    ), []


# -- matching -----------------------------------------------------------------------------------

KNOWN = """
select 'user_id', user_id from raw.events
where account_id = %(a)s and environment = %(e)s and btrim(user_id, ' ') = any(%(users)s)
union
select 'visitor_id', visitor_id from raw.events
where account_id = %(a)s and environment = %(e)s and visitor_id = any(%(visitors)s)
union
select 'email_sha256', properties -> 'traits' ->> 'email_sha256' from raw.events
where account_id = %(a)s and environment = %(e)s and event_type = 'identify'
  and nullif(btrim(user_id, ' '), '') is not null
  and properties -> 'traits' ->> 'email_sha256' = any(%(hashes)s)
"""


def _matched_by(row: OfflineRow, known: set[tuple[str, str]]) -> str:
    """The field through which the row's person is already known (its journey will have touches)."""
    if row.user_id is not None:
        for name in ("user_id", "visitor_id"):
            if getattr(row, name) is not None and (name, getattr(row, name)) in known:
                return name
        return "unmatched"
    if row.visitor_id is not None:
        return "visitor_id" if ("visitor_id", row.visitor_id) in known else "unmatched"
    return HASH_FIELD if (HASH_FIELD, row.email_sha256) in known else "unmatched"


# -- storing ------------------------------------------------------------------------------------

INSERT = """
with new_keys as (
    insert into raw.conversion_keys (account_id, dedupe_key, conversion_id, converted_at)
    select %(account_id)s, 'external:' || external_id, conversion_id, converted_at
    from unnest(%(external_id)s::text[], %(conversion_id)s::text[], %(converted_at)s::timestamptz[])
        as t(external_id, conversion_id, converted_at)
    on conflict do nothing
    returning conversion_id
)
insert into raw.conversions (account_id, conversion_id, environment, conversion_type, visitor_id, user_id,
                             revenue, currency, converted_at, properties, api_key_id, external_id, email_sha256)
select %(account_id)s, rows.conversion_id, %(environment)s, rows.conversion_type, rows.visitor_id, rows.user_id,
       rows.revenue, rows.currency, rows.converted_at, rows.properties, %(api_key_id)s, rows.external_id,
       rows.email_sha256
from unnest(%(conversion_id)s::text[], %(conversion_type)s::text[], %(visitor_id)s::text[], %(user_id)s::text[],
            %(revenue)s::numeric[], %(currency)s::text[], %(converted_at)s::timestamptz[], %(properties)s::jsonb[],
            %(external_id)s::text[], %(email_sha256)s::text[])
    as rows(conversion_id, conversion_type, visitor_id, user_id, revenue, currency, converted_at, properties,
            external_id, email_sha256)
inner join new_keys on new_keys.conversion_id = rows.conversion_id
returning conversion_id
"""


def _default_currency(conn, account_id: str) -> str | None:
    row = conn.execute("select settings ->> 'currency' from raw.accounts where id = %s", (account_id,)).fetchone()
    return row[0] if row and row[0] else None


def record_batch(
    conn, account_id: str, environment: str, items: list, api_key_id: str | None = None, now: datetime | None = None
) -> BatchResult:
    """Check every row, store the valid new ones in one statement, report each row and the matches.

    The caller's transaction holds the statement: the batch is stored whole or not at all."""
    if not isinstance(items, list):
        raise BatchInputError("conversions must be a list of rows")
    if len(items) > MAX_ROWS:
        raise BatchInputError(f"more than {MAX_ROWS} rows in one batch: split the upload")
    now = now or datetime.now(timezone.utc)
    result = BatchResult()
    rows: dict[int, OfflineRow] = {}
    first_of: dict[str, int] = {}
    currency = None
    for index, item in enumerate(items):
        row, errors = validate(item, now)
        if row is not None and row.revenue is not None and row.currency is None:
            currency = currency or _default_currency(conn, account_id)
            if currency is None:
                row, errors = (
                    None,
                    [
                        f"currency: required with revenue (ISO 4217, e.g. EUR), or set the account's "
                        f"default currency: mbuzz accounts update {account_id} --currency EUR"
                    ],
                )
            else:
                row = OfflineRow(**{**row.__dict__, "currency": currency})
        entry: dict = {"index": index, "external_id": item.get("external_id") if isinstance(item, dict) else None}
        if row is None:
            entry.update(status="rejected", errors=errors)
        elif row.external_id in first_of:
            entry.update(status="duplicate", duplicate_of_index=first_of[row.external_id])
            rows[index] = row
        else:
            first_of[row.external_id] = index
            entry.update(status="accepted", conversion_id=new_id("conv"))
            rows[index] = row
        if not isinstance(entry["external_id"], str):
            entry["external_id"] = None
        result.results.append(entry)

    fresh = [(e, rows[e["index"]]) for e in result.results if e["status"] == "accepted"]
    stored: set[str] = set()
    if fresh:
        stored = {
            r[0]
            for r in conn.execute(
                INSERT,
                {
                    "account_id": account_id,
                    "environment": environment,
                    "api_key_id": api_key_id,
                    "conversion_id": [e["conversion_id"] for e, _ in fresh],
                    "conversion_type": [r.conversion_type for _, r in fresh],
                    "visitor_id": [r.stored_visitor for _, r in fresh],
                    "user_id": [r.user_id for _, r in fresh],
                    "revenue": [r.revenue for _, r in fresh],
                    "currency": [r.currency for _, r in fresh],
                    "converted_at": [r.converted_at for _, r in fresh],
                    "properties": [Jsonb(r.properties) for _, r in fresh],
                    "external_id": [r.external_id for _, r in fresh],
                    "email_sha256": [r.email_sha256 for _, r in fresh],
                },
            ).fetchall()
        }
    # rows whose external id was stored before (earlier imports): duplicates of that conversion
    earlier = {e["external_id"] for e, _ in fresh if e["conversion_id"] not in stored}
    existing = (
        dict(
            conn.execute(
                "select substr(dedupe_key, 10), conversion_id from raw.conversion_keys "
                "where account_id = %s and dedupe_key = any(%s)",
                (account_id, [f"external:{x}" for x in earlier]),
            ).fetchall()
        )
        if earlier
        else {}
    )
    for entry in result.results:
        if entry["status"] == "accepted" and entry["conversion_id"] not in stored:
            entry.update(status="duplicate", conversion_id=existing.get(entry["external_id"]))
    for entry in result.results:
        if entry["status"] == "duplicate" and "duplicate_of_index" in entry:
            entry["conversion_id"] = result.results[entry.pop("duplicate_of_index")]["conversion_id"]

    if rows:
        values = list(rows.values())
        known = {
            (kind, value)
            for kind, value in conn.execute(
                KNOWN,
                {
                    "a": account_id,
                    "e": environment,
                    "users": sorted({r.user_id for r in values if r.user_id}),
                    "visitors": sorted({r.visitor_id for r in values if r.visitor_id}),
                    "hashes": sorted({r.email_sha256 for r in values if r.email_sha256}),
                },
            )
        }
        for entry in result.results:
            if entry["index"] in rows:
                entry["matched_by"] = _matched_by(rows[entry["index"]], known)
    return result
