"""CSV in and out for offline use (`mbuzz attribute`): the format of ATTRIBUTION.md."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from attribution.journeys import REQUIRED, InputError


def read_touchpoints(path: str | Path) -> pd.DataFrame:
    """Read a touchpoints CSV. Text columns stay text; timestamps are parsed by the
    engine. Empty cells stay empty (a conversion row has an empty channel)."""
    head = pd.read_csv(path, nrows=0)
    missing = [c for c in REQUIRED if c not in head.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)}; a touchpoints CSV has "
                         f"{', '.join(REQUIRED)} and optionally milestones")
    text = {c: "string" for c in head.columns if c not in ("revenue", "converted")}
    df = pd.read_csv(path, dtype=text, keep_default_na=False, na_values={"revenue": [""]})
    for col in ("touch_ts", "conversion_ts"):
        df[col] = pd.to_datetime(df[col].replace("", pd.NA), utc=True, format="ISO8601")
    return df


def write_credits(df: pd.DataFrame, path: str | Path) -> None:
    df.to_csv(path, index=False, float_format="%.10g")
