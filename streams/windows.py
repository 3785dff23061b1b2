"""Per-stream sliding windows over a sample stream.

A :class:`Windower` takes chunks ``(C, T)`` as they arrive and returns every complete window
``(C, W)`` whose end falls inside the chunk, with one window every ``H`` samples. After a gap it
is :meth:`reset` so that no window ever spans missing data, except a short gap of an ECG or PPG stream
(:data:`BRIDGE_GAP_S`): bridged for the filters (:func:`bridge_block`) and marked missing in the windows
that span it (:func:`missing_mask`), which quality and the beat measures read as NaN.
"""
from __future__ import annotations

import numpy as np

from biosig.flatline import SHORT_GAP_S

#: A sequence gap of an ECG or PPG stream whose device-time hole is at most this long (and at least one
#: sample) is bridged, not a restart of its filters and windows: the rule the beat measures bridge NaN gaps
#: by (:data:`biosig.flatline.SHORT_GAP_S`, 60 ms, shorter than a QRS). The bridged samples are missing in
#: every window spanning them (quality's share without gaps, no beat interval across them); the windows
#: not spanning them are whole. One lost sample of a 16 s MIMIC record restarted the windows twice a pass
#: (the gap, the loop): no 10 s ECG window ever. Longer holes restart the windows as before.
BRIDGE_GAP_S = SHORT_GAP_S


def bridge_n(step_s: float, fs_hz: float) -> int:
    """Samples missing between two samples ``step_s`` apart in device time at ``fs_hz`` when that hole
    may be bridged (:data:`BRIDGE_GAP_S`), else 0 (none missing, or too many: the windows restart)."""
    n = int(round(step_s * fs_hz)) - 1
    return n if 1 <= n <= int(np.floor(BRIDGE_GAP_S * fs_hz + 1e-9)) else 0


def bridge_block(last: np.ndarray, nxt: np.ndarray, n: int) -> np.ndarray:
    """``n`` samples (C, n) float32 on the straight line from ``last`` (C,) to ``nxt`` (C,), both excluded:
    what the filters see of a bridged gap (for their sake only; the windows mark them missing)."""
    f = np.arange(1, n + 1, dtype=np.float64) / (n + 1)
    last = np.asarray(last, dtype=np.float64)
    return (last[:, None] + (np.asarray(nxt, dtype=np.float64) - last)[:, None] * f[None]).astype(np.float32)


def missing_mask(raw: np.ndarray, raw_first: int, fs_in_hz: float, fs_out_hz: float, k_first: int, n_out: int,
                 n_channels_out: int) -> np.ndarray | None:
    """bool (``n_channels_out``, ``n_out``) True on output samples ``k_first ..`` of a window that come from a
    missing recorded sample (NaN in ``raw``, whose first column is recorded sample ``raw_first``: a bridged
    gap), every channel, or None when none does. Each missing recorded sample marks its nearest output one."""
    bad = ~np.isfinite(raw).all(axis=0)
    if not bad.any():
        return None
    k = np.rint((np.flatnonzero(bad) + raw_first) * (fs_out_hz / fs_in_hz)).astype(np.int64) - k_first
    k = k[(k >= 0) & (k < n_out)]
    if not k.size:
        return None
    out = np.zeros((n_channels_out, n_out), dtype=bool)
    out[:, k] = True
    return out


class SampleTail:
    """The newest samples of a stream, (C, n) float32: appended at the end, dropped from the front.

    They live in a store with ``room`` spare columns, so a small chunk is written in place: an
    ``np.concatenate`` of the held samples and each frame copied a window's worth per frame (a
    12-lead ECG window of 10 s at 500 Hz: 240 kB a frame, however small the frame). The held samples
    move to the front (or to a new store) once the room is used up: once in ``room / T`` frames.
    """

    __slots__ = ("n_channels", "room", "_store", "_start", "_stop")

    def __init__(self, n_channels: int, room: int = 256):
        self.n_channels, self.room = n_channels, max(1, int(room))
        self._store = np.empty((n_channels, 0), dtype=np.float32)
        self._start = self._stop = 0

    @property
    def view(self) -> np.ndarray:
        """The held samples (C, n), a view of the store: valid until the next :meth:`append`."""
        return self._store[:, self._start:self._stop]

    def append(self, x: np.ndarray) -> None:
        """Add ``x`` (C, T) after the held samples (cast to float32 as ``astype`` does)."""
        if x.ndim != 2 or x.shape[0] != self.n_channels:
            np.concatenate([self.view, x], axis=1)   # raises numpy's own error, as the concatenation did
        t = x.shape[1]
        if self._stop + t > self._store.shape[1]:
            held, cap = self._stop - self._start, self._store.shape[1]
            need = held + t
            if need + self.room // 2 > cap or cap > 2 * (need + self.room):   # too small, or left large by a long chunk
                store = np.empty((self.n_channels, need + self.room), dtype=np.float32)
            else:
                store = self._store      # numpy copies overlapping ranges as if through a buffer
            store[:, :held] = self._store[:, self._start:self._stop]
            self._store, self._start, self._stop = store, 0, held
        self._store[:, self._stop:self._stop + t] = x
        self._stop += t

    def drop(self, k: int) -> None:
        """Forget the oldest ``k`` samples (at most all held)."""
        self._start = min(self._stop, self._start + k)

    def clear(self) -> None:
        self._start = self._stop = 0


class Windower:
    """Sliding windows of ``window_n`` samples every ``hop_n`` samples.

    Parameters
    ----------
    n_channels : C.
    window_n, hop_n : window length and hop in samples (``0 < hop_n <= window_n``).
    fs_hz : sample rate of the chunks, used to time window ends.
    """

    def __init__(self, n_channels: int, window_n: int, hop_n: int, fs_hz: float):
        if not 0 < hop_n <= window_n:
            raise ValueError(f"need 0 < hop_n <= window_n, got hop_n={hop_n}, window_n={window_n}")
        self.n_channels, self.window_n, self.hop_n, self.fs_hz = n_channels, window_n, hop_n, fs_hz
        self._tail = SampleTail(n_channels, max(window_n, 256))
        self.reset()

    @property
    def buf(self) -> np.ndarray:
        """The buffered samples (C, at most ``window_n`` after a push)."""
        return self._tail.view

    def reset(self):
        """Forget buffered samples; the next window ends ``window_n`` samples from now."""
        self._tail.clear()
        self.total = 0
        self.next_end = self.window_n

    def push(self, x: np.ndarray, t0_s: float) -> list[tuple[np.ndarray, float, int]]:
        """Append ``x`` (float32 (C, T), first sample at device time ``t0_s``).

        Returns
        -------
        list of ``(window, t_end_s, stop_n)``: window float32 (C, window_n) (a copy), ``t_end_s`` the
        device time of its last sample, ``stop_n`` the index one past its last sample, counted
        from the first sample pushed since the last :meth:`reset`.
        """
        t = x.shape[1]
        self._tail.append(x.astype(np.float32, copy=False))
        self.total += t
        out = []
        buf = self._tail.view
        n = buf.shape[1]
        while self.next_end <= self.total:
            back = self.total - self.next_end          # samples after the window's end
            stop = n - back
            out.append((buf[:, stop - self.window_n:stop].copy(), t0_s + (t - 1 - back) / self.fs_hz,
                        self.next_end))
            self.next_end += self.hop_n
        if n > self.window_n:
            self._tail.drop(n - self.window_n)
        return out
