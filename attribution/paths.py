"""Path counts: what the data-driven models are fit on, gathered chunk by chunk.

Markov, Shapley, ordered Shapley and the algorithmic model see a journey only through its
channel sequence and whether it converted: their fits depend on the journeys through the
table of unique (channel sequence, converted) paths and how many journeys have each path,
nothing else. `PathCounter.add` takes one chunk of prepared journeys at a time and adds its
paths to that table (exact integer keys, no hashing of sequences: `_unique_paths`), so a run
that reads its journeys in chunks holds the table, not the journeys. `PathTable.journeys`
is the table as Journeys with one journey per path, fit with `journey_weights` = the counts:
with integer weights every fit is the same as on the journeys themselves (the models
aggregate identical paths before anything else; docs/attribution.md, "Fits from path counts").

Channel codes follow the channels' first appearance over the chunks in the order they were
read, which is the order `prepare` gives them on the chunks concatenated.

With `samples`, each journey's Poisson resample weights (attribution.intervals.journey_weights,
drawn from its id) are summed per path too: the (samples, P) path weights of every resample,
what a refit on that resample needs.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from attribution.journeys import Journeys


def _unique_paths(jr: Journeys, chunk: int | None = None) -> np.ndarray:
    """For the journeys with touches (jr.nonempty), a dense code per journey, equal
    iff the journeys have the same channel sequence and the same `converted`.

    Exact, no hashing of sequences: channels are encoded base C+1 (0 = past the
    end), `m` positions at a time so every key fits in int64, and factorised.
    After the first chunk only the journeys still going are re-keyed, with fresh
    ids, so two different prefixes never share an id. Paths of up to
    61 / log2(C+1) touches (19 with 8 channels) take a single pass."""
    import pandas as pd

    paths = jr.nonempty
    lengths = jr.lengths[paths]
    base = len(jr.channels) + 1
    ch = jr.channel.astype(np.int64) + 1
    pos = jr.pos
    group = jr.converted[paths].astype(np.int64)  # ids of the prefixes so far: < next_id
    next_id = 2
    max_len = int(lengths.max(initial=0))
    lo = 0
    while lo < max_len:
        bits = 62 - int(next_id).bit_length()  # key = group·base^m + code < 2^62
        m = chunk or max(1, int(bits / np.log2(base)))
        if lo == 0 and m >= max_len:  # one pass over all touches
            code = np.add.reduceat(ch * base ** np.arange(max_len, dtype=np.int64)[pos], jr.starts[paths])
            return pd.factorize(group * base**m + code)[0]
        going = np.flatnonzero(lengths > lo)
        part = (pos >= lo) & (pos < lo + m)
        offsets = np.r_[0, np.cumsum(np.minimum(lengths[going] - lo, m))[:-1]]
        code = np.add.reduceat(ch[part] * base ** (pos[part] - lo), offsets)
        fresh = pd.factorize(group[going] * base**m + code)[0]
        group[going] = next_id + fresh
        next_id += int(fresh.max(initial=-1)) + 1
        lo += m
    return pd.factorize(group)[0]


@dataclass
class PathTable:
    """The unique (channel sequence, converted) paths of some journeys and their counts."""

    journeys: Journeys  # one journey per path (its touches: the sequence), codes into `channels`
    count: np.ndarray  # (P,) journeys with this path
    empty: int  # journeys without a touch: no path, but they count in a resample of the journeys
    resampled: np.ndarray | None = None  # (samples, P) per resample, the sum of its journeys' weights

    @property
    def channels(self) -> np.ndarray:
        return self.journeys.channels

    @classmethod
    def of(cls, jr: Journeys) -> "PathTable":
        """The path table of prepared journeys, read at once."""
        counter = PathCounter()
        counter.add(jr)
        return counter.table()


class PathCounter:
    """Adds up the path table of journeys read chunk by chunk (every journey in one chunk)."""

    def __init__(self, samples: int = 0, seed: int = 0):
        self.samples, self.seed = samples, seed
        self.channels: list[str] = []
        self._code: dict[str, int] = {}
        self._index: dict[bytes, int] = {}
        self._sequences: list[np.ndarray] = []
        self._lengths: list[np.ndarray] = []
        self._converted: list[np.ndarray] = []
        self._count = np.zeros(0)
        self._resampled = np.zeros((samples, 0))
        self.empty = 0
        self.journeys = 0  # journeys added (with and without touches)

    def codes(self, channels: np.ndarray) -> np.ndarray:
        """The table's codes of these channel names (new names get the next codes)."""
        for name in channels:
            if name not in self._code:
                self._code[name] = len(self.channels)
                self.channels.append(name)
        return np.array([self._code[name] for name in channels], dtype=np.int32)

    def recode(self, jr: Journeys) -> Journeys:
        """`jr` with its channels coded as in the table (what a fit of the table reads)."""
        codes = self.codes(jr.channels)
        return replace(
            jr,
            channel=codes[jr.channel] if len(codes) else jr.channel,
            channels=np.asarray(self.channels, dtype=object),
        )

    def add(self, jr: Journeys) -> None:
        """Add the paths of these prepared journeys (none of them added before)."""
        self.journeys += jr.n_journeys
        paths = jr.nonempty
        self.empty += jr.n_journeys - len(paths)
        if not len(paths):
            self.codes(jr.channels)
            return
        jr = self.recode(jr)
        local = _unique_paths(jr)
        n_local = int(local.max()) + 1
        rep = np.empty(n_local, dtype=np.int64)  # the first journey of each path of the chunk
        rep[local[::-1]] = paths[::-1]
        starts = jr.starts
        buf = jr.channel.astype("<i4").tobytes()
        converted = jr.converted[rep]
        keys = [
            (b"\1" if c else b"\0") + buf[4 * s : 4 * e]
            for c, s, e in zip(converted.tolist(), starts[rep].tolist(), starts[rep + 1].tolist())
        ]
        before = len(self._index)
        index = np.array([self._index.setdefault(k, len(self._index)) for k in keys], dtype=np.int64)
        new = index >= before
        if new.any():
            fresh = rep[new][np.argsort(index[new])]  # in the order of their new codes
            lengths = jr.lengths[fresh]
            touch = np.repeat(starts[fresh] - np.r_[0, np.cumsum(lengths)[:-1]], lengths) + np.arange(lengths.sum())
            self._sequences.append(jr.channel[touch])
            self._lengths.append(lengths)
            self._converted.append(jr.converted[fresh])
            self._count = _grown(self._count, len(self._index))
            self._resampled = _grown(self._resampled, len(self._index))
        self._count[index] += np.bincount(local, minlength=n_local)
        if self.samples:
            import scipy.sparse as sp

            from attribution.intervals import journey_weights

            weights = journey_weights(jr.id_index[paths], self.samples, self.seed)  # (B, paths)
            fold = sp.csr_matrix((np.ones(len(paths)), (np.arange(len(paths)), local)), shape=(len(paths), n_local))
            self._resampled[:, index] += np.asarray((fold.T @ weights.T).T)

    def add_counted(self, paths, converted, counts) -> None:
        """Add paths counted elsewhere (Spark counts them next to the data: mbuzz/spark_attribution.py):
        each a sequence of channel names (at least one), whether it converted, and how many journeys
        have it. Carries no resample weights (a counter made with samples=0)."""
        if self.samples:
            raise ValueError("counted paths carry no resample weights: add_counted needs PathCounter(samples=0)")
        for names, conv, n in zip(paths, converted, counts):
            codes = self.codes(list(names))
            if not len(codes):
                raise ValueError("a counted path has at least one touch (journeys without any are not paths)")
            key = (b"\1" if conv else b"\0") + codes.astype("<i4").tobytes()
            index = self._index.get(key)
            if index is None:
                index = self._index[key] = len(self._index)
                self._sequences.append(codes)
                self._lengths.append(np.array([len(codes)], dtype=np.int64))
                self._converted.append(np.array([bool(conv)]))
                self._count = _grown(self._count, len(self._index))
            self._count[index] += n
            self.journeys += int(n)

    def table(self) -> PathTable:
        import pandas as pd

        p = len(self._index)
        lengths = np.concatenate(self._lengths) if self._lengths else np.zeros(0, dtype=np.int64)
        channel = np.concatenate(self._sequences) if self._sequences else np.zeros(0, dtype=np.int32)
        n = len(channel)
        jid = np.repeat(np.arange(p, dtype=np.int64), lengths)
        starts = np.r_[0, np.cumsum(lengths)]
        journeys = Journeys(
            converted=np.concatenate(self._converted) if self._converted else np.zeros(0, dtype=bool),
            revenue=np.zeros(p),
            end_ns=np.zeros(p, dtype=np.int64),
            last_row=np.zeros(p, dtype=np.int64),
            jid=jid,
            channel=channel.astype(np.int32, copy=False),
            channels=np.asarray(self.channels, dtype=object),
            age_days=np.zeros(n),
            touch_index=np.arange(n, dtype=np.int64) - starts[jid],
            row=np.arange(n, dtype=np.int64),
            milestone_code=np.zeros(n, dtype=np.int64),
            milestone_values=(frozenset(),),
            source=None,
            id_index=pd.RangeIndex(p),
        )
        return PathTable(
            journeys,
            self._count[:p].copy(),
            self.empty,
            self._resampled[:, :p] if self.samples else None,  # a view: no second copy of (samples, P)
        )


def _grown(a: np.ndarray, n: int) -> np.ndarray:
    """`a` with room for at least n entries on its last axis (zeros), growing by half."""
    if a.shape[-1] >= n:
        return a
    out = np.zeros((*a.shape[:-1], max(n, a.shape[-1] * 3 // 2, 1024)))
    out[..., : a.shape[-1]] = a
    return out
