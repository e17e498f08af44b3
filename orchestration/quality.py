"""Great Expectations suites on raw events and on journeys.

Great Expectations costs seconds to import, so it is imported here, inside the
functions the asset checks call, and never on the CLI's or the API's start-up path.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

MAX_EVENT_BYTES = 32 * 1024  # the API's per-event limit; anything bigger got in by another door
FUTURE_TOLERANCE = "10 minutes"


@dataclass
class SuiteResult:
    success: bool
    evaluated: int
    failed: list[str]
    rows: int

    def metadata(self) -> dict:
        return {
            "rows_checked": self.rows,
            "expectations": self.evaluated,
            "failed_expectations": ", ".join(self.failed) or "none",
        }


def _validate(name: str, frame: pd.DataFrame, expectations: list) -> SuiteResult:
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)  # no tqdm bars in `mbuzz pipeline run`
    source = context.data_sources.add_pandas(f"{name}_source")
    batch = source.add_dataframe_asset(name).add_batch_definition_whole_dataframe("whole")
    suite = context.suites.add(gx.ExpectationSuite(name=f"{name}_suite"))
    for expectation in expectations:
        suite.add_expectation(expectation)
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=f"{name}_validation", data=batch, suite=suite)
    )
    result = definition.run(batch_parameters={"dataframe": frame})
    failed = []
    for r in result.results:
        if not r.success:
            cfg = r.expectation_config
            column = cfg.kwargs.get("column", "")
            failed.append(f"{cfg.type}({column})")
    return SuiteResult(success=bool(result.success), evaluated=len(result.results), failed=failed, rows=len(frame))


def raw_events_suite(frame: pd.DataFrame, event_types: list[str]) -> SuiteResult:
    """Required fields, accepted event types, timestamps not in the future, sane sizes."""
    import great_expectations as gx

    from mbuzz.contract import event_type_rule

    e = gx.expectations
    pattern, max_length = event_type_rule()  # the API's rule (docs/api/openapi.yml), not a copy of it
    now = pd.Timestamp.now(tz="UTC") + pd.Timedelta(FUTURE_TOLERANCE)
    frame = frame.assign(
        occurred_at=pd.to_datetime(frame["occurred_at"], utc=True),
        seconds_in_future=(pd.to_datetime(frame["occurred_at"], utc=True) - now).dt.total_seconds(),
    )
    return _validate(
        "raw_events",
        frame,
        [
            *(
                e.ExpectColumnValuesToNotBeNull(column=c)
                for c in ("account_id", "event_id", "event_type", "visitor_id", "occurred_at", "received_at")
            ),
            e.ExpectColumnValuesToBeInSet(column="environment", value_set=["test", "live"]),
            # custom event names are allowed, but most traffic must be the standard types
            e.ExpectColumnValuesToBeInSet(column="event_type", value_set=event_types, mostly=0.9),
            e.ExpectColumnValuesToMatchRegex(column="event_type", regex=pattern),
            e.ExpectColumnValueLengthsToBeBetween(column="event_type", min_value=1, max_value=max_length),
            e.ExpectColumnMaxToBeBetween(column="seconds_in_future", max_value=0),
            e.ExpectColumnValuesToBeBetween(column="size_bytes", min_value=2, max_value=MAX_EVENT_BYTES),
        ],
    )


def journeys_suite(frame: pd.DataFrame, channels: list[str]) -> SuiteResult:
    """Journeys the engine can trust: keys present, channels known, touches ordered and before the conversion."""
    import great_expectations as gx

    e = gx.expectations
    touches = frame[frame["touch_index"].notna()]
    frame = frame.assign(
        touch_before_conversion=~(frame["converted"].astype(bool) & (frame["touch_ts"] > frame["conversion_ts"])),
    )
    checks = [
        *(e.ExpectColumnValuesToNotBeNull(column=c) for c in ("account_id", "journey_id", "converted")),
        e.ExpectColumnValuesToBeInSet(column="channel", value_set=channels, mostly=1.0),
        e.ExpectColumnValuesToBeInSet(column="touch_before_conversion", value_set=[True]),
        e.ExpectColumnValuesToBeBetween(column="revenue", min_value=0),
    ]
    result = _validate("journeys", frame, checks)
    # touch_index must be 0..n-1 within each journey (a gap means a lost session)
    if not touches.empty:
        counts = touches.groupby(["account_id", "journey_id"])["touch_index"].agg(["max", "count"])
        if not (counts["max"] + 1 == counts["count"]).all():
            result.success = False
            result.failed.append("touch_index contiguous per journey")
    return result
