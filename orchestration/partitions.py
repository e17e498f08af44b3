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
