"""Touch table → Journeys: sorted numpy arrays the models run on.

The input is the long touch table of the offline CSV format (one row per
touch): journey_id, touch_ts, channel, converted, conversion_ts, revenue and
optional milestones (";"-separated). Every other column is carried through to
the output rows of the touch it belongs to.

A converting journey without touches is written as one row whose channel and
touch_ts are empty (a "conversion row"); it is credited 1.0 to `unassigned`.
Such rows are not touches; journey-level values (converted, conversion_ts,
revenue) are read from every row of the journey, so they may sit on any row.

The journey options (lookback, conversion cycles, path transform, max touches)
are applied here, vectorised, in that order, before any model sees the data.

Two entry points build the same Journeys: `prepare` from a pandas frame (the
pipeline, the API) and `prepare_table` from an Arrow table (`mbuzz attribute`,
which then never imports pandas: numpy and Arrow from file to credits). Both
reduce their input to the same numpy arrays and share everything after that.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

REQUIRED = ("journey_id", "touch_ts", "channel", "converted", "conversion_ts", "revenue")
OPTIONAL = ("milestones",)
TRANSFORMS = ("unique", "exposure", "first", "remove_if_last_and_not_all", "remove_if_not_all")
UNASSIGNED = "unassigned"
NS_PER_DAY = 86_400 * 10**9
NAT = np.iinfo(np.int64).min
# the default lookback window in days; the warehouse's is dbt_project.yml's mbuzz__lookback_days,
# which tests/foundation/test_facts.py keeps equal to this
DEFAULT_LOOKBACK_DAYS = 30
# impressions (touch_kind 'impression', docs/impressions.md) have their own, shorter window; the
# warehouse's is mbuzz__impression_lookback_days, kept equal to this by the same test
DEFAULT_IMPRESSION_LOOKBACK_DAYS = 1
KIND_COLUMN = "touch_kind"  # optional: 'visit' (default: a session, clicked or direct) | 'impression'
VISIT, IMPRESSION = "visit", "impression"
TOUCH_KINDS = (VISIT, IMPRESSION)
# how impressions enter journeys: view_through (default) keeps them only in journeys without a
# visit, like Google Ads' view-through conversions; include keeps them all; exclude drops them
IMPRESSION_POLICIES = ("view_through", "include", "exclude")


class InputError(ValueError):
    """The touch table is not in the expected format."""


@dataclass(frozen=True)
class JourneyOptions:
    """How journeys are cut from the touch table (docs/attribution.md, "Journey options").

    lookback_days      touches older than conversion − lookback are dropped (None: keep all);
                       a model's own `lookback N days` overrides it
    max_touches        keep only the last N touches (None: all)
    transform          unique | exposure | first | remove_if_last_and_not_all(direct)
                       | remove_if_not_all(direct)
    conversion_cycles  a journey starts after the visitor's previous conversion (of the
                       same conversion_type); needs a `visitor_column` in the input
    impression_lookback_days   the lookback of impressions (touch_kind 'impression'; None: keep all)
    impressions        view_through | include | exclude (IMPRESSION_POLICIES); a model that
                       names impressions (`credit impressions …`, `weight kind("impression") …`)
                       includes them
    """

    lookback_days: float | None = DEFAULT_LOOKBACK_DAYS
    max_touches: int | None = None
    transform: str = "unique"
    conversion_cycles: bool = True
    visitor_column: str = "visitor_id"
    conversion_type_column: str = "conversion_type"
    impression_lookback_days: float | None = DEFAULT_IMPRESSION_LOOKBACK_DAYS
    impressions: str = "view_through"

    def __post_init__(self) -> None:
        parse_transform(self.transform)
        for name, value in (
            ("lookback_days", self.lookback_days),
            ("impression_lookback_days", self.impression_lookback_days),
        ):
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be positive, got {value}")
        if self.impressions not in IMPRESSION_POLICIES:
            raise ValueError(f"impressions must be one of {', '.join(IMPRESSION_POLICIES)}, got {self.impressions!r}")
        if self.max_touches is not None and self.max_touches < 1:
            raise ValueError(f"max_touches must be at least 1, got {self.max_touches}")

    def with_model(self, compiled: dict) -> "JourneyOptions":
        """These options with the model's own lookback, if it has one."""
        out = self
        days = compiled.get("lookback_days")
        if days is not None:
            out = replace(out, lookback_days=days)
        if compiled.get("impressions") is not None:
            out = replace(out, impressions=compiled["impressions"])
        return out


_TRANSFORM_RE = re.compile(r'^\s*(\w+)\s*(?:\(\s*"?([^"()]*?)"?\s*\))?\s*$')


def parse_transform(text: str) -> tuple[str, str | None]:
    """'remove_if_not_all(direct)' → ('remove_if_not_all', 'direct')."""
    m = _TRANSFORM_RE.match(text or "")
    if not m or m.group(1) not in TRANSFORMS:
        raise ValueError(f"unknown path transform {text!r}: use one of {', '.join(TRANSFORMS)}")
    kind, arg = m.group(1), m.group(2)
    if kind.startswith("remove_if"):
        return kind, arg or "direct"
    if arg:
        raise ValueError(f"path transform {kind} takes no argument")
    return kind, None


def _to_ns(col: pd.Series) -> np.ndarray:
    """Timestamps (strings or datetimes, naive = UTC) → int64 ns; NaT → NAT."""
    import pandas as pd

    if isinstance(col.dtype, pd.DatetimeTZDtype | np.dtype) and col.dtype.kind == "M":
        values = col.array
        if values.unit == "ns":
            return values.asi8  # epoch ns (UTC when zoned), NaT = NAT: no copy
        # s/ms/us → ns; a time outside what ns can hold (before 1677, after 2262) is NaT, as for text
        per = {"s": 10**9, "ms": 10**6, "us": 10**3}[values.unit]
        raw = values.asi8
        fits = (raw != NAT) & (np.abs(raw) <= np.iinfo(np.int64).max // per)
        return np.where(fits, raw * np.where(fits, per, 0), NAT)
    if not (pd.api.types.is_datetime64_any_dtype(col.dtype)):
        col = (
            pd.to_datetime(col, utc=True, errors="coerce", format="mixed")
            if col.dtype == object or pd.api.types.is_string_dtype(col.dtype)
            else pd.to_datetime(col, utc=True, errors="coerce")
        )
    if isinstance(col.dtype, pd.DatetimeTZDtype):
        col = col.dt.tz_convert("UTC").dt.tz_localize(None)
    return col.to_numpy(dtype="datetime64[ns]").view(np.int64)


def _to_bool(col: pd.Series) -> np.ndarray:
    import pandas as pd

    if pd.api.types.is_bool_dtype(col.dtype):
        return col.fillna(False).to_numpy(dtype=bool)
    if pd.api.types.is_numeric_dtype(col.dtype):
        return col.fillna(0).to_numpy(dtype=float) != 0
    text = col.astype("string").str.strip().str.lower()
    return text.isin(["1", "true", "t", "yes", "y", "1.0"]).fillna(False).to_numpy(dtype=bool)


def _factorize_runs(col: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """pd.factorize(col), hashing each run of equal adjacent values once: touch
    tables usually list a journey's rows together, so 3M rows of 1M journeys
    hash 1M values, and none when the runs' values are strictly increasing (as
    integers, or as text), since they are then all distinct. Exact whatever the
    order: equal runs share a code, and codes follow first appearance as in
    pd.factorize."""
    import pandas as pd

    n = len(col)
    same = values = None
    if n > 1 and isinstance(col.dtype, pd.StringDtype | pd.ArrowDtype):
        try:
            import pyarrow as pa
            import pyarrow.compute as pc

            values = pa.chunked_array(col.array.__arrow_array__()).combine_chunks()
            same = pc.fill_null(pc.equal(values.slice(1), values.slice(0, n - 1)), False)
            same = same.to_numpy(zero_copy_only=False)
        except Exception:  # noqa: BLE001 - any surprise: plain factorize below
            same = values = None
    elif n > 1 and (pd.api.types.is_integer_dtype(col.dtype) and not pd.api.types.is_extension_array_dtype(col.dtype)):
        v = col.to_numpy()
        same = v[1:] == v[:-1]
    if same is None:
        return pd.factorize(col, sort=False)
    starts = np.flatnonzero(np.r_[True, ~same])
    run_values = col.take(starts)
    if _strictly_increasing(run_values, None if values is None else values.take(starts)):
        codes, uniques = np.arange(len(starts)), pd.Index(run_values, copy=False)
    else:
        codes, uniques = pd.factorize(run_values, sort=False)
    return np.repeat(codes, np.diff(np.r_[starts, n])), uniques


def _strictly_increasing(values: pd.Series, arrow_values=None) -> bool:
    """Whether the values are strictly increasing, hence distinct: numbers as they are,
    text as integers when every value is one (`9` < `10`), else as text. No nulls."""
    if len(values if arrow_values is None else arrow_values) < 2:
        return True
    if arrow_values is None:
        v = values.to_numpy()
        return bool(np.all(v[1:] > v[:-1]))
    import pyarrow as pa
    import pyarrow.compute as pc

    if arrow_values.null_count:
        return False
    from attribution.arrowutil import to_numpy

    if pa.types.is_string(arrow_values.type) or pa.types.is_large_string(arrow_values.type):
        try:
            v = to_numpy(pc.cast(arrow_values, pa.int64()))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            v = None
        if v is not None:
            return bool(np.all(v[1:] > v[:-1]))
    try:
        return bool(pc.all(pc.less(arrow_values.slice(0, len(arrow_values) - 1), arrow_values.slice(1))).as_py())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False


def _channel_codes(col: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Channel codes (int32, −1 for no channel) and names: factorised first, then the
    few distinct names are trimmed (names that trim alike share a code, empty → −1),
    so the millions of rows are hashed once and never copied as Python strings."""
    import pandas as pd

    if isinstance(col.dtype, pd.CategoricalDtype):
        raw_code, raw_names = col.cat.codes.to_numpy(), col.cat.categories
    else:
        raw_code, raw_names = pd.factorize(col)
    return _trim_channels(raw_code, list(raw_names))


def _trim_channels(raw_code: np.ndarray, raw_names: list) -> tuple[np.ndarray, np.ndarray]:
    """Codes into the trimmed distinct names (in order of first appearance among
    `raw_names`; empty → −1), given codes into `raw_names` (−1: no channel)."""
    remap, channels, lookup = [], [], {}
    for value in raw_names:
        name = str(value).strip()
        if not name:
            remap.append(-1)
            continue
        if name not in lookup:
            lookup[name] = len(channels)
            channels.append(name)
        remap.append(lookup[name])
    remap = np.array([*remap, -1], dtype=np.int32)  # index −1 (no channel) → −1
    return remap[raw_code], np.asarray(channels, dtype=object)


def _milestone_codes(col: pd.Series, touches_of) -> tuple[np.ndarray, tuple[frozenset, ...]]:
    """Each touch's code into the distinct milestone sets (";"-separated names)."""
    import pandas as pd

    if isinstance(col.dtype, pd.CategoricalDtype):  # the codes are the factorisation
        return _milestone_sets(col.cat.codes.to_numpy(), list(col.cat.categories), touches_of)
    code, values = pd.factorize(col, use_na_sentinel=False)  # few distinct values
    return touches_of(code).astype(np.int64, copy=False), _sets(values)


def _milestone_sets(raw_code: np.ndarray, names: list, touches_of) -> tuple[np.ndarray, tuple[frozenset, ...]]:
    """Codes into `names` (−1: none) → each touch's code into the milestone sets."""
    values = [*names, None]
    code = touches_of(raw_code).astype(np.int64)
    code[code < 0] = len(values) - 1
    return code, _sets(values)


def _sets(values) -> tuple[frozenset, ...]:
    return tuple(
        frozenset(p.strip() for p in str(v).split(";") if p.strip()) if isinstance(v, str) else frozenset()
        for v in values
    )


def _starts(jid: np.ndarray, n_journeys: int) -> np.ndarray:
    """Offsets (J+1) of each journey's touches in arrays sorted by jid."""
    out = np.zeros(n_journeys + 1, dtype=np.int64)
    np.cumsum(np.bincount(jid, minlength=n_journeys), out=out[1:])
    return out


@dataclass
class Journeys:
    """All journeys, touches sorted by (journey, time). Journey arrays have J rows;
    touch arrays have one row per touch kept by the journey options."""

    converted: np.ndarray  # (J,) bool
    revenue: np.ndarray  # (J,) float, 0 where missing
    end_ns: np.ndarray  # (J,) conversion time, or last touch for non-converting paths
    last_row: np.ndarray  # (J,) input row whose carried columns an `unassigned` row gets
    jid: np.ndarray  # (n,) journey index, sorted
    channel: np.ndarray  # (n,) channel code
    channels: np.ndarray  # (C,) channel names (object)
    age_days: np.ndarray  # (n,) (end − touch_ts) in fractional days
    touch_index: np.ndarray  # (n,) 0-based position among the journey's input touches
    row: np.ndarray  # (n,) input row of the touch
    milestone_code: np.ndarray  # (n,) code into milestone_values
    milestone_values: tuple[frozenset, ...]
    source: pd.DataFrame = field(repr=False)
    extra_columns: tuple[str, ...] = ()
    # (J,) index of each journey in the journeys `prepare` built (None: these are they);
    # set on compacted views such as `converting`
    origin: np.ndarray | None = field(default=None, repr=False)
    # (J,) the journey ids with their input dtype (what the output's journey_id column gets)
    id_index: pd.Index = field(default=None, repr=False)
    # (n,) True where the touch is an impression (touch_kind 'impression'); None: no impressions
    impression: np.ndarray | None = field(default=None, repr=False)

    @property
    def n_journeys(self) -> int:
        return len(self.converted)

    @cached_property
    def journey_ids(self) -> np.ndarray:
        """(J,) the original journey_id values, as Python objects."""
        return np.asarray(self.id_index, dtype=object)

    @cached_property
    def starts(self) -> np.ndarray:
        return _starts(self.jid, self.n_journeys)

    @cached_property
    def lengths(self) -> np.ndarray:
        return np.diff(self.starts)

    @cached_property
    def pos(self) -> np.ndarray:
        """Position of each touch within its (kept) journey."""
        return np.arange(len(self.jid), dtype=np.int64) - self.starts[self.jid]

    @cached_property
    def count(self) -> np.ndarray:
        """Number of touches of each touch's journey."""
        return self.lengths[self.jid]

    @cached_property
    def nonempty(self) -> np.ndarray:
        """Journeys with at least one touch (indices)."""
        return np.flatnonzero(self.lengths > 0)

    @cached_property
    def root_jid(self) -> np.ndarray:
        """Each touch's journey as an index into the journeys `prepare` built
        (what arrays of a data-driven fit on the full journeys are indexed by)."""
        return self.jid if self.origin is None else self.origin[self.jid]

    @cached_property
    def _channel_lookup(self) -> dict:
        return {name: i for i, name in enumerate(self.channels)}

    def channel_codes(self, names) -> np.ndarray:
        lookup = self._channel_lookup
        return np.array([lookup[n] for n in names if n in lookup], dtype=self.channel.dtype)

    def channel_mask(self, names) -> np.ndarray:
        """Touches whose channel is one of `names` (a table lookup, not np.isin)."""
        table = np.zeros(len(self.channels) + 1, dtype=bool)
        table[self.channel_codes(names)] = True
        return table[self.channel]

    @cached_property
    def impression_mask(self) -> np.ndarray:
        """(n,) True on impression touches."""
        return np.zeros(len(self.jid), dtype=bool) if self.impression is None else self.impression

    @cached_property
    def positional(self) -> np.ndarray | None:
        """(n,) the touches that may hold a position (first, last, middle, milestone):
        visits, and impressions only in journeys without a visit (None: every touch)."""
        if self.impression is None or not self.impression.any():
            return None
        visits = np.bincount(self.jid, weights=~self.impression, minlength=self.n_journeys) > 0
        return ~self.impression | ~visits[self.jid]

    def milestone_mask(self, name: str) -> np.ndarray:
        has = np.array([name in v for v in self.milestone_values], dtype=bool)
        if not has.any():
            return np.zeros(len(self.jid), dtype=bool)
        return has[self.milestone_code]

    def subset(self, keep: np.ndarray) -> "Journeys":
        """Only the touches where `keep` (journey arrays unchanged)."""
        return replace(
            self,
            jid=self.jid[keep],
            channel=self.channel[keep],
            age_days=self.age_days[keep],
            touch_index=self.touch_index[keep],
            row=self.row[keep],
            milestone_code=self.milestone_code[keep],
            impression=None if self.impression is None else self.impression[keep],
        )

    def select_journeys(self, keep_journeys: np.ndarray) -> "Journeys":
        """Only the journeys `keep_journeys` (sorted indices) and their touches, with
        the journey arrays compacted; `origin` maps back to the prepared journeys."""
        remap = np.full(self.n_journeys, -1, dtype=np.int64)
        remap[keep_journeys] = np.arange(len(keep_journeys), dtype=np.int64)
        t = remap[self.jid] >= 0
        origin = keep_journeys if self.origin is None else self.origin[keep_journeys]
        ids = self.id_index
        if hasattr(ids, "to_pylist"):  # an Arrow array (prepare_table): Arrow indices, no pandas
            from attribution.arrowutil import from_numpy

            ids = ids.take(from_numpy(np.asarray(keep_journeys, dtype=np.int64)))
        else:
            ids = ids.take(keep_journeys)
        return Journeys(
            converted=self.converted[keep_journeys],
            revenue=self.revenue[keep_journeys],
            end_ns=self.end_ns[keep_journeys],
            last_row=self.last_row[keep_journeys],
            jid=remap[self.jid[t]],
            channel=self.channel[t],
            channels=self.channels,
            age_days=self.age_days[t],
            touch_index=self.touch_index[t],
            row=self.row[t],
            milestone_code=self.milestone_code[t],
            milestone_values=self.milestone_values,
            source=self.source,
            extra_columns=self.extra_columns,
            origin=origin,
            id_index=ids,
            impression=None if self.impression is None else self.impression[t],
        )

    @cached_property
    def converting(self) -> "Journeys":
        """The converting journeys only (journey arrays compacted, see `origin`)."""
        if self.converted.all():
            return self
        return self.select_journeys(np.flatnonzero(self.converted))

    @cached_property
    def _output_rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per output row (touches, then one `unassigned` row per converting journey left
        without touches): journey, touch_index, channel code (len(channels): unassigned)
        and the input row its carried columns come from."""
        empty = self.empty_conversions
        if not len(empty):
            return self.jid, self.touch_index, self.channel, self.row
        return (
            np.concatenate([self.jid, empty]),
            np.concatenate([self.touch_index, np.zeros(len(empty), dtype=np.int64)]),
            np.concatenate([self.channel, np.full(len(empty), len(self.channels), self.channel.dtype)]),
            np.concatenate([self.row, self.last_row[empty]]),
        )

    @cached_property
    def output_base(self) -> pd.DataFrame:
        """The output frame without its credit columns, built once and shared by
        every model run on these journeys: journey_id, touch_index, channel and the
        carried columns, one row per touch (in journey, time order) and then one
        `unassigned` row per converting journey left without touches. Columns are
        gathered with array takes (pyarrow take for strings); pandas' copy-on-write
        keeps the frames handed out independent of each other."""
        import pandas as pd

        jid, touch_index, ch, rows = self._output_rows
        names = pd.array(np.append(self.channels.astype(object), UNASSIGNED), dtype="str")
        columns = {"journey_id": self.id_index.take(jid).array, "touch_index": touch_index, "channel": names.take(ch)}
        for name in self.extra_columns:
            columns[name] = self.source[name].array.take(rows)
        return pd.DataFrame(columns, copy=False)

    def output_table(self, credits: dict[str, np.ndarray]) -> pa.Table:
        """output_base as an Arrow table (for Journeys from `prepare_table`), with the
        `credits` columns after channel: journey_id and the carried columns are Arrow
        takes of the input's arrays (a carried value is written as it was read)."""
        import pyarrow as pa

        from attribution.arrowutil import from_numpy, strings

        jid, touch_index, ch, rows = self._output_rows
        names = strings([*(str(c) for c in self.channels), UNASSIGNED])  # large_string, as pandas writes it
        columns = {
            "journey_id": self.id_index.take(from_numpy(jid)),
            "touch_index": from_numpy(touch_index.astype(np.int64, copy=False)),
            "channel": names.take(from_numpy(ch)),
            **{name: from_numpy(np.asarray(values, dtype=float)) for name, values in credits.items()},
        }
        if self.extra_columns:
            take = from_numpy(rows)
            for name in self.extra_columns:
                columns[name] = self.source.column(name).take(take)
        return pa.table(columns)

    @cached_property
    def output_revenue(self) -> np.ndarray:
        """Revenue of each output row's journey (touches, then `unassigned` rows)."""
        return self.revenue[np.concatenate([self.jid, self.empty_conversions])]

    @cached_property
    def output_jid(self) -> np.ndarray:
        """Journey of each output row (touches, then `unassigned` rows)."""
        return np.concatenate([self.jid, self.empty_conversions])

    @cached_property
    def empty_conversions(self) -> np.ndarray:
        """Converting journeys left without any touch (credited to `unassigned`)."""
        return np.flatnonzero(self.converted & (self.lengths == 0))


def prepare(touches: pd.DataFrame, options: JourneyOptions | None = None) -> Journeys:
    """Validate, sort and cut the touch table (a pandas frame) into Journeys (vectorised)."""
    import pandas as pd

    missing = [c for c in REQUIRED if c not in touches.columns]
    if missing:
        raise InputError(
            f"the touch table lacks column(s) {', '.join(missing)}; expected "
            f"{', '.join(REQUIRED)} and optionally milestones"
        )
    src = touches.reset_index(drop=True)
    jcode, journey_ids = _factorize_runs(src["journey_id"])
    ch_code, channels = _channel_codes(src["channel"])
    milestones = None
    if "milestones" in src.columns:
        milestones = lambda touches_of: _milestone_codes(src["milestones"], touches_of)  # noqa: E731
    return _build(
        src,
        list(src.columns),
        options,
        jcode=jcode,
        id_index=journey_ids if isinstance(journey_ids, pd.Index) else pd.Index(journey_ids),
        ts=_to_ns(src["touch_ts"]),
        conv_ts=_to_ns(src["conversion_ts"]),
        converted_row=_to_bool(src["converted"]),
        revenue_row=pd.to_numeric(src["revenue"], errors="coerce").to_numpy(dtype=float),
        ch_code=ch_code,
        channels=channels,
        session_codes=lambda: pd.factorize(src["session_id"], sort=True)[0],
        milestones=milestones,
        kinds=(
            (
                lambda: (
                    src[KIND_COLUMN]
                    .astype("string")
                    .str.strip()
                    .str.lower()
                    .fillna(VISIT)
                    .replace("", VISIT)
                    .to_numpy(dtype=object)
                )
            )
            if KIND_COLUMN in src.columns
            else None
        ),
    )


def prepare_table(table: pa.Table, options: JourneyOptions | None = None, converting_only: bool = False) -> Journeys:
    """`prepare` for an Arrow table as attribution.io.read_touch_table returns it
    (timestamps as timestamp[ns, UTC], revenue float64, converted boolean or numeric,
    channel and milestones dictionaries; journey_id and carried columns as read):
    the same Journeys without pandas. `source` is then the table, `id_index` an Arrow
    array; Journeys.output_table gives the output rows as an Arrow table.

    `converting_only`: the rows of journeys that do not convert are dropped first (a rule
    model credits converting journeys only, and they are a fraction of the rows), so the
    result is `prepare_table(table, options).converting` with less work: the same journeys,
    touches and input rows (`row`, `last_row` still number the table's rows)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from attribution.arrowutil import from_numpy, take_numpy, to_numpy

    missing = [c for c in REQUIRED if c not in table.column_names]
    if missing:
        raise InputError(
            f"the touch table lacks column(s) {', '.join(missing)}; expected "
            f"{', '.join(REQUIRED)} and optionally milestones"
        )
    n_rows = table.num_rows
    starts, run_codes, id_index = _journey_runs(table.column("journey_id").combine_chunks())
    lengths = np.diff(np.r_[starts, n_rows])

    conv = table.column("converted")
    if pa.types.is_null(conv.type):
        converted_row = np.zeros(table.num_rows, dtype=bool)
    elif pa.types.is_boolean(conv.type):
        converted_row = to_numpy(conv, fill=False)
    elif pa.types.is_integer(conv.type):
        converted_row = to_numpy(conv) != 0  # nulls: 0
    else:
        converted_row = to_numpy(conv.cast(pa.float64())) != 0

    rows = None  # the table rows kept (None: all)
    if converting_only and n_rows:
        run_converts = np.logical_or.reduceat(converted_row, starts)
        converting = np.bincount(run_codes, weights=run_converts, minlength=len(id_index)) > 0
        if not converting.all():
            run_kept = converting[run_codes]
            rows = np.flatnonzero(np.repeat(run_kept, lengths))
            run_codes = (np.cumsum(converting) - 1)[run_codes[run_kept]]  # first-appearance order kept
            lengths = lengths[run_kept]
            id_index = id_index.take(from_numpy(np.flatnonzero(converting)))
            converted_row = converted_row[rows]
    jcode = np.repeat(run_codes, lengths)

    def values(col, fill) -> np.ndarray:  # the kept rows' values (a dictionary's: its indices)
        if rows is not None:
            return take_numpy(col, rows, fill)
        if pa.types.is_dictionary(col.type):
            parts = [to_numpy(c.indices, fill=fill) for c in col.chunks]
            return np.concatenate(parts) if parts else np.zeros(0, np.int32)
        return to_numpy(col, fill=fill)

    def ns(name: str) -> np.ndarray:
        col = table.column(name)
        if not pa.types.is_timestamp(col.type) or col.type.unit != "ns":
            raise InputError(f"column {name} is {col.type}, not timestamp[ns]")
        return values(col, NAT)

    def kept(array: np.ndarray) -> np.ndarray:
        return array if rows is None else array[rows]

    def dictionary(name: str) -> tuple[np.ndarray, list]:
        col = table.column(name)
        if not pa.types.is_dictionary(col.type):
            col = col.dictionary_encode()
        col = col.unify_dictionaries()
        names = col.chunks[0].dictionary.to_pylist() if col.num_chunks else []
        return values(col, -1).astype(np.int64), names

    ch_code, channels = _trim_channels(*dictionary("channel"))
    milestones = None
    if "milestones" in table.column_names:
        milestones = lambda touches_of: _milestone_sets(*dictionary("milestones"), touches_of)  # noqa: E731

    def session_codes() -> np.ndarray:  # sorted factorisation (nulls first, like pandas' −1)
        col = table.column("session_id")
        rank = to_numpy(pc.rank(col, sort_keys="ascending", tiebreaker="dense")).astype(np.int64)
        return kept(np.where(to_numpy(pc.is_valid(col)), rank, 0))

    return _build(
        table,
        table.column_names,
        options,
        jcode=jcode,
        id_index=id_index,
        ts=ns("touch_ts"),
        conv_ts=ns("conversion_ts"),
        converted_row=converted_row,
        revenue_row=values(_float64(table.column("revenue")), np.nan),
        ch_code=ch_code,
        channels=channels,
        session_codes=session_codes,
        milestones=milestones,
        kinds=(
            (
                lambda: kept(
                    np.array(
                        [
                            (str(v).strip().lower() if v is not None else "") or VISIT
                            for v in table.column(KIND_COLUMN).to_pylist()
                        ],
                        dtype=object,
                    )
                )
            )
            if KIND_COLUMN in table.column_names
            else None
        ),
        source_rows=rows,
    )


def _float64(col):
    import pyarrow as pa

    return col if col.type == pa.float64() else col.cast(pa.float64())


def _journey_runs(values: pa.Array) -> tuple[np.ndarray, np.ndarray, pa.Array]:
    """The runs of equal values of an Arrow array: each run's first row, its code (first
    appearance order) and the distinct values as an Arrow array of the input type."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from attribution.arrowutil import from_numpy, to_numpy

    n = len(values)
    if values.null_count:
        raise InputError("journey_id is empty on some rows")
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), values
    if pa.types.is_integer(values.type):  # compared as a numpy view of the values
        ids = to_numpy(values)
        starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    else:
        same = to_numpy(pc.equal(values.slice(1), values.slice(0, n - 1)), fill=False)
        starts = np.flatnonzero(np.r_[True, ~same])
    run_values = values.take(from_numpy(starts))
    if _strictly_increasing(None, run_values):
        codes, uniques = np.arange(len(starts)), run_values
    else:  # Arrow's hash table; codes in order of first appearance, as pd.factorize
        encoded = run_values.dictionary_encode()
        codes, uniques = to_numpy(encoded.indices), encoded.dictionary
    return starts, codes, uniques


def _build(
    src,
    columns: list[str],
    options: JourneyOptions | None,
    *,
    jcode: np.ndarray,
    id_index,
    ts: np.ndarray,
    conv_ts: np.ndarray,
    converted_row: np.ndarray,
    revenue_row: np.ndarray,
    ch_code: np.ndarray,
    channels: np.ndarray,
    session_codes,
    milestones,
    kinds=None,
    source_rows: np.ndarray | None = None,
) -> Journeys:
    """The Journeys from the touch table's columns as numpy arrays (what both entry points
    share); `source_rows`: the table row of each array row, when they are a subset."""
    options = options or JourneyOptions()
    n_rows = len(jcode)
    if (jcode < 0).any():
        raise InputError("journey_id is empty on some rows")
    n_j = len(id_index)
    is_touch = (ch_code >= 0) & (ts != NAT)

    # sort by journey, then time; ties keep input order (session id if given). `order` is
    # None when the rows already are in that order (the usual case): no gathers then
    dj, dts = np.diff(jcode), np.diff(ts)
    in_time = n_rows == 0 or bool(np.all(dj >= 0) and np.all((dj > 0) | (dts >= 0)))
    order = None if in_time else np.lexsort((ts, jcode))
    if "session_id" in columns and n_rows > 1:
        if order is not None:
            dj, dts = np.diff(jcode[order]), np.diff(ts[order])
        if ((dj == 0) & (dts == 0) & (is_touch[1:] if order is None else is_touch[order][1:])).any():
            order = np.lexsort((session_codes(), ts, jcode))
    del dj, dts

    def in_order(a: np.ndarray) -> np.ndarray:
        return a if order is None else a[order]

    # journey-level values from every row of the journey
    all_starts = _starts(jcode, n_j)  # the journeys' row counts do not depend on order
    row_starts = all_starts[:-1]
    if n_rows:
        converted = np.bincount(jcode, weights=converted_row, minlength=n_j) > 0
        conv_end = np.maximum.reduceat(in_order(conv_ts), row_starts)
        revenue = np.fmax.reduceat(in_order(revenue_row), row_starts)  # NaN only if all are
        revenue = np.where(np.isfinite(revenue), revenue, 0.0)
        row_ends = np.r_[row_starts[1:], n_rows] - 1
        last_row = row_ends if order is None else order[row_ends]
        if source_rows is not None:
            last_row = source_rows[last_row]
    else:
        converted, conv_end, revenue = np.zeros(0, bool), np.zeros(0, np.int64), np.zeros(0)
        last_row = np.zeros(0, np.int64)

    # touch rows, sorted; `every` when they are all the rows, in order (no gathers either)
    every = order is None and bool(is_touch.all())
    t = np.arange(n_rows) if every else np.flatnonzero(is_touch) if order is None else order[is_touch[order]]

    def touches_of(a: np.ndarray) -> np.ndarray:
        return a if every else a[t]

    jid = touches_of(jcode).astype(np.int64, copy=False)
    t_ts = touches_of(ts)
    starts = all_starts if every else _starts(jid, n_j)
    touch_index = np.arange(len(t), dtype=np.int64) - starts[jid]
    last_touch = np.full(n_j, NAT, dtype=np.int64)
    nonempty = np.diff(starts) > 0
    last_touch[nonempty] = t_ts[starts[1:][nonempty] - 1]
    end_ns = np.where(converted & (conv_end != NAT), conv_end, last_touch)

    if milestones is not None:
        m_code, milestone_values = milestones(touches_of)
    else:
        m_code, milestone_values = np.zeros(len(t), dtype=np.int64), (frozenset(),)

    impression = None
    if kinds is not None:  # the touch_kind column, row order, trimmed and lower-cased ('' / null: visit)
        kind = kinds()
        bad = ~np.isin(kind, TOUCH_KINDS) & is_touch
        if bad.any():
            raise InputError(f"{KIND_COLUMN} must be one of {', '.join(TOUCH_KINDS)}, got {kind[bad][0]!r}")
        impression = touches_of(kind == IMPRESSION)
        if not impression.any():
            impression = None

    extra = tuple(c for c in columns if c not in REQUIRED + OPTIONAL)
    jr = Journeys(
        converted=converted.astype(bool, copy=False),
        revenue=revenue,
        end_ns=end_ns,
        last_row=last_row,
        jid=jid,
        channel=touches_of(ch_code),
        channels=channels,
        age_days=(end_ns[jid] - t_ts) / NS_PER_DAY,
        touch_index=touch_index,
        row=t if source_rows is None else source_rows[t],
        milestone_code=m_code,
        milestone_values=milestone_values,
        source=src,
        extra_columns=extra,
        id_index=id_index,
        impression=impression,
    )
    return _apply_options(jr, t_ts, options)


def _column_names(src) -> list[str]:
    return src.column_names if hasattr(src, "column_names") else list(src.columns)  # Arrow table or frame


def _apply_options(jr: Journeys, t_ts: np.ndarray, options: JourneyOptions) -> Journeys:
    keep = jr.age_days >= 0  # nothing after the conversion
    imp = jr.impression_mask
    if options.lookback_days is not None:
        keep &= imp | (jr.age_days <= options.lookback_days)
    if jr.impression is not None:
        if options.impressions == "exclude":
            keep &= ~imp
        elif options.impression_lookback_days is not None:
            keep &= ~imp | (jr.age_days <= options.impression_lookback_days)
    if options.conversion_cycles and options.visitor_column in _column_names(jr.source):
        prev = _previous_conversion(jr, options)
        keep &= t_ts > prev[jr.jid]
    if options.impressions == "view_through" and jr.impression is not None:
        # an impression counts only where the journey has no (kept) visit
        visits = np.bincount(jr.jid, weights=keep & ~imp, minlength=jr.n_journeys) > 0
        keep &= ~imp | ~visits[jr.jid]
    if not keep.all():
        jr = jr.subset(keep)

    kind, target = parse_transform(options.transform)
    if kind != "unique":
        jr = jr.subset(_transform_keep(jr, kind, target))
    if options.max_touches is not None:
        jr = jr.subset(jr.count - jr.pos <= options.max_touches)
    return jr


def _previous_conversion(jr: Journeys, options: JourneyOptions) -> np.ndarray:
    """Per journey, the end of the same visitor's previous conversion (NAT if none)."""
    import pandas as pd

    src = jr.source
    keys = [options.visitor_column]
    if options.conversion_type_column in _column_names(src):
        keys.append(options.conversion_type_column)
    if isinstance(src, pd.DataFrame):
        frame = src.loc[jr.last_row, keys].reset_index(drop=True)
    else:  # an Arrow table (prepare_table)
        frame = src.select(keys).take(jr.last_row).to_pandas()
    frame["end"] = jr.end_ns
    frame["j"] = np.arange(jr.n_journeys)
    frame = frame.dropna(subset=keys)
    left = frame.sort_values("end")
    right = left.loc[jr.converted[left["j"].to_numpy()], keys + ["end"]]
    right = right.rename(columns={"end": "prev"})
    right["end"] = right["prev"]
    merged = pd.merge_asof(left, right, on="end", by=keys, allow_exact_matches=False)
    out = np.full(jr.n_journeys, NAT, dtype=np.int64)
    prev = merged["prev"].to_numpy(dtype=float)
    ok = ~np.isnan(prev)
    out[merged["j"].to_numpy()[ok]] = prev[ok].astype(np.int64)
    return out


def _transform_keep(jr: Journeys, kind: str, target: str | None) -> np.ndarray:
    ch, jid, n = jr.channel, jr.jid, len(jr.jid)
    if kind == "exposure":  # collapse consecutive repeats of a channel
        keep = np.ones(n, dtype=bool)
        keep[1:] = (ch[1:] != ch[:-1]) | (jid[1:] != jid[:-1])
        return keep
    if kind == "first":  # first occurrence of each channel in the journey
        key = jid * max(len(jr.channels), 1) + ch
        keep = np.zeros(n, dtype=bool)
        keep[np.unique(key, return_index=True)[1]] = True  # each key's first occurrence
        return keep
    code = jr.channel_codes([target])
    is_target = np.isin(ch, code)
    other = np.bincount(jid, weights=~is_target, minlength=jr.n_journeys)
    has_other = (other > 0)[jid]
    if kind == "remove_if_not_all":
        return ~(is_target & has_other)
    # remove_if_last_and_not_all: drop the trailing run of the target channel
    non_target = (~is_target).astype(np.int64)
    seen = np.cumsum(non_target)  # non-target touches up to and including this one
    after = other[jid] - (seen - (seen[jr.starts[jid]] - non_target[jr.starts[jid]]))
    return ~(is_target & (after == 0) & has_other)


# journeys the warehouse already cut (marts.fct_conversion_journeys, or mbuzz/sessions.py's port of
# it): conversion cycles and the lookback (dbt var mbuzz__lookback_days) were applied there, so the
# engine cuts nothing more; a model's own `lookback N days` still applies
WAREHOUSE_JOURNEYS = JourneyOptions(conversion_cycles=False, lookback_days=None, impression_lookback_days=None)
