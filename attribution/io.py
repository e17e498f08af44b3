"""Touchpoints in, credits out, for offline use (`mbuzz attribute`): the format of
docs/attribution.md, as CSV or Parquet (chosen by the `.parquet` extension).

Both go through Arrow: pyarrow's multithreaded CSV reader and writer, and its
Parquet reader and writer. A rule model runs on the Arrow table itself
(read_touch_table → journeys.prepare_table → engine.run_rule_table → write_table:
numpy and Arrow only, pandas never imported); otherwise the touch table handed to
the engine is a pandas frame whose columns *wrap* the Arrow memory instead of
converting it. Either way:

- journey_id and every carried column (any column besides the format's own)
  stay Arrow arrays, read as text from CSV (never re-parsed: `007` stays `007`,
  an empty cell stays empty) and as stored from Parquet; the credits frame takes
  their rows with Arrow's take, and the writer hands the same arrays back to
  Arrow, so a carried value is written as the bytes it was read as;
- channel and milestones are read as dictionary arrays (pandas categoricals:
  the millions of rows are never hashed as strings);
- timestamps with a zone offset (`…Z`, `… +00:00`) or all naive (read as UTC)
  are parsed by Arrow; a column Arrow cannot type in one go (mixed styles) is
  parsed by pandas' ISO 8601 parser, so the accepted input does not change.

A value that is not of its column's type (a revenue that is not a number, a
timestamp that is not one), a missing column or an empty file is an InputError
naming the file, the column and the first bad value. The credits file is
written next to its destination and renamed into place only when complete, so
a failed run leaves no partial output.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from attribution.arrowutil import from_numpy, to_numpy
from attribution.journeys import OPTIONAL, REQUIRED, InputError

if TYPE_CHECKING:  # pandas only for the frame API and the rare fallbacks: the Arrow path
    import pandas as pd  # (read_touch_table, prepare_table, write_table) runs without it

TIMESTAMPS = ("touch_ts", "conversion_ts")
CATEGORIES = ("channel", "milestones")  # few distinct values: dictionary arrays
UTC = pa.timestamp("ns", tz="UTC")
NAIVE = pa.timestamp("ns")
DICT = pa.dictionary(pa.int32(), pa.string())
TRUE = ("1", "true", "t", "yes", "y", "1.0")
FALSE = ("0", "false", "f", "no", "n", "0.0", "")
FORMAT_HINT = (
    f"a touchpoints file has the columns {', '.join(REQUIRED)}, optionally "
    "milestones, and any other column to carry through"
)


def is_parquet(path: str | Path) -> bool:
    return str(path).lower().endswith(".parquet")


# --- reading -----------------------------------------------------------------------------------


def _check_columns(path, columns: list[str]) -> None:
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)}; {FORMAT_HINT}")


def _csv_header(path: str | Path) -> list[str]:
    with Path(path).open(newline="", encoding="utf-8-sig") as fh:
        header = next(csv.reader(fh), None)
    if not header:
        raise InputError(f"{path} is empty: {FORMAT_HINT}, named on its first line")
    return header


def _first_bad(path, column: str, values: pa.ChunkedArray, ok: np.ndarray, expected: str):
    """InputError for the first value of `values` where not `ok` (CSV line numbers count the
    header as line 1)."""
    i = int(np.flatnonzero(~ok)[0])
    where = f"line {i + 2}" if not is_parquet(path) else f"row {i + 1}"
    return InputError(f"{path}: column {column}, {where}: {values[i].as_py()!r} is not {expected}")


def _timestamps(path, name: str, col: pa.ChunkedArray) -> pa.ChunkedArray:
    """A timestamp column as timestamp[ns, UTC] (naive = UTC, empty = null)."""
    if pa.types.is_timestamp(col.type):
        return (
            col.cast(pa.timestamp("ns", tz=col.type.tz)).cast(UTC)
            if col.type.tz
            else col.cast(NAIVE).cast(pa.timestamp("ns", tz="UTC"))
        )
    if pa.types.is_date(col.type):
        return col.cast(pa.timestamp("ns")).cast(UTC)
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        raise InputError(
            f"{path}: column {name} is {col.type}, not a timestamp "
            "(ISO 8601 text such as 2024-03-01T10:00:00Z, or a timestamp type)"
        )
    text = pc.if_else(pc.equal(col, ""), pa.scalar(None, col.type), col)
    for ts_type in (UTC, NAIVE):  # with offsets, then naive
        try:
            return text.cast(ts_type).cast(UTC)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
    import pandas as pd

    series = pd.Series(pd.arrays.ArrowStringArray(text))
    parsed = pd.to_datetime(series, utc=True, format="ISO8601", errors="coerce")
    bad = parsed.isna().to_numpy() & series.notna().to_numpy()
    if bad.any():
        raise _first_bad(path, name, col, ~bad, "a timestamp (ISO 8601, e.g. 2024-03-01T10:00:00Z)")
    return pa.chunked_array([pa.array(parsed.astype("datetime64[ns, UTC]"), type=UTC)])


def _revenue(path, col: pa.ChunkedArray) -> pa.ChunkedArray:
    if (
        pa.types.is_floating(col.type)
        or pa.types.is_integer(col.type)
        or pa.types.is_decimal(col.type)
        or pa.types.is_null(col.type)
    ):
        return col.cast(pa.float64())
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        raise InputError(f"{path}: column revenue is {col.type}, not a number")
    text = pc.if_else(pc.equal(pc.utf8_trim_whitespace(col), ""), pa.scalar(None, col.type), col)
    try:
        return text.cast(pa.float64())
    except pa.ArrowInvalid:
        import pandas as pd

        numbers = pd.to_numeric(pd.Series(pd.arrays.ArrowStringArray(text)), errors="coerce")
        bad = numbers.isna().to_numpy() & pc.is_valid(text).to_numpy(zero_copy_only=False)
        raise _first_bad(path, "revenue", col, ~bad, "a number") from None


def _flag(path, value) -> bool:
    text = "" if value is None else str(value).strip().lower()
    if text in TRUE or text in FALSE:
        return text in TRUE
    try:
        number = float(text)
        return number == number and number != 0  # NaN: not converted
    except ValueError:
        raise InputError(f"{path}: column converted: {value!r} is not a flag (1/0, true/false, yes/no)") from None


def _converted(path, col: pa.ChunkedArray) -> pa.ChunkedArray:
    """converted as given when boolean or numeric; text (read as a dictionary: a few
    distinct values) as a flag: 1/0, true/false, yes/no (any case), or a number ≠ 0."""
    if (
        pa.types.is_boolean(col.type)
        or pa.types.is_integer(col.type)
        or pa.types.is_floating(col.type)
        or pa.types.is_null(col.type)
    ):
        return col
    if not (pa.types.is_dictionary(col.type) or pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        raise InputError(
            f"{path}: column converted is {col.type}, not a flag (boolean, a number, or text 1/0, true/false, yes/no)"
        )
    if not pa.types.is_dictionary(col.type):
        col = col.dictionary_encode()
    chunks = []
    for chunk in col.chunks:
        flags = np.array([_flag(path, v) for v in chunk.dictionary.to_pylist()] + [False])
        chunks.append(from_numpy(flags[to_numpy(chunk.indices, fill=len(flags) - 1)]))
    return pa.chunked_array(chunks, type=pa.bool_())


def _dictionary(path, name: str, col: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_dictionary(col.type):
        if pa.types.is_string(col.type.value_type) or pa.types.is_large_string(col.type.value_type):
            return col
        col = col.cast(col.type.value_type)
    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        return col.dictionary_encode()
    try:
        return col.cast(pa.string()).dictionary_encode()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise InputError(f"{path}: column {name} is {col.type}, not text") from None


def _read_csv_table(path: str | Path, skip: tuple[str, ...] = ()) -> pa.Table:
    """The CSV as an Arrow table: journey_id and carried columns as text, channel and
    milestones as dictionaries, revenue as float64 and the timestamps typed, when Arrow
    can parse them in one go; otherwise those columns as text, converted one by one."""
    columns = _csv_header(path)
    _check_columns(path, columns)
    columns = [c for c in columns if c not in skip]
    text = {c: pa.string() for c in columns if c not in REQUIRED or c == "journey_id"}
    text.update({c: DICT for c in (*CATEGORIES, "converted") if c in columns})  # (inferring
    # converted's type would cost a third of the read)
    read = pacsv.ReadOptions(block_size=4 << 20)
    for typed in ({"revenue": pa.float64(), **{c: UTC for c in TIMESTAMPS}}, None):
        types = {**text, **(typed or {c: pa.string() for c in ("revenue", *TIMESTAMPS)})}
        try:
            return pacsv.read_csv(
                path,
                read_options=read,
                convert_options=pacsv.ConvertOptions(
                    column_types=types,
                    strings_can_be_null=False,
                    quoted_strings_can_be_null=False,
                    include_columns=columns if skip else None,
                ),
            )
        except pa.ArrowInvalid as exc:
            if typed is None:  # e.g. a row with too many fields
                raise InputError(f"{path}: not a readable CSV: {exc}") from None
    raise AssertionError("unreachable")


def _is_text(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_binary(t)


def read_touch_table(path: str | Path, skip: tuple[str, ...] = ()) -> pa.Table:
    """A touchpoints file (CSV, or Parquet by extension) as an Arrow table with the
    format's columns typed (timestamps as timestamp[ns, UTC], revenue float64, channel
    and milestones dictionaries) and every other column as read. `skip`: optional
    columns of the format the caller has no use for (milestones, for a model without a
    milestone rule), not read at all."""
    if set(skip) - set(OPTIONAL):
        raise ValueError(f"only the optional columns ({', '.join(OPTIONAL)}) may be skipped")
    if is_parquet(path):
        try:
            schema = pq.read_schema(path)
            text = [c for c in CATEGORIES if c in schema.names and _is_text(schema.field(c).type)]
            # ParquetFile, not read_table: the dataset layer behind read_table imports pandas
            read = [c for c in schema.names if c not in skip] if skip else None
            # memory-mapped: the column chunks are decoded from the page cache, not copied in first
            table = pq.ParquetFile(path, read_dictionary=text, memory_map=True).read(columns=read)
        except (pa.ArrowInvalid, OSError) as exc:
            raise InputError(f"{path}: not a readable Parquet file: {exc}") from None
        _check_columns(path, table.column_names)
    else:
        table = _read_csv_table(path, skip)
    fixed = {name: _timestamps(path, name, table.column(name)) for name in TIMESTAMPS}
    fixed["revenue"] = _revenue(path, table.column("revenue"))
    fixed["converted"] = _converted(path, table.column("converted"))
    for name in CATEGORIES:
        if name in table.column_names:
            fixed[name] = _dictionary(path, name, table.column(name))
    for name, col in fixed.items():
        if col is not table.column(name):
            table = table.set_column(table.column_names.index(name), name, col)
    return table


def _pandas_array(col: pa.ChunkedArray):
    """A pandas array over the Arrow column, without converting the values where pandas
    can wrap them (text, and anything kept as Arrow); numbers and timestamps as numpy."""
    import pandas as pd

    if pa.types.is_dictionary(col.type):
        return col.to_pandas().array  # a categorical: codes + the few distinct values
    if (
        pa.types.is_floating(col.type)
        or pa.types.is_timestamp(col.type)
        or (pa.types.is_integer(col.type) or pa.types.is_boolean(col.type))
        and not col.null_count
    ):
        return col.to_pandas().array
    return pd.arrays.ArrowExtensionArray(col)  # text and the rest, in their exact Arrow type


def touch_frame(table: pa.Table) -> pd.DataFrame:
    """The touch table as the engine's pandas frame, its columns wrapping the Arrow arrays."""
    import pandas as pd

    return pd.DataFrame({name: _pandas_array(table.column(name)) for name in table.column_names}, copy=False)


def read_touchpoints(path: str | Path) -> pd.DataFrame:
    """Read a touchpoints CSV or Parquet file (see the module docstring)."""
    return touch_frame(read_touch_table(path))


# --- writing -----------------------------------------------------------------------------------


def credits_table(df: pd.DataFrame) -> pa.Table:
    """The credits frame as an Arrow table: Arrow-backed columns (journey_id, carried
    columns, channel) are handed over as they are, numeric ones wrap their numpy arrays."""
    arrays = []
    for name in df.columns:
        values = df[name].array
        if hasattr(values, "__arrow_array__"):  # Arrow-backed: the same arrays, no conversion
            arrays.append(values.__arrow_array__())
        else:
            arrays.append(pa.array(values, from_pandas=True))
    return pa.table(arrays, names=[str(c) for c in df.columns])


def _write_csv(table: pa.Table, sink) -> None:
    header = io.StringIO()
    csv.writer(header, lineterminator="\n").writerow(table.column_names)  # Arrow quotes every name
    sink.write(header.getvalue().encode())
    pacsv.write_csv(table, sink, write_options=pacsv.WriteOptions(include_header=False, quoting_style="needed"))


def write_credits(df: pd.DataFrame, path: str | Path) -> None:
    """Write a credits frame as CSV (header, no index, floats in shortest round-trip form)
    or as Parquet when the path ends in `.parquet`; written to a temporary file beside
    `path` and renamed into place, so `path` is either complete or untouched."""
    try:
        table = credits_table(df)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # e.g. mixed-type object columns
        if is_parquet(path):
            raise
        _replace(path, lambda tmp: df.to_csv(tmp, index=False, float_format="%.17g"))  # pandas writes anything
    else:
        write_table(table, path)


def write_table(table: pa.Table, path: str | Path) -> None:
    """write_credits for a credits table already in Arrow (engine.run_rule_table)."""

    def write(tmp: Path) -> None:
        if is_parquet(path):
            # dictionary pages for the text columns only (channel, carried labels): ids and
            # credits are near-unique, where a dictionary costs time and saves nothing
            text = [f.name for f in table.schema if _is_text(f.type) or pa.types.is_dictionary(f.type)]
            pq.write_table(table, tmp, use_dictionary=text)
        else:
            with pa.OSFile(str(tmp), "wb") as sink:
                _write_csv(table, sink)

    _replace(path, write)


def _replace(path: str | Path, write) -> None:
    """write(tmp) to a temporary file beside `path`, then renamed onto it."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


__all__ = [
    "OPTIONAL",
    "credits_table",
    "is_parquet",
    "read_touch_table",
    "read_touchpoints",
    "touch_frame",
    "write_credits",
    "write_table",
]
