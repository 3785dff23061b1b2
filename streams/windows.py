"""Per-stream sliding windows over a sample stream.

A :class:`Windower` takes chunks ``(C, T)`` as they arrive and returns every complete window
``(C, W)`` whose end falls inside the chunk, with one window every ``H`` samples. After a gap it
is :meth:`reset` so that no window ever spans missing data.
"""
from __future__ import annotations

import numpy as np


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
        self.reset()

    def reset(self):
        """Forget buffered samples; the next window ends ``window_n`` samples from now."""
        self.buf = np.empty((self.n_channels, 0), dtype=np.float32)
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
        self.buf = np.concatenate([self.buf, x.astype(np.float32, copy=False)], axis=1)
        self.total += t
        out = []
        n = self.buf.shape[1]
        while self.next_end <= self.total:
            back = self.total - self.next_end          # samples after the window's end
            stop = n - back
            out.append((self.buf[:, stop - self.window_n:stop].copy(), t0_s + (t - 1 - back) / self.fs_hz,
                        self.next_end))
            self.next_end += self.hop_n
        if n > self.window_n:
            self.buf = self.buf[:, n - self.window_n:]
        return out
