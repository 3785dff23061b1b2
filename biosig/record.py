"""One container for every modality: :class:`Record`.

A record holds samples shaped ``(C, T)`` as float32 at a uniform rate ``fs_hz``. Gaps are NaN and
``mask`` marks the valid samples; nothing is interpolated behind the user's back. Signals with
irregular sampling (external-marker CSVs) keep their true sample times in ``times_s``.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable, Sequence

import numpy as np

from biosig.errors import SignalError
from biosig.modality import (channel_modality, check_modality, infer_modality, left_out_text,
                             modality_channel_indices, ruled_out)
from biosig.record_tables import (RATE_DIGITS_REL, _irregular, _nominal_rate_hz,  # noqa: F401 (re-exported)
                                  _slope_rate_hz, names_text, record_from_polars, record_to_polars)


def require_record(value, what: str) -> "Record":
    """``value`` if it is a :class:`Record`; :class:`SignalError` otherwise (a bare array has no
    rate or channel names: wrap it as ``Record(samples, fs_hz=..., channels=[...])`` or read a file)."""
    if not isinstance(value, Record):
        raise SignalError(f"{what} takes a biosig Record (biosig.read(path) or Record(samples, fs_hz=..., "
                          f"channels=[...])), not {type(value).__name__}")
    return value


def _names(values) -> tuple[str, ...]:
    """Channel names or units as a tuple of str; one str is one name, not its characters."""
    return (values,) if isinstance(values, str) else tuple(str(v) for v in values)


#: In a record with irregular times, an interval between consecutive samples longer than this many
#: nominal periods ``1 / fs_hz`` is a hole in time (:meth:`Record.gaps`): at least one sample is
#: missing (an interval of about 2 periods is one missing sample; 1.5 tolerates timestamp jitter up
#: to +-25 % of a period either way).
TIME_GAP_PERIODS = 1.5

#: Metadata lists with one entry per channel, in channel order (the readers' native rates of
#: multi-frequency WFDB and EDF channels, WFDB storage formats): :meth:`Record.select` keeps the
#: entries of the channels it keeps (RESP alone of MCL1, ABP, RESP was listed at MCL1's 500 Hz).
PER_CHANNEL_METADATA = ("channel_fs_hz", "storage_formats")


@dataclass(frozen=True, eq=False)
class Annotations:
    """Event annotations (e.g. WFDB beat labels).

    Attributes
    ----------
    sample : int64 array (N,), sample index at the record's ``fs_hz``.
    symbol : tuple of N str, the label of each event (``"N"``, ``"V"``, ...).
    aux : tuple of N str, free text per event (rhythm changes), ``""`` when absent.
    source : where they came from (e.g. ``"atr"``).
    """

    sample: np.ndarray
    symbol: tuple[str, ...]
    aux: tuple[str, ...] = ()
    source: str = ""

    def __len__(self) -> int:
        return int(len(self.sample))


@dataclass(frozen=True, eq=False)
class Record:
    """A multichannel signal at a uniform rate.

    Attributes
    ----------
    samples : float32 array (C, T), physical units, NaN where no valid sample exists (a (T,) array is one channel).
    fs_hz : sampling rate in Hz, > 0.
    channels : C channel names, required (one ``str`` for one channel; they give each channel's modality).
    units : C unit strings (``"mV"``, ``"mm"``, ...), ``""`` when unknown.
    modality : record-level modality, one of :data:`biosig.modality.MODALITIES`.
    start_time : wall-clock time of the first sample, when the file gives one.
    times_s : optional float64 array (T,) of true sample times in seconds from the first sample,
        for irregularly sampled sources; ``None`` means ``t = i / fs_hz``.
    annotations : optional :class:`Annotations`.
    metadata : free-form information from the file (header comments, source path, ...).
    """

    samples: np.ndarray
    fs_hz: float
    channels: tuple[str, ...] = None   # required: None only so that leaving it out is a SignalError, not a TypeError
    units: tuple[str, ...] = ()
    modality: str = ""
    start_time: datetime | None = None
    times_s: np.ndarray | None = None
    annotations: Annotations | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        try:
            x = np.asarray(self.samples)
        except (TypeError, ValueError) as exc:   # a ragged list: rows of different lengths
            raise SignalError(f"samples must be a (C, T) array of numbers, rows of equal length "
                              f"({str(exc).splitlines()[0]})") from None
        if x.ndim == 1:
            x = x[None, :]
        if x.ndim != 2:
            raise SignalError(f"samples must be shaped (C, T), got shape {x.shape}")
        if x.dtype.kind not in "biufO":
            raise SignalError(f"samples must be real numbers, got an array of dtype {x.dtype}")
        if x.dtype != np.float32:
            try:
                with np.errstate(over="ignore"):
                    x32 = x.astype(np.float32)
            except (TypeError, ValueError) as exc:   # an object array holding text
                raise SignalError(f"samples must be real numbers ({exc})") from None
            overflow = np.isinf(x32) & ~np.isinf(np.asarray(x, dtype=np.float64))
            if overflow.any():   # finite values beyond float32 (3.4e38) would silently become inf
                c, t = map(int, np.argwhere(overflow)[0])
                raise SignalError(f"sample {float(x[c, t]):g} (channel {c}, sample {t}) is beyond float32's range "
                                  f"(+-{np.finfo(np.float32).max:.3g}); rescale it, e.g. to other units")
            x = x32
        object.__setattr__(self, "samples", x)
        try:
            fs = float("nan") if isinstance(self.fs_hz, (bool, np.bool_)) else float(self.fs_hz)   # True is not 1 Hz
        except (TypeError, ValueError):
            fs = float("nan")
        if not np.isfinite(fs) or fs <= 0:
            raise SignalError(f"sampling rate must be a positive number of Hz, got {self.fs_hz!r}")
        object.__setattr__(self, "fs_hz", fs)
        if self.channels is None:   # Record(x, fs_hz=250) was "TypeError: missing ... 'channels'"
            raise SignalError(f"Record needs channels: one name per row of samples (here {x.shape[0]}), e.g. "
                              f"Record(x, fs_hz={fs:g}, channels=['II']); the names give each channel's modality")
        channels = _names(self.channels)
        if len(channels) != x.shape[0]:
            # a (T, C) array from a table or pandas: "1 channel names for 2500 channels"
            turned = "; samples first? pass samples.T (rows are channels)" if x.shape[1] == len(channels) else ""
            raise SignalError(f"{len(channels)} channel names for {x.shape[0]} channels (samples shaped "
                              f"{x.shape}, (channels, samples)){turned}")
        object.__setattr__(self, "channels", channels)
        units = _names(self.units) or ("",) * len(channels)
        if len(units) != len(channels):
            raise SignalError(f"{len(units)} units for {len(channels)} channels")
        object.__setattr__(self, "units", units)
        object.__setattr__(self, "modality", check_modality(self.modality or infer_modality(channels, fs)))
        if self.start_time is not None and not isinstance(self.start_time, datetime):
            # a str was kept, and biosig.write failed on it with "str.replace() takes no keyword arguments"
            raise SignalError(f"start_time must be a datetime (e.g. datetime.fromisoformat('2024-03-01T10:00:00')) "
                              f"or None, got {type(self.start_time).__name__} {self.start_time!r}")
        if self.times_s is not None:
            t = np.asarray(self.times_s, dtype=np.float64)
            if t.shape != (x.shape[1],):
                raise SignalError(f"times_s has shape {t.shape}, expected ({x.shape[1]},)")
            if not np.isfinite(t).all() or np.any(np.diff(t) <= 0):
                # duration_s, gaps() and slice_s() read times in order: [0, 2, 1] made a 1.1 s record
                raise SignalError("times_s must be finite and strictly increasing")
            object.__setattr__(self, "times_s", t)

    # ------------------------------------------------------------------ shape and time
    @property
    def n_channels(self) -> int:
        return int(self.samples.shape[0])

    @property
    def n_samples(self) -> int:
        return int(self.samples.shape[1])

    @property
    def duration_s(self) -> float:
        """Seconds from the first sample to one period after the last (``n_samples / fs_hz`` on a
        uniform grid; with ``times_s``, holes in time count: a 2 s hole makes the record 2 s longer)."""
        if self.times_s is not None and self.n_samples:
            return float(self.times_s[-1] - self.times_s[0]) + 1.0 / self.fs_hz
        return self.n_samples / self.fs_hz

    @property
    def times_irregular(self) -> bool:
        """True when ``times_s`` is set and departs from the ``fs_hz`` grid (more than 1 % of a
        period between two samples); readers of timestamped formats may keep regular times."""
        return self.times_s is not None and self.n_samples > 1 and _irregular(self.times_s, self.fs_hz)

    @property
    def t_s(self) -> np.ndarray:
        """Sample times in seconds from the first sample, float64 (T,)."""
        if self.times_s is not None:
            return self.times_s
        return np.arange(self.n_samples, dtype=np.float64) / self.fs_hz

    @property
    def mask(self) -> np.ndarray:
        """Boolean (C, T), True where the sample is valid (not a gap)."""
        return ~np.isnan(self.samples)

    @property
    def channel_modalities(self) -> tuple[str, ...]:
        """Each channel's modality: the user's (``metadata["channel_modalities"]``, set by
        ``--channel NAME=MODALITY``) or the conservative guess from its name and rate."""
        given = self.metadata.get("channel_modalities") or {}
        return tuple(given.get(c) or channel_modality(c, self.fs_hz) for c in self.channels)

    def gaps(self) -> list[tuple[float, float]]:
        """Time spans ``(start_s, stop_s)`` without valid samples, merged across channels, in
        seconds of :attr:`t_s`: runs where any channel is NaN (from the first NaN sample to the next
        valid one) and, in a record with irregular times (``times_s``), every hole in time: an
        interval between consecutive times ``t_a``, ``t_b`` longer than :data:`TIME_GAP_PERIODS`
        nominal periods, reported as ``(t_a + 1 / fs_hz, t_b)``, the span of the missing samples."""
        bad = np.isnan(self.samples).any(axis=0)
        spans = []
        if bad.any():
            edges = np.diff(np.concatenate([[0], bad.view(np.int8), [0]]))
            starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
            if self.times_s is None:
                return [(a / self.fs_hz, b / self.fs_hz) for a, b in zip(starts, stops)]
            t, end = self.times_s, self.times_s[-1] + 1.0 / self.fs_hz
            spans = [(float(t[a]), float(t[b]) if b < len(t) else float(end)) for a, b in zip(starts, stops)]
        if self.times_s is None:
            return spans
        t, period = self.times_s, 1.0 / self.fs_hz
        holes = np.flatnonzero(np.diff(t) > TIME_GAP_PERIODS * period)
        spans += [(float(t[i] + period), float(t[i + 1])) for i in holes]
        merged: list[tuple[float, float]] = []
        for a, b in sorted(spans):
            if merged and a <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], b))
            else:
                merged.append((a, b))
        return merged

    # ------------------------------------------------------------------ derived records
    def replace(self, **changes) -> "Record":
        """A copy with the given fields changed (checked as a new record is)."""
        fields = [f.name for f in dataclasses.fields(self)]
        unknown = sorted(set(changes) - set(fields))
        if unknown:
            raise SignalError(f"Record has no field {', '.join(unknown)}; fields: {', '.join(fields)}")
        return dataclasses.replace(self, **changes)

    def slice_s(self, start_s: float = 0.0, stop_s: float | None = None) -> "Record":
        """The part from ``start_s`` (inclusive) to ``stop_s`` (exclusive), in seconds.

        Annotations are shifted and cut to the slice; ``metadata["offset_s"]`` accumulates the
        offset of the slice in the original record.
        """
        to_end = stop_s is None
        stop_s = self.duration_s if to_end else stop_s
        for name, value in (("start_s", start_s), ("stop_s", stop_s)):
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)) \
                    or np.isnan(value) or (name == "start_s" and np.isinf(value)):
                raise SignalError(f"{name}={value!r} must be a number of seconds")
        if np.isinf(stop_s) and stop_s > 0:
            to_end, stop_s = True, self.duration_s
        if start_s < 0 or stop_s < start_s:
            raise SignalError(f"bad slice [{start_s}, {stop_s}) s of a {self.duration_s:.3f} s record")
        if self.times_s is not None:
            i0, i1 = np.searchsorted(self.times_s, [start_s, stop_s], side="left")
        else:
            i0 = int(round(start_s * self.fs_hz))
            i1 = min(int(round(stop_s * self.fs_hz)), self.n_samples)
        if to_end:   # an irregular record's last times can lie past n_samples / fs_hz
            i1 = max(i0, self.n_samples)
        ann = None
        if self.annotations is not None:
            keep = (self.annotations.sample >= i0) & (self.annotations.sample < i1)
            idx = np.flatnonzero(keep)
            ann = Annotations(
                sample=self.annotations.sample[idx] - i0,
                symbol=tuple(self.annotations.symbol[i] for i in idx),
                aux=tuple(self.annotations.aux[i] for i in idx) if self.annotations.aux else (),
                source=self.annotations.source,
            )
        times = None
        if self.times_s is not None:
            times = self.times_s[i0:i1] - (self.times_s[i0] if i1 > i0 else 0.0)
        meta = dict(self.metadata)
        meta["offset_s"] = float(meta.get("offset_s", 0.0)) + i0 / self.fs_hz
        return self.replace(samples=self.samples[:, i0:i1], annotations=ann, times_s=times, metadata=meta)

    def select(self, channels: Iterable[str | int]) -> "Record":
        """A record with only the given channels (one name or index, or a list of them), in that order."""
        from biosig.arguments import channel_list

        idx = []
        for c in channel_list(channels):
            if isinstance(c, (int, np.integer)):
                if not 0 <= c < self.n_channels:
                    raise SignalError(f"channel index {c} out of range 0..{self.n_channels - 1}")
                idx.append(int(c))
            elif c in self.channels:
                idx.append(self.channels.index(c))
            else:
                raise SignalError(f"no channel {c!r}; channels are {names_text(self.channels)}")
        if not idx:
            raise SignalError("select() needs at least one channel")
        meta = dict(self.metadata)
        for key in PER_CHANNEL_METADATA:   # lists in channel order: a channel kept keeps its own entry
            if isinstance(meta.get(key), (list, tuple)) and len(meta[key]) == self.n_channels:
                meta[key] = [meta[key][i] for i in idx]
        return self.replace(
            samples=self.samples[idx],
            channels=tuple(self.channels[i] for i in idx),
            units=tuple(self.units[i] for i in idx),
            modality="",
            metadata=meta,
        )

    def pick(self, modality: str) -> "Record":
        """The channels of one modality (e.g. the ECG leads of a record with ECG, ABP and PLETH), by the one
        rule of replay, ``score`` and ``embed`` (:func:`biosig.modality.modality_channel_indices`): a channel of
        unknown modality only where none is named ``modality`` and the record is of it, never a pressure, trend
        or temperature (:func:`biosig.modality.ruled_out`). The record itself when that is every channel. Before,
        every ``other`` channel of a record of ``modality`` was kept: MLII beside ABP (mmHg) returned both."""
        check_modality(modality)
        mods = self.channel_modalities
        idx, left = modality_channel_indices(self.channels, mods, self.units, modality, self.modality)
        if not idx:
            ruled = [i for i in left if mods[i] == "other" and ruled_out(self.channels[i], self.units[i], modality)]
            why = f"; {left_out_text(self.channels, mods, self.units, ruled, modality)} cannot be one" \
                if ruled and modality == self.modality else ""
            raise SignalError(f"no {modality} channel among {names_text(self.channels)} "
                              f"(record modality {self.modality}{why})")
        if modality == self.modality and not left:
            return self
        return self.select(idx).replace(modality=modality)

    # ------------------------------------------------------------------ polars
    def to_polars(self):
        """A polars DataFrame with a ``t_s`` column and one float32 column per channel; two channels of one name
        (or one named ``t_s``: the times) are a :class:`SignalError`, as the writers say (one was dropped)."""
        return record_to_polars(self)

    @classmethod
    def from_polars(cls, df, fs_hz: float | None = None, modality: str = "", units: Sequence[str] = (),
                    time_column: str = "t_s", **kwargs) -> "Record":
        """Build a record from a DataFrame with a time column in seconds plus channel columns.

        ``fs_hz`` defaults to the median sample rate of the time column (6 significant digits);
        times that are not uniform (more than 1 % jitter) are kept in ``times_s``, and their default
        ``fs_hz`` is the nominal rate of :func:`_nominal_rate_hz` (jitter and dropped rows do not
        bias it).
        """
        return record_from_polars(cls, df, fs_hz, modality, units, time_column, **kwargs)

    def __repr__(self) -> str:
        return (f"Record({self.modality}, {self.n_channels} ch [{', '.join(self.channels[:6])}"
                f"{', ...' if self.n_channels > 6 else ''}], {self.fs_hz:g} Hz, {self.duration_s:.2f} s)")
