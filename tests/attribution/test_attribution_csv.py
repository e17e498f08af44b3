"""CSV reading and writing: the Arrow path reads what the pandas path reads."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from attribution import attribute
from attribution import io as aio
from attribution.journeys import InputError

HEADER = "journey_id,touch_ts,channel,converted,conversion_ts,revenue,milestones,session_id\n"
STYLES = {
    "offsets": ("2024-03-01T10:00:00Z", "2024-03-01 11:30:00.250+00:00", "2024-03-01T12:00:00+01:00"),
    "naive": ("2024-03-01T10:00:00", "2024-03-01 11:30:00.250", "2024-03-01T12:00:00"),
    "mixed": ("2024-03-01T10:00:00Z", "2024-03-01 11:30:00.250", "2024-03-01T12:00:00+01:00"),
}


def write(tmp_path, style: str, converted=("1", "0")) -> str:
    a, b, conv = STYLES[style]
    path = tmp_path / f"{style}.csv"
    path.write_text(
        HEADER
        + f"j1,{a},email,{converted[0]},{conv},120.5,mql,s1\n"
        + f"j1,{b},direct,{converted[0]},{conv},120.5,,s2\n"
        + f"j2,,,{converted[0]},{conv},,,\n"  # a conversion without touches
        + f'j3,{a},"social, paid",{converted[1]},,,,s3\n'
    )
    return str(path)


def pandas_read(path) -> pd.DataFrame:
    """The reference: pandas' own parser, text as text, timestamps ISO 8601 (naive = UTC)."""
    text = {c: "string" for c in pd.read_csv(path, nrows=0).columns if c not in ("revenue", "converted")}
    df = pd.read_csv(path, dtype=text, keep_default_na=False, na_values={"revenue": [""]})
    for col in ("touch_ts", "conversion_ts"):
        df[col] = pd.to_datetime(df[col].replace("", pd.NA), utc=True, format="ISO8601")
    return df


@pytest.mark.parametrize("style", sorted(STYLES))
@pytest.mark.parametrize("converted", [("1", "0"), ("true", "false")])
def test_arrow_reader_reads_what_pandas_reads(tmp_path, style, converted):
    path = write(tmp_path, style, converted)
    fast, slow = aio.read_touchpoints(path), pandas_read(path)
    assert list(fast.columns) == list(slow.columns)
    for col in ("touch_ts", "conversion_ts"):
        pd.testing.assert_series_equal(fast[col].astype("datetime64[ns, UTC]"), slow[col].astype("datetime64[ns, UTC]"))
    for col in ("journey_id", "channel", "milestones", "session_id"):
        assert fast[col].tolist() == slow[col].tolist()
    np.testing.assert_array_equal(fast["revenue"].to_numpy(float), slow["revenue"].to_numpy(float))
    pd.testing.assert_frame_equal(attribute(fast, "linear"), attribute(slow, "linear"), check_dtype=False)
    assert fast.loc[2, "channel"] == "" and fast.loc[3, "channel"] == "social, paid"


def test_missing_columns_are_reported(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("journey_id,channel\nj1,email\n")
    with pytest.raises(InputError, match="missing column"):
        aio.read_touchpoints(path)


def test_written_credits_read_back_exactly(tmp_path):
    path = write(tmp_path, "offsets")
    credits = attribute(aio.read_touchpoints(path), "time_decay")
    out = tmp_path / "credits.csv"
    aio.write_credits(credits, out)
    back = pd.read_csv(out, keep_default_na=False)
    assert list(back.columns) == list(credits.columns)
    np.testing.assert_array_equal(back["credit"].to_numpy(), credits["credit"].to_numpy())
    assert back["channel"].tolist() == credits["channel"].tolist()
    assert out.read_text().splitlines()[0] == ",".join(credits.columns)
