"""CSV in and out for offline use (`mbuzz attribute`): the format of docs/attribution.md, "Offline use".

Reading and writing go through pyarrow's multithreaded CSV reader and writer
when pyarrow is installed (it is a dependency of pandas' default string dtype
here): timestamps with a zone offset (`2024-01-01T00:00:00Z`,
`… +00:00`) are parsed by Arrow directly, naive ones as UTC; a file Arrow
cannot type (mixed timestamp styles, odd values) falls back to pandas' parser,
so what is accepted does not change, only how fast.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd

from attribution.journeys import REQUIRED, InputError

TIMESTAMPS = ("touch_ts", "conversion_ts")
NUMERIC = ("revenue", "converted")

try:  # pragma: no branch - pyarrow is installed with pandas' string dtype
    import pyarrow as pa
    import pyarrow.csv as pacsv
except ImportError:  # pragma: no cover
    pa = pacsv = None


def _header(path: str | Path) -> list[str]:
    head = pd.read_csv(path, nrows=0)
    missing = [c for c in REQUIRED if c not in head.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)}; a touchpoints CSV has "
                         f"{', '.join(REQUIRED)} and optionally milestones")
    return list(head.columns)


def _read_arrow(path: str | Path, columns: list[str]) -> pd.DataFrame | None:
    """The CSV with Arrow, text columns as text (empty stays empty), or None if
    Arrow cannot type it the way the pandas reader would."""
    text = {c: pa.string() for c in columns if c not in TIMESTAMPS + NUMERIC}
    for ts_type in (pa.timestamp("ns", tz="UTC"), pa.timestamp("ns")):  # with offsets, then naive
        types = {**text, "revenue": pa.float64(), **{c: ts_type for c in TIMESTAMPS}}
        try:
            table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
                column_types=types, strings_can_be_null=False, quoted_strings_can_be_null=False))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
        frame = table.to_pandas(types_mapper={pa.string(): pd.StringDtype("pyarrow")}.get)
        for col in TIMESTAMPS:
            if frame[col].dt.tz is None:
                frame[col] = frame[col].dt.tz_localize("UTC")
        return frame
    return None


def read_touchpoints(path: str | Path) -> pd.DataFrame:
    """Read a touchpoints CSV. Text columns stay text; timestamps are parsed
    (naive = UTC). Empty cells stay empty (a conversion row has an empty channel)."""
    columns = _header(path)
    if pacsv is not None:
        frame = _read_arrow(path, columns)
        if frame is not None:
            return frame
    text = {c: "string" for c in columns if c not in NUMERIC}
    df = pd.read_csv(path, dtype=text, keep_default_na=False, na_values={"revenue": [""]})
    for col in TIMESTAMPS:
        df[col] = pd.to_datetime(df[col].replace("", pd.NA), utc=True, format="ISO8601")
    return df


def write_credits(df: pd.DataFrame, path: str | Path) -> None:
    """Write a credits frame as CSV: header, no index; floats at full precision
    (shortest round-trip form) with Arrow, `%.17g` with pandas."""
    if pacsv is not None:
        try:
            table = pa.Table.from_pandas(df, preserve_index=False)
            header = io.StringIO()
            csv.writer(header, lineterminator="\n").writerow(df.columns)  # Arrow quotes every name
            with pa.OSFile(str(path), "wb") as sink:
                sink.write(header.getvalue().encode())
                pacsv.write_csv(table, sink, write_options=pacsv.WriteOptions(
                    include_header=False, quoting_style="needed"))
            return
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            pass  # e.g. mixed-type object columns: pandas writes anything
    df.to_csv(path, index=False, float_format="%.17g")
