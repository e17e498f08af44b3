"""The model editor's work: check DSL source for display, and preview credits.

Storing and the validation that decides whether a model may be saved are
`mbuzz.models_service` (the API's `/api/v1/attribution_models` uses the same
service): one model per program, not a built-in name, unique per account. Here
`dsl.check` adds what the editor shows inline: every diagnostic (errors and
warnings) with line, column and the source line with a caret.

Previews run the one engine (`attribution.attribute`) on a fixed sample journey
and, when the warehouse has them, on the account's converting journeys of the
last 30 days (read with the pipeline's own journey query, `mbuzz.attribution_runs`).
The pipeline credits custom models under their id (`amod_…`), so reports name
them by id and the dashboard maps ids back to names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import pandas as pd

from attribution.models import DATA_DRIVEN
from ingest_api.dashboard import copy
from mbuzz import models_service as service

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


@dataclass
class Checked:
    """The outcome of checking a program: what to show next to the editor, and the model when it compiles."""

    diagnostics: list = field(default_factory=list)  # dsl Diagnostics (errors and warnings), with context
    problems: list[str] = field(default_factory=list)  # errors the service found beyond the DSL's own
    compiled: dict | None = None

    @property
    def ok(self) -> bool:
        return self.compiled is not None and not self.problems and not self.errors

    @property
    def errors(self) -> list:
        return [d for d in self.diagnostics if d.severity == "error"]


def check_source(source: str) -> Checked:
    """Every diagnostic of `source` (for display) and, when the service accepts it, the compiled model."""
    from dsl import check

    result = Checked(diagnostics=check(source, service.known_channels()))
    try:
        valid = service.validate_source(source)
    except service.InvalidModel as exc:
        if not result.errors:  # an error only the service knows (e.g. two models in one program)
            result.problems.extend(f"{e['message']} (line {e['line']}, column {e['column']})" for e in exc.errors)
        return result
    result.compiled = valid.compiled
    if valid.name in service.presets() or valid.name in DATA_DRIVEN:
        result.problems.append(copy.EDITOR_NAME_RESERVED.format(name=valid.name))
    return result


def custom_models(conn, account_id: str) -> list[service.Model]:
    return [m for m in service.list_models(conn, account_id) if not m.preset]


def model_names(conn, account_id: str) -> dict[str, str]:
    """{model id: name} of the account's custom models (reports name custom models by id)."""
    return {m.id: m.name for m in custom_models(conn, account_id)}


# --- previews ----------------------------------------------------------------------------------------------------


def sample_touches() -> pd.DataFrame:
    converted_at = datetime(2026, 1, 31, 12, tzinfo=timezone.utc)
    return pd.DataFrame(
        {
            "journey_id": ["sample"] * len(SAMPLE_JOURNEY),
            "touch_ts": [converted_at - timedelta(days=days) for _, days, _ in SAMPLE_JOURNEY],
            "channel": [channel for channel, _, _ in SAMPLE_JOURNEY],
            "converted": [True] * len(SAMPLE_JOURNEY),
            "conversion_ts": [converted_at] * len(SAMPLE_JOURNEY),
            "revenue": [SAMPLE_REVENUE] * len(SAMPLE_JOURNEY),
            "milestones": [m for _, _, m in SAMPLE_JOURNEY],
        }
    )


def preview_sample(compiled: dict) -> list[dict]:
    """One row per touch of the sample journey: channel, days before, milestone, credit, revenue credit."""
    from attribution import JourneyOptions, attribute

    credits = attribute(sample_touches(), compiled, JourneyOptions(lookback_days=None))
    by_index = {int(r.touch_index): r for r in credits.itertuples()}
    rows = []
    for i, (channel, days, milestone) in enumerate(SAMPLE_JOURNEY):
        credit = by_index.get(i)
        rows.append(
            {
                "touch": i + 1,
                "channel": channel,
                "days_before": days,
                "milestone": milestone,
                "credit": float(credit.credit) if credit is not None else 0.0,
                "revenue_credit": float(credit.revenue_credit) if credit is not None else 0.0,
            }
        )
    return rows


def warehouse_has_journeys(conn) -> bool:
    return conn.execute("select to_regclass('marts.fct_conversion_journeys') is not null").fetchone()[0]


def preview_recent(conn, account_id: str, compiled: dict, now: datetime | None = None) -> dict | None:
    """{conversions, channels: [(channel, conversions, revenue, share)]} over the last 30 days, or None."""
    if not warehouse_has_journeys(conn):
        return None
    from attribution import attribute, channel_summary
    from attribution.journeys import JourneyOptions
    from mbuzz.attribution_runs import account_level, load_group_journeys, load_journeys

    end = now or datetime.now(timezone.utc)
    start = end - timedelta(days=PREVIEW_DAYS)
    if account_level({"model": compiled}):  # `journey_by account`: the company journeys (docs/b2b.md)
        if not conn.execute("select to_regclass('marts.fct_group_conversion_journeys') is not null").fetchone()[0]:
            return None
        touches = load_group_journeys(conn, account_id, start, end)
    else:
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
        "channels": [(r.channel, float(r.conversions), float(r.revenue), float(r.share)) for r in summary.itertuples()],
    }
