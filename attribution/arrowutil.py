"""numpy ↔ Arrow without pandas, for the Arrow path of `mbuzz attribute`.

pyarrow imports pandas (≈0.4 s, a third of a Parquet run) the first time any of
`pa.array`, `pa.scalar`, `Array.to_numpy` or `fill_null` with a Python value runs,
to check whether its argument is a pandas object. These helpers go through the
arrays' buffers instead: zero-copy views for fixed-width values, bit unpacking
for booleans and validity.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

_NUMPY = {  # fixed-width Arrow types → the numpy dtype of their value buffer
    pa.int8(): np.int8,
    pa.int16(): np.int16,
    pa.int32(): np.int32,
    pa.int64(): np.int64,
    pa.uint8(): np.uint8,
    pa.uint16(): np.uint16,
    pa.uint32(): np.uint32,
    pa.uint64(): np.uint64,
    pa.float32(): np.float32,
    pa.float64(): np.float64,
}
_ARROW = {np.dtype(v): k for k, v in _NUMPY.items()}


def _bits(buf, offset: int, n: int) -> np.ndarray:
    return np.unpackbits(np.frombuffer(buf, np.uint8), bitorder="little")[offset : offset + n].astype(bool)


def _flat(arr) -> pa.Array:
    if isinstance(arr, pa.ChunkedArray):
        return arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    return arr


def to_numpy(arr: pa.Array | pa.ChunkedArray, fill=0) -> np.ndarray:
    """The values of a boolean, integer, float or timestamp (as int64) array, nulls as `fill`."""
    arr = _flat(arr)
    n, offset, buffers = len(arr), arr.offset, arr.buffers()
    dtype = _dtype(arr.type)
    boolean = dtype is bool
    if not n:
        return np.zeros(0, dtype)
    values = _bits(buffers[1], offset, n) if boolean else np.frombuffer(buffers[1], dtype)[offset : offset + n]
    if arr.null_count:
        values = np.where(_bits(buffers[0], offset, n), values, fill)
    return values


def _bits_at(buf, positions: np.ndarray) -> np.ndarray:
    return ((np.frombuffer(buf, np.uint8)[positions >> 3] >> (positions & 7)) & 1).astype(bool)


def _dtype(t: pa.DataType):
    dtype = bool if pa.types.is_boolean(t) else np.int64 if pa.types.is_timestamp(t) else _NUMPY.get(t)
    if dtype is None:
        raise TypeError(f"no numpy view of {t}")
    return dtype


def _take_chunk(arr: pa.Array, idx: np.ndarray, fill) -> np.ndarray:
    if pa.types.is_dictionary(arr.type):
        arr = arr.indices  # (which carry the nulls)
    offset, buffers = arr.offset, arr.buffers()
    pos = idx + offset
    dtype = _dtype(arr.type)
    values = _bits_at(buffers[1], pos) if dtype is bool else np.frombuffer(buffers[1], dtype)[pos]
    if arr.null_count:
        values = np.where(_bits_at(buffers[0], pos), values, fill)
    return values


def take_numpy(arr: pa.Array | pa.ChunkedArray, rows: np.ndarray, fill=0) -> np.ndarray:
    """to_numpy(arr, fill)[rows] (rows sorted), reading only those rows: no copy of the
    whole column (as combining its chunks would make) and no fill pass over it. Dictionary
    arrays give their indices."""
    chunks = arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]
    parts, start = [], 0
    for chunk in chunks:
        end = start + len(chunk)
        lo, hi = np.searchsorted(rows, [start, end])
        if hi > lo:
            parts.append(_take_chunk(chunk, rows[lo:hi] - start, fill))
        start = end
    if not parts:
        return np.zeros(0, _dtype(arr.type.index_type if pa.types.is_dictionary(arr.type) else arr.type))
    return np.concatenate(parts) if len(parts) > 1 else parts[0]


def from_numpy(values: np.ndarray) -> pa.Array:
    """A numpy bool, integer or float array as an Arrow array (no nulls; no copy but for bools)."""
    values = np.ascontiguousarray(values)
    if values.dtype == bool:
        data = pa.py_buffer(np.packbits(values, bitorder="little"))
        return pa.Array.from_buffers(pa.bool_(), len(values), [None, data])
    return pa.Array.from_buffers(_ARROW[values.dtype], len(values), [None, pa.py_buffer(values)])


def strings(values: list[str]) -> pa.Array:
    """A few Python strings as an Arrow large_string array."""
    data = [v.encode() for v in values]
    offsets = np.zeros(len(data) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in data], out=offsets[1:])
    return pa.Array.from_buffers(
        pa.large_string(), len(data), [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(data))]
    )
