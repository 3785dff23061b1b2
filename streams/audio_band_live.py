"""``serve --audio-fmax-hz HZ``: the band ``embed``, ``score`` and ``probe`` give sound recordings
(:mod:`biosig.audio_band`), given to a live audio stream.

A user who probed or scored a lung-sound set on 0-1800 Hz (``--audio-fmax-hz``: the band every
recorder of the set holds, so the embeddings cannot tell the recording device) must serve the model
on the same band, or the live embeddings are not the ones the probe was fitted on. The samples an
audio stream's model pipeline gives (:attr:`streams.ingest.InputStream.pipe`: mono, resampled to
the model's rate) are low-passed by exactly the offline filter,
:func:`biosig.audio_band.lowpass_taps` ``(fmax_hz, fs_out_hz)``, chunk by chunk
(:class:`LiveLowpass`).

Timestamps stay true: the offline filter is centred (zero phase); a causal FIR gives output sample
``j + D`` for input sample ``j`` (``D = (ntaps - 1) / 2``, 162 samples = 10 ms at 16 kHz and 1800 Hz).
:class:`LiveLowpass` holds its first ``D`` outputs back, so its ``j``-th output is the centred
filter's output at input sample ``j``, the sample the stream's clock labels ``j``: windows keep the
device times of the samples they hold, and equal offline ``band_limit`` (zeros before the stream's
first sample, as ``mode="same"``). The cost is latency: a window is cut once ``D`` samples past its
end have arrived (10 ms; 90 ms at 200 Hz), and the last ``D`` samples before a gap never make a
window (the windows restart there anyway). Gaps (NaN samples) are zeros while filtering and NaN
again at the same samples, as offline. Plain NumPy and SciPy: :mod:`realtime` and the event loop
import no torch.
"""
from __future__ import annotations

import logging

import numpy as np

from biosig.audio_band import AUDIO_BAND_SHARE, band_text, lowpass_taps

log = logging.getLogger(__name__)

_told: set = set()   # (stream, rate, band) already warned about in this process


class LiveLowpass:
    """A centred FIR applied chunk by chunk to (C, T) samples: :meth:`process` returns, for the
    samples given so far, the outputs of ``np.convolve(x, taps, "same")`` that are complete
    (all but the newest ``delay_n``), in order. Overlap-save on the last ``ntaps - 1`` inputs."""

    def __init__(self, taps, n_channels: int):
        self.taps = np.asarray(taps, dtype=np.float64)
        if self.taps.ndim != 1 or self.taps.size % 2 == 0:
            raise ValueError(f"a centred FIR has an odd number of taps, got {self.taps.shape}")
        self.n_channels = int(n_channels)
        self.delay_n = (self.taps.size - 1) // 2
        self.reset()

    def reset(self):
        """After a gap: the next sample is the first (zeros before it), as at the stream's start."""
        self._hist = np.zeros((self.n_channels, self.taps.size - 1))
        self._bad = np.zeros((self.n_channels, 0), dtype=bool)   # NaN marks of the samples not yet out
        self._hold_n = self.delay_n                             # causal outputs still to drop

    def process(self, x: np.ndarray) -> np.ndarray:
        """The filtered samples (C, <= T + ``delay_n``) that ``x`` (C, T) completes; float32 unless
        ``x`` is another float type."""
        from scipy import signal
        dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else np.float32
        if x.shape[1] == 0:
            return np.zeros((self.n_channels, 0), dtype=dtype)
        x64 = np.asarray(x, dtype=np.float64)
        bad = ~np.isfinite(x64)
        buf = np.concatenate([self._hist, np.where(bad, 0.0, x64) if bad.any() else x64], axis=1)
        y = signal.convolve(buf, self.taps[None, :], mode="valid")      # causal outputs of these T samples
        self._hist = buf[:, buf.shape[1] - self._hist.shape[1]:]
        drop = min(self._hold_n, y.shape[1])
        y, self._hold_n = y[:, drop:], self._hold_n - drop
        marks = np.concatenate([self._bad, bad], axis=1) if self._bad.size else bad
        out_bad, self._bad = marks[:, :y.shape[1]], marks[:, y.shape[1]:]
        if out_bad.any():
            y[out_bad] = np.nan
        return y.astype(dtype, copy=False)


def live_band(fmax_hz: float | None, modality: str, name: str, fs_hz: float, fs_out_hz: float,
              n_channels: int) -> LiveLowpass | None:
    """The low-pass of an audio stream ``name`` recorded at ``fs_hz`` whose model pipeline gives
    ``n_channels`` at ``fs_out_hz``, or None: no band, not audio, or a band the model's rate holds
    whole (``fmax_hz >= fs_out_hz / 2``: nothing to take away). Warns once per stream, rate and band
    where the stream's own rate cannot hold the band (the rule of ``band_limit``: above
    :data:`biosig.audio_band.AUDIO_BAND_SHARE` x its rate, its band still tells its device)."""
    if fmax_hz is None or modality != "audio":
        return None
    if fs_hz < fs_out_hz and fmax_hz > AUDIO_BAND_SHARE * fs_hz + 1e-6 and (name, fs_hz, fmax_hz) not in _told:
        _told.add((name, fs_hz, fmax_hz))
        log.warning("%s: --audio-fmax-hz %g: the stream at %g Hz holds nothing above %g Hz, so the band still tells "
                    "its device from the others; give at most %g x the lowest rate served (%g Hz here)", name,
                    fmax_hz, fs_hz, fs_hz / 2, AUDIO_BAND_SHARE, AUDIO_BAND_SHARE * fs_hz)
    if fmax_hz >= fs_out_hz / 2:   # serve refuses a registered model this is above; a checkpoint file may not say
        if fmax_hz > fs_out_hz / 2 + 1e-6 and (name, fs_out_hz, fmax_hz) not in _told:
            _told.add((name, fs_out_hz, fmax_hz))
            log.warning("%s: --audio-fmax-hz %g is above the model's %g Hz (its rate %g Hz): served on the model's "
                        "whole band", name, fmax_hz, fs_out_hz / 2, fs_out_hz)
        return None
    band = LiveLowpass(lowpass_taps(float(fmax_hz), float(fs_out_hz)), n_channels)
    log.info("%s: low-passed to %s at %g Hz (windows %.1f ms later, their times unchanged)", name,
             band_text(fmax_hz), fs_out_hz, 1000.0 * band.delay_n / fs_out_hz)
    return band
