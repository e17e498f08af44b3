"""What attribution learned, in the shape media-mix models read (`mbuzz export mmm`, docs/mmm.md).

One row per period (day, or ISO week starting Monday) and channel, over a complete, regular
calendar — media-mix models (pymc-marketing, Meridian, Robyn) need every period, including the
quiet ones — with:

- `spend`, `impressions`, `clicks`: the ad platform's numbers (raw.ad_spend, through
  marts.rpt_channel_roas);
- `visits`: the sessions mbuzz classified into the channel (marts.fct_sessions);
- `conversions`, `revenue`: what the chosen model credits the channel with
  (marts.rpt_channel_roas, from the attribution credits).

Missing values are never invented: a period with no spend row has spend 0, and impressions /
clicks 0 for a channel whose platform reports them, but stay empty (null) for a channel whose
spend rows never carry them — 0 would tell the model that nothing was served.

Shapes: `long` (period, channel, the measures) and `wide` (one row per period: the totals
`conversions` and `revenue`, then `<channel>_<measure>` columns), the layout of pymc-marketing's
and Meridian's example data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from mbuzz.errors import MbuzzError

MEASURES = ("spend", "impressions", "clicks", "visits", "conversions", "revenue")
DELIVERY = ("impressions", "clicks")
GRAINS = ("day", "week")
SHAPES = ("long", "wide")
FORMATS = ("csv", "parquet")


class ExportError(MbuzzError):
    """The export cannot be made as asked (unknown model, bad range, unknown format)."""


@dataclass
class MmmExport:
    grain: str
    periods: list[date]
    channels: list[str]
    rows: list[dict]  # long shape: period, channel, *MEASURES
    currencies: list[str] = field(default_factory=list)  # of the spend

    def wide(self) -> list[dict]:
        """One row per period: totals, then `<channel>_<measure>`, channels in name order."""
        by_period: dict[date, dict] = {}
        for row in self.rows:
            out = by_period.setdefault(row["period"], {"period": row["period"], "conversions": 0.0, "revenue": 0.0})
            out["conversions"] += row["conversions"]
            out["revenue"] += row["revenue"]
            for measure in MEASURES:
                out[f"{row['channel']}_{measure}"] = row[measure]
        return [by_period[period] for period in self.periods]

    def table(self, shape: str) -> list[dict]:
        if shape not in SHAPES:
            raise ExportError(f"unknown shape {shape!r}: use one of {', '.join(SHAPES)}")
        rows = self.rows if shape == "long" else self.wide()
        name = "date" if self.grain == "day" else "week"
        return [{name if key == "period" else key: value for key, value in row.items()} for row in rows]


def _period(day: date, grain: str) -> date:
    return day if grain == "day" else day - timedelta(days=day.weekday())


def _number(value) -> float | int | None:
    if value is None:
        return None
    return float(value) if isinstance(value, Decimal | float) else int(value)


def build(
    conn,
    account_id: str,
    environment: str,
    model: str,
    start: date | None = None,
    end: date | None = None,
    grain: str = "day",
) -> MmmExport:
    """The export of one account, environment and model (every day with data, or start..end)."""
    if grain not in GRAINS:
        raise ExportError(f"unknown grain {grain!r}: use one of {', '.join(GRAINS)}")
    if start and end and start > end:
        raise ExportError(f"--from {start} is after --to {end}")
    scope = {
        "account_id": account_id,
        "environment": environment,
        "model": model,
        "start": start or date.min,
        "end": end or date.max,
    }
    models = [
        row[0]
        for row in conn.execute(
            "select distinct model from marts.rpt_channel_roas where account_id = %(account_id)s "
            "and environment = %(environment)s order by 1",
            scope,
        )
    ]
    if model not in models:
        known = ", ".join(models) or "none yet: run `mbuzz pipeline run` first"
        raise ExportError(
            f"model {model!r} has no credits in {account_id} ({environment}); models with credits: {known}"
        )
    credited = conn.execute(
        """
        select day, channel, spend, impressions, clicks, conversions, revenue, spend_currency
        from marts.rpt_channel_roas
        where account_id = %(account_id)s and environment = %(environment)s and model = %(model)s
          and day between %(start)s and %(end)s
        """,
        scope,
    ).fetchall()
    visits = conn.execute(
        """
        select started_date, channel, count(*)
        from marts.fct_sessions
        where account_id = %(account_id)s and environment = %(environment)s
          and started_date between %(start)s and %(end)s
        group by 1, 2
        """,
        scope,
    ).fetchall()
    days = [row[0] for row in credited] + [row[0] for row in visits]
    if not days and not (start and end):
        raise ExportError(f"no spend, sessions or credits for {account_id} ({environment}) in the range")
    first, last = _period(start or min(days), grain), _period(end or max(days), grain)
    step = timedelta(days=1 if grain == "day" else 7)
    periods = [first + step * n for n in range((last - first) // step + 1)]

    cells: dict[tuple[date, str], dict] = {}
    reporting = {measure: set() for measure in DELIVERY}  # channels whose platform reports it
    currencies: set[str] = set()

    def cell(day: date, channel: str) -> dict:
        return cells.setdefault((_period(day, grain), channel), dict.fromkeys(MEASURES, 0))

    for day, channel, spend, impressions, clicks, conversions, revenue, spend_currency in credited:
        out = cell(day, channel)
        for measure, value in (("spend", spend), ("conversions", conversions), ("revenue", revenue)):
            out[measure] += _number(value) or 0
        for measure, value in (("impressions", impressions), ("clicks", clicks)):
            if value is not None:
                reporting[measure].add(channel)
                out[measure] += int(value)
        currencies.update(filter(None, (spend_currency or "").split(",")))
    for day, channel, count in visits:
        cell(day, channel)["visits"] += count

    # every channel of the account's history, so that exports of different windows share columns
    channels = sorted(
        {channel for _, channel in cells}
        | {
            row[0]
            for row in conn.execute(
                """
        select channel from marts.rpt_channel_roas
        where account_id = %(account_id)s and environment = %(environment)s and model = %(model)s
        union
        select channel from marts.fct_sessions where account_id = %(account_id)s and environment = %(environment)s
        """,
                scope,
            )
        }
    )
    rows = []
    for period in periods:
        for channel in channels:
            values = cells.get((period, channel), dict.fromkeys(MEASURES, 0))
            row = {"period": period, "channel": channel}
            for measure in MEASURES:
                value = values[measure]
                if measure in DELIVERY and channel not in reporting[measure]:
                    value = None
                row[measure] = float(value) if measure in ("spend", "conversions", "revenue") else value
            rows.append(row)
    return MmmExport(grain=grain, periods=periods, channels=channels, rows=rows, currencies=sorted(currencies))


def file_format(path: Path, fmt: str | None) -> str:
    """`fmt`, else the output file's extension (.csv / .parquet)."""
    fmt = fmt or path.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise ExportError(f"cannot tell the format of {path.name}: name it .csv or .parquet, or pass --format")
    return fmt


def write(rows: list[dict], path: Path, fmt: str) -> None:
    """Write rows (dicts with the same keys) as CSV or Parquet; empty cells / nulls for None."""
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(rows), path)
        return
    import csv

    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]) if rows else ["date"])
        writer.writeheader()
        writer.writerows(rows)
