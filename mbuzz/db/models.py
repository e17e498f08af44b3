"""SQLAlchemy models of the schemas mbuzz owns through Alembic migrations.

`raw` is written only by the ingestion API (and the CLI for accounts and keys);
`attribution` is written by the Python attribution assets. Everything else
(`staging`, `intermediate`, `marts`) belongs to dbt.

Idempotency of conversions lives in a small plain key table
(`raw.conversion_keys`) rather than in a unique index on the fact table: a
unique index on a TimescaleDB hypertable must include its time column, and a
retried conversion with another timestamp must still be a duplicate. Events,
the high-volume table, use the fact table's own unique index on
`(account_id, event_id)` on plain PostgreSQL (migration 0005, one index written
per event instead of a second table) and `raw.event_keys` only where raw.events
is a hypertable; the models declare the hypertable form of that index.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ENVIRONMENTS = ("test", "live")
ENV_CHECK = "environment in ('test', 'live')"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _now() -> Any:
    return mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


class Account(Base):
    __tablename__ = "accounts"
    __table_args__ = {"schema": "raw"}

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    tier: Mapped[str] = mapped_column(String(20), nullable=False, server_default="standard")
    settings: Mapped[dict] = mapped_column(JSONB, nullable=False, server_default=text("'{}'::jsonb"))
    created_at: Mapped[datetime] = _now()


class ApiKey(Base):
    __tablename__ = "api_keys"
    __table_args__ = (
        CheckConstraint(ENV_CHECK, name="environment"),
        CheckConstraint("kind in ('secret', 'publishable')", name="kind"),
        CheckConstraint("(kind = 'publishable') = (public_key is not null)", name="public_key_only_publishable"),
        Index(None, "account_id"),
        {"schema": "raw"},
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("raw.accounts.id", ondelete="CASCADE"), nullable=False)
    name: Mapped[str] = mapped_column(Text, nullable=False, server_default="")
    environment: Mapped[str] = mapped_column(String(4), nullable=False)
    # SHA-256 hex digest of the full key; the plaintext is never stored.
    key_digest: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    # First characters of the key (`sk_test_abc1`), for masked display only.
    key_prefix: Mapped[str] = mapped_column(String(16), nullable=False)
    # 'secret' (sk_…: everything) or 'publishable' (pk_…: may only send, from allowed_origins).
    kind: Mapped[str] = mapped_column(String(11), nullable=False, server_default="secret")
    # Exact origins (`https://shop.example`) and wildcards (`https://*.example.com`) a publishable key
    # may be used from; empty for secret keys.
    allowed_origins: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False, server_default="{}")
    # The plaintext of a publishable key (public by design, shown again); always null for secret keys.
    public_key: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _now()
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AdSpend(Base):
    """What a channel (or one campaign of it: utm_source / utm_medium / utm_campaign, '' for the
    whole channel) cost on a day. Uploading the same key again replaces the amount."""

    __tablename__ = "ad_spend"
    __table_args__ = (
        CheckConstraint(ENV_CHECK, name="environment"),
        CheckConstraint("amount >= 0", name="amount_not_negative"),
        CheckConstraint("impressions >= 0", name="impressions_not_negative"),
        CheckConstraint("clicks >= 0", name="clicks_not_negative"),
        {"schema": "raw"},
    )

    account_id: Mapped[str] = mapped_column(ForeignKey("raw.accounts.id", ondelete="CASCADE"), primary_key=True)
    environment: Mapped[str] = mapped_column(String(4), primary_key=True, server_default="live")
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    channel: Mapped[str] = mapped_column(Text, primary_key=True)
    utm_source: Mapped[str] = mapped_column(Text, primary_key=True, server_default="")
    utm_medium: Mapped[str] = mapped_column(Text, primary_key=True, server_default="")
    utm_campaign: Mapped[str] = mapped_column(Text, primary_key=True, server_default="")
    amount: Mapped[Decimal] = mapped_column(Numeric(18, 4), nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    impressions: Mapped[int | None] = mapped_column(BigInteger)  # the platform's; null: not reported
    clicks: Mapped[int | None] = mapped_column(BigInteger)
    received_at: Mapped[datetime] = _now()


class FxRate(Base):
    """A daily exchange rate an account brings (docs/money.md): `rate` units of `quote_currency`
    per 1 `currency` on `day`; the warehouse converts amounts to the reporting currency with it."""

    __tablename__ = "fx_rates"
    __table_args__ = (
        CheckConstraint("rate > 0", name="rate_positive"),
        CheckConstraint("currency <> quote_currency", name="two_currencies"),
        CheckConstraint("currency ~ '^[A-Z]{3}$' and quote_currency ~ '^[A-Z]{3}$'", name="codes"),
        {"schema": "raw"},
    )

    account_id: Mapped[str] = mapped_column(ForeignKey("raw.accounts.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    quote_currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    rate: Mapped[Decimal] = mapped_column(Numeric(24, 10), nullable=False)
    received_at: Mapped[datetime] = _now()


class User(Base):
    """Dashboard users: account admins."""

    __tablename__ = "users"
    __table_args__ = (Index(None, "account_id"), {"schema": "raw"})

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("raw.accounts.id", ondelete="CASCADE"), nullable=False)
    email: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    password_hash: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _now()


class BiRole(Base):
    """Read-only PostgreSQL logins for BI tools (`mbuzz bi grant`): role name -> account.
    The views of schema `bi` show a role only its account's rows (migration 0012)."""

    __tablename__ = "bi_roles"
    __table_args__ = (Index(None, "account_id"), {"schema": "raw"})

    role_name: Mapped[str] = mapped_column(Text, primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("raw.accounts.id", ondelete="CASCADE"), nullable=False)
    created_at: Mapped[datetime] = _now()


class Event(Base):
    """One tracked event. A hypertable on `occurred_at` where TimescaleDB exists.

    No primary key: uniqueness of `(account_id, event_id)` is held by the unique index on plain
    PostgreSQL (migration 0005), by EventKey where this is a hypertable.
    """

    __tablename__ = "events"
    __table_args__ = (
        CheckConstraint(ENV_CHECK, name="environment"),
        Index(None, "account_id", "occurred_at"),
        Index(None, "account_id", "visitor_id", "occurred_at"),
        Index(None, "account_id", "event_id"),
        {"schema": "raw"},
    )
    __mapper_args__ = {"primary_key": ["account_id", "event_id"]}

    account_id: Mapped[str] = mapped_column(String(40), nullable=False)
    event_id: Mapped[str] = mapped_column(Text, nullable=False)
    environment: Mapped[str] = mapped_column(String(4), nullable=False)
    event_type: Mapped[str] = mapped_column(String(64), nullable=False)
    visitor_id: Mapped[str] = mapped_column(Text, nullable=False)
    user_id: Mapped[str | None] = mapped_column(Text)
    session_id: Mapped[str | None] = mapped_column(Text)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    received_at: Mapped[datetime] = _now()
    # Segment's clock fields, kept as sent; occurred_at is derived from them.
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    original_timestamp: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    properties: Mapped[dict] = mapped_column(JSONB, nullable=False, server_default=text("'{}'::jsonb"))
    context: Mapped[dict] = mapped_column(JSONB, nullable=False, server_default=text("'{}'::jsonb"))
    api_key_id: Mapped[str | None] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(16), nullable=False, server_default="api")


class EventKey(Base):
    """The idempotency wall for events where raw.events is a hypertable: one row per
    `(account_id, event_id)` ever accepted. Empty on plain PostgreSQL (raw.events is unique there)."""

    __tablename__ = "event_keys"
    __table_args__ = {"schema": "raw"}

    account_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    event_id: Mapped[str] = mapped_column(Text, primary_key=True)
    received_at: Mapped[datetime] = _now()


class Conversion(Base):
    """One conversion. A hypertable on `converted_at` where TimescaleDB exists."""

    __tablename__ = "conversions"
    __table_args__ = (
        CheckConstraint(ENV_CHECK, name="environment"),
        CheckConstraint("email_sha256 ~ '^[0-9a-f]{64}$'", name="email_sha256_hex"),
        Index(None, "account_id", "converted_at"),
        Index(None, "account_id", "conversion_id"),
        Index(None, "account_id", "visitor_id"),
        {"schema": "raw"},
    )
    __mapper_args__ = {"primary_key": ["account_id", "conversion_id"]}

    account_id: Mapped[str] = mapped_column(String(40), nullable=False)
    conversion_id: Mapped[str] = mapped_column(String(40), nullable=False)
    environment: Mapped[str] = mapped_column(String(4), nullable=False)
    conversion_type: Mapped[str] = mapped_column(String(64), nullable=False)
    visitor_id: Mapped[str] = mapped_column(Text, nullable=False)
    user_id: Mapped[str | None] = mapped_column(Text)
    event_id: Mapped[str | None] = mapped_column(Text)
    revenue: Mapped[Decimal | None] = mapped_column(Numeric(18, 4))
    currency: Mapped[str | None] = mapped_column(String(3))
    converted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    received_at: Mapped[datetime] = _now()
    properties: Mapped[dict] = mapped_column(JSONB, nullable=False, server_default=text("'{}'::jsonb"))
    api_key_id: Mapped[str | None] = mapped_column(String(40))
    # offline / CRM conversions (migration 0010): the source's own id and the person's hashed e-mail
    external_id: Mapped[str | None] = mapped_column(Text)
    email_sha256: Mapped[str | None] = mapped_column(String(64))


class ConversionKey(Base):
    """The idempotency wall for conversions (by event_id, or visitor + type + timestamp)."""

    __tablename__ = "conversion_keys"
    __table_args__ = {"schema": "raw"}

    account_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(Text, primary_key=True)
    conversion_id: Mapped[str] = mapped_column(String(40), nullable=False)
    converted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class AttributionModel(Base):
    """A custom model written in the DSL, stored with its compiled form."""

    __tablename__ = "attribution_models"
    __table_args__ = (UniqueConstraint("account_id", "name"), {"schema": "raw"})

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("raw.accounts.id", ondelete="CASCADE"), nullable=False)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    source: Mapped[str] = mapped_column(Text, nullable=False)
    compiled: Mapped[dict] = mapped_column(JSONB, nullable=False)
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("true"))
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()


class AttributionRun(Base):
    """One run of the attribution assets: what ran, with which configuration (hashed), over which
    window, and how it ended (the run history, migration 0007): 'running' until it ends
    'succeeded' (its credits became visible in the same transaction), 'failed' (`error` says why)
    or 'abandoned' (its process died; marked so by the next run)."""

    __tablename__ = "attribution_runs"
    __table_args__ = (
        CheckConstraint("status in ('running', 'succeeded', 'failed', 'abandoned')", name="status"),
        Index(None, "status"),
        {"schema": "attribution"},
    )

    run_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    config_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    config: Mapped[dict] = mapped_column(JSONB, nullable=False)
    partition_key: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = _now()
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(9), nullable=False, server_default="running")
    window_start: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    window_end: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    conversions: Mapped[int | None] = mapped_column(Integer)
    credits_written: Mapped[int | None] = mapped_column(BigInteger)
    error: Mapped[str | None] = mapped_column(Text)


class AttributionCredit(Base):
    """Per-touch credit of a conversion under one model. A hypertable on `converted_at`."""

    __tablename__ = "attribution_credits"
    __table_args__ = (
        CheckConstraint(ENV_CHECK, name="environment"),
        CheckConstraint("touch_kind in ('visit', 'impression')", name="touch_kind"),
        Index(None, "account_id", "model", "converted_at"),
        Index(None, "account_id", "conversion_id"),
        {"schema": "attribution"},
    )
    __mapper_args__ = {"primary_key": ["account_id", "credit_id"]}

    account_id: Mapped[str] = mapped_column(String(40), nullable=False)
    credit_id: Mapped[str] = mapped_column(String(40), nullable=False)
    run_id: Mapped[str] = mapped_column(String(40), nullable=False)
    environment: Mapped[str] = mapped_column(String(4), nullable=False, server_default="live")
    model: Mapped[str] = mapped_column(Text, nullable=False)
    conversion_id: Mapped[str] = mapped_column(String(40), nullable=False)
    conversion_type: Mapped[str | None] = mapped_column(String(64))
    converted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    touch_index: Mapped[int] = mapped_column(Integer, nullable=False)
    session_id: Mapped[str | None] = mapped_column(Text)
    channel: Mapped[str] = mapped_column(Text, nullable=False)
    credit: Mapped[float] = mapped_column(Float, nullable=False)
    revenue_credit: Mapped[float] = mapped_column(Float, nullable=False, server_default="0")
    utm_source: Mapped[str | None] = mapped_column(Text)
    utm_medium: Mapped[str | None] = mapped_column(Text)
    utm_campaign: Mapped[str | None] = mapped_column(Text)
    # the conversion's day in the account's time zone (docs/money.md)
    local_day: Mapped[date | None] = mapped_column(Date)
    # 'visit' or 'impression' (docs/impressions.md)
    touch_kind: Mapped[str] = mapped_column(Text, nullable=False, server_default="visit")


class ChannelSummary(Base):
    """Channel-level outputs of data-driven models (removal effects, totals, intervals)."""

    __tablename__ = "channel_summaries"
    __table_args__ = {"schema": "attribution"}

    account_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    run_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    model: Mapped[str] = mapped_column(Text, primary_key=True)
    channel: Mapped[str] = mapped_column(Text, primary_key=True)
    removal_effect: Mapped[float | None] = mapped_column(Float)
    total_conversions: Mapped[float | None] = mapped_column(Float)
    ci_low: Mapped[float | None] = mapped_column(Float)
    ci_high: Mapped[float | None] = mapped_column(Float)


class CreditInterval(Base):
    """95% bootstrap intervals on a run's credited conversions and revenue, per model, environment,
    channel and UTC day, with the resample totals so any date range's interval is their sum
    (attribution/intervals.py; served by GET /attribution?ci=true). `reason` says why a row has
    no interval (too few conversions, a resample a data-driven model could not fit)."""

    __tablename__ = "credit_intervals"
    __table_args__ = (Index(None, "account_id", "model", "environment", "day"), {"schema": "attribution"})

    account_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    run_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    model: Mapped[str] = mapped_column(Text, primary_key=True)
    environment: Mapped[str] = mapped_column(String(4), primary_key=True)
    channel: Mapped[str] = mapped_column(Text, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    conversions: Mapped[float] = mapped_column(Float, nullable=False)
    revenue: Mapped[float] = mapped_column(Float, nullable=False)
    conversions_lower: Mapped[float | None] = mapped_column(Float)
    conversions_upper: Mapped[float | None] = mapped_column(Float)
    revenue_lower: Mapped[float | None] = mapped_column(Float)
    revenue_upper: Mapped[float | None] = mapped_column(Float)
    conversion_samples: Mapped[list[float] | None] = mapped_column(ARRAY(Float))
    revenue_samples: Mapped[list[float] | None] = mapped_column(ARRAY(Float))
    reason: Mapped[str | None] = mapped_column(Text)
