"""`mbuzz attribute` with Parquet and CSV in and out, through the CLI's entry point (the
`mbuzz` group) and attribution.io as the CLI uses it: same credits whatever the formats,
carried columns passed through (CSV: the text as read; Parquet: the stored types), and
bad input an InputError naming the file, the column and the value, with no output left."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from attribution import io as aio
from attribution.journeys import InputError
from attribution.synthetic import synthetic_touches
from mbuzz.cli import cli

HEADER = "journey_id,touch_ts,channel,converted,conversion_ts,revenue,code,note\n"
ROWS = (
    "j1,2024-03-01T10:00:00Z,email,1,2024-03-05T10:00:00Z,100,007,\n"
    'j1,2024-03-02T10:00:00Z,direct,1,2024-03-05T10:00:00Z,100,,"a, b"\n'
    "j1,2024-03-03T10:00:00Z,social,1,2024-03-05T10:00:00Z,100,1.50,x\n"
    "j2,2024-03-01T10:00:00Z,email,0,,,0x1F,y\n"
)
FORMATS = [("csv", "csv"), ("parquet", "csv"), ("csv", "parquet"), ("parquet", "parquet")]


def run(args: list[str]):
    return CliRunner().invoke(cli, ["attribute", *args])


def attribute_file(src, out, model="u_shaped"):
    result = run(["--model", model, "--touchpoints", str(src), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def read_any(path) -> pd.DataFrame:
    if path.suffix == ".parquet":
        return pq.read_table(path).to_pandas()
    return pd.read_csv(path, dtype={"journey_id": str, "channel": str, "session_id": str})


@pytest.fixture
def synthetic_files(tmp_path):
    """The same 500 seeded journeys as CSV and as Parquet (pandas' writers, as users make them)."""
    touches = synthetic_touches(500, seed=3)
    files = {"csv": tmp_path / "tp.csv", "parquet": tmp_path / "tp.parquet"}
    touches.to_csv(files["csv"], index=False)
    touches.to_parquet(files["parquet"], index=False)
    return files


@pytest.mark.parametrize("model", ["u_shaped", "time_decay", "markov"])
@pytest.mark.parametrize("src_fmt,out_fmt", FORMATS)
def test_same_credits_whatever_the_formats(synthetic_files, tmp_path, src_fmt, out_fmt, model):
    reference = read_any(attribute_file(synthetic_files["csv"], tmp_path / "ref.csv", model))
    got = read_any(attribute_file(synthetic_files[src_fmt], tmp_path / f"out.{out_fmt}", model))
    assert list(got.columns) == list(reference.columns)
    assert len(got) == len(reference) > 0
    for col in ("journey_id", "channel", "session_id"):
        assert got[col].astype(str).tolist() == reference[col].astype(str).tolist()
    assert got["touch_index"].tolist() == reference["touch_index"].tolist()
    for col in ("credit", "revenue_credit"):  # CSV floats are written in round-trip form
        np.testing.assert_array_equal(got[col].to_numpy(float), reference[col].to_numpy(float))


@pytest.mark.parametrize("out_fmt", ["csv", "parquet"])
def test_csv_carried_columns_pass_through_as_text(tmp_path, out_fmt):
    src = tmp_path / "tp.csv"
    src.write_text(HEADER + ROWS)
    out = attribute_file(src, tmp_path / f"credits.{out_fmt}")
    if out_fmt == "csv":
        with out.open(newline="") as fh:
            rows = list(csv.DictReader(fh))
        carried = [(r["code"], r["note"]) for r in rows]
    else:
        table = pq.read_table(out)
        assert table.schema.field("code").type == pa.string()
        carried = list(zip(table.column("code").to_pylist(), table.column("note").to_pylist()))
    assert carried == [("007", ""), ("", "a, b"), ("1.50", "x")]


def test_parquet_carried_columns_keep_their_types(tmp_path):
    ts = pd.to_datetime(["2024-03-01", "2024-03-02", "2024-03-03", "2024-03-01"], utc=True)
    conv = pd.to_datetime(["2024-03-05"] * 3 + [None], utc=True)
    table = pa.table(
        {
            "journey_id": pa.array([1, 1, 1, 2], pa.int64()),
            "touch_ts": pa.array(ts),
            "channel": ["email", "direct", "social", "email"],
            "converted": [True, True, True, False],
            "conversion_ts": pa.array(conv),
            "revenue": [10.0, 10.0, 10.0, None],
            "n": pa.array([1, None, 3, 4], pa.int32()),
            "code": ["007", "", None, "z"],
            "when": pa.array(ts.tz_localize(None)).cast(pa.timestamp("ms")),
        }
    )
    pq.write_table(table, tmp_path / "tp.parquet")
    back = pq.read_table(attribute_file(tmp_path / "tp.parquet", tmp_path / "credits.parquet"))
    assert back.schema.field("journey_id").type == pa.int64()
    assert back.schema.field("n").type == pa.int32()
    assert back.schema.field("when").type == pa.timestamp("ms")
    assert back.column("journey_id").to_pylist() == [1, 1, 1]
    assert back.column("n").to_pylist() == [1, None, 3]
    assert back.column("code").to_pylist() == ["007", "", None]
    assert back.column("when").to_pylist() == table.column("when").to_pylist()[:3]
    assert back.column("credit").to_pylist() == [0.4, 0.2, 0.4]

    # and as CSV: the same values, null as empty
    with attribute_file(tmp_path / "tp.parquet", tmp_path / "c.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["journey_id"], r["n"], r["code"]) for r in rows] == [("1", "1", "007"), ("1", "", ""), ("1", "3", "")]


def parquet_with(tmp_path, name, **columns) -> str:
    base = {
        "journey_id": ["j1", "j1", "j2"],
        "touch_ts": ["2024-03-01T10:00:00Z", "2024-03-02T10:00:00Z", "2024-03-01T10:00:00Z"],
        "channel": ["email", "direct", "email"],
        "converted": ["1", "1", "0"],
        "conversion_ts": ["2024-03-05T10:00:00Z", "2024-03-05T10:00:00Z", None],
        "revenue": ["10", "10", None],
    }
    base.update(columns)
    path = tmp_path / f"{name}.parquet"
    pq.write_table(pa.table({k: v for k, v in base.items() if v is not None}), path)
    return path


def csv_with(tmp_path, name, text) -> str:
    path = tmp_path / f"{name}.csv"
    path.write_text(text)
    return path


BAD = {  # name: (make the file, words the error names)
    "csv bad revenue": (
        lambda d: csv_with(d, "r", HEADER + ROWS.replace(",100,1.50", ",abc,1.50")),
        ["r.csv", "column revenue", "line 4", "'abc'", "not a number"],
    ),
    "csv bad timestamp": (
        lambda d: csv_with(d, "t", HEADER + ROWS.replace("2024-03-02T10:00:00Z", "yesterday")),
        ["t.csv", "column touch_ts", "line 3", "'yesterday'", "not a timestamp"],
    ),
    "csv missing column": (
        lambda d: csv_with(d, "m", "journey_id,channel\nj1,email\n"),
        ["m.csv", "missing column", "touch_ts", "revenue"],
    ),
    "csv empty": (lambda d: csv_with(d, "e", ""), ["e.csv", "is empty"]),
    "csv ragged": (lambda d: csv_with(d, "g", HEADER + ROWS + "j3,1,2\n"), ["g.csv", "not a readable CSV"]),
    "parquet bad revenue": (
        lambda d: parquet_with(d, "r", revenue=["10", "abc", None]),
        ["r.parquet", "column revenue", "row 2", "'abc'", "not a number"],
    ),
    "parquet bad timestamp": (
        lambda d: parquet_with(d, "t", touch_ts=["2024-03-01", "nope", "2024-03-01"]),
        ["t.parquet", "column touch_ts", "row 2", "'nope'", "not a timestamp"],
    ),
    "parquet missing column": (
        lambda d: parquet_with(d, "m", conversion_ts=None),
        ["m.parquet", "missing column", "conversion_ts"],
    ),
    "parquet empty file": (
        lambda d: csv_with(d, "e", "").rename(d / "e.parquet"),
        ["e.parquet", "not a readable Parquet file"],
    ),
    "parquet not parquet": (
        lambda d: csv_with(d, "n", HEADER + ROWS).rename(d / "n.parquet"),
        ["n.parquet", "not a readable Parquet file"],
    ),
    "parquet timestamp of wrong type": (
        lambda d: parquet_with(d, "w", touch_ts=pa.array([1, 2, 3])),
        ["w.parquet", "column touch_ts is int64", "not a timestamp"],
    ),
    "parquet revenue of wrong type": (
        lambda d: parquet_with(d, "w", revenue=pa.array([[1], [2], [3]])),
        ["w.parquet", "column revenue is list", "not a number"],
    ),
    "parquet converted of wrong type": (
        lambda d: parquet_with(d, "w", converted=pa.array([[1], [1], [0]])),
        ["w.parquet", "column converted is list", "not a flag"],
    ),
    "parquet channel of wrong type": (
        lambda d: parquet_with(d, "w", channel=pa.array([[1], [2], [1]])),
        ["w.parquet", "column channel is list", "not text"],
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
@pytest.mark.parametrize("out_fmt", ["csv", "parquet"])
def test_bad_input_is_named_and_leaves_no_output(tmp_path, case, out_fmt):
    make, words = BAD[case]
    src = make(tmp_path)
    with pytest.raises(InputError) as err:
        aio.read_touchpoints(src)
    for word in words:
        assert word in str(err.value)
    out = tmp_path / "out" / f"credits.{out_fmt}"
    out.parent.mkdir()
    result = run(["--model", "u_shaped", "--touchpoints", str(src), "--out", str(out)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert all(word in result.output for word in words), result.output
    assert list(out.parent.iterdir()) == []


@pytest.mark.parametrize("out_fmt", ["csv", "parquet"])
def test_failed_write_leaves_the_old_output_and_no_partial_file(tmp_path, monkeypatch, out_fmt):
    src = csv_with(tmp_path, "tp", HEADER + ROWS)
    out = tmp_path / "out" / f"credits.{out_fmt}"
    out.parent.mkdir()
    out.write_bytes(b"previous")

    def half_then_fail(table, sink, *args, **kwargs):
        if isinstance(sink, pa.NativeFile):  # the CSV writer's open sink
            sink.write(b"half a file")
        else:
            Path(sink).write_bytes(b"half a file")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(aio.pq, "write_table", half_then_fail)
    monkeypatch.setattr(aio.pacsv, "write_csv", half_then_fail)
    result = run(["--model", "u_shaped", "--touchpoints", str(src), "--out", str(out)])
    assert result.exit_code == 1 and "No space left on device" in result.output
    assert [p.name for p in out.parent.iterdir()] == [out.name]
    assert out.read_bytes() == b"previous"


def test_written_parquet_is_complete_and_replaces_the_old_file(tmp_path):
    src = csv_with(tmp_path, "tp", HEADER + ROWS)
    out = tmp_path / "credits.parquet"
    out.write_bytes(b"previous")
    attribute_file(src, out)
    assert pq.read_table(out).num_rows == 3
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
