"""The model editor's work: check DSL source, store custom models, preview credits.

Checking is the DSL's own (`dsl.check` for every diagnostic with line, column
and context, `dsl.compile_source` for the compiled form) plus the rules a stored
model needs: one model per program, a name not taken by a preset, a
data-driven model or another of the account's models.

Previews run the one engine (`attribution.attribute`) on a fixed sample journey
and, when the warehouse has them, on the account's converting journeys of the
last 30 days (read with the pipeline's own journey query, `orchestration.credits`).

Custom models live in `raw.attribution_models` (id `amod_…`, the DSL source,
the compiled JSON, `is_active`); the pipeline credits active ones under their
id, so reports name them by id and the dashboard maps ids back to names.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import lru_cache

import pandas as pd
from psycopg.types.json import Jsonb

from ingest_api.dashboard import copy
from mbuzz.ids import new_id

SAMPLE_REVENUE = 120.0
# (channel, days before the conversion, milestones): a journey that exercises every selector
SAMPLE_JOURNEY = (
    ("paid_search", 21.0, ""),
    ("paid_social", 14.0, ""),
    ("email", 7.0, "mql"),
    ("organic_search", 2.0, ""),
    ("direct", 0.1, ""),
)
PREVIEW_DAYS = 30
PREVIEW_MAX_ROWS = 200_000  # a preview is a glance: very large accounts see a sample of their journeys


@dataclass(frozen=True)
class CustomModel:
    id: str
    name: str
    source: str
    is_active: bool
    created_at: datetime
    updated_at: datetime


@dataclass
class Checked:
    """The outcome of checking a program: what to show next to the editor, and the model when it compiles."""

    diagnostics: list = field(default_factory=list)  # dsl Diagnostics (errors and warnings), with context
    problems: list[str] = field(default_factory=list)  # errors without a position
    compiled: dict | None = None

    @property
    def ok(self) -> bool:
        return self.compiled is not None and not self.problems and not self.errors

    @property
    def errors(self) -> list:
        return [d for d in self.diagnostics if d.severity == "error"]


@lru_cache(maxsize=1)
def known_channels() -> frozenset[str]:
    """Channel names the channel rules seed can produce (unknown ones are warnings, not errors)."""
    from attribution.journeys import UNASSIGNED
    from mbuzz.channels import load_rules

    return frozenset({rule.channel for rule in load_rules().rules} | {UNASSIGNED, "direct", "other"})


def reserved_names() -> set[str]:
    from attribution.models import DATA_DRIVEN, list_presets

    return set(list_presets()) | set(DATA_DRIVEN)


def check_source(source: str) -> Checked:
    from dsl import DslError, check, compile_source

    result = Checked(diagnostics=check(source, known_channels()))
    if any(d.severity == "error" for d in result.diagnostics):
        return result
    try:
        models = compile_source(source, known_channels())
    except DslError as exc:  # check() found nothing, but be safe: show what compile says
        result.diagnostics = exc.errors
        return result
    if len(models) != 1:
        result.problems.append(copy.EDITOR_ONE_MODEL.format(count=len(models)))
        return result
    result.compiled = models[0]
    if result.compiled["name"] in reserved_names():
        result.problems.append(copy.EDITOR_NAME_RESERVED.format(name=result.compiled["name"]))
    return result


# --- storage -----------------------------------------------------------------------------------------------------

_COLUMNS = "id, name, source, is_active, created_at, updated_at"


def list_custom(conn, account_id: str) -> list[CustomModel]:
    rows = conn.execute(f"select {_COLUMNS} from raw.attribution_models where account_id = %s order by name",
                        (account_id,)).fetchall()
    return [CustomModel(*r) for r in rows]


def get_custom(conn, account_id: str, model_id: str) -> CustomModel | None:
    row = conn.execute(f"select {_COLUMNS} from raw.attribution_models where account_id = %s and id = %s",
                       (account_id, model_id)).fetchone()
    return CustomModel(*row) if row else None


def name_taken(conn, account_id: str, name: str, except_id: str | None = None) -> bool:
    return conn.execute(
        "select 1 from raw.attribution_models where account_id = %s and name = %s and id is distinct from %s",
        (account_id, name, except_id),
    ).fetchone() is not None


def save_custom(conn, account_id: str, source: str, compiled: dict, model_id: str | None = None) -> CustomModel | None:
    """Insert (no id) or update the account's model; None when `model_id` is not one of the account's."""
    if model_id is None:
        row = conn.execute(
            f"insert into raw.attribution_models (id, account_id, name, source, compiled) "
            f"values (%s, %s, %s, %s, %s) returning {_COLUMNS}",
            (new_id("amod"), account_id, compiled["name"], source, Jsonb(compiled)),
        ).fetchone()
    else:
        row = conn.execute(
            f"update raw.attribution_models set name = %s, source = %s, compiled = %s, updated_at = now() "
            f"where account_id = %s and id = %s returning {_COLUMNS}",
            (compiled["name"], source, Jsonb(compiled), account_id, model_id),
        ).fetchone()
    return CustomModel(*row) if row else None


def set_active(conn, account_id: str, model_id: str, active: bool) -> CustomModel | None:
    row = conn.execute(
        f"update raw.attribution_models set is_active = %s, updated_at = now() "
        f"where account_id = %s and id = %s returning {_COLUMNS}",
        (active, account_id, model_id),
    ).fetchone()
    return CustomModel(*row) if row else None


def model_names(conn, account_id: str) -> dict[str, str]:
    """{model id: name} of the account's custom models (reports name custom models by id)."""
    return {m.id: m.name for m in list_custom(conn, account_id)}


# --- previews ----------------------------------------------------------------------------------------------------

def sample_touches() -> pd.DataFrame:
    converted_at = datetime(2026, 1, 31, 12, tzinfo=timezone.utc)
    return pd.DataFrame({
        "journey_id": ["sample"] * len(SAMPLE_JOURNEY),
        "touch_ts": [converted_at - timedelta(days=days) for _, days, _ in SAMPLE_JOURNEY],
        "channel": [channel for channel, _, _ in SAMPLE_JOURNEY],
        "converted": [True] * len(SAMPLE_JOURNEY),
        "conversion_ts": [converted_at] * len(SAMPLE_JOURNEY),
        "revenue": [SAMPLE_REVENUE] * len(SAMPLE_JOURNEY),
        "milestones": [m for _, _, m in SAMPLE_JOURNEY],
    })


def preview_sample(compiled: dict) -> list[dict]:
    """One row per touch of the sample journey: channel, days before, milestone, credit, revenue credit."""
    from attribution import JourneyOptions, attribute

    credits = attribute(sample_touches(), compiled, JourneyOptions(lookback_days=None))
    by_index = {int(r.touch_index): r for r in credits.itertuples()}
    rows = []
    for i, (channel, days, milestone) in enumerate(SAMPLE_JOURNEY):
        credit = by_index.get(i)
        rows.append({"touch": i + 1, "channel": channel, "days_before": days, "milestone": milestone,
                     "credit": float(credit.credit) if credit is not None else 0.0,
                     "revenue_credit": float(credit.revenue_credit) if credit is not None else 0.0})
    return rows


def warehouse_has_journeys(conn) -> bool:
    return conn.execute("select to_regclass('marts.fct_conversion_journeys') is not null").fetchone()[0]


def preview_recent(conn, account_id: str, compiled: dict, now: datetime | None = None) -> dict | None:
    """{conversions, channels: [(channel, conversions, revenue, share)]} over the last 30 days, or None."""
    if not warehouse_has_journeys(conn):
        return None
    from attribution import attribute, channel_summary
    from attribution.journeys import JourneyOptions
    from orchestration.credits import load_journeys

    end = now or datetime.now(timezone.utc)
    start = end - timedelta(days=PREVIEW_DAYS)
    touches = load_journeys(conn, account_id, start, end, with_paths=False)
    touches = touches[touches["environment"] == "live"] if "environment" in touches else touches
    if touches.empty:
        return None
    if len(touches) > PREVIEW_MAX_ROWS:
        keep = touches["journey_id"].drop_duplicates().sample(frac=PREVIEW_MAX_ROWS / len(touches), random_state=0)
        touches = touches[touches["journey_id"].isin(keep)]
    credits = attribute(touches, compiled, JourneyOptions())
    summary = channel_summary(credits)
    return {
        "conversions": int(touches.loc[touches["converted"].astype(bool), "journey_id"].nunique()),
        "channels": [(r.channel, float(r.conversions), float(r.revenue), float(r.share))
                     for r in summary.itertuples()],
    }
