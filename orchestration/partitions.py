"""Daily partitions by conversion date (UTC)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import dagster as dg

START_DATE = "2026-01-01"
daily = dg.DailyPartitionsDefinition(start_date=START_DATE, timezone="UTC", end_offset=1)


def window(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext | None) -> tuple[datetime, datetime]:
    """[start, end) of the run's partition (or partition range); unpartitioned: all time until now."""
    if context is not None and (context.has_partition_key or context.has_partition_key_range):
        window_ = context.partition_time_window
        return window_.start.astimezone(timezone.utc), window_.end.astimezone(timezone.utc)
    end = datetime.now(timezone.utc) + timedelta(days=1)
    return datetime(2000, 1, 1, tzinfo=timezone.utc), end


def run_window(context: dg.AssetCheckExecutionContext) -> tuple[datetime, datetime]:
    """[start, end) of the run's partition or partition range, for checks on unpartitioned assets
    (the journeys); a run without partitions: all time until now."""
    tags = context.run.tags
    first = tags.get("dagster/asset_partition_range_start") or tags.get("dagster/partition")
    last = tags.get("dagster/asset_partition_range_end") or tags.get("dagster/partition")
    if not first or not last:
        return window(None)
    start = daily.time_window_for_partition_key(first).start
    end = daily.time_window_for_partition_key(last).end
    return start.astimezone(timezone.utc), end.astimezone(timezone.utc)
