"""What the CSV and JSON row uploads share (spend, exchange rates): the CSV reader with its
header and size checks, and the `date` field."""

from __future__ import annotations

import csv
import io
from datetime import date


def csv_rows(text: str, fields: tuple[str, ...], required: tuple[str, ...], max_rows: int, error: type) -> list[dict]:
    """CSV text with a header row → one dict per line (unknown columns are errors later);
    raises `error` when the header lacks a required column or there are more than max_rows."""
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames:
        raise error("the CSV has no header row: expected " + ",".join(fields))
    missing = [name for name in required if name not in reader.fieldnames]
    if missing:
        raise error(f"the CSV header lacks {', '.join(missing)}: expected " + ",".join(fields))
    rows = []
    for row in reader:
        rows.append({key: value for key, value in row.items() if key is not None})
        if len(rows) > max_rows:
            raise error(f"more than {max_rows} rows: split the upload")
    return rows


def row_day(item: dict, errors: list[str]) -> date | None:
    """The row's `date` (YYYY-MM-DD), or None with the reason appended to errors."""
    raw_day = item.get("date")
    if not isinstance(raw_day, str) or not raw_day.strip():
        errors.append("date: required, as YYYY-MM-DD")
        return None
    try:
        return date.fromisoformat(raw_day.strip())
    except ValueError:
        errors.append(f"date: {raw_day!r} is not a date (YYYY-MM-DD)")
        return None
