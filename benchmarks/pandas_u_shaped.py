"""The reference for `mbuzz attribute --model u_shaped` end to end: a plain pandas script.

    python benchmarks/pandas_u_shaped.py touchpoints.csv|.parquet credits.csv|.parquet

Same model (40 % first, 40 % last, 20 % shared by the middle; 1 touch: 1.0, 2: 0.5 each),
same rows and values as `mbuzz attribute` on journeys within the 30-day lookback, each
journey's rows listed together (what benchmarks/attribution.py --end-to-end feeds it).
"""

import sys

import numpy as np
import pandas as pd

src, out = sys.argv[1], sys.argv[2]
df = pd.read_parquet(src) if src.endswith(".parquet") else pd.read_csv(src, parse_dates=["touch_ts", "conversion_ts"])
t = df[(df["converted"] == 1) & df["channel"].notna()].sort_values(["journey_id", "touch_ts"], kind="stable")
g = t.groupby("journey_id", sort=False)
pos, n = g.cumcount(), g["channel"].transform("size")
mid = np.where((pos == 0) | (pos == n - 1), 0.4, 0.2 / np.maximum(n - 2, 1))
credit = np.where(n == 1, 1.0, np.where(n == 2, 0.5, mid))
res = t.assign(touch_index=pos, credit=credit, revenue_credit=credit * t["revenue"].fillna(0.0))
res = res[["journey_id", "touch_index", "channel", "credit", "revenue_credit", "session_id"]]
res.to_parquet(out, index=False) if out.endswith(".parquet") else res.to_csv(out, index=False)
